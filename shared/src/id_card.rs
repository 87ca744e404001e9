//! ID cards: MOSIP Claim 169 QR codes (verified with `claim169-core`, the
//! specification's reference implementation) and plain ID-number barcodes.

use claim169_core::Decoder;
use serde::{Deserialize, Serialize};

/// Longest ID-card QR text we look at.
pub const ID_CARD_TEXT_BYTES_MAX: usize = 8 * 1024;
/// Longest plain ID number (barcode or typed).
pub const ID_NUMBER_BYTES_MAX: usize = 32;
/// Most a compressed Claim 169 payload may expand to.
pub const ID_CARD_DECOMPRESSED_BYTES_MAX: usize = 64 * 1024;

/// A public key of an ID authority whose cards we accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdIssuerKey {
    pub name: String,
    #[serde(with = "crate::trust_list::serde_bytes_32")]
    pub ed25519: [u8; 32],
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
    #[error("the ID card's signature does not match any trusted ID authority")]
    UntrustedSignature,
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

/// Reads a scanned or typed ID: a plain number, or a Claim 169 QR verified
/// against `authorities`. `now` is Unix seconds.
pub fn read(text: &str, authorities: &[IdIssuerKey], now: i64) -> Result<IdCard, IdCardError> {
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
    // reported as damaged rather than as untrusted.
    Decoder::new(text)
        .allow_unverified()
        .without_timestamp_validation()
        .skip_biometrics()
        .max_decompressed_bytes(ID_CARD_DECOMPRESSED_BYTES_MAX)
        .decode()
        .map_err(|e| match e {
            claim169_core::Claim169Error::Base45Decode(_) => IdCardError::Unrecognised,
            other => IdCardError::Damaged(other.to_string()),
        })?;
    for authority in authorities {
        let Ok(decoder) = Decoder::new(text).verify_with_ed25519(&authority.ed25519) else {
            continue;
        };
        let Ok(result) = decoder
            .without_timestamp_validation()
            .skip_biometrics()
            .max_decompressed_bytes(ID_CARD_DECOMPRESSED_BYTES_MAX)
            .decode()
        else {
            continue;
        };
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
        return Ok(IdCard {
            id_number,
            full_name: claim.full_name,
            date_of_birth: claim.date_of_birth,
            photo: claim.photo,
            source: IdSource::SignedClaim169 {
                authority: authority.name.clone(),
            },
        });
    }
    Err(IdCardError::UntrustedSignature)
}
