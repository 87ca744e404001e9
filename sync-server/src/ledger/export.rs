//! The trial balance and an account's history as CSV files, for people to
//! open in a spreadsheet. Amounts are decimal text in major units beside
//! their currency code (`1250.50`, `KES`), never floats; a text cell (an
//! id, a cause, a person) goes through [`spreadsheet::cell`] so that none
//! runs as a formula. Amounts do not: they are digits with at most a
//! leading minus, which a spreadsheet reads as a number, and quoting them
//! would turn a debit into text.
//!
//! A file holds at most [`EXPORT_ROWS_MAX`] rows; when there are more, the
//! export says where the next file starts ([`Export::next`]).

use lastmile_shared::money::{Currency, Money};

use super::account::AccountId;
use super::report::{self, HISTORY_ROWS_MAX};
use super::transfer::Transfer;
use crate::spreadsheet;
use crate::storage::StorageError;
use crate::storage::sql::{PAGE_ROWS_MAX, Page, Sql};

/// Most rows (accounts or transfers) one file holds.
pub const EXPORT_ROWS_MAX: usize = 20_000;

/// The trial balance's columns.
pub const TRIAL_BALANCE_HEADER: [&str; 9] = [
    "account",
    "kind",
    "programme",
    "currency",
    "debits_pending",
    "debits_posted",
    "credits_pending",
    "credits_posted",
    "balance",
];

/// An account history's columns.
pub const HISTORY_HEADER: [&str; 14] = [
    "seq",
    "transfer",
    "at_utc",
    "code",
    "phase",
    "state",
    "side",
    "counter_account",
    "amount",
    "currency",
    "cause_kind",
    "cause_id",
    "actor",
    "pending_transfer",
];

/// A CSV file, and where the next one starts if this one is full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub csv: Vec<u8>,
    pub rows: usize,
    /// The offset (trial balance) or `before` position (history) of the
    /// next file, when this one stopped at [`EXPORT_ROWS_MAX`].
    pub next: Option<u64>,
}

fn decimal(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).decimal()
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::new())
}

fn finish(out: csv::Writer<Vec<u8>>, rows: usize, next: Option<u64>) -> Export {
    Export {
        // Writing into memory cannot fail; a panic here is a bug.
        csv: out.into_inner().expect("a CSV written into memory"),
        rows,
        next,
    }
}

fn write(out: &mut csv::Writer<Vec<u8>>, record: &[&str]) {
    out.write_record(record)
        .expect("a CSV record written into memory");
}

/// The trial balance (all accounts, or one programme's) from `offset`, by
/// account id.
pub fn trial_balance(
    sql: &mut dyn Sql,
    programme: Option<&str>,
    offset: u64,
) -> Result<Export, StorageError> {
    let mut out = writer();
    write(&mut out, &TRIAL_BALANCE_HEADER);
    let mut rows = 0;
    let mut at = offset;
    loop {
        let room = (EXPORT_ROWS_MAX - rows).min(PAGE_ROWS_MAX as usize) as u32;
        let page = report::lines(
            sql,
            programme,
            Page {
                limit: room,
                offset: at,
            },
        )?;
        for line in &page {
            let currency = Currency::parse(&line.currency)?;
            let money = |minor| decimal(minor, currency);
            write(
                &mut out,
                &[
                    &spreadsheet::cell(line.account.as_str()),
                    line.kind.as_str(),
                    &spreadsheet::cell(line.programme.as_deref().unwrap_or("")),
                    currency.code(),
                    &money(line.debits_pending),
                    &money(line.debits_posted),
                    &money(line.credits_pending),
                    &money(line.credits_posted),
                    &money(line.balance),
                ],
            );
        }
        rows += page.len();
        at += page.len() as u64;
        if page.len() < room as usize {
            return Ok(finish(out, rows, None));
        }
        if rows == EXPORT_ROWS_MAX {
            let more = !report::lines(sql, programme, Page::new(Some(1), Some(at)))?.is_empty();
            return Ok(finish(out, rows, more.then_some(at)));
        }
    }
}

/// One transfer as a history row, seen from `account`.
fn history_row(out: &mut csv::Writer<Vec<u8>>, account: &AccountId, t: &Transfer) {
    let (side, counter) = if &t.debit == account {
        ("debit", &t.credit)
    } else {
        ("credit", &t.debit)
    };
    let text = |value: Option<&str>| spreadsheet::cell(value.unwrap_or("")).into_owned();
    write(
        out,
        &[
            &t.seq.to_string(),
            &spreadsheet::cell(t.id.as_str()),
            &utc(t.at),
            t.code.as_str(),
            t.phase.as_str(),
            t.state.map_or("", |s| s.as_str()),
            side,
            &spreadsheet::cell(counter.as_str()),
            &decimal(t.amount, t.currency),
            t.currency.code(),
            &text(t.cause_kind.as_deref()),
            &text(t.cause_id.as_deref()),
            &text(t.actor.as_deref()),
            &text(t.phase.pending_id().map(|p| p.as_str())),
        ],
    );
}

/// An account's transfers, newest first, before position `before`.
pub fn history(
    sql: &mut dyn Sql,
    account: &AccountId,
    before: Option<u64>,
) -> Result<Export, StorageError> {
    let mut out = writer();
    write(&mut out, &HISTORY_HEADER);
    let mut rows = 0;
    let mut cursor = before;
    loop {
        let room = (EXPORT_ROWS_MAX - rows).min(HISTORY_ROWS_MAX as usize) as u32;
        let page = report::history(sql, account, cursor, room)?;
        for t in &page {
            history_row(&mut out, account, t);
        }
        rows += page.len();
        let Some(last) = page.last() else {
            return Ok(finish(out, rows, None));
        };
        cursor = Some(last.seq);
        if page.len() < room as usize {
            return Ok(finish(out, rows, None));
        }
        if rows == EXPORT_ROWS_MAX {
            let more = !report::history(sql, account, cursor, 1)?.is_empty();
            return Ok(finish(out, rows, cursor.filter(|_| more)));
        }
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`, which spreadsheets read as a time.
fn utc(at: i64) -> String {
    let secs = at.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        crate::calendar::format_date(at),
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::transfer::{PendingState, Phase, TransferCode, TransferId};

    #[test]
    fn a_history_row_names_the_other_side_and_keeps_text_from_running() {
        let kes = Currency::parse("KES").unwrap();
        let account = AccountId::parse("float/agent-1/KES").unwrap();
        let transfer = Transfer {
            seq: 7,
            id: TransferId::parse("cash/agent-1/3").unwrap(),
            debit: account.clone(),
            credit: AccountId::parse("handed/agent-1/KES").unwrap(),
            amount: 2_050,
            currency: kes,
            code: TransferCode::CashOut,
            phase: Phase::Pending { timeout_at: None },
            state: Some(PendingState::Posted),
            cause_kind: Some("entitlement".into()),
            cause_id: Some("=HYPERLINK(\"x\")".into()),
            actor: Some("-agent".into()),
            at: 86_400 + 3_723,
        };
        let mut out = writer();
        history_row(&mut out, &account, &transfer);
        let text = String::from_utf8(finish(out, 1, None).csv).unwrap();
        assert_eq!(
            text,
            "7,cash/agent-1/3,1970-01-02T01:02:03Z,cash_out,pending,posted,debit,\
             handed/agent-1/KES,20.50,KES,entitlement,\"'=HYPERLINK(\"\"x\"\")\",'-agent,\n"
        );
    }

    #[test]
    fn negative_amounts_stay_numbers() {
        let kes = Currency::parse("KES").unwrap();
        assert_eq!(decimal(-150, kes), "-1.50");
        assert_eq!(decimal(7, Currency::parse("XOF").unwrap()), "7");
    }
}
