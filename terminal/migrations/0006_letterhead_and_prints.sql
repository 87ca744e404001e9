-- The names receipts and day reports print at the top, set on the terminal
-- (`receipt letterhead`): the shop's, the site's and the terminal's own.
-- Ids stay in the signed log; these are for the people holding the paper.
CREATE TABLE letterhead (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    shop       TEXT,
    site       TEXT,
    terminal   TEXT,
    updated_at INTEGER NOT NULL
) STRICT;

-- Receipts that came out of a printer. A receipt printed again after one of
-- these is marked as a copy; one with no row here was never printed (the
-- history says so), and its first print is the original.
CREATE TABLE receipt_prints (
    seq              INTEGER PRIMARY KEY REFERENCES log_entries (seq),
    first_printed_at INTEGER NOT NULL,
    copies           INTEGER NOT NULL DEFAULT 0 CHECK (copies >= 0)
) STRICT;
