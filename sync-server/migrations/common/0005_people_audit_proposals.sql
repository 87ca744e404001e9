-- HQ people, the audit trail and maker-checker proposals.
-- One file for both backends: only BIGINT and TEXT columns (hashes as hex),
-- which SQLite and PostgreSQL read alike, and NOT NULL written out on every
-- key (SQLite lets a non-rowid key be NULL). Times are Unix seconds.

CREATE TABLE users (
    id            BIGINT NOT NULL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN
                      ('admin', 'programme_officer', 'approver', 'finance', 'auditor', 'support')),
    language      TEXT NOT NULL CHECK (language IN ('en', 'fr')),
    -- Argon2id in the PHC string format.
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   BIGINT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT
);

-- Browser sessions; the cookie holds a secret whose SHA-256 is the id.
CREATE TABLE sessions (
    id_hash      TEXT NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- API tokens for scripts: `lmt_<id>_<secret>`; only the secret's SHA-256 is kept.
CREATE TABLE api_tokens (
    id           BIGINT NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    label        TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Append-only, hash-chained: hash = SHA-256 over the entry and the previous hash.
CREATE TABLE audit (
    seq       BIGINT NOT NULL PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_by_actor ON audit (actor, seq);
CREATE INDEX audit_by_action ON audit (action, seq);
CREATE INDEX audit_by_object ON audit (object, seq);

-- An action that needs a second person: pending until a different user
-- with the approver role approves or rejects it.
CREATE TABLE proposals (
    id            BIGINT NOT NULL PRIMARY KEY,
    kind          TEXT NOT NULL,
    object        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    proposed_by   BIGINT NOT NULL REFERENCES users (id),
    proposed_at   BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    decided_by    BIGINT REFERENCES users (id),
    decided_at    BIGINT,
    decision_note TEXT
);
-- At most one pending proposal per action on an object.
CREATE UNIQUE INDEX proposals_one_pending ON proposals (kind, object) WHERE state = 'pending';
CREATE INDEX proposals_by_state ON proposals (state, id);
