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
//! the caller allows partial issuance; every problem of every row is
//! reported. Voucher ids are derived from the row (programme, beneficiary,
//! amount, validity), so issuing the same file twice skips the rows already
//! issued (not an error) instead of paying twice, and [`sheet`] prints the
//! stored vouchers of a file (or of given ids) again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lastmile_shared::id::{BeneficiaryId, MerchantId, ProgrammeId, SiteId, VoucherId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::text::{Lines, PlainText};
use lastmile_shared::voucher::{
    self, BeneficiaryBinding, RedemptionMode, VOUCHER_RESTRICTIONS_MAX, VoucherClaims,
};
use lastmile_shared::voucher_code::VoucherCode;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::calendar;
use crate::keys::{self, KeyDir, KeyError};
use crate::spreadsheet;
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
        count = rows_with_errors(.0),
        list = lines(.0)
    )]
    Rows(Vec<RowError>),
    #[error(
        "{count} row(s) cannot be printed; nothing was written:\n{list}",
        count = rows_with_errors(.0),
        list = lines(.0)
    )]
    SheetRows(Vec<RowError>),
    #[error(
        "not issued by this server: {list}; nothing was written",
        list = .0.iter().map(VoucherId::as_str).collect::<Vec<_>>().join(", ")
    )]
    NotIssued(Vec<VoucherId>),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn rows_with_errors(errors: &[RowError]) -> usize {
    errors.iter().map(|e| e.line).collect::<BTreeSet<_>>().len()
}

fn lines(errors: &[RowError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
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
    /// What to type when the QR will not scan (printed beside it).
    pub code: String,
    pub qr_png: PathBuf,
}

/// A row whose voucher was issued before: skipped, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlreadyIssued {
    pub line: u64,
    pub voucher: VoucherId,
}

/// What an issuance did.
#[derive(Debug, Clone, Serialize)]
pub struct IssueReport {
    pub issued: Vec<IssuedVoucher>,
    /// Rows with errors, skipped (only with `allow_partial_errors`).
    pub skipped: Vec<RowError>,
    /// Rows issued before (by an earlier run of the same file).
    pub already_issued: Vec<AlreadyIssued>,
    pub sheet: Option<PathBuf>,
    pub list: Option<PathBuf>,
}

/// Which issued vouchers [`sheet`] prints again.
#[derive(Debug, Clone)]
pub enum SheetSource {
    /// The rows of an issuance CSV (the names come from it).
    Csv(PathBuf),
    /// Vouchers by id (no names are stored: the beneficiary id is printed).
    Vouchers(Vec<VoucherId>),
}

/// What [`sheet`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SheetReport {
    pub vouchers: Vec<IssuedVoucher>,
    pub sheet: PathBuf,
    pub list: PathBuf,
}

/// One voucher to write out: its QR PNG, a place on the sheet, a CSV line.
struct Printable {
    voucher: VoucherId,
    beneficiary: BeneficiaryId,
    name: String,
    value: Money,
    programme: ProgrammeId,
    valid_until: i64,
    qr_text: String,
}

impl Printable {
    fn new(plan: Planned, qr_text: String) -> Self {
        Printable {
            voucher: plan.claims.id,
            beneficiary: plan.beneficiary,
            name: plan.name,
            value: plan.claims.value,
            programme: plan.claims.programme,
            valid_until: plan.claims.valid_until,
            qr_text,
        }
    }
}

/// The files [`write_outputs`] wrote.
struct Written {
    issued: Vec<IssuedVoucher>,
    sheet: PathBuf,
    list: PathBuf,
}

/// Keeps `result`'s value, or notes its problem.
fn noted<T>(problems: &mut Vec<String>, result: Result<T, String>) -> Option<T> {
    result.map_err(|problem| problems.push(problem)).ok()
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
    csv: &Path,
    bind_beneficiary: bool,
    issuer: &lastmile_shared::id::IssuerId,
    now: i64,
) -> Result<(Vec<Planned>, Vec<RowError>), IssuanceError> {
    let path = &csv.to_path_buf();
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
        let mut problems = Vec::new();
        let beneficiary = noted(
            &mut problems,
            BeneficiaryId::parse(field("beneficiary_id")).map_err(|e| e.to_string()),
        );
        let name: String = noted(
            &mut problems,
            PlainText::parse(field("name"), Lines::One, NAME_CHARS_MAX)
                .map(PlainText::into_string)
                .map_err(|e| {
                    format!("name must be 1 to {NAME_CHARS_MAX} characters on one line: {e}")
                }),
        )
        .unwrap_or_default();
        let value = noted(
            &mut problems,
            Currency::parse(field("currency"))
                .map_err(|e| e.to_string())
                .and_then(|currency| {
                    Money::parse(field("amount"), currency).map_err(|e| e.to_string())
                }),
        );
        if let Some(value) = value.filter(|v| v.minor <= 0) {
            problems.push(format!("amount {value} must be more than zero"));
        }
        let programme = noted(
            &mut problems,
            ProgrammeId::parse(field("programme")).map_err(|e| e.to_string()),
        );
        let valid_from = noted(
            &mut problems,
            calendar::parse_date(field("valid_from")).ok_or_else(|| {
                format!(
                    "valid_from {:?} is not a date like 2026-03-01",
                    field("valid_from")
                )
            }),
        );
        let valid_until = noted(
            &mut problems,
            calendar::parse_end_date(field("valid_until")).ok_or_else(|| {
                format!(
                    "valid_until {:?} is not a date like 2026-06-30",
                    field("valid_until")
                )
            }),
        );
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until <= from
        {
            problems.push("valid_until is before valid_from".to_owned());
        }
        if valid_until.is_some_and(|until| until <= now) {
            problems.push("valid_until is in the past".to_owned());
        }
        let mode = noted(
            &mut problems,
            match field("mode") {
                "" | "single_use" => Ok(RedemptionMode::SingleUse),
                "partial" => Ok(RedemptionMode::Partial),
                other => Err(format!("mode {other:?} is neither single_use nor partial")),
            },
        );
        let merchants = noted(
            &mut problems,
            id_list(field("merchants"), "merchants", MerchantId::parse),
        );
        let sites = noted(
            &mut problems,
            id_list(field("sites"), "sites", SiteId::parse),
        );
        let row = match (
            beneficiary,
            value,
            programme,
            valid_from,
            valid_until,
            mode,
            merchants,
            sites,
        ) {
            (
                Some(beneficiary),
                Some(value),
                Some(programme),
                Some(valid_from),
                Some(valid_until),
                Some(mode),
                Some(merchants),
                Some(sites),
            ) if problems.is_empty() => {
                let id = voucher_id(&programme, &beneficiary, value, valid_from, valid_until);
                let binding =
                    bind_beneficiary.then(|| BeneficiaryBinding::compute(&id, &beneficiary));
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
            }
            _ => Err(problems),
        };
        match row {
            Ok(plan) if !seen.insert(plan.claims.id.clone()) => errors.push(RowError {
                line,
                message: "the same voucher (programme, beneficiary, amount, dates) appears twice in the file".to_owned(),
            }),
            Ok(plan) => planned.push(plan),
            Err(problems) => errors.extend(
                problems
                    .into_iter()
                    .map(|message| RowError { line, message }),
            ),
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
    let (planned, mut errors) = parse_rows(
        &options.csv,
        options.bind_beneficiary,
        &issuer_key.issuer,
        now,
    )?;
    let ids: Vec<VoucherId> = planned.iter().map(|p| p.claims.id.clone()).collect();
    let existing: BTreeSet<VoucherId> = storage
        .transaction(|tx| tx.known_vouchers(&ids))?
        .into_iter()
        .collect();
    let (planned, already): (Vec<Planned>, Vec<Planned>) = planned
        .into_iter()
        .partition(|p| !existing.contains(&p.claims.id));
    let already_issued = already
        .into_iter()
        .map(|p| AlreadyIssued {
            line: p.line,
            voucher: p.claims.id,
        })
        .collect();
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
        if !signed.is_empty() {
            // Terminals redeem typed codes from their book: it must hold
            // these vouchers as soon as they can be handed out.
            let root = keys::root_signer(tx, keys)?;
            crate::voucher_book::publish_all(tx, &root, now)?;
        }
        Ok::<_, IssuanceError>(())
    })?;
    let mut report = IssueReport {
        issued: Vec::new(),
        skipped: errors,
        already_issued,
        sheet: None,
        list: None,
    };
    if !signed.is_empty() {
        let written = write_outputs(
            &options.out,
            signed
                .into_iter()
                .map(|(plan, text)| Printable::new(plan, text))
                .collect(),
        )?;
        report.issued = written.issued;
        report.sheet = Some(written.sheet);
        report.list = Some(written.list);
    }
    Ok(report)
}

/// Writes the QR PNGs, PDF sheet and CSV list of vouchers issued before,
/// from their stored credentials (the same QR codes as first printed).
/// Nothing is written unless every voucher asked for was issued here.
pub fn sheet(
    storage: &Storage,
    source: &SheetSource,
    out: &Path,
    issuer: &lastmile_shared::id::IssuerId,
    now: i64,
) -> Result<SheetReport, IssuanceError> {
    let stored = |tx: &mut dyn crate::storage::Tx, id: &VoucherId| {
        Ok::<_, StorageError>(tx.voucher(id)?.filter(|row| row.issued_here))
    };
    let printable = |row: VoucherRow, name: Option<String>| {
        let beneficiary = row
            .beneficiary
            .as_deref()
            .and_then(|b| BeneficiaryId::parse(b).ok());
        beneficiary.map(|beneficiary| Printable {
            name: name.unwrap_or_default(),
            voucher: row.voucher,
            beneficiary,
            value: row.value,
            programme: row.programme,
            valid_until: row.valid_until,
            qr_text: row.credential,
        })
    };
    let vouchers = match source {
        SheetSource::Csv(path) => {
            let (planned, mut errors) = parse_rows(path, false, issuer, now)?;
            let mut vouchers = Vec::new();
            storage.transaction(|tx| {
                for plan in planned {
                    match stored(tx, &plan.claims.id)?.and_then(|row| printable(row, Some(plan.name))) {
                        Some(voucher) => vouchers.push(voucher),
                        None => errors.push(RowError {
                            line: plan.line,
                            message: format!(
                                "voucher {} was not issued; issue the file with `vouchers issue` first",
                                plan.claims.id
                            ),
                        }),
                    }
                }
                Ok::<_, StorageError>(())
            })?;
            if !errors.is_empty() {
                errors.sort_by_key(|e| e.line);
                return Err(IssuanceError::SheetRows(errors));
            }
            vouchers
        }
        SheetSource::Vouchers(ids) => {
            let mut vouchers = Vec::new();
            let mut missing = Vec::new();
            storage.transaction(|tx| {
                for id in ids {
                    match stored(tx, id)?.and_then(|row| printable(row, None)) {
                        Some(voucher) => vouchers.push(voucher),
                        None => missing.push(id.clone()),
                    }
                }
                Ok::<_, StorageError>(())
            })?;
            if !missing.is_empty() {
                return Err(IssuanceError::NotIssued(missing));
            }
            vouchers
        }
    };
    let written = write_outputs(out, vouchers)?;
    Ok(SheetReport {
        vouchers: written.issued,
        sheet: written.sheet,
        list: written.list,
    })
}

fn write_outputs(out: &Path, vouchers: Vec<Printable>) -> Result<Written, IssuanceError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| IssuanceError::Write { path, source }
    };
    let qr_dir = out.join("qr");
    std::fs::create_dir_all(&qr_dir).map_err(write_error(&qr_dir))?;
    let mut issued = Vec::with_capacity(vouchers.len());
    let mut sheet = Vec::with_capacity(vouchers.len());
    for v in vouchers {
        let png = qr_dir.join(format!("{}.png", v.voucher));
        voucher_sheet::write_png(&v.qr_text, &png)?;
        let code = VoucherCode::of_voucher(&v.qr_text).to_string();
        sheet.push(SheetVoucher {
            qr_text: v.qr_text.clone(),
            voucher: v.voucher.to_string(),
            name: v.name.clone(),
            beneficiary: v.beneficiary.to_string(),
            amount: v.value.to_string(),
            programme: v.programme.to_string(),
            valid_until: v.valid_until,
            code: code.clone(),
        });
        issued.push(IssuedVoucher {
            voucher: v.voucher,
            beneficiary: v.beneficiary,
            name: v.name,
            value: v.value,
            qr_text: v.qr_text,
            code,
            qr_png: png,
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
        "code",
    ])
    .map_err(csv_error)?;
    for v in &issued {
        let record = [
            v.voucher.as_str(),
            v.beneficiary.as_str(),
            &v.name,
            &v.value.decimal(),
            v.value.currency.code(),
            &v.qr_text,
            &v.code,
        ];
        list.write_record(record.map(|c| spreadsheet::cell(c).into_owned()))
            .map_err(csv_error)?;
    }
    list.flush().map_err(write_error(&list_path))?;
    Ok(Written {
        issued,
        sheet: sheet_path,
        list: list_path,
    })
}
