//! Rosters and distribution lists from a CSV, sealed for one site or
//! merchant. A roster holds the people a site serves and their entitlements;
//! entitlements with `delivery = cash` form a field agent's distribution list,
//! those with `delivery = merchant` are redeemed by ID at a shop.
//!
//! Columns (header required): `beneficiary_id, name, id_numbers (;-separated),
//! entitlement_id, programme, amount, currency, valid_from, valid_until,
//! mode (single_use|partial), delivery (merchant|cash)`. One row per
//! entitlement; a person with several entitlements has several rows.
//! Any bad row refuses the whole file.

use std::collections::BTreeMap;
use std::path::Path;

use lastmile_shared::id::{BeneficiaryId, EntitlementId, MerchantId, ProgrammeId, SiteId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::roster::{Delivery, Entitlement, RosterPerson};
use lastmile_shared::text::{Lines, PlainText};
use lastmile_shared::voucher::RedemptionMode;

use crate::calendar;
use crate::documents;
use crate::issuance::{NAME_CHARS_MAX, RowError};
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{Storage, StorageError};

/// Most rows in one roster file.
pub const ROSTER_ROWS_MAX: usize = 200_000;

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("a roster is for a site or a merchant: pass --site or --merchant")]
    NoScope,
    #[error(
        "{count} row(s) have errors; nothing was published:\n{list}",
        count = .0.len(),
        list = .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    )]
    Rows(Vec<RowError>),
}

fn parse_row(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> Result<(BeneficiaryId, String, Vec<String>, Entitlement), String> {
    let field = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .and_then(|i| record.get(i))
            .unwrap_or("")
    };
    let beneficiary = BeneficiaryId::parse(field("beneficiary_id")).map_err(|e| e.to_string())?;
    let name = PlainText::parse(field("name"), Lines::One, NAME_CHARS_MAX)
        .map_err(|e| format!("name must be 1 to {NAME_CHARS_MAX} characters on one line: {e}"))?
        .into_string();
    let id_numbers = field("id_numbers")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let currency = Currency::parse(field("currency")).map_err(|e| e.to_string())?;
    let value = Money::parse(field("amount"), currency).map_err(|e| e.to_string())?;
    if value.minor <= 0 {
        return Err(format!("amount {value} must be more than zero"));
    }
    let valid_from = calendar::parse_date(field("valid_from")).ok_or_else(|| {
        format!(
            "valid_from {:?} is not a date like 2026-03-01",
            field("valid_from")
        )
    })?;
    let valid_until = calendar::parse_end_date(field("valid_until")).ok_or_else(|| {
        format!(
            "valid_until {:?} is not a date like 2026-06-30",
            field("valid_until")
        )
    })?;
    let mode = match field("mode") {
        "" | "single_use" => RedemptionMode::SingleUse,
        "partial" => RedemptionMode::Partial,
        other => return Err(format!("mode {other:?} is neither single_use nor partial")),
    };
    let delivery = match field("delivery") {
        "merchant" => Delivery::Merchant,
        "cash" => Delivery::Cash,
        other => return Err(format!("delivery {other:?} is neither merchant nor cash")),
    };
    let entitlement = Entitlement {
        id: EntitlementId::parse(field("entitlement_id")).map_err(|e| e.to_string())?,
        programme: ProgrammeId::parse(field("programme")).map_err(|e| e.to_string())?,
        value,
        valid_from,
        valid_until,
        mode,
        delivery,
    };
    Ok((beneficiary, name, id_numbers, entitlement))
}

/// Reads the CSV and seals it as the roster of a site or merchant. Returns
/// the roster version and the number of people.
pub fn publish(
    storage: &Storage,
    keys: &KeyDir,
    csv_path: &Path,
    site: Option<&SiteId>,
    merchant: Option<&MerchantId>,
    now: i64,
) -> Result<(u64, usize), RosterError> {
    if site.is_none() && merchant.is_none() {
        return Err(RosterError::NoScope);
    }
    let read_error = |reason: String| RosterError::Read {
        path: csv_path.display().to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(csv_path)
        .map_err(|e| read_error(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| read_error(e.to_string()))?
        .clone();
    let mut people: BTreeMap<BeneficiaryId, RosterPerson> = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, record) in reader.records().enumerate() {
        if index >= ROSTER_ROWS_MAX {
            return Err(read_error(format!("more than {ROSTER_ROWS_MAX} rows")));
        }
        let line = index as u64 + 2;
        let parsed = record
            .map_err(|e| format!("unreadable CSV: {e}"))
            .and_then(|r| parse_row(&r, &headers));
        match parsed {
            Ok((beneficiary, name, id_numbers, entitlement)) => {
                let person = people
                    .entry(beneficiary.clone())
                    .or_insert_with(|| RosterPerson {
                        beneficiary,
                        name,
                        id_numbers,
                        date_of_birth: None,
                        photo: None,
                        entitlements: Vec::new(),
                    });
                person.entitlements.push(entitlement);
            }
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    if !errors.is_empty() {
        return Err(RosterError::Rows(errors));
    }
    let count = people.len();
    let version = storage.transaction(|tx| {
        let root = keys::root_signer(tx, keys)?;
        let version = documents::publish_roster(
            tx,
            &root,
            site,
            merchant,
            people.into_values().collect(),
            now,
        )?;
        Ok::<_, RosterError>(version.unwrap_or(0))
    })?;
    Ok((version, count))
}
