//! Exchange rates as HQ keeps them: entered in sets by finance (one typed
//! rate, or a CSV file), used only once an approver who did not enter them
//! approved the set, and looked up by the day a conversion happens.

use lastmile_shared::money::Currency;
use serde::{Deserialize, Serialize};

use super::exchange::{Rate, RateError};
use crate::calendar;
use crate::storage::ledger::{self as rows, RateRow};
use crate::storage::sql::Sql;
use crate::storage::{StorageError, Tx};

/// Most rates one set (one file) may hold.
pub const RATE_SET_ROWS_MAX: usize = 2_000;

/// One rate as typed or read from a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    pub base: String,
    pub quote: String,
    /// `1 base = rate quote`, exact decimal text.
    pub rate: String,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
}

/// A row of a rates file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRate {
    /// The file's line (the header is line 1).
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RatesError {
    #[error("rate {index}: {reason}")]
    Bad { index: usize, reason: String },
    #[error("the file has {} bad rows; nothing was entered", .0.len())]
    Rows(Vec<BadRate>),
    #[error("a set holds at most {RATE_SET_ROWS_MAX} rates")]
    TooMany,
    #[error("a set holds at least one rate")]
    Empty,
    #[error("the file is not CSV with the columns base,quote,rate,effective_from: {0}")]
    File(String),
    #[error("no approved rate from {base} to {quote} is in force on {date}")]
    NoRate {
        base: String,
        quote: String,
        date: String,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl RatesError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Bad { .. } => "bad_rate",
            Self::Rows(_) => "rows_have_errors",
            Self::TooMany => "too_many_rates",
            Self::Empty => "no_rates",
            Self::File(_) => "bad_file",
            Self::NoRate { .. } => "no_rate",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// A rate request checked: its rate and its day.
fn check(request: &RateRequest) -> Result<(Rate, String), String> {
    let currency = |code: &str| Currency::parse(code.trim()).map_err(|e| e.to_string());
    let rate = Rate::parse(
        currency(&request.base)?,
        currency(&request.quote)?,
        request.rate.trim(),
    )
    .map_err(|e: RateError| e.to_string())?;
    let day = request.effective_from.trim();
    calendar::parse_date(day).ok_or_else(|| format!("{day:?} is not a date (YYYY-MM-DD)"))?;
    Ok((rate, day.to_owned()))
}

/// Reads a rates file (`base,quote,rate,effective_from`); every bad row is
/// reported with its line.
pub fn read_file(bytes: &[u8]) -> Result<Vec<RateRequest>, RatesError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| RatesError::File(e.to_string()))?
        .clone();
    let wanted = ["base", "quote", "rate", "effective_from"];
    let position = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let columns: Vec<usize> = wanted
        .iter()
        .map(|name| position(name).ok_or_else(|| RatesError::File(format!("no column {name}"))))
        .collect::<Result<_, _>>()?;
    let mut requests = Vec::new();
    let mut bad = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        if requests.len() + bad.len() >= RATE_SET_ROWS_MAX {
            return Err(RatesError::TooMany);
        }
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                bad.push(BadRate {
                    line,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let cell = |i: usize| record.get(columns[i]).unwrap_or("").to_owned();
        let request = RateRequest {
            base: cell(0),
            quote: cell(1),
            rate: cell(2),
            effective_from: cell(3),
        };
        match check(&request) {
            Ok(_) => requests.push(request),
            Err(reason) => bad.push(BadRate { line, reason }),
        }
    }
    if !bad.is_empty() {
        return Err(RatesError::Rows(bad));
    }
    Ok(requests)
}

/// Stores a set of rates as proposed; returns the set's id and rows. The
/// caller makes the set's proposal in the same transaction.
pub fn enter_in(
    tx: &mut dyn Tx,
    requests: &[RateRequest],
    source: &str,
    by: &str,
    now: i64,
) -> Result<(i64, Vec<RateRow>), RatesError> {
    if requests.is_empty() {
        return Err(RatesError::Empty);
    }
    if requests.len() > RATE_SET_ROWS_MAX {
        return Err(RatesError::TooMany);
    }
    let mut checked = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        checked.push(check(request).map_err(|reason| RatesError::Bad { index, reason })?);
    }
    let set = counter(tx, "exchange_rate_sets")?;
    for (rate, day) in checked {
        let row = RateRow {
            id: counter(tx, "exchange_rates")?,
            rate_set: set,
            base: rate.base.code().to_owned(),
            quote: rate.quote.code().to_owned(),
            rate: rate.text(),
            effective_from: day,
            source: source.to_owned(),
            state: "proposed".to_owned(),
            entered_by: by.to_owned(),
            entered_at: now,
            decided_by: None,
            decided_at: None,
        };
        rows::insert_rate(tx.sql(), &row)?;
    }
    Ok((set, rows::rate_set(tx.sql(), set)?))
}

fn counter(tx: &mut dyn Tx, name: &str) -> Result<i64, StorageError> {
    i64::try_from(tx.next_counter(name)?).map_err(|e| StorageError::corrupt("counters", e))
}

/// The approved rate from `base` to `quote` in force at `at`.
pub fn in_force(
    sql: &mut dyn Sql,
    base: Currency,
    quote: Currency,
    at: i64,
) -> Result<Rate, RatesError> {
    let date = calendar::format_date(at);
    let no_rate = || RatesError::NoRate {
        base: base.code().to_owned(),
        quote: quote.code().to_owned(),
        date: date.clone(),
    };
    let row = rows::rate_in_force(sql, base.code(), quote.code(), &date)?.ok_or_else(no_rate)?;
    Rate::parse(base, quote, &row.rate)
        .map_err(|e| StorageError::corrupt("exchange_rates.rate", e).into())
}
