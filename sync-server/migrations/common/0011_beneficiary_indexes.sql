-- Every index of `beneficiaries` is paid for by each imported row: an import
-- of a million rows spent most of its time in index insertions (PostgreSQL,
-- eight indexes). So: no index nobody reads, and the indexes over optional
-- values hold only the rows that have one. Every query on them compares the
-- column with `=` or asks for `IS NOT NULL`, which implies the predicate on
-- both backends, so each is still used where it was.

-- A name search compares a prefix (`substr`), which no index serves.
DROP INDEX beneficiaries_by_name;

DROP INDEX beneficiaries_by_phone;
CREATE INDEX beneficiaries_by_phone ON beneficiaries (phone, programme)
    WHERE phone IS NOT NULL;
DROP INDEX beneficiaries_by_account;
CREATE INDEX beneficiaries_by_account ON beneficiaries (account, programme)
    WHERE account IS NOT NULL;
DROP INDEX beneficiaries_by_wallet;
CREATE INDEX beneficiaries_by_wallet ON beneficiaries (wallet, programme)
    WHERE wallet IS NOT NULL;
DROP INDEX beneficiaries_by_household;
CREATE INDEX beneficiaries_by_household ON beneficiaries (programme, household)
    WHERE household IS NOT NULL;
