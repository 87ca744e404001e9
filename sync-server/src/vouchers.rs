//! A voucher's lifecycle as HQ sees it: issued, partly redeemed, redeemed,
//! expired or revoked; and revocation, which reaches terminals through the
//! next revocation list.

use lastmile_shared::id::VoucherId;
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::documents;
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{Storage, StorageError, Tx, VoucherRow};

#[derive(Debug, thiserror::Error)]
pub enum VoucherError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("there is no voucher {0}")]
    Unknown(VoucherId),
}

/// Where a voucher stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    Issued,
    PartlyRedeemed,
    Redeemed,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoucherState {
    #[serde(flatten)]
    pub row: VoucherRow,
    pub status: VoucherStatus,
}

pub fn status(row: &VoucherRow, now: i64) -> VoucherStatus {
    if row.revoked_at.is_some() {
        VoucherStatus::Revoked
    } else if row.redeemed_minor >= row.value.minor {
        VoucherStatus::Redeemed
    } else if now >= row.valid_until {
        VoucherStatus::Expired
    } else if row.redeemed_minor > 0 {
        VoucherStatus::PartlyRedeemed
    } else {
        VoucherStatus::Issued
    }
}

pub fn show(storage: &Storage, id: &VoucherId, now: i64) -> Result<VoucherState, VoucherError> {
    let row = storage
        .transaction(|tx| tx.voucher(id))?
        .ok_or_else(|| VoucherError::Unknown(id.clone()))?;
    Ok(VoucherState {
        status: status(&row, now),
        row,
    })
}

/// What [`revocation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Revoked now; this revocation list version names it.
    Revoked { version: u64 },
    /// It was revoked before, at this time; nothing changed, and this
    /// (current) revocation list version names it.
    AlreadyRevoked { at: i64, version: u64 },
}

impl Revocation {
    /// The revocation list version that names the voucher.
    pub fn version(self) -> u64 {
        match self {
            Revocation::Revoked { version } | Revocation::AlreadyRevoked { version, .. } => version,
        }
    }
}

/// Revokes a voucher and publishes a new revocation list, unless it was
/// revoked already: then nothing changes (no new list version). Audited as
/// `actor`'s.
pub fn revocation(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    id: &VoucherId,
    now: i64,
) -> Result<Revocation, VoucherError> {
    storage.transaction(|tx| revoke_in(tx, keys, actor, id, serde_json::json!({}), now))
}

/// [`revocation`] inside the caller's transaction; `detail` goes into the
/// audit entry (the proposal it carries out, say).
pub fn revoke_in(
    tx: &mut dyn Tx,
    keys: &KeyDir,
    actor: &Actor,
    id: &VoucherId,
    detail: serde_json::Value,
    now: i64,
) -> Result<Revocation, VoucherError> {
    let row = tx
        .voucher(id)?
        .ok_or_else(|| VoucherError::Unknown(id.clone()))?;
    if let Some(at) = row.revoked_at {
        let version = tx
            .document(documents::REVOCATIONS, documents::GLOBAL_SCOPE)?
            .map_or(0, |(version, _)| version);
        return Ok(Revocation::AlreadyRevoked { at, version });
    }
    let root = keys::root_signer(tx, keys)?;
    if !tx.revoke_voucher(id, now)? {
        return Err(VoucherError::Unknown(id.clone()));
    }
    let version = documents::publish_revocations(tx, &root, now)?;
    audit::record(
        tx,
        actor,
        "voucher.revoked",
        &format!("voucher:{id}"),
        serde_json::json!({ "revocations_version": version, "by": detail }),
        now,
    )?;
    Ok(Revocation::Revoked { version })
}

/// Revokes a voucher (see [`revocation`]); returns the revocation list
/// version that names it.
pub fn revoke(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    id: &VoucherId,
    now: i64,
) -> Result<u64, VoucherError> {
    revocation(storage, keys, actor, id, now).map(Revocation::version)
}
