//! Root-signed documents the server hands to terminals: the trust list, the
//! revocation list, rosters (per site or merchant) and terminal policies
//! (per device). Each is sealed with the root key and stored as bytes with a
//! version; every kind has one counter, so versions only ever grow and a
//! terminal accepts each new one (`RootSigned::open` refuses older ones).

use std::collections::BTreeMap;

use lastmile_shared::id::{BeneficiaryId, DeviceId, EntitlementId, MerchantId, SiteId};
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::roster::{Entitlement, Roster, RosterPerson};
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::{RootHandover, RootKey, RootSigned, TrustList};

use crate::signer::Signer;
use crate::storage::{DeviceRow, StorageError, Tx};

pub const TRUST_LIST: &str = "trust_list";
pub const REVOCATIONS: &str = "revocations";
pub const ROSTER: &str = "roster";
pub const POLICY: &str = "policy";
/// Root handovers, one per rotation, scoped by their zero-padded version.
pub const ROOT_HANDOVER: &str = "root_handover";
/// The scope of documents that every terminal receives.
pub const GLOBAL_SCOPE: &str = "";

fn next_version(tx: &mut dyn Tx, kind: &str) -> Result<u64, StorageError> {
    tx.next_counter(&format!("document:{kind}"))
}

/// Seals the current issuer keys as a new trust list version.
pub fn publish_trust_list(tx: &mut dyn Tx, root: &Signer, now: i64) -> Result<u64, StorageError> {
    let version = next_version(tx, TRUST_LIST)?;
    let list = TrustList {
        version,
        issued_at: now,
        keys: tx.issuer_keys()?,
    };
    tx.put_document(
        TRUST_LIST,
        GLOBAL_SCOPE,
        version,
        &list.seal(&root.kid, &root.key),
        now,
    )?;
    Ok(version)
}

/// Seals everything revoked (vouchers, issuer keys, terminals) as a new
/// revocation list version.
pub fn publish_revocations(tx: &mut dyn Tx, root: &Signer, now: i64) -> Result<u64, StorageError> {
    let version = next_version(tx, REVOCATIONS)?;
    let revoked = tx.revoked()?;
    let keys = tx
        .issuer_keys()?
        .into_iter()
        .filter(|k| {
            matches!(
                k.status,
                lastmile_shared::trust_list::KeyStatus::Revoked { .. }
            )
        })
        .map(|k| k.kid)
        .collect();
    let list = RevocationList {
        version,
        issued_at: now,
        vouchers: revoked.vouchers.into_iter().collect(),
        keys,
        devices: revoked.devices.into_iter().collect(),
        merchants: revoked.merchants.into_iter().collect(),
    };
    tx.put_document(
        REVOCATIONS,
        GLOBAL_SCOPE,
        version,
        &list.seal(&root.kid, &root.key),
        now,
    )?;
    Ok(version)
}

/// The roster scope a terminal reads: its site's, or else its merchant's.
pub fn roster_scope(site: Option<&SiteId>, merchant: Option<&MerchantId>) -> Option<String> {
    match (site, merchant) {
        (Some(site), _) => Some(format!("site:{site}")),
        (None, Some(merchant)) => Some(format!("merchant:{merchant}")),
        (None, None) => None,
    }
}

/// Seals a roster (with its distribution list: the cash entitlements) for a
/// site or merchant, and records its entitlements so that their redemptions
/// and payouts are counted (`sync`) and their balances go to that roster's
/// terminals. An entitlement id listed twice is recorded once, the later row
/// winning.
pub fn publish_roster(
    tx: &mut dyn Tx,
    root: &Signer,
    site: Option<&SiteId>,
    merchant: Option<&MerchantId>,
    people: Vec<RosterPerson>,
    now: i64,
) -> Result<Option<u64>, StorageError> {
    let Some(scope) = roster_scope(site, merchant) else {
        return Ok(None);
    };
    let version = next_version(tx, ROSTER)?;
    let listed: BTreeMap<&EntitlementId, (&BeneficiaryId, &Entitlement)> = people
        .iter()
        .flat_map(|p| {
            p.entitlements
                .iter()
                .map(move |e| (&e.id, (&p.beneficiary, e)))
        })
        .collect();
    let listed: Vec<(&BeneficiaryId, &Entitlement)> = listed.into_values().collect();
    tx.publish_entitlements(&scope, &listed, now)?;
    let roster = Roster {
        version,
        issued_at: now,
        site: site.cloned(),
        merchant: merchant.cloned(),
        people,
    };
    tx.put_document(
        ROSTER,
        &scope,
        version,
        &roster.seal(&root.kid, &root.key),
        now,
    )?;
    Ok(Some(version))
}

pub fn policy_scope(device: &DeviceId) -> String {
    format!("device:{device}")
}

/// Seals a terminal's policy: its assignment, the current offline limits
/// and the ID authorities whose cards it accepts.
pub fn publish_policy(
    tx: &mut dyn Tx,
    root: &Signer,
    device: &DeviceRow,
    now: i64,
) -> Result<u64, StorageError> {
    let version = next_version(tx, POLICY)?;
    let (id_authorities, id_authorities_retired) = crate::id_authorities::for_policy(tx, now)?;
    let policy = TerminalPolicy {
        version,
        issued_at: now,
        device: device.device.clone(),
        merchant: device.merchant.clone(),
        site: device.site.clone(),
        limits: tx.limits()?,
        id_authorities,
        id_authorities_retired,
    };
    tx.put_document(
        POLICY,
        &policy_scope(&device.device),
        version,
        &policy.seal(&root.kid, &root.key),
        now,
    )?;
    Ok(version)
}

/// Reseals every active terminal's policy (after the limits or the ID
/// authorities changed).
pub fn publish_all_policies(
    tx: &mut dyn Tx,
    root: &Signer,
    now: i64,
) -> Result<usize, StorageError> {
    let devices = tx.devices()?;
    let mut sealed = 0;
    for device in devices.iter().filter(|d| d.revoked_at.is_none()) {
        publish_policy(tx, root, device, now)?;
        sealed += 1;
    }
    Ok(sealed)
}

/// Every root handover, oldest first (signed bytes), for terminals enrolled
/// under an older root.
pub fn root_handovers(tx: &mut dyn Tx) -> Result<Vec<Vec<u8>>, StorageError> {
    let mut all = tx.documents(ROOT_HANDOVER)?;
    all.sort_by_key(|(_, version, _)| *version);
    Ok(all.into_iter().map(|(_, _, bytes)| bytes).collect())
}

/// Hands the root over from `old` to `new`: seals the handover with the old
/// root, then reseals every document terminals read (trust list, revocation
/// list, every roster, every active terminal's policy, every voucher book)
/// with the new root, each as a new version. Returns the handover's version.
pub fn hand_over_root(
    tx: &mut dyn Tx,
    old: &Signer,
    new: &Signer,
    now: i64,
) -> Result<u64, StorageError> {
    let version = next_version(tx, ROOT_HANDOVER)?;
    let handover = RootHandover {
        version,
        issued_at: now,
        from: old.kid.clone(),
        to: new.kid.clone(),
        to_public_key: new.key.verifying_key().to_bytes().to_vec(),
    };
    tx.put_document(
        ROOT_HANDOVER,
        &format!("{version:020}"),
        version,
        &handover.seal(&old.kid, &old.key),
        now,
    )?;
    publish_trust_list(tx, new, now)?;
    publish_revocations(tx, new, now)?;
    publish_all_policies(tx, new, now)?;
    crate::voucher_book::publish_all(tx, new, now)?;
    let old_root = RootKey {
        kid: old.kid.clone(),
        key: old.key.verifying_key(),
    };
    for (scope, _, bytes) in tx.documents(ROSTER)? {
        let mut roster = Roster::open(&bytes, &old_root, None)
            .map_err(|e| StorageError::corrupt("documents", e))?;
        roster.version = next_version(tx, ROSTER)?;
        roster.issued_at = now;
        tx.put_document(
            ROSTER,
            &scope,
            roster.version,
            &roster.seal(&new.kid, &new.key),
            now,
        )?;
    }
    Ok(version)
}
