-- Field agents' cash sessions as their terminals' signed logs recorded
-- them (`src/payments/floats.rs`), kept up to date at each sync so that HQ
-- reconciles every float against the ledger's float account. One file for
-- both backends: only BIGINT and TEXT columns. Money is integer minor
-- units; times are Unix seconds on the terminal's clock (`*_at`) or the
-- server's (`updated_at`).
--
-- Sessions opened before this table existed are not in it: their entries
-- are in `log_entries`, and the ledger posted them as before.

CREATE TABLE cash_sessions (
    device          TEXT NOT NULL,
    -- The terminal's own session number.
    session         BIGINT NOT NULL,
    site            TEXT,
    -- The operator who opened it.
    operator        TEXT NOT NULL,
    currency        TEXT NOT NULL,
    float_minor     BIGINT NOT NULL,
    opened_seq      BIGINT NOT NULL,
    opened_at       BIGINT NOT NULL,
    -- Payouts HQ counted and the ledger delivered (each paid an
    -- entitlement once) ...
    payouts         BIGINT NOT NULL,
    paid_minor      BIGINT NOT NULL,
    -- ... and payouts it did not: a double-spend case, or an entitlement
    -- no roster here lists. The cash left the box all the same.
    disputed        BIGINT NOT NULL,
    disputed_minor  BIGINT NOT NULL,
    -- Set by the close: what the terminal expected in the box, and what
    -- the agent counted.
    expected_minor  BIGINT,
    counted_minor   BIGINT,
    closed_seq      BIGINT,
    closed_at       BIGINT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (device, session)
);

CREATE INDEX cash_sessions_site ON cash_sessions (site, device);
