-- ID authorities (`src/id_authorities.rs`): the public keys of the
-- authorities whose MOSIP Claim 169 ID cards terminals accept. Added and
-- retired through maker-checker proposals; the active ones travel in every
-- terminal's signed policy. Global, not per programme: a card is verified
-- before the terminal knows whose entitlement it will find, and a national
-- registry's key is the same for every programme. One file for both
-- backends: only BIGINT and TEXT columns; times are Unix seconds.

CREATE TABLE id_authorities (
    -- The `kid` the authority's cards carry in their COSE header. A key id
    -- is never reused: a retired key stays retired.
    kid           TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    algorithm     TEXT NOT NULL CHECK (algorithm IN ('Ed25519', 'ES256')),
    -- Hexadecimal: 32 bytes for Ed25519, a SEC1 point (33 or 65) for ES256.
    public_key    TEXT NOT NULL,
    -- Cards are accepted from `valid_from` until `valid_until` (exclusive).
    valid_from    BIGINT NOT NULL,
    valid_until   BIGINT,
    -- proposed -> active -> retired; a rejected proposal leaves `rejected`,
    -- which may be proposed again.
    state         TEXT NOT NULL CHECK (state IN ('proposed', 'active', 'retired', 'rejected')),
    -- Audit labels (`user:alice`) of who proposed and who approved it, and
    -- of who approved its retirement.
    proposed_by   TEXT NOT NULL,
    proposed_at   BIGINT NOT NULL,
    approved_by   TEXT,
    approved_at   BIGINT,
    retired_by    TEXT,
    retired_at    BIGINT,
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);

CREATE INDEX id_authorities_by_state ON id_authorities (state, kid);
