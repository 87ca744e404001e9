-- Merchants HQ has suspended: every terminal of theirs refuses to redeem once
-- its next pull brings the revocation list naming them.
CREATE TABLE revoked_merchants (
    merchant   TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
);
