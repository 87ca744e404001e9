-- The voucher book (lastmile_shared::voucher_book): the vouchers this
-- terminal's site may redeem, so a typed voucher code finds its voucher with
-- no network. Only the index is kept: each voucher's code and exact signed
-- text, which is verified again (signature, key, dates, rules) whenever it
-- is redeemed. The book is replaced whole by each newer version.
CREATE TABLE voucher_book (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL CHECK (version > 0),
    vouchers   INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE voucher_codes (
    code     TEXT PRIMARY KEY,
    voucher  TEXT NOT NULL
) STRICT;

-- A newer version being downloaded, chunk by chunk, so that a download cut
-- off by a dropped connection resumes where it stopped.
CREATE TABLE voucher_book_download (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    version      INTEGER NOT NULL CHECK (version > 0),
    total_bytes  INTEGER NOT NULL
) STRICT;

CREATE TABLE voucher_book_chunks (
    offset  INTEGER PRIMARY KEY,
    bytes   BLOB NOT NULL
) STRICT;
