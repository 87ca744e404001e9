-- Lastmile terminal store, version 1.
--
-- The device log (`log_entries`) is the record of truth and the sync outbox.
-- `credentials`, `cash_sessions` and `cash_payouts` are derived from it and
-- are only ever written in the same transaction as the entry they follow.

CREATE TABLE enrolment (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    server_url        TEXT,
    device            TEXT NOT NULL,
    device_kid        TEXT NOT NULL,
    device_public_key BLOB NOT NULL CHECK (length(device_public_key) = 32),
    merchant          TEXT,
    site              TEXT,
    root_kid          TEXT NOT NULL,
    root_public_key   BLOB NOT NULL CHECK (length(root_public_key) = 32),
    enrolled_at       INTEGER NOT NULL
) STRICT;

-- Root-signed documents exactly as received; re-verified on every start.
CREATE TABLE documents (
    kind        TEXT PRIMARY KEY CHECK (kind IN ('trust_list', 'revocations', 'roster', 'policy')),
    version     INTEGER NOT NULL,
    bytes       BLOB NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sync_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    -- Every log entry at or below this sequence is confirmed by the server.
    acknowledged_seq INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged_seq >= 0),
    last_sync_at     INTEGER NOT NULL DEFAULT 0,
    balances_cursor  INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  INTEGER,
    last_error       TEXT
) STRICT;
INSERT INTO sync_state (id) VALUES (1);

CREATE TABLE operators (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    pin_hash        TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
) STRICT;

-- The operator logged in at this terminal (at most one).
CREATE TABLE login (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    operator     TEXT NOT NULL REFERENCES operators (id),
    logged_in_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE log_entries (
    seq          INTEGER PRIMARY KEY CHECK (seq > 0),
    hash         BLOB NOT NULL CHECK (length(hash) = 32),
    bytes        BLOB NOT NULL,
    at           INTEGER NOT NULL,
    operator     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    -- 'voucher:<id>' or 'entitlement:<id>' for entries that move money.
    credential   TEXT,
    amount_minor INTEGER CHECK (amount_minor IS NULL OR amount_minor > 0),
    currency     TEXT
) STRICT;

-- Per voucher or entitlement: what was redeemed, derived from the log (and
-- from the server's balance feed for redemptions made elsewhere).
CREATE TABLE credentials (
    credential            TEXT PRIMARY KEY,
    currency              TEXT NOT NULL,
    local_confirmed_minor INTEGER NOT NULL DEFAULT 0 CHECK (local_confirmed_minor >= 0),
    local_pending_minor   INTEGER NOT NULL DEFAULT 0 CHECK (local_pending_minor >= 0),
    server_redeemed_minor INTEGER NOT NULL DEFAULT 0 CHECK (server_redeemed_minor >= 0)
) STRICT, WITHOUT ROWID;

CREATE TABLE cash_sessions (
    session       INTEGER PRIMARY KEY CHECK (session > 0),
    operator      TEXT NOT NULL,
    currency      TEXT NOT NULL,
    float_minor   INTEGER NOT NULL CHECK (float_minor >= 0),
    paid_minor    INTEGER NOT NULL DEFAULT 0 CHECK (paid_minor >= 0 AND paid_minor <= float_minor),
    payouts       INTEGER NOT NULL DEFAULT 0 CHECK (payouts >= 0),
    opened_seq    INTEGER NOT NULL REFERENCES log_entries (seq),
    opened_at     INTEGER NOT NULL,
    closed_seq    INTEGER REFERENCES log_entries (seq),
    closed_at     INTEGER,
    counted_minor INTEGER
) STRICT;
-- At most one open session per terminal.
CREATE UNIQUE INDEX cash_sessions_one_open ON cash_sessions (closed_seq IS NULL)
    WHERE closed_seq IS NULL;

CREATE TABLE cash_payouts (
    seq          INTEGER PRIMARY KEY REFERENCES log_entries (seq),
    session      INTEGER NOT NULL REFERENCES cash_sessions (session),
    entitlement  TEXT NOT NULL UNIQUE,
    beneficiary  TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0)
) STRICT;
CREATE INDEX cash_payouts_session ON cash_payouts (session);
