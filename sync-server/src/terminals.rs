//! Terminals: one-time enrolment codes, registration of a device key,
//! assignment to a merchant or site, and revocation.
//!
//! A code is random (60 bits), single use and expiring; only its SHA-256 is
//! stored. Enrolment spends the code and registers the device's public key
//! in one transaction, then seals the terminal's first policy. A revoked
//! terminal's next request is refused (see `api::terminal`).

use lastmile_shared::device_log::GENESIS_HASH;
use lastmile_shared::envelope;
use lastmile_shared::id::{DeviceId, IdError, KeyId, MerchantId, SiteId};
use lastmile_shared::sync::{EnrollRequest, EnrollResponse};
use lastmile_shared::text::{Lines, PlainText, TextError};
use rand_core::{OsRng, RngCore};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor};
use crate::documents;
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{DeviceRow, Storage, StorageError};

/// Default life of an enrolment code, in hours.
pub const ENROLMENT_CODE_TTL_HOURS_DEFAULT: u32 = 72;
/// Longest life of an enrolment code, in seconds (30 days).
pub const ENROLMENT_CODE_TTL_SECONDS_MAX: u32 = 30 * 24 * 3600;
/// Characters in a code, without the dashes (5 bits each).
const ENROLMENT_CODE_CHARS: usize = 12;
/// Longest code text looked at.
const ENROLMENT_CODE_TEXT_BYTES_MAX: usize = 64;
/// Longest terminal label, in characters.
pub const DEVICE_LABEL_CHARS_MAX: usize = 120;
/// Random bytes in a device id.
const DEVICE_ID_RANDOM_BYTES: usize = 6;
/// Crockford's base32 alphabet: no I, L, O or U to misread.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("the enrolment code is not known; check it for typing errors or ask HQ for a new one")]
    UnknownCode,
    #[error("the enrolment code was already used; ask HQ for a new one")]
    CodeUsed,
    #[error("the enrolment code expired; ask HQ for a new one")]
    CodeExpired,
    #[error("the device public key is not a valid Ed25519 key")]
    BadPublicKey,
    #[error("this device key is already enrolled; generate a new key to enrol again")]
    KeyAlreadyEnrolled,
    #[error("the terminal's label is not usable: {0}")]
    BadLabel(TextError),
    #[error("the code's life must be 1 to {ENROLMENT_CODE_TTL_SECONDS_MAX} seconds")]
    BadTtl,
    #[error("a code must name a merchant, a site, or both")]
    NoAssignment,
    #[error("there is no terminal {0}")]
    UnknownDevice(DeviceId),
    #[error("terminal {0} is known here already; nothing to readmit")]
    DeviceKnown(DeviceId),
    #[error("id: {0}")]
    Id(#[from] IdError),
}

impl TerminalError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage_error",
            Self::Keys(KeyError::NotInitialised) => "server_not_initialised",
            Self::Keys(_) => "key_error",
            Self::UnknownCode => "unknown_code",
            Self::CodeUsed => "code_used",
            Self::CodeExpired => "code_expired",
            Self::BadPublicKey => "bad_public_key",
            Self::KeyAlreadyEnrolled => "key_already_enrolled",
            Self::BadLabel(_) => "bad_label",
            Self::BadTtl => "bad_ttl",
            Self::NoAssignment => "no_assignment",
            Self::UnknownDevice(_) => "unknown_device",
            Self::DeviceKnown(_) => "device_known",
            Self::Id(_) => "bad_id",
        }
    }
}

/// A fresh code for people: `XXXX-XXXX-XXXX`.
fn new_code() -> String {
    let mut random = [0u8; ENROLMENT_CODE_CHARS];
    OsRng.fill_bytes(&mut random);
    let mut code = String::with_capacity(ENROLMENT_CODE_CHARS + 2);
    for (i, byte) in random.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(CODE_ALPHABET[usize::from(byte % 32)]));
    }
    code
}

/// The stored form of a code: case, dashes and spaces do not matter, and
/// the letters people confuse with digits are read as those digits.
fn code_hash(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .take(ENROLMENT_CODE_TEXT_BYTES_MAX)
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    let mut hasher = Sha256::new();
    hasher.update(b"lastmile/enrolment-code/v1\0");
    hasher.update(normal.as_bytes());
    hasher.finalize().into()
}

/// A new one-time code for a terminal of this merchant and/or site.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedCode {
    pub code: String,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub expires_at: i64,
}

pub fn create_code(
    storage: &Storage,
    actor: &Actor,
    merchant: Option<MerchantId>,
    site: Option<SiteId>,
    ttl_seconds: u32,
    now: i64,
) -> Result<IssuedCode, TerminalError> {
    if ttl_seconds == 0 || ttl_seconds > ENROLMENT_CODE_TTL_SECONDS_MAX {
        return Err(TerminalError::BadTtl);
    }
    if merchant.is_none() && site.is_none() {
        return Err(TerminalError::NoAssignment);
    }
    let code = new_code();
    let expires_at = now + i64::from(ttl_seconds);
    storage.transaction(|tx| {
        tx.insert_enrolment_code(
            &code_hash(&code),
            merchant.as_ref(),
            site.as_ref(),
            now,
            expires_at,
        )?;
        audit::record(
            tx,
            actor,
            "enrolment_code.created",
            &format!("merchant:{}", merchant.as_ref().map_or("-", |m| m.as_str())),
            serde_json::json!({
                "site": site.as_ref().map(|s| s.as_str()),
                "expires_at": expires_at,
            }),
            now,
        )
    })?;
    Ok(IssuedCode {
        code,
        merchant,
        site,
        expires_at,
    })
}

fn new_device_id() -> Result<DeviceId, IdError> {
    let mut bytes = [0u8; DEVICE_ID_RANDOM_BYTES];
    OsRng.fill_bytes(&mut bytes);
    DeviceId::parse(&format!("T-{}", hex::encode(bytes)))
}

/// Spends the code, registers the device key, seals the terminal's policy.
pub fn enroll(
    storage: &Storage,
    keys: &KeyDir,
    request: &EnrollRequest,
    now: i64,
) -> Result<EnrollResponse, TerminalError> {
    let public_key: [u8; 32] = request
        .device_public_key
        .as_slice()
        .try_into()
        .map_err(|_| TerminalError::BadPublicKey)?;
    if envelope::verifying_key(&public_key).is_none() {
        return Err(TerminalError::BadPublicKey);
    }
    let label = PlainText::parse(&request.label, Lines::One, DEVICE_LABEL_CHARS_MAX)
        .map_err(TerminalError::BadLabel)?;
    let hash = code_hash(&request.code);
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        let code = tx
            .lock_enrolment_code(&hash)?
            .ok_or(TerminalError::UnknownCode)?;
        if code.used_at.is_some() {
            return Err(TerminalError::CodeUsed);
        }
        if code.expires_at <= now {
            return Err(TerminalError::CodeExpired);
        }
        if tx.public_key_enrolled(&public_key)? {
            return Err(TerminalError::KeyAlreadyEnrolled);
        }
        let device = new_device_id()?;
        let kid = KeyId::parse(device.as_str())?;
        let row = DeviceRow {
            device: device.clone(),
            kid: kid.clone(),
            public_key,
            label: label.into_string(),
            merchant: code.merchant.clone(),
            site: code.site.clone(),
            enrolled_at: now,
            revoked_at: None,
            head_seq: 0,
            head_hash: GENESIS_HASH.0,
            last_seen_at: None,
        };
        tx.insert_device(&row)?;
        tx.use_enrolment_code(&hash, &device, now)?;
        documents::publish_policy(tx, &root, &row, now)?;
        audit::record(
            tx,
            &Actor::Terminal(device.to_string()),
            "terminal.enrolled",
            &format!("terminal:{device}"),
            serde_json::json!({
                "label": row.label,
                "merchant": row.merchant.as_ref().map(|m| m.as_str()),
                "site": row.site.as_ref().map(|s| s.as_str()),
            }),
            now,
        )?;
        Ok(EnrollResponse {
            device,
            device_kid: kid,
            merchant: code.merchant,
            site: code.site,
            root_kid: root.kid.clone(),
            root_public_key: ByteBuf::from(root.key.verifying_key().to_bytes().to_vec()),
            server_time: now,
        })
    })
}

/// A terminal to admit again under its own id and key.
#[derive(Debug, Clone)]
pub struct Readmission {
    pub device: DeviceId,
    pub public_key: [u8; 32],
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub label: String,
}

/// Admits again a terminal this server no longer knows (its database was
/// restored from before the enrolment, or rebuilt), under the device id and
/// key it already has: an explicit HQ action, since whoever holds the key
/// becomes that terminal. Its head starts at 0, so its next sync re-sends
/// its whole log (raised as `log_recovered`).
pub fn readmit(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    readmission: &Readmission,
    now: i64,
) -> Result<DeviceRow, TerminalError> {
    if envelope::verifying_key(&readmission.public_key).is_none() {
        return Err(TerminalError::BadPublicKey);
    }
    let label = PlainText::parse(&readmission.label, Lines::One, DEVICE_LABEL_CHARS_MAX)
        .map_err(TerminalError::BadLabel)?;
    if readmission.merchant.is_none() && readmission.site.is_none() {
        return Err(TerminalError::NoAssignment);
    }
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        if tx.lock_device(&readmission.device)?.is_some() {
            return Err(TerminalError::DeviceKnown(readmission.device.clone()));
        }
        if tx.public_key_enrolled(&readmission.public_key)? {
            return Err(TerminalError::KeyAlreadyEnrolled);
        }
        let row = DeviceRow {
            device: readmission.device.clone(),
            kid: KeyId::parse(readmission.device.as_str())?,
            public_key: readmission.public_key,
            label: label.into_string(),
            merchant: readmission.merchant.clone(),
            site: readmission.site.clone(),
            enrolled_at: now,
            revoked_at: None,
            head_seq: 0,
            head_hash: GENESIS_HASH.0,
            last_seen_at: None,
        };
        tx.insert_device(&row)?;
        documents::publish_policy(tx, &root, &row, now)?;
        audit::record(
            tx,
            actor,
            "terminal.readmitted",
            &format!("terminal:{}", row.device),
            serde_json::json!({ "label": row.label }),
            now,
        )?;
        Ok(row)
    })
}

/// Revokes a terminal: its next request is refused, and the revocation list
/// names it.
pub fn revoke(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    device: &DeviceId,
    now: i64,
) -> Result<(), TerminalError> {
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        if !tx.revoke_device(device, now)? {
            return Err(TerminalError::UnknownDevice(device.clone()));
        }
        let version = documents::publish_revocations(tx, &root, now)?;
        audit::record(
            tx,
            actor,
            "terminal.revoked",
            &format!("terminal:{device}"),
            serde_json::json!({ "revocations_version": version }),
            now,
        )?;
        Ok(())
    })
}

/// Moves a terminal to another merchant and/or site; what is not given
/// stays as it was. Its next pull brings the new policy and roster.
pub fn assign(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    device: &DeviceId,
    merchant: Option<MerchantId>,
    site: Option<SiteId>,
    now: i64,
) -> Result<DeviceRow, TerminalError> {
    if merchant.is_none() && site.is_none() {
        return Err(TerminalError::NoAssignment);
    }
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        let current = tx
            .lock_device(device)?
            .ok_or_else(|| TerminalError::UnknownDevice(device.clone()))?;
        let merchant = merchant.or(current.merchant);
        let site = site.or(current.site);
        if !tx.assign_device(device, merchant.as_ref(), site.as_ref())? {
            return Err(TerminalError::UnknownDevice(device.clone()));
        }
        let row = tx
            .lock_device(device)?
            .ok_or_else(|| TerminalError::UnknownDevice(device.clone()))?;
        documents::publish_policy(tx, &root, &row, now)?;
        audit::record(
            tx,
            actor,
            "terminal.assigned",
            &format!("terminal:{device}"),
            serde_json::json!({
                "merchant": row.merchant.as_ref().map(|m| m.as_str()),
                "site": row.site.as_ref().map(|s| s.as_str()),
            }),
            now,
        )?;
        Ok(row)
    })
}

pub fn list(storage: &Storage) -> Result<Vec<DeviceRow>, TerminalError> {
    Ok(storage.transaction(|tx| tx.devices())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_the_same_however_typed() {
        let code = new_code();
        assert_eq!(code.len(), ENROLMENT_CODE_CHARS + 2);
        assert_eq!(
            code_hash(&code),
            code_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_eq!(code_hash("ABO0-1IL1"), code_hash("ab00-1111"));
        assert_ne!(code_hash(&code), code_hash(&new_code()));
    }
}
