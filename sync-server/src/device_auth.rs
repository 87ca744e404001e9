//! Authenticating terminal requests: an RFC 9421 signature by the device key
//! over method, path and Content-Digest (see `lastmile_shared::http_signature`),
//! a `(key, nonce)` never seen within the signature age window, and a device
//! that is enrolled and not revoked.
//!
//! The signature and the device's status are checked before the body is
//! read or any state is touched; the nonce is recorded, and revocation
//! checked again, inside the request's own transaction under the device's
//! row lock, so a refused request changes nothing.

use ed25519_dalek::VerifyingKey;
use lastmile_shared::envelope;
use lastmile_shared::http_signature::{
    self, HttpSignatureError, SIGNATURE_AGE_SECONDS_MAX, SignatureHeaders, VerifiedSignature,
};

use crate::storage::{DeviceRow, Storage, StorageError, Tx};

/// Nonces are kept this long (seconds): twice the signature age window, so
/// one can never be replayed while its signature is still fresh.
pub const NONCE_RETENTION_SECONDS: i64 = 2 * SIGNATURE_AGE_SECONDS_MAX;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Signature(#[from] HttpSignatureError),
    #[error("this terminal is not enrolled here")]
    UnknownDevice,
    #[error("this terminal was revoked by HQ; it may no longer sync")]
    DeviceRevoked,
    #[error("this request was already received (replayed nonce)")]
    Replayed,
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage_error",
            Self::Signature(HttpSignatureError::Missing(_)) => "unsigned_request",
            Self::Signature(HttpSignatureError::Malformed(_)) => "malformed_signature",
            Self::Signature(HttpSignatureError::DigestMismatch) => "digest_mismatch",
            Self::Signature(HttpSignatureError::Stale { .. }) => "stale_request",
            Self::Signature(HttpSignatureError::UnknownKey(_)) | Self::UnknownDevice => {
                "unknown_device"
            }
            Self::Signature(HttpSignatureError::BadSignature) => "bad_request_signature",
            Self::DeviceRevoked => "device_revoked",
            Self::Replayed => "replayed_request",
        }
    }
}

/// A request whose signature verified; not yet admitted.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub signature: VerifiedSignature,
    pub device: DeviceRow,
}

/// Checks the request signature (over method, path and Content-Digest)
/// against the enrolled device key, and that the device is not revoked:
/// all before the body is read, so an unknown or revoked device never has
/// a body buffered or parsed. The body is checked against its digest
/// afterwards (`http_signature::check_digest`); revocation is checked again
/// under the device's row lock by [`admit`].
pub fn verify(
    storage: &Storage,
    method: &str,
    path: &str,
    headers: &SignatureHeaders,
    now: i64,
) -> Result<SignedRequest, AuthError> {
    let mut found: Option<DeviceRow> = None;
    let mut lookup_error: Option<StorageError> = None;
    let lookup = |kid: &_| -> Option<VerifyingKey> {
        match storage.transaction(|tx| tx.device_by_kid(kid)) {
            Ok(Some(device)) => {
                let key = envelope::verifying_key(&device.public_key);
                found = Some(device);
                key
            }
            Ok(None) => None,
            Err(e) => {
                lookup_error = Some(e);
                None
            }
        }
    };
    let result = http_signature::verify_headers(method, path, headers, lookup, now);
    if let Some(e) = lookup_error {
        return Err(e.into());
    }
    let signature = result?;
    let device = found.ok_or(AuthError::UnknownDevice)?;
    if device.revoked_at.is_some() {
        return Err(AuthError::DeviceRevoked);
    }
    Ok(SignedRequest { signature, device })
}

/// Inside the request's transaction: locks the device row, refuses a
/// revoked device or a replayed nonce, and returns the current row.
pub fn admit(tx: &mut dyn Tx, request: &SignedRequest) -> Result<DeviceRow, AuthError> {
    let device = tx
        .lock_device(&request.device.device)?
        .ok_or(AuthError::UnknownDevice)?;
    if device.revoked_at.is_some() {
        return Err(AuthError::DeviceRevoked);
    }
    let signature = &request.signature;
    if !tx.insert_nonce(&signature.keyid, &signature.nonce, signature.created)? {
        return Err(AuthError::Replayed);
    }
    Ok(device)
}
