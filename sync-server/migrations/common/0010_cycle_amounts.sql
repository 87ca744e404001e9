-- Amounts from an imported file (the `file` rule of a cycle): for one
-- period of a programme, the file an officer uploaded and the amount it
-- gives each beneficiary listed. One file for both backends.

CREATE TABLE cycle_amount_files (
    programme   TEXT NOT NULL REFERENCES programmes (programme),
    period      TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    -- Of the file's bytes: the same file again changes nothing, and a
    -- cycle's rule (`file:<sha256>`) names the file it was generated from.
    sha256      TEXT NOT NULL,
    rows_read   BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (programme, period)
);

CREATE TABLE cycle_amounts (
    programme    TEXT NOT NULL,
    period       TEXT NOT NULL,
    beneficiary  TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    PRIMARY KEY (programme, period, beneficiary)
);
