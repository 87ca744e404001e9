//! Suspending a merchant: the revocation list names it, and each of its
//! terminals refuses to redeem or pay out from its next pull on (the rule is
//! `merchant_revoked` in `lastmile_shared::rules`). Terminals of other
//! merchants are unaffected.

use lastmile_shared::id::MerchantId;
use lastmile_shared::text::{Lines, PlainText, TextError};

use crate::audit::{self, Actor};
use crate::documents;
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{Storage, StorageError};

/// Longest reason kept with a suspension, in characters.
pub const REASON_CHARS_MAX: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("merchant {0} is already suspended; nothing changed")]
    AlreadyRevoked(MerchantId),
    #[error(
        "give a reason on one line (at most {REASON_CHARS_MAX} characters), kept for the record: {0}"
    )]
    BadReason(TextError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl MerchantError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRevoked(_) => "merchant_already_suspended",
            Self::BadReason(_) => "bad_reason",
            Self::Storage(_) => "storage_error",
            Self::Keys(_) => "key_error",
        }
    }
}

/// Suspends `merchant` and publishes the revocation list naming it.
/// Returns the list's new version.
pub fn revoke(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    merchant: &MerchantId,
    reason: &str,
    now: i64,
) -> Result<u64, MerchantError> {
    let reason =
        PlainText::parse(reason, Lines::One, REASON_CHARS_MAX).map_err(MerchantError::BadReason)?;
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        if !tx.revoke_merchant(merchant, reason.as_str(), now)? {
            return Err(MerchantError::AlreadyRevoked(merchant.clone()));
        }
        let version = documents::publish_revocations(tx, &root, now)?;
        audit::record(
            tx,
            actor,
            "merchant.suspended",
            &format!("merchant:{merchant}"),
            serde_json::json!({ "reason": reason.as_str(), "revocations_version": version }),
            now,
        )?;
        Ok(version)
    })
}
