//! The voucher credential: CWT claims (RFC 8392) in a COSE_Sign1 (RFC 9052)
//! signed with Ed25519, carried as base45 text (RFC 9285) behind `LM1:`.
//!
//! `docs/voucher-format.md` is the normative description; this module is its
//! reference implementation. Decoding is total: any text yields a voucher or
//! a specific [`VoucherError`], with bounded work and memory.

use ciborium::value::{Integer, Value};
use coset::CborSerializable;
use coset::cwt::{ClaimName, ClaimsSet, ClaimsSetBuilder, Timestamp};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envelope::{self, Envelope, EnvelopeError};
use crate::id::{BeneficiaryId, IssuerId, KeyId, MerchantId, ProgrammeId, SiteId, VoucherId};
use crate::money::{Currency, Money};
use crate::trust_list::{KeyStatus, TrustStore, TrustedKey};

/// The text every version-1 voucher starts with.
pub const VOUCHER_PREFIX: &str = "LM1:";
/// Longest voucher text we look at (a version-10 QR holds 311 characters).
pub const VOUCHER_TEXT_BYTES_MAX: usize = 1024;
/// Largest COSE structure inside a voucher.
pub const VOUCHER_COSE_BYTES_MAX: usize = 700;
/// Most merchants or sites a voucher may be restricted to.
pub const VOUCHER_RESTRICTIONS_MAX: usize = 16;
/// A terminal clock may run this far behind the issuer's without refusing a
/// voucher as "not yet valid". Expiry is never stretched.
pub const CLOCK_SKEW_SECONDS_MAX: i64 = 300;

/// The CWT private-use claim that holds Lastmile's voucher terms.
pub const CLAIM_LASTMILE_VOUCHER: i64 = -65537;

mod key {
    pub const PROGRAMME: u64 = 1;
    pub const AMOUNT: u64 = 2;
    pub const CURRENCY: u64 = 3;
    pub const MODE: u64 = 4;
    pub const BENEFICIARY: u64 = 5;
    pub const MERCHANTS: u64 = 6;
    pub const SITES: u64 = 7;
}

/// Whether a voucher is spent at once or may be spent in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionMode {
    SingleUse,
    Partial,
}

/// A salted hash that binds a voucher to one beneficiary without carrying
/// personal data: the first 16 bytes of
/// `SHA-256("lastmile/beneficiary/v1" 0x00 voucher_id 0x00 beneficiary_id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeneficiaryBinding(pub [u8; 16]);

impl BeneficiaryBinding {
    pub fn compute(voucher: &VoucherId, beneficiary: &BeneficiaryId) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"lastmile/beneficiary/v1\0");
        hasher.update(voucher.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(beneficiary.as_str().as_bytes());
        let digest = hasher.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Self(out)
    }
}

/// Everything a voucher says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherClaims {
    pub id: VoucherId,
    pub issuer: IssuerId,
    pub programme: ProgrammeId,
    pub value: Money,
    pub issued_at: i64,
    pub valid_from: i64,
    pub valid_until: i64,
    pub mode: RedemptionMode,
    pub beneficiary: Option<BeneficiaryBinding>,
    /// Merchants that may redeem it; empty means any.
    pub merchants: Vec<MerchantId>,
    /// Sites where it may be redeemed; empty means any.
    pub sites: Vec<SiteId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherError {
    #[error("the code is {len} characters long; a voucher has at most {VOUCHER_TEXT_BYTES_MAX}")]
    Oversize { len: usize },
    #[error("this code is not a Lastmile voucher")]
    NotAVoucher,
    #[error(
        "this voucher uses format {0}, which this terminal does not support; update the terminal"
    )]
    UnsupportedVersion(String),
    #[error("the voucher text is damaged (base45): {0}")]
    Base45(String),
    #[error("the voucher's signed envelope is damaged: {0}")]
    Envelope(EnvelopeError),
    #[error("the voucher's contents are invalid: {0}")]
    Claims(String),
    #[error(
        "the voucher was signed with key {0}, which this terminal does not know; sync, then try again"
    )]
    UnknownKey(KeyId),
    #[error("the voucher was signed with key {0}, which has been revoked")]
    KeyRevoked(KeyId),
    #[error("the voucher was issued after its key {kid} was retired")]
    KeyRetired { kid: KeyId, since: i64 },
    #[error("the voucher's issue date is outside the validity of key {0}")]
    KeyNotValid(KeyId),
    #[error("key {kid} belongs to issuer {key_issuer}, but the voucher claims issuer {claimed}")]
    WrongIssuer {
        kid: KeyId,
        key_issuer: IssuerId,
        claimed: IssuerId,
    },
    #[error("key {kid} may not sign vouchers for programme {programme}")]
    ProgrammeNotAllowed { kid: KeyId, programme: ProgrammeId },
    #[error("the voucher's signature is invalid: it is forged or was altered")]
    BadSignature,
    #[error("the voucher is not valid yet")]
    NotYetValid { valid_from: i64 },
    #[error("the voucher has expired")]
    Expired { valid_until: i64 },
}

impl VoucherError {
    /// A stable code for scripts, test vectors and translations.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Oversize { .. } => "oversize",
            Self::NotAVoucher => "not_a_voucher",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Base45(_) => "bad_base45",
            Self::Envelope(_) => "bad_cose",
            Self::Claims(_) => "bad_claims",
            Self::UnknownKey(_) => "unknown_key",
            Self::KeyRevoked(_) => "key_revoked",
            Self::KeyRetired { .. } => "key_retired",
            Self::KeyNotValid(_) => "key_not_valid",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::ProgrammeNotAllowed { .. } => "programme_not_allowed",
            Self::BadSignature => "bad_signature",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::Expired { .. } => "expired",
        }
    }
}

impl From<EnvelopeError> for VoucherError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::BadSignature => VoucherError::BadSignature,
            other => VoucherError::Envelope(other),
        }
    }
}

/// A voucher whose structure was read but whose signature is not yet checked.
#[derive(Debug, Clone)]
pub struct DecodedVoucher {
    envelope: Envelope,
    claims: VoucherClaims,
}

/// A voucher whose signature, key and dates were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedVoucher {
    pub claims: VoucherClaims,
    pub kid: KeyId,
}

/// Signs `claims` with an issuer key and returns the QR text.
pub fn encode(claims: &VoucherClaims, kid: &KeyId, key: &SigningKey) -> String {
    text_of(&envelope::seal_bytes(claims_to_cbor(claims), kid, key))
}

fn text_of(cose: &[u8]) -> String {
    let mut text = String::with_capacity(VOUCHER_PREFIX.len() + cose.len() * 3 / 2 + 2);
    text.push_str(VOUCHER_PREFIX);
    text.push_str(&base45::encode(cose));
    text
}

/// Reads a voucher's text without checking its signature.
///
/// A voucher has exactly one valid text: after trimming, the text must be
/// what [`encode`] writes for the claims, key id and signature it holds
/// (`docs/voucher-format.md` §1.5). Anything else is refused, so no one can
/// make a second valid text of a voucher they hold.
pub fn decode(text: &str) -> Result<DecodedVoucher, VoucherError> {
    // The length is checked before trimming, so no input costs more than
    // this limit's worth of work.
    if text.len() > VOUCHER_TEXT_BYTES_MAX {
        return Err(VoucherError::Oversize { len: text.len() });
    }
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let body = match text.strip_prefix(VOUCHER_PREFIX) {
        Some(body) => body,
        None => return Err(version_error(text)),
    };
    let cose = base45::decode(body).map_err(|e| VoucherError::Base45(e.to_string()))?;
    // The decoder tolerates forms RFC 9285 never writes (a final pair above
    // 255, lower-case letters): only the encoder's own text is accepted.
    if base45::encode(&cose) != body {
        return Err(VoucherError::Base45(
            "not in canonical form (RFC 9285 section 4)".to_owned(),
        ));
    }
    let envelope = Envelope::parse(&cose, VOUCHER_COSE_BYTES_MAX)?;
    let claims = claims_from_cbor(envelope.payload())?;
    // The claims are signed, so only an issuer can produce other encodings
    // of them; refusing those keeps every verifier reading the same bytes
    // the same way (no bignums, no long heads, no unsorted keys).
    if claims_to_cbor(&claims) != envelope.payload() {
        return Err(bad(
            "not in deterministic CBOR encoding (RFC 8949 section 4.2.1)",
        ));
    }
    Ok(DecodedVoucher { envelope, claims })
}

fn version_error(text: &str) -> VoucherError {
    // "LM<digits>:" is ours but another version; anything else is not ours.
    let Some(rest) = text.strip_prefix("LM") else {
        return VoucherError::NotAVoucher;
    };
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(4)
        .collect();
    if !digits.is_empty() && rest[digits.len()..].starts_with(':') {
        VoucherError::UnsupportedVersion(format!("LM{digits}"))
    } else {
        VoucherError::NotAVoucher
    }
}

/// Decodes and fully verifies a voucher against the trust store at `now`
/// (Unix seconds).
pub fn verify(text: &str, trust: &TrustStore, now: i64) -> Result<VerifiedVoucher, VoucherError> {
    let decoded = decode(text)?;
    let key = decoded.trusted_key(trust)?;
    decoded.envelope.verify(&key.key)?;
    decoded.accept(key, now)
}

/// Verifies many vouchers at once using Ed25519 batch verification; results
/// are in input order and equal to calling [`verify`] on each.
pub fn verify_batch(
    texts: &[&str],
    trust: &TrustStore,
    now: i64,
) -> Vec<Result<VerifiedVoucher, VoucherError>> {
    let staged: Vec<Result<(DecodedVoucher, &TrustedKey), VoucherError>> = texts
        .iter()
        .map(|text| {
            let decoded = decode(text)?;
            let key = decoded.trusted_key(trust)?;
            Ok((decoded, key))
        })
        .collect();
    let ready: Vec<&(DecodedVoucher, &TrustedKey)> =
        staged.iter().filter_map(|s| s.as_ref().ok()).collect();
    let messages: Vec<&[u8]> = ready
        .iter()
        .map(|(d, _)| d.envelope.to_be_signed())
        .collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        ready.iter().map(|(d, _)| *d.envelope.signature()).collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = ready.iter().map(|(_, k)| k.key).collect();
    // One bad signature fails the whole batch; then each is checked alone.
    let batch_ok =
        !ready.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
    staged
        .into_iter()
        .map(|stage| {
            let (decoded, key) = stage?;
            if !batch_ok {
                decoded.envelope.verify(&key.key)?;
            }
            decoded.accept(key, now)
        })
        .collect()
}

impl DecodedVoucher {
    pub fn claims(&self) -> &VoucherClaims {
        &self.claims
    }

    pub fn kid(&self) -> &KeyId {
        self.envelope.kid()
    }

    /// The voucher's text rebuilt from its claims, key id and signature:
    /// the trimmed text it was decoded from, since only that one is accepted.
    pub fn to_text(&self) -> String {
        let cose = envelope::assemble(
            self.envelope.kid(),
            claims_to_cbor(&self.claims),
            self.envelope.signature(),
        );
        text_of(&cose)
    }

    fn trusted_key<'t>(&self, trust: &'t TrustStore) -> Result<&'t TrustedKey, VoucherError> {
        trust
            .get(self.envelope.kid())
            .ok_or_else(|| VoucherError::UnknownKey(self.envelope.kid().clone()))
    }

    /// Key policy and dates, after the signature has been checked.
    fn accept(self, key: &TrustedKey, now: i64) -> Result<VerifiedVoucher, VoucherError> {
        let kid = self.envelope.kid().clone();
        let claims = self.claims;
        let entry = &key.entry;
        match entry.status {
            KeyStatus::Active => {}
            KeyStatus::Retired { since } if claims.issued_at < since => {}
            KeyStatus::Retired { since } => return Err(VoucherError::KeyRetired { kid, since }),
            KeyStatus::Revoked { .. } => return Err(VoucherError::KeyRevoked(kid)),
        }
        if entry.issuer != claims.issuer {
            return Err(VoucherError::WrongIssuer {
                kid,
                key_issuer: entry.issuer.clone(),
                claimed: claims.issuer,
            });
        }
        if !entry.programmes.is_empty() && !entry.programmes.contains(&claims.programme) {
            return Err(VoucherError::ProgrammeNotAllowed {
                kid,
                programme: claims.programme,
            });
        }
        if claims.issued_at < entry.valid_from || claims.issued_at > entry.valid_until {
            return Err(VoucherError::KeyNotValid(kid));
        }
        if now.saturating_add(CLOCK_SKEW_SECONDS_MAX) < claims.valid_from {
            return Err(VoucherError::NotYetValid {
                valid_from: claims.valid_from,
            });
        }
        if now >= claims.valid_until {
            return Err(VoucherError::Expired {
                valid_until: claims.valid_until,
            });
        }
        Ok(VerifiedVoucher { claims, kid })
    }
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn claims_to_cbor(claims: &VoucherClaims) -> Vec<u8> {
    let mut terms = vec![
        (Value::from(key::PROGRAMME), text(claims.programme.as_str())),
        (Value::from(key::AMOUNT), Value::from(claims.value.minor)),
        (
            Value::from(key::CURRENCY),
            text(claims.value.currency.code()),
        ),
        (
            Value::from(key::MODE),
            Value::from(match claims.mode {
                RedemptionMode::SingleUse => 0u8,
                RedemptionMode::Partial => 1u8,
            }),
        ),
    ];
    if let Some(binding) = &claims.beneficiary {
        terms.push((
            Value::from(key::BENEFICIARY),
            Value::Bytes(binding.0.to_vec()),
        ));
    }
    if !claims.merchants.is_empty() {
        let list = claims.merchants.iter().map(|m| text(m.as_str())).collect();
        terms.push((Value::from(key::MERCHANTS), Value::Array(list)));
    }
    if !claims.sites.is_empty() {
        let list = claims.sites.iter().map(|s| text(s.as_str())).collect();
        terms.push((Value::from(key::SITES), Value::Array(list)));
    }
    ClaimsSetBuilder::new()
        .issuer(claims.issuer.as_str().to_owned())
        .expiration_time(Timestamp::WholeSeconds(claims.valid_until))
        .not_before(Timestamp::WholeSeconds(claims.valid_from))
        .issued_at(Timestamp::WholeSeconds(claims.issued_at))
        .cwt_id(claims.id.as_str().as_bytes().to_vec())
        .private_claim(CLAIM_LASTMILE_VOUCHER, Value::Map(terms))
        .build()
        .to_vec()
        .expect("a claims set of text, integers and bytes always serialises")
}

fn bad(what: &str) -> VoucherError {
    VoucherError::Claims(what.to_owned())
}

fn seconds(timestamp: Option<Timestamp>, name: &str) -> Result<i64, VoucherError> {
    match timestamp {
        Some(Timestamp::WholeSeconds(s)) => Ok(s),
        Some(Timestamp::FractionalSeconds(_)) => Err(bad(&format!("{name} must be whole seconds"))),
        None => Err(bad(&format!("{name} is missing"))),
    }
}

fn id_from_text<T>(
    value: &Value,
    name: &str,
    parse: fn(&str) -> Result<T, crate::id::IdError>,
) -> Result<T, VoucherError> {
    match value {
        Value::Text(t) => parse(t).map_err(|e| bad(&format!("{name}: {e}"))),
        _ => Err(bad(&format!("{name} must be text"))),
    }
}

fn id_list<T>(
    value: &Value,
    name: &str,
    parse: fn(&str) -> Result<T, crate::id::IdError>,
) -> Result<Vec<T>, VoucherError> {
    let Value::Array(items) = value else {
        return Err(bad(&format!("{name} must be an array")));
    };
    if items.is_empty() || items.len() > VOUCHER_RESTRICTIONS_MAX {
        return Err(bad(&format!(
            "{name} must list 1 to {VOUCHER_RESTRICTIONS_MAX} entries"
        )));
    }
    items
        .iter()
        .map(|item| id_from_text(item, name, parse))
        .collect()
}

fn claims_from_cbor(bytes: &[u8]) -> Result<VoucherClaims, VoucherError> {
    let set =
        ClaimsSet::from_slice(bytes).map_err(|e| bad(&format!("not a CWT claims set: {e}")))?;
    if set.subject.is_some() || set.audience.is_some() {
        return Err(bad("unexpected sub or aud claim"));
    }
    let issuer = IssuerId::parse(set.issuer.as_deref().ok_or_else(|| bad("iss is missing"))?)
        .map_err(|e| bad(&format!("iss: {e}")))?;
    let valid_until = seconds(set.expiration_time, "exp")?;
    let valid_from = seconds(set.not_before, "nbf")?;
    let issued_at = seconds(set.issued_at, "iat")?;
    if valid_from >= valid_until {
        return Err(bad("nbf is not before exp"));
    }
    let cti = set.cwt_id.ok_or_else(|| bad("cti is missing"))?;
    let id = std::str::from_utf8(&cti)
        .ok()
        .and_then(|t| VoucherId::parse(t).ok())
        .ok_or_else(|| bad("cti is not a valid voucher id"))?;
    let [(name, Value::Map(terms))] = set.rest.as_slice() else {
        return Err(bad("exactly one Lastmile claim map is required"));
    };
    if *name != ClaimName::PrivateUse(CLAIM_LASTMILE_VOUCHER) {
        return Err(bad("unknown claim"));
    }
    let mut programme = None;
    let mut amount = None;
    let mut currency = None;
    let mut mode = None;
    let mut beneficiary = None;
    let mut merchants = Vec::new();
    let mut sites = Vec::new();
    let mut seen = 0u8;
    for (k, v) in terms {
        let k = match k {
            Value::Integer(i) => u64::try_from(*i).map_err(|_| bad("claim keys must be 1 to 7"))?,
            _ => return Err(bad("claim keys must be integers")),
        };
        if !(1..=7).contains(&k) {
            return Err(bad(&format!("unknown voucher claim {k}")));
        }
        let bit = 1u8 << k;
        if seen & bit != 0 {
            return Err(bad(&format!("voucher claim {k} appears twice")));
        }
        seen |= bit;
        match k {
            key::PROGRAMME => programme = Some(id_from_text(v, "programme", ProgrammeId::parse)?),
            key::AMOUNT => {
                amount = Some(
                    v.as_integer()
                        .and_then(|i: Integer| i64::try_from(i).ok())
                        .filter(|m| *m > 0)
                        .ok_or_else(|| bad("amount must be a positive integer of minor units"))?,
                )
            }
            key::CURRENCY => {
                currency = Some(match v {
                    Value::Text(code) => Currency::parse(code).map_err(|e| bad(&e.to_string()))?,
                    _ => return Err(bad("currency must be text")),
                })
            }
            key::MODE => {
                mode = Some(match v.as_integer().and_then(|i| u8::try_from(i).ok()) {
                    Some(0) => RedemptionMode::SingleUse,
                    Some(1) => RedemptionMode::Partial,
                    _ => return Err(bad("mode must be 0 (single use) or 1 (partial)")),
                })
            }
            key::BENEFICIARY => {
                beneficiary = Some(match v {
                    Value::Bytes(b) => BeneficiaryBinding(
                        b.as_slice()
                            .try_into()
                            .map_err(|_| bad("beneficiary binding must be 16 bytes"))?,
                    ),
                    _ => return Err(bad("beneficiary binding must be bytes")),
                })
            }
            key::MERCHANTS => merchants = id_list(v, "merchants", MerchantId::parse)?,
            key::SITES => sites = id_list(v, "sites", SiteId::parse)?,
            _ => unreachable!("keys outside 1..=7 were refused above"),
        }
    }
    let programme = programme.ok_or_else(|| bad("programme is missing"))?;
    let minor = amount.ok_or_else(|| bad("amount is missing"))?;
    let currency = currency.ok_or_else(|| bad("currency is missing"))?;
    let mode = mode.ok_or_else(|| bad("mode is missing"))?;
    Ok(VoucherClaims {
        id,
        issuer,
        programme,
        value: Money::new(minor, currency),
        issued_at,
        valid_from,
        valid_until,
        mode,
        beneficiary,
        merchants,
        sites,
    })
}
