-- The double-entry ledger (`src/ledger/`): accounts in one ISO 4217
-- currency each, with the four sums TigerBeetle keeps, and transfers under
-- the id their caller chose. One file for both backends: only BIGINT and
-- TEXT columns. Money is integer minor units; times are Unix seconds.

CREATE TABLE ledger_accounts (
    account         TEXT NOT NULL PRIMARY KEY,
    kind            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    -- Bit 0: debits must not exceed credits; bit 1: the reverse.
    flags           BIGINT NOT NULL CHECK (flags BETWEEN 0 AND 3),
    -- The programme it belongs to, for statements; NULL when it serves several.
    programme       TEXT,
    debits_pending  BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted   BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted  BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    opened_at       BIGINT NOT NULL
);

CREATE INDEX ledger_accounts_programme ON ledger_accounts (programme, account);

CREATE TABLE ledger_transfers (
    transfer         TEXT NOT NULL PRIMARY KEY,
    -- The ledger's order (an account's history is read in it).
    seq              BIGINT NOT NULL UNIQUE,
    debit_account    TEXT NOT NULL,
    credit_account   TEXT NOT NULL,
    amount           BIGINT NOT NULL CHECK (amount > 0),
    currency         TEXT NOT NULL,
    code             TEXT NOT NULL,
    -- single, pending, post or void.
    phase            TEXT NOT NULL,
    -- For a post or a void: the pending transfer it resolves.
    pending_transfer TEXT,
    timeout_at       BIGINT,
    -- For a pending transfer: pending, posted, voided or expired.
    state            TEXT,
    -- The object whose change it records.
    cause_kind       TEXT,
    cause_id         TEXT,
    actor            TEXT,
    at               BIGINT NOT NULL
);

CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account, seq);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account, seq);
CREATE INDEX ledger_transfers_cause ON ledger_transfers (cause_kind, cause_id);
CREATE INDEX ledger_transfers_due ON ledger_transfers (timeout_at) WHERE state = 'pending';

-- Exchange rates: `1 base = rate quote` from a date on, entered in sets (a
-- typed rate, or a file) that an approver who did not enter them approves
-- or rejects as a whole (`rates.approve` proposals).
CREATE TABLE exchange_rates (
    id             BIGINT NOT NULL PRIMARY KEY,
    rate_set       BIGINT NOT NULL,
    base           TEXT NOT NULL,
    quote          TEXT NOT NULL,
    -- Exact decimal text, e.g. 129.45.
    rate           TEXT NOT NULL,
    -- YYYY-MM-DD, in force from that day (UTC) until a later one.
    effective_from TEXT NOT NULL,
    -- Where it came from: `typed`, or the file's name.
    source         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'rejected')),
    entered_by     TEXT NOT NULL,
    entered_at     BIGINT NOT NULL,
    decided_by     TEXT,
    decided_at     BIGINT
);

CREATE INDEX exchange_rates_by_set ON exchange_rates (rate_set);
CREATE INDEX exchange_rates_in_force ON exchange_rates (base, quote, state, effective_from);
