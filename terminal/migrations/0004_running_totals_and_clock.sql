-- Unconfirmed value per currency as a running sum, kept in the same
-- transaction as the entries and acknowledgements that change it, so the
-- offline limits cost the same with 0 or 50 000 entries pending.
CREATE TABLE pending_totals (
    currency TEXT PRIMARY KEY,
    minor    INTEGER NOT NULL CHECK (minor >= 0)
) STRICT, WITHOUT ROWID;
INSERT INTO pending_totals (currency, minor)
    SELECT currency, sum(amount_minor) FROM log_entries
    WHERE currency IS NOT NULL
      AND seq > (SELECT acknowledged_seq FROM sync_state WHERE id = 1)
    GROUP BY currency;

-- The server's clock minus this terminal's, in seconds, learnt from the
-- server's answers (enrolment, every sync request): the engine's time is the
-- clock plus this offset, so a board with a wrong clock still signs requests
-- and stamps entries in the server's time.
ALTER TABLE sync_state ADD COLUMN clock_offset_s INTEGER NOT NULL DEFAULT 0;
-- The latest time the terminal has seen (its last entry, its last sync, the
-- server's last answer): its time never runs back past it.
ALTER TABLE sync_state ADD COLUMN latest_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sync_state SET latest_seen_at = max(
    last_sync_at, coalesce((SELECT max(at) FROM log_entries), 0));

-- How HQ closed a disputed entry's case (from a pull): the receipt and the
-- status show the outcome instead of "under review".
ALTER TABLE disputes ADD COLUMN resolution TEXT
    CHECK (resolution IN ('recovered', 'written_off', 'dismissed'));
ALTER TABLE disputes ADD COLUMN resolved_at INTEGER;
