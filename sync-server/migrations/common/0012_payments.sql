-- The payment pipeline (`src/payments/`): the rails HQ pays through, the
-- batches a person prepares and another approves, one row per payment
-- instruction under its idempotency key, each payment's timeline, and
-- every file exchanged with a rail by its SHA-256. One file for both
-- backends: only BIGINT and TEXT columns. Money is integer minor units;
-- times are Unix seconds.

-- A way of paying, set up by an admin: a bank that reads payment files.
CREATE TABLE rails (
    rail        TEXT NOT NULL PRIMARY KEY,
    -- 'bank_file'.
    kind        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    -- JSON: the file format, the programme's account (debtor), the
    -- folders files are delivered to and read from, the batch size.
    config      TEXT NOT NULL,
    -- 'down': nothing new is batched for it, and its payments may be
    -- rerouted once its deadline passed.
    state       TEXT NOT NULL CHECK (state IN ('active', 'down')),
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE payment_batches (
    id            BIGINT NOT NULL PRIMARY KEY,
    programme     TEXT NOT NULL,
    cycle         BIGINT NOT NULL REFERENCES cycles (id),
    rail          TEXT NOT NULL REFERENCES rails (rail),
    currency      TEXT NOT NULL,
    payments      BIGINT NOT NULL,
    total_minor   BIGINT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'sent',
                                                 'cancelled')),
    -- The file's GrpHdr/MsgId (at most 35 characters), fixed when the
    -- batch is made: a file sent again is the same message.
    message_id    TEXT NOT NULL UNIQUE,
    prepared_by   TEXT NOT NULL,
    prepared_at   BIGINT NOT NULL,
    approved_by   TEXT,
    approved_at   BIGINT,
    sent_at       BIGINT
);
CREATE INDEX payment_batches_by_cycle ON payment_batches (cycle, id);

-- One payment instruction. `payment` is its idempotency key, derived from
-- the programme, cycle, beneficiary and channel (never the attempt): the
-- pain.001 EndToEndId, the field a bank de-duplicates on.
CREATE TABLE payments (
    payment      TEXT NOT NULL PRIMARY KEY,
    batch        BIGINT REFERENCES payment_batches (id),
    programme    TEXT NOT NULL,
    cycle        BIGINT NOT NULL,
    beneficiary  TEXT NOT NULL,
    rail         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('batched', 'approved', 'sent', 'accepted',
                                                'paid', 'failed', 'cancelled', 'rerouted')),
    -- Why it failed (an ISO reason code such as AC04, or one of ours).
    reason       TEXT,
    detail       TEXT,
    -- In the exception queue: 1 until a person resolved it.
    exception    BIGINT NOT NULL CHECK (exception IN (0, 1)),
    -- Times it was handed to its rail with a reservation (retries add one).
    attempts     BIGINT NOT NULL,
    -- Seq of its last event.
    events       BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (cycle, beneficiary, channel)
);
CREATE INDEX payments_by_batch ON payments (batch, payment);
CREATE INDEX payments_by_cycle ON payments (cycle, state);
CREATE INDEX payments_exceptions ON payments (exception, updated_at) WHERE exception = 1;

CREATE TABLE payment_events (
    payment TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    -- created, approved, sent, accepted, paid, failed, retried, rerouted,
    -- cancelled, marked_paid, reconciled.
    kind    TEXT NOT NULL,
    actor   TEXT NOT NULL,
    -- JSON.
    detail  TEXT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (payment, seq)
);

-- Every file sent to or received from a rail, by its SHA-256: a file
-- received twice is recognised and changes nothing.
CREATE TABLE rail_files (
    sha256     TEXT NOT NULL PRIMARY KEY,
    rail       TEXT NOT NULL,
    direction  TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    -- pain.001.001.09, pain.001.001.03, csv:<template>, pain.002, camt.054.
    format     TEXT NOT NULL,
    name       TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    batch      BIGINT,
    message_id TEXT,
    -- 'sent', 'applied' (an answer that changed what it said), or
    -- 'refused' (an answer that changed nothing; `summary` says why).
    outcome    TEXT NOT NULL CHECK (outcome IN ('sent', 'applied', 'refused')),
    -- JSON: what it changed (counts by outcome), or why it was refused.
    summary    TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX rail_files_by_batch ON rail_files (batch, at);
CREATE INDEX rail_files_by_name ON rail_files (rail, name);
