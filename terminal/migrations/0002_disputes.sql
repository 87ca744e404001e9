-- Log entries the server stored but did not count: it opened a double-spend
-- case for them (the same voucher or entitlement was spent elsewhere first).
-- They are never shown as confirmed; HQ resolves the case.
CREATE TABLE disputes (
    seq         INTEGER PRIMARY KEY REFERENCES log_entries (seq),
    case_id     INTEGER NOT NULL CHECK (case_id > 0),
    recorded_at INTEGER NOT NULL
) STRICT;
