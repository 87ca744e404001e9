-- Entitlements from the published rosters, counted like vouchers: the first
-- redemption or cash payout to reach the server wins, a later conflicting one
-- opens a double-spend case naming the entitlement.
CREATE TABLE entitlements (
    entitlement    TEXT PRIMARY KEY,
    beneficiary    TEXT NOT NULL,
    programme      TEXT NOT NULL,
    value_minor    BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('single_use', 'partial')),
    created_at     BIGINT NOT NULL,
    redeemed_minor BIGINT NOT NULL DEFAULT 0,
    winner_device  TEXT,
    winner_seq     BIGINT,
    feed_position  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX entitlements_feed ON entitlements (feed_position);

-- Which roster (scope `site:S` or `merchant:M`) lists an entitlement: its
-- balance goes to that roster's terminals.
CREATE TABLE entitlement_scopes (
    scope       TEXT NOT NULL,
    entitlement TEXT NOT NULL REFERENCES entitlements (entitlement),
    PRIMARY KEY (scope, entitlement)
);

-- A case is about a voucher or an entitlement, never both.
ALTER TABLE double_spend_cases
    ALTER COLUMN voucher DROP NOT NULL,
    ADD COLUMN entitlement TEXT,
    ADD CONSTRAINT double_spend_cases_subject CHECK ((voucher IS NULL) <> (entitlement IS NULL));
