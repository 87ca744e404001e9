//! A voucher's lifecycle as HQ sees it: issued, partly redeemed, redeemed,
//! expired or revoked; and revocation, which reaches terminals through the
//! next revocation list.

use lastmile_shared::id::VoucherId;
use serde::Serialize;

use crate::documents;
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{Storage, StorageError, VoucherRow};

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

/// Revokes a voucher and publishes a new revocation list.
pub fn revoke(
    storage: &Storage,
    keys: &KeyDir,
    id: &VoucherId,
    now: i64,
) -> Result<u64, VoucherError> {
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        if !tx.revoke_voucher(id, now)? {
            return Err(VoucherError::Unknown(id.clone()));
        }
        Ok(documents::publish_revocations(tx, &root, now)?)
    })
}
