//! What an approved cycle becomes, by each entitlement's channel:
//!
//! - **voucher**: a voucher signed by the programme's issuer key, stored
//!   like every issued voucher (QR PNGs and a PDF sheet when asked for), and
//!   in the voucher book terminals redeem typed codes from;
//! - **cash**: an entry in the signed roster of its site — the field
//!   agent's distribution list — which lists every open cash entitlement
//!   paid there, of every cycle and programme;
//! - **bank** and **mobile**: nothing: they stay approved, waiting for
//!   the payment pipeline (`payments::batches`), which pays bank ones.
//!
//! Ids are derived from the programme, the cycle and the beneficiary, and a
//! released entitlement is `issued`, so releasing again releases only what
//! was approved since, never twice. When a terminal's sync counts a
//! redemption covering the amount, the entitlement closes (`redeemed`, or
//! `paid` for cash): see `sync::count_redemptions`.

use std::collections::BTreeSet;
use std::path::Path;

use lastmile_shared::id::{BeneficiaryId, EntitlementId, IssuerId, ProgrammeId, SiteId, VoucherId};
use lastmile_shared::money::Money;
use lastmile_shared::roster::{Delivery, Entitlement, RosterPerson};
use lastmile_shared::voucher::{self, RedemptionMode, VoucherClaims};
use sha2::{Digest, Sha256};

use super::RegistryError;
use super::programmes::{self, Programme};
use crate::audit::{self, Actor};
use crate::calendar;
use crate::documents;
use crate::issuance::{self, IssuanceError, SheetReport, SheetSource};
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::registry::{self as table, Deliverable};
use crate::storage::{Storage, StorageError, Tx, VoucherRow};

/// Most entitlements of one kind one release takes (release again for more).
pub const RELEASE_MAX: i64 = 200_000;
/// How long a release stays redeemable when the programme has no end date.
pub const VALID_DAYS_DEFAULT: i64 = 90;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("there is no cycle {0}")]
    Unknown(i64),
    #[error("cycle {id} is {state}: only an approved cycle is released")]
    NotApproved { id: i64, state: String },
    #[error("programme {programme} issues as {wanted}, but the active issuer key is {active}'s")]
    OtherIssuer {
        programme: String,
        wanted: String,
        active: String,
    },
    #[error("programme {0} has ended: nothing more is released for it")]
    Ended(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Sheet(#[from] IssuanceError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ReleaseError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.code(),
            Self::Unknown(_) => "unknown_cycle",
            Self::NotApproved { .. } => "cycle_state",
            Self::OtherIssuer { .. } => "other_issuer",
            Self::Ended(_) => "programme_ended",
            Self::Keys(_) => "key_error",
            Self::Sheet(_) => "sheet_error",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// What a release did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Released {
    pub cycle: i64,
    /// Vouchers signed and stored.
    pub vouchers: Vec<VoucherId>,
    /// Cash entitlements put on their sites' rosters.
    pub cash: u64,
    /// The sites whose rosters were published again, with their versions.
    pub rosters: Vec<(String, u64)>,
    /// Bank and mobile-money entitlements left for the payment pipeline.
    pub awaiting_payment: u64,
    /// The printed vouchers, when an output folder was given.
    pub sheet: Option<SheetReport>,
}

/// An id of `prefix` derived from the programme, cycle and beneficiary.
fn derived(tag: &str, prefix: &str, programme: &str, cycle: i64, beneficiary: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(tag.as_bytes());
    for part in [programme, beneficiary] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(cycle.to_be_bytes());
    format!("{prefix}-{}", &hex::encode_upper(hash.finalize())[..20])
}

fn voucher_id(programme: &str, cycle: i64, beneficiary: &str) -> Result<VoucherId, StorageError> {
    VoucherId::parse(&derived(
        "lastmile/cycle-voucher/v1\0",
        "V",
        programme,
        cycle,
        beneficiary,
    ))
    .map_err(|e| StorageError::corrupt("voucher id", e))
}

fn entitlement_id(
    programme: &str,
    cycle: i64,
    beneficiary: &str,
) -> Result<EntitlementId, StorageError> {
    EntitlementId::parse(&derived(
        "lastmile/cycle-entitlement/v1\0",
        "E",
        programme,
        cycle,
        beneficiary,
    ))
    .map_err(|e| StorageError::corrupt("entitlement id", e))
}

/// Until when what is released now may be redeemed: the end of the
/// programme's last day, or [`VALID_DAYS_DEFAULT`] days.
fn valid_until(programme: &Programme, now: i64) -> Result<i64, ReleaseError> {
    let until = match &programme.row.ends_on {
        Some(ends) => calendar::parse_end_date(ends)
            .ok_or_else(|| StorageError::corrupt("programmes.ends_on", ends))?,
        None => now + VALID_DAYS_DEFAULT * 86_400,
    };
    if until <= now {
        return Err(ReleaseError::Ended(programme.row.programme.clone()));
    }
    Ok(until)
}

fn money(programme: &Programme, minor: i64) -> Money {
    Money {
        minor,
        currency: programme.currency,
    }
}

fn parse_corrupt<T, E: std::fmt::Display>(
    what: &'static str,
    parsed: Result<T, E>,
) -> Result<T, StorageError> {
    parsed.map_err(|e| StorageError::corrupt(what, e))
}

/// Signs and stores the cycle's approved voucher entitlements.
fn release_vouchers(
    tx: &mut dyn Tx,
    keys: &KeyDir,
    programme: &Programme,
    cycle: i64,
    until: i64,
    now: i64,
) -> Result<Vec<VoucherId>, ReleaseError> {
    let due = table::approved_of_kind(tx.sql(), cycle, "voucher", RELEASE_MAX)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let (issuer_key, signer) = keys::active_issuer(tx, keys)?;
    if issuer_key.issuer.as_str() != programme.row.issuer {
        return Err(ReleaseError::OtherIssuer {
            programme: programme.row.programme.clone(),
            wanted: programme.row.issuer.clone(),
            active: issuer_key.issuer.to_string(),
        });
    }
    let mut issued = Vec::with_capacity(due.len());
    for Deliverable { entitlement, .. } in due {
        let id = voucher_id(&programme.row.programme, cycle, &entitlement.beneficiary)?;
        let claims = VoucherClaims {
            id: id.clone(),
            issuer: issuer_key.issuer.clone(),
            programme: programme.id.clone(),
            value: money(programme, entitlement.amount_minor),
            issued_at: now,
            valid_from: now,
            valid_until: until,
            mode: RedemptionMode::SingleUse,
            beneficiary: None,
            merchants: Vec::new(),
            sites: Vec::new(),
        };
        let text = voucher::encode(&claims, &signer.kid, &signer.key);
        tx.insert_voucher(
            &VoucherRow {
                voucher: id.clone(),
                issuer: claims.issuer.clone(),
                programme: claims.programme.clone(),
                value: claims.value,
                mode: claims.mode,
                valid_from: claims.valid_from,
                valid_until: claims.valid_until,
                beneficiary: Some(entitlement.beneficiary.clone()),
                credential: text,
                issued_here: true,
                revoked_at: None,
                redeemed_minor: 0,
                winner: None,
            },
            now,
        )?;
        table::mark_issued(
            tx.sql(),
            cycle,
            &entitlement.beneficiary,
            id.as_str(),
            until,
            now,
        )?;
        issued.push(id);
    }
    let root = keys::root_signer(tx, keys)?;
    crate::voucher_book::publish_all(tx, &root, now)?;
    Ok(issued)
}

/// Puts the cycle's approved cash entitlements on their sites' rosters and
/// publishes each of those rosters again.
fn release_cash(
    tx: &mut dyn Tx,
    keys: &KeyDir,
    programme: &Programme,
    cycle: i64,
    until: i64,
    now: i64,
) -> Result<(u64, Vec<(String, u64)>), ReleaseError> {
    let due = table::approved_of_kind(tx.sql(), cycle, "cash", RELEASE_MAX)?;
    if due.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut sites = BTreeSet::new();
    for Deliverable { entitlement, .. } in &due {
        let id = entitlement_id(&programme.row.programme, cycle, &entitlement.beneficiary)?;
        table::mark_issued(
            tx.sql(),
            cycle,
            &entitlement.beneficiary,
            id.as_str(),
            until,
            now,
        )?;
        if let Some(site) = entitlement.channel.strip_prefix("cash:") {
            sites.insert(site.to_owned());
        }
    }
    // Each goes on its site's distribution list as a cash payment, sent,
    // which a synced payout closes (`sync`).
    crate::storage::payments::track_released_cash(tx.sql(), cycle, now)?;
    let root = keys::root_signer(tx, keys)?;
    let mut rosters = Vec::new();
    for site in sites {
        let site_id = parse_corrupt("cycle_entitlements.channel", SiteId::parse(&site))?;
        let mut people: Vec<RosterPerson> = Vec::new();
        for Deliverable {
            entitlement,
            name,
            national_id,
        } in table::open_at_site(tx.sql(), &site, now, crate::rosters::ROSTER_ROWS_MAX as i64)?
        {
            let other = if entitlement.programme == programme.row.programme {
                programme.clone()
            } else {
                programmes::get_in(tx, &entitlement.programme)?
            };
            let item = Entitlement {
                id: parse_corrupt(
                    "cycle_entitlements.reference",
                    EntitlementId::parse(entitlement.reference.as_deref().unwrap_or("")),
                )?,
                programme: parse_corrupt(
                    "cycle_entitlements.programme",
                    ProgrammeId::parse(&entitlement.programme),
                )?,
                value: money(&other, entitlement.amount_minor),
                // Issued entitlements change no more until they close: their
                // last update is when they were released.
                valid_from: entitlement.updated_at,
                valid_until: entitlement.valid_until.unwrap_or(until),
                mode: RedemptionMode::SingleUse,
                delivery: Delivery::Cash,
            };
            let beneficiary = parse_corrupt(
                "cycle_entitlements.beneficiary",
                BeneficiaryId::parse(&entitlement.beneficiary),
            )?;
            match people.last_mut() {
                Some(person) if person.beneficiary == beneficiary => {
                    person.entitlements.push(item);
                }
                _ => people.push(RosterPerson {
                    beneficiary,
                    name,
                    id_numbers: vec![national_id],
                    date_of_birth: None,
                    photo: None,
                    entitlements: vec![item],
                }),
            }
        }
        let version =
            documents::publish_roster(tx, &root, Some(&site_id), None, people, now)?.unwrap_or(0);
        rosters.push((site, version));
    }
    Ok((due.len() as u64, rosters))
}

/// Releases an approved cycle (see the module documentation); with `out`,
/// the vouchers it signed are printed there (QR PNGs, `vouchers.pdf`,
/// `vouchers.csv`).
pub fn release(
    storage: &Storage,
    keys: &KeyDir,
    actor: &Actor,
    cycle: i64,
    out: Option<&Path>,
    now: i64,
) -> Result<Released, ReleaseError> {
    let (mut released, issuer) = storage.transaction(|tx| -> Result<_, ReleaseError> {
        let row = table::cycle(tx.sql(), cycle)?.ok_or(ReleaseError::Unknown(cycle))?;
        if row.state != "approved" {
            return Err(ReleaseError::NotApproved {
                id: cycle,
                state: row.state,
            });
        }
        let programme = programmes::get_in(tx, &row.programme)?;
        let until = valid_until(&programme, now)?;
        let vouchers = release_vouchers(tx, keys, &programme, cycle, until, now)?;
        let (cash, rosters) = release_cash(tx, keys, &programme, cycle, until, now)?;
        let awaiting_payment = table::cycle_breakdown(tx.sql(), cycle)?
            .into_iter()
            .filter(|(state, kind, _, _)| {
                state == "approved" && (kind == "bank" || kind == "mobile")
            })
            .map(|(_, _, count, _)| u64::try_from(count).unwrap_or(0))
            .sum();
        if !vouchers.is_empty() || cash > 0 {
            audit::record(
                tx,
                actor,
                "cycle.released",
                &format!("cycle:{cycle}"),
                serde_json::json!({
                    "vouchers": vouchers.len(), "cash": cash,
                    "rosters": rosters, "awaiting_payment": awaiting_payment,
                }),
                now,
            )?;
        }
        let issuer = parse_corrupt("programmes.issuer", IssuerId::parse(&programme.row.issuer))?;
        Ok((
            Released {
                cycle,
                vouchers,
                cash,
                rosters,
                awaiting_payment,
                sheet: None,
            },
            issuer,
        ))
    })?;
    if let Some(out) = out
        && !released.vouchers.is_empty()
    {
        released.sheet = Some(issuance::sheet(
            storage,
            &SheetSource::Vouchers(released.vouchers.clone()),
            out,
            &issuer,
            now,
        )?);
    }
    Ok(released)
}
