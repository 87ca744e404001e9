-- Entitlements from the published rosters, counted like vouchers: the first
-- redemption or cash payout to reach the server wins, a later conflicting one
-- opens a double-spend case naming the entitlement.
CREATE TABLE entitlements (
    entitlement    TEXT PRIMARY KEY,
    beneficiary    TEXT NOT NULL,
    programme      TEXT NOT NULL,
    value_minor    INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('single_use', 'partial')),
    created_at     INTEGER NOT NULL,
    redeemed_minor INTEGER NOT NULL DEFAULT 0,
    winner_device  TEXT,
    winner_seq     INTEGER,
    feed_position  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX entitlements_feed ON entitlements (feed_position);

-- Which roster (scope `site:S` or `merchant:M`) lists an entitlement: its
-- balance goes to that roster's terminals.
CREATE TABLE entitlement_scopes (
    scope       TEXT NOT NULL,
    entitlement TEXT NOT NULL REFERENCES entitlements (entitlement),
    PRIMARY KEY (scope, entitlement)
);

-- A case is about a voucher or an entitlement, never both. SQLite cannot drop
-- NOT NULL in place: the table is rebuilt with the same ids.
CREATE TABLE double_spend_cases_new (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    voucher               TEXT,
    entitlement           TEXT,
    reason                TEXT NOT NULL,
    first_device          TEXT,
    first_seq             INTEGER,
    second_device         TEXT NOT NULL,
    second_seq            INTEGER NOT NULL,
    amount_minor          INTEGER NOT NULL,
    currency              TEXT NOT NULL,
    redeemed_before_minor INTEGER NOT NULL,
    value_minor           INTEGER NOT NULL,
    opened_at             INTEGER NOT NULL,
    status                TEXT NOT NULL DEFAULT 'open',
    resolution            TEXT CHECK (resolution IN ('recovered', 'written_off', 'dismissed')),
    resolution_note       TEXT,
    resolved_at           INTEGER,
    CHECK ((voucher IS NULL) <> (entitlement IS NULL))
);
INSERT INTO double_spend_cases_new (id, voucher, reason, first_device, first_seq,
    second_device, second_seq, amount_minor, currency, redeemed_before_minor, value_minor,
    opened_at, status, resolution, resolution_note, resolved_at)
SELECT id, voucher, reason, first_device, first_seq, second_device, second_seq,
    amount_minor, currency, redeemed_before_minor, value_minor, opened_at, status,
    resolution, resolution_note, resolved_at
FROM double_spend_cases;
-- Keep the id counter, so a case id is never handed out twice.
DELETE FROM sqlite_sequence WHERE name = 'double_spend_cases_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'double_spend_cases_new', seq FROM sqlite_sequence WHERE name = 'double_spend_cases';
DROP TABLE double_spend_cases;
ALTER TABLE double_spend_cases_new RENAME TO double_spend_cases;
