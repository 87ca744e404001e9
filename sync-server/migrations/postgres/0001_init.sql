-- Lastmile sync server, initial schema (PostgreSQL).
-- Times are Unix seconds; money is integer minor units with an ISO 4217 code.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE root_key (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    kid        TEXT NOT NULL,
    public_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE issuer_keys (
    kid          TEXT PRIMARY KEY,
    issuer       TEXT NOT NULL,
    public_key   BYTEA NOT NULL,
    valid_from   BIGINT NOT NULL,
    valid_until  BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
    status_since BIGINT,
    created_at   BIGINT NOT NULL
);

-- The newest root-signed document per kind and scope.
CREATE TABLE documents (
    kind       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    bytes      BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, scope)
);

CREATE TABLE enrolment_codes (
    code_hash  BYTEA PRIMARY KEY,
    merchant   TEXT,
    site       TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device     TEXT
);

CREATE TABLE devices (
    device       TEXT PRIMARY KEY,
    kid          TEXT NOT NULL UNIQUE,
    public_key   BYTEA NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    merchant     TEXT,
    site         TEXT,
    enrolled_at  BIGINT NOT NULL,
    revoked_at   BIGINT,
    head_seq     BIGINT NOT NULL DEFAULT 0,
    head_hash    BYTEA NOT NULL,
    last_seen_at BIGINT
);

CREATE TABLE request_nonces (
    kid        TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kid, nonce)
);
CREATE INDEX request_nonces_created ON request_nonces (created_at);

CREATE TABLE log_entries (
    device       TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    hash         BYTEA NOT NULL,
    bytes        BYTEA NOT NULL,
    kind         TEXT NOT NULL,
    voucher      TEXT,
    amount_minor BIGINT,
    currency     TEXT,
    at           BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX log_entries_voucher ON log_entries (voucher) WHERE voucher IS NOT NULL;

CREATE TABLE vouchers (
    voucher        TEXT PRIMARY KEY,
    issuer         TEXT NOT NULL,
    programme      TEXT NOT NULL,
    value_minor    BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('single_use', 'partial')),
    valid_from     BIGINT NOT NULL,
    valid_until    BIGINT NOT NULL,
    beneficiary    TEXT,
    credential     TEXT NOT NULL,
    issued_here    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    redeemed_minor BIGINT NOT NULL DEFAULT 0,
    winner_device  TEXT,
    winner_seq     BIGINT,
    feed_position  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX vouchers_feed ON vouchers (feed_position);

CREATE TABLE double_spend_cases (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    voucher               TEXT NOT NULL,
    reason                TEXT NOT NULL,
    first_device          TEXT,
    first_seq             BIGINT,
    second_device         TEXT NOT NULL,
    second_seq            BIGINT NOT NULL,
    amount_minor          BIGINT NOT NULL,
    currency              TEXT NOT NULL,
    redeemed_before_minor BIGINT NOT NULL,
    value_minor           BIGINT NOT NULL,
    opened_at             BIGINT NOT NULL,
    status                TEXT NOT NULL DEFAULT 'open'
);

CREATE TABLE alarms (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      TEXT NOT NULL,
    device    TEXT,
    seq       BIGINT,
    detail    TEXT NOT NULL,
    evidence  BYTEA,
    raised_at BIGINT NOT NULL
);

CREATE TABLE offline_limits (
    currency                   TEXT PRIMARY KEY,
    credential_value_max_minor BIGINT NOT NULL,
    unsynced_value_max_minor   BIGINT NOT NULL,
    unsynced_count_max         BIGINT NOT NULL,
    offline_seconds_max        BIGINT NOT NULL
);
