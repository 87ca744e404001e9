-- A double-spend case is closed by a person at HQ with an outcome and a note.
ALTER TABLE double_spend_cases
    ADD COLUMN resolution TEXT CHECK (resolution IN ('recovered', 'written_off', 'dismissed')),
    ADD COLUMN resolution_note TEXT,
    ADD COLUMN resolved_at BIGINT;
