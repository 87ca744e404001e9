//! ID cards: MOSIP Claim 169 QR codes (verified with `claim169-core`, the
//! idpass implementation of the specification) and plain ID-number barcodes.
//!
//! A Claim 169 card is accepted only when it is signed by an ID authority HQ
//! registered (an [`IdIssuerKey`] in the terminal's policy): the `kid` of the
//! card's COSE header selects the authority's key, the key's algorithm must
//! be the card's, and the key must be valid now. A card naming a key HQ
//! retired, or one HQ never registered, is refused with that reason.

use claim169_core::{Claim169Error, DecodeResult, Decoder};
use coset::iana;
use serde::{Deserialize, Serialize};

use crate::id::{IdError, KeyId};
use crate::text::{Lines, PlainText, TextError};

/// Longest ID-card QR text we look at.
pub const ID_CARD_TEXT_BYTES_MAX: usize = 8 * 1024;
/// Longest plain ID number (barcode or typed).
pub const ID_NUMBER_BYTES_MAX: usize = 32;
/// Most a compressed Claim 169 payload may expand to.
pub const ID_CARD_DECOMPRESSED_BYTES_MAX: usize = 64 * 1024;
/// Most ID authority keys a terminal's policy carries (each card is tried
/// against at most this many keys when it names none).
pub const ID_AUTHORITIES_MAX: usize = 64;
/// Most retired ID authority keys a policy names (the newest retired).
pub const ID_AUTHORITIES_RETIRED_MAX: usize = 256;
/// Longest ID authority name, in characters.
pub const ID_AUTHORITY_NAME_CHARS_MAX: usize = 100;

/// How an ID authority signs its cards: the COSE algorithms `claim169-core`
/// verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdKeyAlgorithm {
    /// EdDSA over Ed25519 (COSE -8); the key is 32 bytes.
    #[serde(rename = "Ed25519")]
    Ed25519,
    /// ECDSA over P-256 with SHA-256 (COSE -7); the key is a SEC1 point,
    /// 33 (compressed) or 65 (uncompressed) bytes.
    #[serde(rename = "ES256")]
    Es256,
}

impl IdKeyAlgorithm {
    pub const ALL: [IdKeyAlgorithm; 2] = [IdKeyAlgorithm::Ed25519, IdKeyAlgorithm::Es256];

    pub fn code(self) -> &'static str {
        match self {
            Self::Ed25519 => "Ed25519",
            Self::Es256 => "ES256",
        }
    }

    /// `Ed25519` or `ES256` (any case; `EdDSA` is taken as Ed25519).
    pub fn parse(text: &str) -> Result<Self, IdKeyError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("eddsa") {
            return Ok(Self::Ed25519);
        }
        Self::ALL
            .into_iter()
            .find(|a| a.code().eq_ignore_ascii_case(text))
            .ok_or_else(|| IdKeyError::UnknownAlgorithm(text.chars().take(32).collect()))
    }

    fn cose(self) -> iana::Algorithm {
        match self {
            Self::Ed25519 => iana::Algorithm::EdDSA,
            Self::Es256 => iana::Algorithm::ES256,
        }
    }
}

impl std::fmt::Display for IdKeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an ID authority's key cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdKeyError {
    #[error("the authority's name is not usable: {0}")]
    BadName(TextError),
    #[error("the key id is not usable: {0}")]
    BadKeyId(IdError),
    #[error("{0:?} is not an algorithm ID cards are verified with; use Ed25519 or ES256")]
    UnknownAlgorithm(String),
    #[error("the public key is not hexadecimal")]
    NotHex,
    #[error("an {algorithm} public key is {expected} bytes; this one is {len}")]
    KeyLength {
        algorithm: IdKeyAlgorithm,
        expected: &'static str,
        len: usize,
    },
    #[error("the public key is not a valid {0} key")]
    BadKey(IdKeyAlgorithm),
    #[error("the key's validity ends ({until}) before it starts ({from})")]
    EmptyWindow { from: i64, until: i64 },
}

/// A public key of an ID authority whose cards we accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdIssuerKey {
    /// Who the authority is, as HQ registered it (shown on the terminal).
    pub name: String,
    /// The `kid` its cards carry in their COSE header (as UTF-8 bytes).
    pub kid: KeyId,
    pub algorithm: IdKeyAlgorithm,
    #[serde(with = "serde_bytes")]
    pub public_key: Vec<u8>,
    /// Cards are accepted from this time (Unix seconds) …
    pub valid_from: i64,
    /// … until this one (exclusive), if the key has an end.
    pub valid_until: Option<i64>,
}

impl IdIssuerKey {
    /// A key that can verify cards: a usable name and key id, and a public
    /// key of the algorithm's shape that the algorithm accepts.
    pub fn new(
        name: &str,
        kid: &str,
        algorithm: IdKeyAlgorithm,
        public_key: Vec<u8>,
        valid_from: i64,
        valid_until: Option<i64>,
    ) -> Result<Self, IdKeyError> {
        let name = PlainText::parse(name, Lines::One, ID_AUTHORITY_NAME_CHARS_MAX)
            .map_err(IdKeyError::BadName)?;
        let kid = KeyId::parse(kid.trim()).map_err(IdKeyError::BadKeyId)?;
        let (expected, fits) = match algorithm {
            IdKeyAlgorithm::Ed25519 => ("32", public_key.len() == 32),
            IdKeyAlgorithm::Es256 => ("33 or 65", matches!(public_key.len(), 33 | 65)),
        };
        if !fits {
            return Err(IdKeyError::KeyLength {
                algorithm,
                expected,
                len: public_key.len(),
            });
        }
        if let Some(until) = valid_until
            && until <= valid_from
        {
            return Err(IdKeyError::EmptyWindow {
                from: valid_from,
                until,
            });
        }
        let key = Self {
            name: name.as_str().to_owned(),
            kid,
            algorithm,
            public_key,
            valid_from,
            valid_until,
        };
        // The verifier refuses points off the curve and weak keys.
        key.verifier(Decoder::new(""))
            .map_err(|_| IdKeyError::BadKey(algorithm))?;
        Ok(key)
    }

    /// [`IdIssuerKey::new`] with the public key in hexadecimal.
    pub fn from_hex(
        name: &str,
        kid: &str,
        algorithm: IdKeyAlgorithm,
        public_key_hex: &str,
        valid_from: i64,
        valid_until: Option<i64>,
    ) -> Result<Self, IdKeyError> {
        let public_key = hex::decode(public_key_hex.trim()).map_err(|_| IdKeyError::NotHex)?;
        Self::new(name, kid, algorithm, public_key, valid_from, valid_until)
    }

    /// Whether the key may vouch for a card at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        now >= self.valid_from && self.valid_until.is_none_or(|until| now < until)
    }

    fn verifier(&self, decoder: Decoder) -> Result<Decoder, Claim169Error> {
        match self.algorithm {
            IdKeyAlgorithm::Ed25519 => decoder.verify_with_ed25519(&self.public_key),
            IdKeyAlgorithm::Es256 => decoder.verify_with_ecdsa_p256(&self.public_key),
        }
    }
}

/// An ID authority key HQ retired: named in the policy (without its key) so
/// that a card under it is refused as retired, not as unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredIdIssuer {
    pub name: String,
    pub kid: KeyId,
    pub retired_at: i64,
}

/// The ID authorities a terminal knows: the keys it accepts, and the ones
/// HQ retired.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdAuthorities<'a> {
    pub active: &'a [IdIssuerKey],
    pub retired: &'a [RetiredIdIssuer],
}

/// How the card was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdSource {
    /// A Claim 169 QR whose signature verified against the named authority.
    SignedClaim169 { authority: String },
    /// A barcode or typed number: nothing vouches for it but the operator's eyes.
    Number,
}

/// What redemption by ID needs to know about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdCard {
    pub id_number: String,
    pub full_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub photo: Option<Vec<u8>>,
    pub source: IdSource,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdCardError {
    #[error("the ID code is {len} characters; the limit is {ID_CARD_TEXT_BYTES_MAX}")]
    Oversize { len: usize },
    #[error("the code is empty")]
    Empty,
    #[error("this is neither an ID number nor a Claim 169 ID card")]
    Unrecognised,
    #[error("the ID card could not be read: {0}")]
    Damaged(String),
    #[error("the ID card names no key id, and no registered ID authority's key verifies it")]
    UntrustedSignature,
    #[error(
        "the ID card is issued by an unknown ID authority (kid={kid}): HQ has not registered it"
    )]
    UnknownAuthority { kid: String },
    #[error("the ID card is issued under the key kid={kid} of {name}, which HQ retired")]
    RetiredAuthority { name: String, kid: String },
    #[error("the key kid={kid} of {name} is not valid at this time")]
    AuthorityNotValid { name: String, kid: String },
    #[error(
        "the ID card names the key kid={kid} of {name}, but its signature does not match that key"
    )]
    BadSignature { name: String, kid: String },
    #[error("the ID card carries no ID number")]
    NoIdNumber,
    #[error("the ID card has expired")]
    Expired,
    #[error("the ID card is not valid yet")]
    NotYetValid,
}

fn is_plain_id_number(text: &str) -> bool {
    text.len() <= ID_NUMBER_BYTES_MAX
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ' ' | '/' | '.'))
}

/// A card's `kid` as people read it: the text when it is a key id, else
/// `hex:` and its bytes.
fn kid_label(kid: &[u8]) -> String {
    match std::str::from_utf8(kid).ok().map(KeyId::parse) {
        Some(Ok(kid)) => kid.to_string(),
        _ => format!("hex:{}", hex::encode(&kid[..kid.len().min(32)])),
    }
}

fn decoder(text: &str) -> Decoder {
    Decoder::new(text)
        .without_timestamp_validation()
        .skip_biometrics()
        .max_decompressed_bytes(ID_CARD_DECOMPRESSED_BYTES_MAX)
}

/// Verifies `text` with `key`; `None` when the signature (or algorithm)
/// does not match.
fn verify(text: &str, key: &IdIssuerKey) -> Option<DecodeResult> {
    key.verifier(decoder(text)).ok()?.decode().ok()
}

/// Reads a scanned or typed ID: a plain number, or a Claim 169 QR verified
/// against the registered `authorities`. `now` is Unix seconds.
pub fn read(text: &str, authorities: IdAuthorities<'_>, now: i64) -> Result<IdCard, IdCardError> {
    if text.len() > ID_CARD_TEXT_BYTES_MAX {
        return Err(IdCardError::Oversize { len: text.len() });
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(IdCardError::Empty);
    }
    if is_plain_id_number(text) {
        return Ok(IdCard {
            id_number: text.to_owned(),
            full_name: None,
            date_of_birth: None,
            photo: None,
            source: IdSource::Number,
        });
    }
    // Make sure it decodes at all before trying keys, so a damaged code is
    // reported as damaged rather than as untrusted; and learn its key id.
    let unverified = decoder(text)
        .allow_unverified()
        .decode()
        .map_err(|e| match e {
            Claim169Error::Base45Decode(_) => IdCardError::Unrecognised,
            other => IdCardError::Damaged(other.to_string()),
        })?;
    let (key, result) = match unverified.key_id.as_deref() {
        Some(kid) => {
            let named = |k: &KeyId| k.as_str().as_bytes() == kid;
            if let Some(retired) = authorities.retired.iter().find(|r| named(&r.kid)) {
                return Err(IdCardError::RetiredAuthority {
                    name: retired.name.clone(),
                    kid: retired.kid.to_string(),
                });
            }
            let key = authorities
                .active
                .iter()
                .find(|k| named(&k.kid))
                .ok_or_else(|| IdCardError::UnknownAuthority {
                    kid: kid_label(kid),
                })?;
            let bad_signature = || IdCardError::BadSignature {
                name: key.name.clone(),
                kid: key.kid.to_string(),
            };
            if unverified.algorithm != Some(key.algorithm.cose()) {
                return Err(bad_signature());
            }
            (key, verify(text, key).ok_or_else(bad_signature)?)
        }
        // No key id: the card is tried against every registered key.
        None => authorities
            .active
            .iter()
            .take(ID_AUTHORITIES_MAX)
            .find_map(|key| Some((key, verify(text, key)?)))
            .ok_or(IdCardError::UntrustedSignature)?,
    };
    if !key.is_valid_at(now) {
        return Err(IdCardError::AuthorityNotValid {
            name: key.name.clone(),
            kid: key.kid.to_string(),
        });
    }
    let meta = &result.cwt_meta;
    if meta.expires_at.is_some_and(|exp| now >= exp) {
        return Err(IdCardError::Expired);
    }
    if meta.not_before.is_some_and(|nbf| now < nbf) {
        return Err(IdCardError::NotYetValid);
    }
    let claim = result.claim169;
    let id_number = claim
        .id
        .filter(|id| !id.trim().is_empty())
        .ok_or(IdCardError::NoIdNumber)?;
    Ok(IdCard {
        id_number,
        full_name: claim.full_name,
        date_of_birth: claim.date_of_birth,
        photo: claim.photo,
        source: IdSource::SignedClaim169 {
            authority: key.name.clone(),
        },
    })
}
