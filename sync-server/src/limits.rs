//! Offline limits: what a terminal may do between syncs, per currency. They
//! travel inside each terminal's root-signed policy, so changing them
//! reseals every active terminal's policy; terminals pick it up on their
//! next pull.

use lastmile_shared::money::Money;
use lastmile_shared::rules::OfflineLimits;
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::documents;
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("limits must be positive: {0}")]
    NotPositive(&'static str),
}

fn check(limits: &OfflineLimits) -> Result<(), LimitsError> {
    if limits.credential_value_max_minor <= 0 {
        return Err(LimitsError::NotPositive("credential_value_max_minor"));
    }
    if limits.unsynced_value_max_minor <= 0 {
        return Err(LimitsError::NotPositive("unsynced_value_max_minor"));
    }
    if limits.unsynced_count_max == 0 {
        return Err(LimitsError::NotPositive("unsynced_count_max"));
    }
    if limits.offline_seconds_max <= 0 {
        return Err(LimitsError::NotPositive("offline_seconds_max"));
    }
    Ok(())
}

/// Sets the limits for one currency and reseals every terminal's policy.
/// Returns how many policies were sealed.
pub fn set(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    limits: &OfflineLimits,
    now: i64,
) -> Result<usize, LimitsError> {
    check(limits)?;
    storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        tx.set_limits(limits)?;
        let sealed = documents::publish_all_policies(tx, &root, now)?;
        audit::record(
            tx,
            actor,
            "limits.set",
            &format!("currency:{}", limits.currency),
            serde_json::to_value(limits).unwrap_or_default(),
            now,
        )?;
        Ok(sealed)
    })
}

pub fn list(storage: &Storage) -> Result<Vec<OfflineLimits>, StorageError> {
    storage.transaction(|tx| tx.limits())
}

/// Offline limits as `limits set` takes them (amounts in major units, time
/// in hours), next to the raw fields scripts and the policy use.
#[derive(Debug, Clone, Serialize)]
pub struct LimitsView {
    #[serde(flatten)]
    pub limits: OfflineLimits,
    /// `--credential-max`, e.g. `"5000.00"`.
    pub credential_max: String,
    /// `--unsynced-value-max`.
    pub unsynced_value_max: String,
    /// `--offline-hours-max` (fractional if set through the API in seconds).
    pub offline_hours_max: f64,
}

impl From<OfflineLimits> for LimitsView {
    fn from(limits: OfflineLimits) -> Self {
        let major = |minor| Money::new(minor, limits.currency).decimal();
        LimitsView {
            credential_max: major(limits.credential_value_max_minor),
            unsynced_value_max: major(limits.unsynced_value_max_minor),
            offline_hours_max: limits.offline_seconds_max as f64 / 3600.0,
            limits,
        }
    }
}
