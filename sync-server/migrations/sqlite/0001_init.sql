-- Lastmile sync server, initial schema (SQLite).
-- Times are Unix seconds; money is integer minor units with an ISO 4217 code.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE root_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    kid        TEXT NOT NULL,
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE issuer_keys (
    kid          TEXT PRIMARY KEY,
    issuer       TEXT NOT NULL,
    public_key   BLOB NOT NULL,
    valid_from   INTEGER NOT NULL,
    valid_until  INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
    status_since INTEGER,
    created_at   INTEGER NOT NULL
);

-- The newest root-signed document per kind and scope.
CREATE TABLE documents (
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    bytes      BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, scope)
);

CREATE TABLE enrolment_codes (
    code_hash  BLOB PRIMARY KEY,
    merchant   TEXT,
    site       TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device     TEXT
);

CREATE TABLE devices (
    device       TEXT PRIMARY KEY,
    kid          TEXT NOT NULL UNIQUE,
    public_key   BLOB NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    merchant     TEXT,
    site         TEXT,
    enrolled_at  INTEGER NOT NULL,
    revoked_at   INTEGER,
    head_seq     INTEGER NOT NULL DEFAULT 0,
    head_hash    BLOB NOT NULL,
    last_seen_at INTEGER
);

CREATE TABLE request_nonces (
    kid        TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kid, nonce)
);
CREATE INDEX request_nonces_created ON request_nonces (created_at);

CREATE TABLE log_entries (
    device       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    hash         BLOB NOT NULL,
    bytes        BLOB NOT NULL,
    kind         TEXT NOT NULL,
    voucher      TEXT,
    amount_minor INTEGER,
    currency     TEXT,
    at           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX log_entries_voucher ON log_entries (voucher) WHERE voucher IS NOT NULL;

CREATE TABLE vouchers (
    voucher        TEXT PRIMARY KEY,
    issuer         TEXT NOT NULL,
    programme      TEXT NOT NULL,
    value_minor    INTEGER NOT NULL,
    currency       TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('single_use', 'partial')),
    valid_from     INTEGER NOT NULL,
    valid_until    INTEGER NOT NULL,
    beneficiary    TEXT,
    credential     TEXT NOT NULL,
    issued_here    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    redeemed_minor INTEGER NOT NULL DEFAULT 0,
    winner_device  TEXT,
    winner_seq     INTEGER,
    feed_position  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vouchers_feed ON vouchers (feed_position);

CREATE TABLE double_spend_cases (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    voucher               TEXT NOT NULL,
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
    status                TEXT NOT NULL DEFAULT 'open'
);

CREATE TABLE alarms (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind      TEXT NOT NULL,
    device    TEXT,
    seq       INTEGER,
    detail    TEXT NOT NULL,
    evidence  BLOB,
    raised_at INTEGER NOT NULL
);

CREATE TABLE offline_limits (
    currency                   TEXT PRIMARY KEY,
    credential_value_max_minor INTEGER NOT NULL,
    unsynced_value_max_minor   INTEGER NOT NULL,
    unsynced_count_max         INTEGER NOT NULL,
    offline_seconds_max        INTEGER NOT NULL
);
