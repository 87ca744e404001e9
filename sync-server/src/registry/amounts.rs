//! Amounts from an imported file: the third way a cycle's amounts are set
//! (after a flat amount and an amount per household member). An officer
//! uploads, for one period of a programme, a CSV naming each person paid (by
//! beneficiary id or national ID) and what they are owed, in the programme's
//! currency as a decimal in major units (`1250.50`), parsed exactly into
//! minor units (`Money::parse`, never a float). Generating that period's
//! cycle with the `file` rule then pays those amounts.
//!
//! Every bad row is reported with its line, column and reason — an unknown,
//! inactive or (in a household programme) non-head beneficiary, an amount
//! that is not one, has more decimals than the currency or is not above
//! zero, another currency, the same person twice — and a file with errors
//! applies nothing. Uploading the same file again changes nothing; another
//! file replaces the period's amounts, until its cycle is generated. The
//! whole upload is one transaction, read as a stream in chunks of
//! [`CHUNK_ROWS`] rows, with 128-bit digests of the people seen.
//!
//! The format is `docs/amounts-file.md`.

use std::collections::HashMap;
use std::io::Read;

use lastmile_shared::id::BeneficiaryId;
use lastmile_shared::money::Money;
use sha2::{Digest, Sha256};

use super::RegistryError;
use super::import::{self, Hashing, RowError, short_digest};
use super::programmes::{self, Programme, Target};
use crate::audit::{self, Actor};
use crate::storage::registry::{self as table, AmountFileRow, CHUNK_ROWS};
use crate::storage::{Storage, StorageError, Tx};

/// Most rows in one file.
pub const ROWS_MAX: u64 = import::ROWS_MAX;
/// Most bytes in one row.
pub const ROW_BYTES_MAX: usize = 1024;
/// Most errors listed in a report (all are counted).
pub const ERRORS_LISTED: usize = import::ERRORS_LISTED;

/// A column of an amounts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    BeneficiaryId,
    NationalId,
    Amount,
    Currency,
}

impl Column {
    pub const ALL: [Column; 4] = [
        Column::BeneficiaryId,
        Column::NationalId,
        Column::Amount,
        Column::Currency,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::BeneficiaryId => "beneficiary_id",
            Self::NationalId => "national_id",
            Self::Amount => "amount",
            Self::Currency => "currency",
        }
    }

    /// Whether a header names this column (as the beneficiary file's
    /// headers are matched: without case, spaces, dashes or underscores).
    fn names(self, header: &str) -> bool {
        match self {
            Self::BeneficiaryId => import::Field::BeneficiaryId.names(header),
            Self::NationalId => import::Field::NationalId.names(header),
            Self::Amount => ["amount", "amountdue", "entitlement", "value"]
                .contains(&import::squash(header).as_str()),
            Self::Currency => import::squash(header) == "currency",
        }
    }
}

/// How an upload should go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Options {
    /// Only check: report what would happen, change nothing.
    #[serde(default)]
    pub check_only: bool,
}

/// What an upload did (or, checked only, would do).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub programme: String,
    pub period: String,
    pub checked_only: bool,
    /// The same file as the period's current one: nothing changed.
    pub unchanged: bool,
    pub sha256: String,
    pub rows_read: u64,
    /// Rows whose amount is kept (all of them, in a file without errors).
    pub accepted: u64,
    pub total_minor: i64,
    pub currency: String,
    /// The first [`ERRORS_LISTED`] errors, by line.
    pub errors: Vec<RowError>,
    pub errors_total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AmountsError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("a period is 1 to 32 letters, digits, '-', '_' or '.' (2027-01)")]
    BadPeriod,
    #[error("the file is not a readable CSV: {0}")]
    Unreadable(String),
    #[error("the file has no header row")]
    NoHeaders,
    #[error("the file names no one: it needs a beneficiary_id or a national_id column")]
    NoPersonColumn,
    #[error("the file has no amount column")]
    NoAmountColumn,
    #[error("the columns {first:?} and {second:?} are both {column}")]
    ColumnTwice {
        column: &'static str,
        first: String,
        second: String,
    },
    #[error("the file has more than {ROWS_MAX} rows")]
    TooManyRows,
    #[error("the file has a header but no rows")]
    Empty,
    #[error(
        "cycle {cycle} of period {period} was already generated from the period's amounts: \
         they can no longer change"
    )]
    Generated { period: String, cycle: i64 },
    #[error(
        "{total} row(s) have errors; no amount was applied (fix them and upload the file again)",
        total = .0.errors_total
    )]
    Rows(Box<Report>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl AmountsError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.code(),
            Self::BadPeriod => "bad_period",
            Self::Unreadable(_) => "unreadable_file",
            Self::NoHeaders => "no_headers",
            Self::NoPersonColumn => "no_person_column",
            Self::NoAmountColumn => "no_amount_column",
            Self::ColumnTwice { .. } => "header_twice",
            Self::TooManyRows => "too_many_rows",
            Self::Empty => "empty_file",
            Self::Generated { .. } => "cycle_generated",
            Self::Rows(_) => "rows_have_errors",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// The column of each kind the headers have.
struct Columns {
    headers: Vec<String>,
    index: HashMap<&'static str, usize>,
}

impl Columns {
    fn find(headers: Vec<String>) -> Result<Self, AmountsError> {
        let mut index = HashMap::new();
        for column in Column::ALL {
            let mut found = headers.iter().enumerate().filter(|(_, h)| column.names(h));
            if let Some((i, first)) = found.next() {
                if let Some((_, second)) = found.next() {
                    return Err(AmountsError::ColumnTwice {
                        column: column.code(),
                        first: first.clone(),
                        second: second.clone(),
                    });
                }
                index.insert(column.code(), i);
            }
        }
        if !index.contains_key(Column::BeneficiaryId.code())
            && !index.contains_key(Column::NationalId.code())
        {
            return Err(AmountsError::NoPersonColumn);
        }
        if !index.contains_key(Column::Amount.code()) {
            return Err(AmountsError::NoAmountColumn);
        }
        Ok(Self { headers, index })
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, column: Column) -> &'r str {
        self.index
            .get(column.code())
            .and_then(|&i| record.get(i))
            .unwrap_or("")
    }

    fn error(&self, line: u64, column: Column, reason: impl ToString) -> RowError {
        RowError {
            line,
            column: self
                .index
                .get(column.code())
                .map(|&i| self.headers[i].clone()),
            reason: reason.to_string(),
        }
    }
}

/// One row that parsed: who (by id or national ID) and how much.
struct Parsed {
    line: u64,
    beneficiary: Option<String>,
    national_id: Option<String>,
    amount: Money,
}

fn parse(
    programme: &Programme,
    columns: &Columns,
    line: u64,
    record: &csv::StringRecord,
) -> Result<Parsed, Vec<RowError>> {
    let mut errors = Vec::new();
    let id = columns.get(record, Column::BeneficiaryId);
    let nid = columns.get(record, Column::NationalId);
    let beneficiary = (!id.is_empty())
        .then(|| {
            BeneficiaryId::parse(id)
                .map(|b| b.to_string())
                .map_err(|e| errors.push(columns.error(line, Column::BeneficiaryId, e)))
                .ok()
        })
        .flatten();
    let national_id = (!nid.is_empty())
        .then(|| {
            programme
                .id_pattern
                .check(nid)
                .map_err(|e| errors.push(columns.error(line, Column::NationalId, e)))
                .ok()
        })
        .flatten();
    if id.is_empty() && nid.is_empty() {
        let column = if columns.index.contains_key(Column::BeneficiaryId.code()) {
            Column::BeneficiaryId
        } else {
            Column::NationalId
        };
        errors.push(columns.error(
            line,
            column,
            "the row names no one: give the beneficiary id or the national ID",
        ));
    }
    let currency = columns.get(record, Column::Currency);
    if !currency.is_empty() && !currency.eq_ignore_ascii_case(programme.currency.code()) {
        errors.push(columns.error(
            line,
            Column::Currency,
            format!(
                "the amount is in {currency}, but the programme pays in {}",
                programme.currency.code()
            ),
        ));
    }
    let text = columns.get(record, Column::Amount);
    let amount = if text.is_empty() {
        errors.push(columns.error(line, Column::Amount, "the amount is required"));
        None
    } else {
        match Money::parse(text, programme.currency) {
            Ok(m) if m.minor > 0 => Some(m),
            Ok(_) => {
                errors.push(columns.error(line, Column::Amount, "the amount must be above zero"));
                None
            }
            Err(e) => {
                errors.push(columns.error(line, Column::Amount, e));
                None
            }
        }
    };
    match amount {
        Some(amount) if errors.is_empty() => Ok(Parsed {
            line,
            beneficiary,
            national_id,
            amount,
        }),
        _ => Err(errors),
    }
}

/// The counts as an upload goes.
#[derive(Default)]
struct Tally {
    rows_read: u64,
    accepted: u64,
    total_minor: i64,
    errors: Vec<RowError>,
    errors_total: u64,
    /// Each person kept, and the line that named them.
    seen: HashMap<u128, u64>,
}

impl Tally {
    fn reject(&mut self, mut errors: Vec<RowError>) {
        self.errors_total += errors.len() as u64;
        let room = ERRORS_LISTED.saturating_sub(self.errors.len());
        errors.truncate(room);
        self.errors.extend(errors);
    }
}

/// Resolves one chunk of rows to the programme's beneficiaries, checks
/// each one, and writes the good rows' amounts.
fn flush(
    tx: &mut dyn Tx,
    programme: &Programme,
    columns: &Columns,
    period: &str,
    chunk: &mut Vec<Parsed>,
    tally: &mut Tally,
) -> Result<(), AmountsError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let id = programme.row.programme.as_str();
    let nids: Vec<&str> = chunk
        .iter()
        .filter_map(|p| p.national_id.as_deref())
        .collect();
    let holders: HashMap<String, String> = tx.national_id_holders(id, &nids)?.into_iter().collect();
    let wanted: Vec<&str> = chunk
        .iter()
        .filter_map(|p| {
            p.beneficiary.as_deref().or_else(|| {
                p.national_id
                    .as_ref()
                    .and_then(|n| holders.get(n))
                    .map(String::as_str)
            })
        })
        .collect();
    let found: HashMap<String, table::BeneficiaryRow> = tx
        .beneficiaries_by_id(id, &wanted)?
        .into_iter()
        .map(|b| (b.beneficiary.clone(), b))
        .collect();
    let households = programme.target == Target::Household;
    let mut rows = Vec::with_capacity(chunk.len());
    for parsed in chunk.drain(..) {
        let line = parsed.line;
        let by_id = parsed.beneficiary.is_some();
        let who = match (&parsed.beneficiary, &parsed.national_id) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(n)) => holders.get(n).cloned(),
            (None, None) => None,
        };
        let column = if by_id {
            Column::BeneficiaryId
        } else {
            Column::NationalId
        };
        let Some(row) = who.as_ref().and_then(|w| found.get(w)) else {
            tally.reject(vec![columns.error(
                line,
                column,
                match (&parsed.beneficiary, &parsed.national_id) {
                    (Some(b), _) => format!("there is no beneficiary {b} in programme {id}"),
                    (None, Some(n)) => {
                        format!("no beneficiary of programme {id} has the national ID {n}")
                    }
                    (None, None) => "the row names no one".to_owned(),
                },
            )]);
            continue;
        };
        let mut errors = Vec::new();
        if let Some(n) = &parsed.national_id
            && *n != row.national_id
        {
            errors.push(columns.error(
                line,
                Column::NationalId,
                format!(
                    "beneficiary {} has another national ID than {n}",
                    row.beneficiary
                ),
            ));
        }
        if !row.active {
            errors.push(columns.error(
                line,
                column,
                format!("beneficiary {} is inactive", row.beneficiary),
            ));
        }
        if households && !row.head {
            errors.push(columns.error(
                line,
                column,
                format!(
                    "beneficiary {} is a member of household {}; this programme pays each \
                     household's head",
                    row.beneficiary,
                    row.household.as_deref().unwrap_or("?")
                ),
            ));
        }
        if let Some(first) = tally.seen.get(&short_digest(&row.beneficiary)) {
            errors.push(columns.error(
                line,
                column,
                format!("beneficiary {} is also on line {first}", row.beneficiary),
            ));
        }
        if !errors.is_empty() {
            tally.reject(errors);
            continue;
        }
        let Some(total) = tally.total_minor.checked_add(parsed.amount.minor) else {
            tally.reject(vec![columns.error(
                line,
                Column::Amount,
                "the file's total is too large to represent",
            )]);
            continue;
        };
        tally.total_minor = total;
        tally.seen.insert(short_digest(&row.beneficiary), line);
        tally.accepted += 1;
        rows.push((row.beneficiary.clone(), parsed.amount.minor));
    }
    table::insert_amounts(tx.sql(), id, period, &rows)?;
    Ok(())
}

/// Uploads (or, with `check_only`, checks) the amounts file of a period of
/// a programme (see the module documentation).
#[allow(clippy::too_many_arguments)]
pub fn upload(
    storage: &Storage,
    actor: &Actor,
    programme: &str,
    period: &str,
    file_name: &str,
    reader: impl Read,
    options: Options,
    now: i64,
) -> Result<Report, AmountsError> {
    let period = super::cycles::check_period(period).map_err(|_| AmountsError::BadPeriod)?;
    let mut hashing = Hashing {
        inner: reader,
        hash: Sha256::new(),
    };
    let outcome = storage.transaction(|tx| -> Result<Report, AmountsError> {
        table::plan_for_growth(tx.sql())?;
        let programme = programmes::get_in(tx, programme)?;
        if programme.row.state == "closed" {
            return Err(RegistryError::ProgrammeState {
                programme: programme.row.programme.clone(),
                state: programme.row.state.clone(),
                wanted: "draft or active",
            }
            .into());
        }
        let id = programme.row.programme.clone();
        let mut csv = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(&mut hashing);
        let headers: Vec<String> = csv
            .headers()
            .map_err(|e| AmountsError::Unreadable(e.to_string()))?
            .iter()
            .map(str::to_owned)
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(AmountsError::NoHeaders);
        }
        let columns = Columns::find(headers)?;
        // Replaced whole: rows of an earlier file not in this one go.
        table::delete_amounts(tx.sql(), &id, period)?;
        let mut tally = Tally::default();
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let mut record = csv::StringRecord::new();
        while csv
            .read_record(&mut record)
            .map_err(|e| AmountsError::Unreadable(e.to_string()))?
        {
            tally.rows_read += 1;
            if tally.rows_read > ROWS_MAX {
                return Err(AmountsError::TooManyRows);
            }
            let line = record.position().map_or(tally.rows_read + 1, |p| p.line());
            if record.as_slice().len() > ROW_BYTES_MAX {
                tally.reject(vec![RowError {
                    line,
                    column: None,
                    reason: format!("the row is longer than {ROW_BYTES_MAX} bytes"),
                }]);
                continue;
            }
            if record.iter().all(str::is_empty) {
                tally.rows_read -= 1;
                continue;
            }
            match parse(&programme, &columns, line, &record) {
                Ok(parsed) => chunk.push(parsed),
                Err(errors) => tally.reject(errors),
            }
            if chunk.len() == CHUNK_ROWS {
                flush(tx, &programme, &columns, period, &mut chunk, &mut tally)?;
            }
        }
        flush(tx, &programme, &columns, period, &mut chunk, &mut tally)?;
        drop(csv);
        if tally.rows_read == 0 {
            return Err(AmountsError::Empty);
        }
        let sha256 = hex::encode(hashing.hash.clone().finalize());
        tally.errors.sort_by_key(|e| e.line);
        let current = table::amount_file(tx.sql(), &id, period)?;
        let report = Report {
            programme: id.clone(),
            period: period.to_owned(),
            checked_only: options.check_only,
            unchanged: current.as_ref().is_some_and(|c| c.sha256 == sha256),
            sha256: sha256.clone(),
            rows_read: tally.rows_read,
            accepted: tally.accepted,
            total_minor: tally.total_minor,
            currency: programme.currency.code().to_owned(),
            errors: tally.errors,
            errors_total: tally.errors_total,
        };
        // Rolled back, whichever: the caller tells a check or the same
        // file again from a refusal.
        if options.check_only || report.errors_total > 0 || report.unchanged {
            return Err(AmountsError::Rows(Box::new(report)));
        }
        if let Some(cycle) = table::cycle_for_period(tx.sql(), &id, period)? {
            return Err(AmountsError::Generated {
                period: period.to_owned(),
                cycle: cycle.id,
            });
        }
        table::upsert_amount_file(
            tx.sql(),
            &AmountFileRow {
                programme: id.clone(),
                period: period.to_owned(),
                file_name: file_name.chars().take(200).collect(),
                sha256,
                rows: report.accepted as i64,
                total_minor: report.total_minor,
                uploaded_by: actor.label(),
                uploaded_at: now,
            },
        )?;
        audit::record(
            tx,
            actor,
            "cycle_amounts.uploaded",
            &format!("programme:{id}/period:{period}"),
            serde_json::json!({
                "file": file_name, "sha256": report.sha256, "rows": report.accepted,
                "total_minor": report.total_minor, "replaced": current.is_some(),
            }),
            now,
        )?;
        Ok(report)
    });
    match outcome {
        Err(AmountsError::Rows(report)) if report.checked_only || report.errors_total == 0 => {
            Ok(*report)
        }
        other => other,
    }
}

/// The period's current amounts file, if one was uploaded.
pub fn current(
    storage: &Storage,
    programme: &str,
    period: &str,
) -> Result<Option<AmountFileRow>, AmountsError> {
    let period = super::cycles::check_period(period).map_err(|_| AmountsError::BadPeriod)?;
    Ok(storage.transaction(|tx| {
        programmes::get_in(tx, programme)?;
        Ok::<_, RegistryError>(table::amount_file(tx.sql(), programme, period)?)
    })?)
}
