-- The programme registry (`src/registry/`): programmes, the distribution
-- sites they pay at, beneficiaries with their payment channels, imports,
-- fraud signals, cycles and their entitlements. One file for both backends:
-- only BIGINT and TEXT columns. Times are Unix seconds; dates are ISO
-- `YYYY-MM-DD` text; money is integer minor units beside an ISO 4217 code.

CREATE TABLE programmes (
    programme     TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    currency      TEXT NOT NULL,
    -- Whose key signs the programme's vouchers.
    issuer        TEXT NOT NULL,
    -- The channel kinds allowed, in the programme's default order
    -- (`mobile,bank,cash`): a beneficiary's own order comes first.
    channels      TEXT NOT NULL,
    -- Most one cycle may pay in all, unless an approver approves more.
    budget_minor  BIGINT NOT NULL CHECK (budget_minor >= 0),
    starts_on     TEXT NOT NULL,
    ends_on       TEXT,
    -- Who is paid: each person, or the head of each household.
    target        TEXT NOT NULL CHECK (target IN ('individual', 'household')),
    -- A larger household is a fraud signal.
    household_max BIGINT NOT NULL CHECK (household_max >= 1),
    -- The national ID's shape (`9` a digit, `A` a letter, `*` either, any
    -- other character itself); empty when any ID is taken.
    id_pattern    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('draft', 'active', 'closed')),
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Distribution points: where cash is handed out and terminals work.
CREATE TABLE sites (
    site       TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE beneficiaries (
    programme   TEXT NOT NULL REFERENCES programmes (programme),
    beneficiary TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- Normalised (upper case, no separators); unique in a programme.
    national_id TEXT NOT NULL,
    -- E.164.
    phone       TEXT,
    household   TEXT,
    -- 1 for the head of the household (or a person on their own).
    head        BIGINT NOT NULL CHECK (head IN (0, 1)),
    site        TEXT REFERENCES sites (site),
    -- The payment channels in order of preference, their text forms
    -- (`mobile:mpesa:+254…`) separated by spaces.
    channels    TEXT NOT NULL,
    -- The first of them the programme pays by, and its kind: what a cycle
    -- uses unless it fails (the rest are the fallbacks, in order).
    channel     TEXT NOT NULL,
    channel_kind TEXT NOT NULL,
    -- The first bank account and the first wallet, for fraud signals.
    account     TEXT,
    wallet      TEXT,
    active      BIGINT NOT NULL CHECK (active IN (0, 1)),
    -- SHA-256 of the row as imported: re-importing it changes nothing.
    digest      TEXT NOT NULL,
    import_id   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (programme, beneficiary)
);
CREATE UNIQUE INDEX beneficiaries_national_id ON beneficiaries (programme, national_id);
-- Fraud signals group by each of these; the programme makes each index
-- cover its query.
CREATE INDEX beneficiaries_by_national_id ON beneficiaries (national_id, programme);
CREATE INDEX beneficiaries_by_phone ON beneficiaries (phone, programme);
CREATE INDEX beneficiaries_by_account ON beneficiaries (account, programme);
CREATE INDEX beneficiaries_by_wallet ON beneficiaries (wallet, programme);
CREATE INDEX beneficiaries_by_household ON beneficiaries (programme, household);
CREATE INDEX beneficiaries_by_name ON beneficiaries (programme, name);

-- One beneficiary file imported (or checked and refused).
CREATE TABLE imports (
    id          BIGINT NOT NULL PRIMARY KEY,
    programme   TEXT NOT NULL REFERENCES programmes (programme),
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    -- The column mapping used, JSON.
    mapping     TEXT NOT NULL,
    rows_read   BIGINT NOT NULL,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    unchanged   BIGINT NOT NULL,
    rejected    BIGINT NOT NULL,
    -- 1 when the officer chose to import the good rows of a file with errors.
    good_rows   BIGINT NOT NULL CHECK (good_rows IN (0, 1)),
    imported_by TEXT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- Something a person should look at: the same national ID, phone number,
-- bank account or wallet on several beneficiaries, a household too large or
-- without a head. Never a reason to drop anyone silently.
CREATE TABLE registry_signals (
    id           BIGINT NOT NULL PRIMARY KEY,
    -- `<kind>:<programme or *>:<value>`: found again, it is the same signal.
    signal       TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    -- NULL when across programmes.
    programme    TEXT,
    value        TEXT NOT NULL,
    -- JSON list of `programme/beneficiary`.
    beneficiaries TEXT NOT NULL,
    detected_at  BIGINT NOT NULL,
    reviewed_by  TEXT,
    reviewed_at  BIGINT,
    review_note  TEXT
);
CREATE INDEX registry_signals_open ON registry_signals (reviewed_at, id);

CREATE TABLE cycles (
    id           BIGINT NOT NULL PRIMARY KEY,
    programme    TEXT NOT NULL REFERENCES programmes (programme),
    -- `2027-01`, or any label of the programme's periods.
    period       TEXT NOT NULL,
    -- `flat:<minor>` or `per_member:<minor>:cap:<minor>`.
    rule         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved')),
    entitlements BIGINT NOT NULL,
    total_minor  BIGINT NOT NULL,
    excluded     BIGINT NOT NULL,
    -- 1 when the total is over the programme's budget: only an approval
    -- that saw it lets the cycle through.
    over_budget  BIGINT NOT NULL CHECK (over_budget IN (0, 1)),
    generated_by TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    approved_by  TEXT,
    approved_at  BIGINT,
    UNIQUE (programme, period)
);

-- What one beneficiary is owed in one cycle.
CREATE TABLE cycle_entitlements (
    cycle        BIGINT NOT NULL REFERENCES cycles (id),
    beneficiary  TEXT NOT NULL,
    programme    TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT NOT NULL,
    -- People counted (the household's size, or 1).
    members      BIGINT NOT NULL,
    -- The channel chosen (its text form) and its kind.
    channel      TEXT NOT NULL,
    channel_kind TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('draft', 'excluded', 'approved', 'cancelled',
                                                'issued', 'sent', 'paid', 'redeemed', 'expired')),
    note         TEXT,
    -- What it became once released: the voucher's id, or the id of the
    -- roster entitlement a field agent pays or a shop redeems by ID.
    reference    TEXT,
    -- Until when a released voucher or roster entry may be redeemed.
    valid_until  BIGINT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (cycle, beneficiary)
);
CREATE INDEX cycle_entitlements_by_state ON cycle_entitlements (cycle, state);
CREATE INDEX cycle_entitlements_by_reference ON cycle_entitlements (reference);
-- The open cash entitlements of a site, for its roster (only cash ones are
-- indexed: a wallet or an account per row would make every cycle's insert
-- pay for an index nobody reads).
CREATE INDEX cycle_entitlements_by_site ON cycle_entitlements (channel, state)
    WHERE channel_kind = 'cash';
