-- Background jobs, run once across server instances (`src/jobs.rs`).
-- One file for both backends: only BIGINT and TEXT columns. Times here are
-- Unix milliseconds (a lease is seconds long).

CREATE TABLE jobs (
    -- Random (no counter shared by every instance to lock).
    id           BIGINT NOT NULL PRIMARY KEY,
    -- Which handler runs it (`prune_nonces`, …).
    kind         TEXT NOT NULL,
    -- Enqueueing the same key again does nothing (`prune_nonces:<minute>`).
    key          TEXT NOT NULL UNIQUE,
    -- JSON text, for the handler.
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    -- How many times it was claimed (a claim counts even if its worker died).
    attempts     BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts BIGINT NOT NULL CHECK (max_attempts >= 1),
    -- Not claimed before this time.
    run_after    BIGINT NOT NULL,
    -- The claim that holds (or last held) it: `<owner>#<worker session>.<n>`,
    -- and until when; another worker may claim it again once that passed.
    lease_owner  TEXT,
    lease_until  BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);

-- Claiming: what is queued (or running on an expired lease), oldest first.
CREATE INDEX jobs_claimable ON jobs (run_after, id) WHERE state IN ('queued', 'running');
-- Completing a whole claim at once.
CREATE INDEX jobs_by_lease ON jobs (lease_owner) WHERE state = 'running';
-- Lists and counts by state, and pruning finished jobs.
CREATE INDEX jobs_by_state ON jobs (state, created_at);
