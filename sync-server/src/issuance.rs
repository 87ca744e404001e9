//! Voucher issuance from a CSV of beneficiaries: one signed voucher per row,
//! a QR PNG each, a printable PDF sheet, and a CSV of what was issued.
//!
//! Input columns (a header row is required; order is free):
//! `beneficiary_id, name, amount, currency, programme, valid_from,
//! valid_until` and optionally `mode` (`single_use` or `partial`),
//! `merchants` and `sites` (`;`-separated ids). Dates are `YYYY-MM-DD` (UTC;
//! `valid_until` includes that whole day); amounts are decimal major units
//! (`1250.50`).
//!
//! Every row is checked first; a file with any bad row issues nothing unless
//! the caller allows partial issuance. Voucher ids are derived from the row
//! (programme, beneficiary, amount, validity), so issuing the same file
//! twice is refused row by row as "already issued" instead of paying twice.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lastmile_shared::id::{BeneficiaryId, MerchantId, ProgrammeId, SiteId, VoucherId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::voucher::{
    self, BeneficiaryBinding, RedemptionMode, VOUCHER_RESTRICTIONS_MAX, VoucherClaims,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::calendar;
use crate::keys::{self, KeyDir, KeyError};
use crate::storage::{Storage, StorageError, VoucherRow};
use crate::voucher_sheet::{self, SheetError, SheetVoucher};

/// Most rows in one issuance file.
pub const ISSUANCE_ROWS_MAX: usize = 100_000;
/// Longest beneficiary name printed, in characters.
pub const NAME_CHARS_MAX: usize = 80;
/// Hex characters of the row digest in a derived voucher id.
const VOUCHER_ID_DIGEST_HEX: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Sheet(#[from] SheetError),
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}: the header lacks the column(s) {missing}")]
    MissingColumns { path: PathBuf, missing: String },
    #[error("{path}: more than {ISSUANCE_ROWS_MAX} rows; split the file")]
    TooManyRows { path: PathBuf },
    #[error("{path}: the file has no rows")]
    Empty { path: PathBuf },
    #[error(
        "{count} row(s) have errors; nothing was issued (fix them, or pass --allow-partial-errors to issue the good rows):\n{list}",
        count = .0.len(),
        list = .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    )]
    Rows(Vec<RowError>),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A bad line of the input, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// How to issue.
#[derive(Debug, Clone)]
pub struct IssueOptions {
    pub csv: PathBuf,
    pub out: PathBuf,
    pub allow_partial_errors: bool,
    /// Bind each voucher to its beneficiary (the terminal then requires an
    /// ID check before redeeming).
    pub bind_beneficiary: bool,
}

/// One voucher that was issued.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedVoucher {
    pub voucher: VoucherId,
    pub beneficiary: BeneficiaryId,
    pub name: String,
    pub value: Money,
    pub qr_text: String,
    pub qr_png: PathBuf,
}

/// What an issuance did.
#[derive(Debug, Clone, Serialize)]
pub struct IssueReport {
    pub issued: Vec<IssuedVoucher>,
    /// Rows skipped (only with `allow_partial_errors`).
    pub skipped: Vec<RowError>,
    pub sheet: Option<PathBuf>,
    pub list: Option<PathBuf>,
}

struct Planned {
    line: u64,
    beneficiary: BeneficiaryId,
    name: String,
    claims: VoucherClaims,
}

fn column(headers: &csv::StringRecord, name: &str) -> Option<usize> {
    headers
        .iter()
        .position(|h| h.trim().eq_ignore_ascii_case(name))
}

fn id_list<T>(
    text: &str,
    what: &str,
    parse: fn(&str) -> Result<T, lastmile_shared::id::IdError>,
) -> Result<Vec<T>, String> {
    let items: Vec<T> = text
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| format!("{what}: {e}")))
        .collect::<Result<_, _>>()?;
    if items.len() > VOUCHER_RESTRICTIONS_MAX {
        return Err(format!(
            "{what}: at most {VOUCHER_RESTRICTIONS_MAX} may be listed"
        ));
    }
    Ok(items)
}

fn voucher_id(
    programme: &ProgrammeId,
    beneficiary: &BeneficiaryId,
    value: Money,
    from: i64,
    until: i64,
) -> VoucherId {
    let mut hasher = Sha256::new();
    hasher.update(b"lastmile/voucher-id/v1\0");
    for part in [
        programme.as_str(),
        beneficiary.as_str(),
        value.currency.code(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for number in [value.minor, from, until] {
        hasher.update(number.to_be_bytes());
    }
    let digest = hex::encode_upper(hasher.finalize());
    // Hex digits always make a valid id.
    VoucherId::parse(&format!("V-{}", &digest[..VOUCHER_ID_DIGEST_HEX]))
        .unwrap_or_else(|_| unreachable!("hex digits are valid id characters"))
}

fn parse_rows(
    options: &IssueOptions,
    issuer: &lastmile_shared::id::IssuerId,
    now: i64,
) -> Result<(Vec<Planned>, Vec<RowError>), IssuanceError> {
    let path = &options.csv;
    let read_error = |reason: String| IssuanceError::Read {
        path: path.clone(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| read_error(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| read_error(e.to_string()))?
        .clone();
    let required = [
        "beneficiary_id",
        "name",
        "amount",
        "currency",
        "programme",
        "valid_from",
        "valid_until",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| column(&headers, c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(IssuanceError::MissingColumns {
            path: path.clone(),
            missing: missing.join(", "),
        });
    }
    let at = |name: &str| column(&headers, name);
    let mut planned = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, record) in reader.records().enumerate() {
        if index >= ISSUANCE_ROWS_MAX {
            return Err(IssuanceError::TooManyRows { path: path.clone() });
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(index as u64 + 2, |p| p.line());
                errors.push(RowError {
                    line,
                    message: format!("unreadable CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(index as u64 + 2, |p| p.line());
        let field = |name: &str| at(name).and_then(|i| record.get(i)).unwrap_or("");
        let row = (|| -> Result<Planned, String> {
            let beneficiary =
                BeneficiaryId::parse(field("beneficiary_id")).map_err(|e| e.to_string())?;
            let name: String = field("name").to_owned();
            if name.is_empty() || name.chars().count() > NAME_CHARS_MAX {
                return Err(format!("name must be 1 to {NAME_CHARS_MAX} characters"));
            }
            let currency = Currency::parse(field("currency")).map_err(|e| e.to_string())?;
            let value = Money::parse(field("amount"), currency).map_err(|e| e.to_string())?;
            if value.minor <= 0 {
                return Err(format!("amount {value} must be more than zero"));
            }
            let programme = ProgrammeId::parse(field("programme")).map_err(|e| e.to_string())?;
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
            if valid_until <= valid_from {
                return Err("valid_until is before valid_from".to_owned());
            }
            if valid_until <= now {
                return Err("valid_until is in the past".to_owned());
            }
            let mode = match field("mode") {
                "" | "single_use" => RedemptionMode::SingleUse,
                "partial" => RedemptionMode::Partial,
                other => return Err(format!("mode {other:?} is neither single_use nor partial")),
            };
            let merchants = id_list(field("merchants"), "merchants", MerchantId::parse)?;
            let sites = id_list(field("sites"), "sites", SiteId::parse)?;
            let id = voucher_id(&programme, &beneficiary, value, valid_from, valid_until);
            let binding = options
                .bind_beneficiary
                .then(|| BeneficiaryBinding::compute(&id, &beneficiary));
            Ok(Planned {
                line,
                beneficiary,
                name,
                claims: VoucherClaims {
                    id,
                    issuer: issuer.clone(),
                    programme,
                    value,
                    issued_at: now,
                    valid_from,
                    valid_until,
                    mode,
                    beneficiary: binding,
                    merchants,
                    sites,
                },
            })
        })();
        match row {
            Ok(plan) if !seen.insert(plan.claims.id.clone()) => errors.push(RowError {
                line,
                message: "the same voucher (programme, beneficiary, amount, dates) appears twice in the file".to_owned(),
            }),
            Ok(plan) => planned.push(plan),
            Err(message) => errors.push(RowError { line, message }),
        }
    }
    if planned.is_empty() && errors.is_empty() {
        return Err(IssuanceError::Empty { path: path.clone() });
    }
    Ok((planned, errors))
}

/// Issues vouchers from a CSV (see the module documentation).
pub fn issue(
    storage: &Storage,
    keys: &KeyDir,
    options: &IssueOptions,
    now: i64,
) -> Result<IssueReport, IssuanceError> {
    let (issuer_key, signer) = storage.transaction(|tx| keys::active_issuer(tx, keys))?;
    let (planned, mut errors) = parse_rows(options, &issuer_key.issuer, now)?;
    let ids: Vec<VoucherId> = planned.iter().map(|p| p.claims.id.clone()).collect();
    let existing: BTreeSet<VoucherId> = storage
        .transaction(|tx| tx.known_vouchers(&ids))?
        .into_iter()
        .collect();
    let (planned, already): (Vec<Planned>, Vec<Planned>) = planned
        .into_iter()
        .partition(|p| !existing.contains(&p.claims.id));
    errors.extend(already.iter().map(|p| RowError {
        line: p.line,
        message: format!("voucher {} was already issued", p.claims.id),
    }));
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() && !options.allow_partial_errors {
        return Err(IssuanceError::Rows(errors));
    }
    let signed: Vec<(Planned, String)> = planned
        .into_iter()
        .map(|p| {
            let text = voucher::encode(&p.claims, &signer.kid, &signer.key);
            voucher_sheet::modules(&text)?;
            Ok((p, text))
        })
        .collect::<Result<_, SheetError>>()?;
    storage.transaction(|tx| {
        for (plan, text) in &signed {
            let c = &plan.claims;
            tx.insert_voucher(
                &VoucherRow {
                    voucher: c.id.clone(),
                    issuer: c.issuer.clone(),
                    programme: c.programme.clone(),
                    value: c.value,
                    mode: c.mode,
                    valid_from: c.valid_from,
                    valid_until: c.valid_until,
                    beneficiary: Some(plan.beneficiary.to_string()),
                    credential: text.clone(),
                    issued_here: true,
                    revoked_at: None,
                    redeemed_minor: 0,
                    winner: None,
                },
                now,
            )?;
        }
        Ok::<_, StorageError>(())
    })?;
    write_outputs(&options.out, signed, errors)
}

fn write_outputs(
    out: &Path,
    signed: Vec<(Planned, String)>,
    skipped: Vec<RowError>,
) -> Result<IssueReport, IssuanceError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| IssuanceError::Write { path, source }
    };
    let qr_dir = out.join("qr");
    std::fs::create_dir_all(&qr_dir).map_err(write_error(&qr_dir))?;
    let mut issued = Vec::with_capacity(signed.len());
    let mut sheet = Vec::with_capacity(signed.len());
    for (plan, text) in signed {
        let png = qr_dir.join(format!("{}.png", plan.claims.id));
        voucher_sheet::write_png(&text, &png)?;
        sheet.push(SheetVoucher {
            qr_text: text.clone(),
            voucher: plan.claims.id.to_string(),
            name: plan.name.clone(),
            beneficiary: plan.beneficiary.to_string(),
            amount: plan.claims.value.to_string(),
            programme: plan.claims.programme.to_string(),
            valid_until: plan.claims.valid_until,
        });
        issued.push(IssuedVoucher {
            voucher: plan.claims.id,
            beneficiary: plan.beneficiary,
            name: plan.name,
            value: plan.claims.value,
            qr_text: text,
            qr_png: png,
        });
    }
    if issued.is_empty() {
        return Ok(IssueReport {
            issued,
            skipped,
            sheet: None,
            list: None,
        });
    }
    let sheet_path = out.join("vouchers.pdf");
    std::fs::write(&sheet_path, voucher_sheet::render_pdf(&sheet)?)
        .map_err(write_error(&sheet_path))?;
    let list_path = out.join("vouchers.csv");
    let mut list = csv::Writer::from_path(&list_path).map_err(|e| IssuanceError::Write {
        path: list_path.clone(),
        source: e.into(),
    })?;
    let csv_error = |e: csv::Error| IssuanceError::Write {
        path: list_path.clone(),
        source: e.into(),
    };
    list.write_record([
        "voucher_id",
        "beneficiary_id",
        "name",
        "amount",
        "currency",
        "qr_text",
    ])
    .map_err(csv_error)?;
    for v in &issued {
        list.write_record([
            v.voucher.as_str(),
            v.beneficiary.as_str(),
            &v.name,
            &v.value.decimal(),
            v.value.currency.code(),
            &v.qr_text,
        ])
        .map_err(csv_error)?;
    }
    list.flush().map_err(write_error(&list_path))?;
    Ok(IssueReport {
        issued,
        skipped,
        sheet: Some(sheet_path),
        list: Some(list_path),
    })
}
