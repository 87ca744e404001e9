//! The ledger's rows: accounts and transfers (`src/ledger/` holds the
//! rules; this file only reads and writes rows).
//!
//! A batch reads the accounts and transfers it names with fixed-size
//! `IN (…)` lists and writes its transfers with multi-row `INSERT`s, each
//! statement built once (a `OnceLock`) like every other query.

use std::sync::OnceLock;

use lastmile_shared::money::Currency;

use super::StorageError;
use super::sql::{Dialect, Page, Row, Sql, Value, placeholders, values_list};
use crate::ledger::account::{Account, AccountId, AccountKind, Balances, Flags};
use crate::ledger::transfer::{PendingState, Phase, Transfer, TransferCode, TransferId};

type Res<T> = Result<T, StorageError>;

/// Ids looked up by one `IN (…)`.
const LOOKUP_ROWS: usize = 256;
/// Transfers written by one `INSERT`, largest first (a batch's remainder
/// goes in the smaller statements).
const INSERT_ROWS: [usize; 3] = [256, 16, 1];

const ACCOUNT_COLUMNS: &str = "account, kind, currency, flags, programme, debits_pending, \
     debits_posted, credits_pending, credits_posted";
const TRANSFER_COLUMNS: &str = "transfer, seq, debit_account, credit_account, amount, currency, \
     code, phase, pending_transfer, timeout_at, state, cause_kind, cause_id, actor, at";
const TRANSFER_COLUMN_COUNT: usize = 15;

fn account_row(row: &Row) -> Res<Account> {
    let id = AccountId::parse(&row.text(0)?)
        .map_err(|e| StorageError::corrupt("ledger_accounts.account", e))?;
    let kind = AccountKind::parse(&row.text(1)?).ok_or_else(|| {
        StorageError::corrupt("ledger_accounts.kind", row.text(1).unwrap_or_default())
    })?;
    let flags = Flags::from_bits(row.int(3)?).ok_or_else(|| {
        StorageError::corrupt("ledger_accounts.flags", row.int(3).unwrap_or_default())
    })?;
    Ok(Account {
        id,
        kind,
        currency: Currency::parse(&row.text(2)?)?,
        flags,
        programme: row.opt_text(4)?,
        balances: Balances {
            debits_pending: row.int(5)?,
            debits_posted: row.int(6)?,
            credits_pending: row.int(7)?,
            credits_posted: row.int(8)?,
        },
    })
}

fn transfer_row(row: &Row) -> Res<Transfer> {
    let corrupt = |what: &'static str, detail: String| StorageError::corrupt(what, detail);
    let id = |index: usize, what: &'static str| -> Res<TransferId> {
        TransferId::parse(&row.text(index)?).map_err(|e| corrupt(what, e.to_string()))
    };
    let account = |index: usize, what: &'static str| -> Res<AccountId> {
        AccountId::parse(&row.text(index)?).map_err(|e| corrupt(what, e.to_string()))
    };
    let code = row.text(6)?;
    let phase = match row.text(7)?.as_str() {
        "single" => Phase::Single,
        "pending" => Phase::Pending {
            timeout_at: row.opt_int(9)?,
        },
        "post" => Phase::Post {
            pending: id(8, "ledger_transfers.pending_transfer")?,
        },
        "void" => Phase::Void {
            pending: id(8, "ledger_transfers.pending_transfer")?,
        },
        other => return Err(corrupt("ledger_transfers.phase", other.to_owned())),
    };
    let state = match row.opt_text(10)? {
        None => None,
        Some(text) => Some(
            PendingState::parse(&text).ok_or_else(|| corrupt("ledger_transfers.state", text))?,
        ),
    };
    Ok(Transfer {
        id: id(0, "ledger_transfers.transfer")?,
        seq: super::seq_from(row.int(1)?)?,
        debit: account(2, "ledger_transfers.debit_account")?,
        credit: account(3, "ledger_transfers.credit_account")?,
        amount: row.int(4)?,
        currency: Currency::parse(&row.text(5)?)?,
        code: TransferCode::parse(&code).ok_or_else(|| corrupt("ledger_transfers.code", code))?,
        phase,
        state,
        cause_kind: row.opt_text(11)?,
        cause_id: row.opt_text(12)?,
        actor: row.opt_text(13)?,
        at: row.int(14)?,
    })
}

/// Opens accounts that do not exist yet; returns the existing ones whose
/// kind, currency, flags or programme differ from what was asked.
pub fn open_accounts(sql: &mut dyn Sql, accounts: &[Account], now: i64) -> Res<Vec<Account>> {
    let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    let existing = accounts_by_id(sql, &ids, false)?;
    let mut differing = Vec::new();
    for account in accounts {
        match existing.iter().find(|e| e.id == account.id) {
            Some(found) => {
                if found.kind != account.kind
                    || found.currency != account.currency
                    || found.flags != account.flags
                    || found.programme != account.programme
                {
                    differing.push(found.clone());
                }
            }
            None => {
                sql.execute(
                    "INSERT INTO ledger_accounts (account, kind, currency, flags, programme,
                         opened_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account) DO NOTHING",
                    &[
                        account.id.as_str().into(),
                        account.kind.as_str().into(),
                        account.currency.code().into(),
                        account.flags.bits().into(),
                        account.programme.clone().into(),
                        now.into(),
                    ],
                )?;
            }
        }
    }
    Ok(differing)
}

/// The accounts with these ids (those that exist), in id order; with
/// `lock`, each row is locked for the rest of the transaction on
/// PostgreSQL (SQLite's writer already holds the database), in id order so
/// that two batches never wait on each other in a cycle.
pub fn accounts_by_id(sql: &mut dyn Sql, ids: &[&str], lock: bool) -> Res<Vec<Account>> {
    static PLAIN: OnceLock<String> = OnceLock::new();
    static LOCKED: OnceLock<String> = OnceLock::new();
    let select = |suffix: &str| {
        format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE account IN ({}) \
             ORDER BY account{suffix}",
            placeholders(1, LOOKUP_ROWS)
        )
    };
    let query = if lock && sql.dialect() == Dialect::Postgres {
        LOCKED.get_or_init(|| select(" FOR UPDATE"))
    } else {
        PLAIN.get_or_init(|| select(""))
    };
    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::with_capacity(sorted.len());
    for chunk in sorted.chunks(LOOKUP_ROWS) {
        let mut params: Vec<Value> = chunk.iter().map(|id| (*id).into()).collect();
        params.resize(LOOKUP_ROWS, Value::Null);
        for row in sql.query("ledger_accounts", query, &params)? {
            out.push(account_row(&row)?);
        }
    }
    Ok(out)
}

/// The transfers with these ids (those that exist).
pub fn transfers_by_id(sql: &mut dyn Sql, ids: &[&str]) -> Res<Vec<Transfer>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE transfer IN ({})",
            placeholders(1, LOOKUP_ROWS)
        )
    });
    let mut out = Vec::new();
    for chunk in ids.chunks(LOOKUP_ROWS) {
        let mut params: Vec<Value> = chunk.iter().map(|id| (*id).into()).collect();
        params.resize(LOOKUP_ROWS, Value::Null);
        for row in sql.query("ledger_transfers", query, &params)? {
            out.push(transfer_row(&row)?);
        }
    }
    Ok(out)
}

fn transfer_values(t: &Transfer, out: &mut Vec<Value>) {
    let timeout = match t.phase {
        Phase::Pending { timeout_at } => timeout_at,
        _ => None,
    };
    out.extend([
        t.id.as_str().into(),
        Value::Int(super::seq_to(t.seq)),
        t.debit.as_str().into(),
        t.credit.as_str().into(),
        t.amount.into(),
        t.currency.code().into(),
        t.code.as_str().into(),
        t.phase.as_str().into(),
        t.phase.pending_id().map(TransferId::as_str).into(),
        timeout.into(),
        t.state.map(PendingState::as_str).into(),
        t.cause_kind.as_deref().into(),
        t.cause_id.as_deref().into(),
        t.actor.as_deref().into(),
        t.at.into(),
    ]);
}

/// Runs one statement per chunk of `items`, largest chunks first: each of
/// `statements` takes the matching [`INSERT_ROWS`] count of items, each
/// item binding `fill`'s values.
fn chunked<T>(
    sql: &mut dyn Sql,
    statements: &'static [String],
    items: &[T],
    columns: usize,
    fill: impl Fn(&T, &mut Vec<Value>),
) -> Res<()> {
    let mut rest = items;
    let mut values = Vec::with_capacity(INSERT_ROWS[0] * columns);
    for (rows, statement) in INSERT_ROWS.iter().zip(statements) {
        while rest.len() >= *rows {
            let (chunk, tail) = rest.split_at(*rows);
            values.clear();
            for item in chunk {
                fill(item, &mut values);
            }
            sql.execute(statement, &values)?;
            rest = tail;
        }
    }
    Ok(())
}

/// Writes new transfers.
pub fn insert_transfers(sql: &mut dyn Sql, transfers: &[Transfer]) -> Res<()> {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        let head = format!("INSERT INTO ledger_transfers ({TRANSFER_COLUMNS}) VALUES ");
        INSERT_ROWS
            .iter()
            .map(|rows| values_list(&head, TRANSFER_COLUMN_COUNT, *rows))
            .collect()
    });
    chunked(
        sql,
        statements,
        transfers,
        TRANSFER_COLUMN_COUNT,
        transfer_values,
    )
}

/// Records what became of pending transfers.
pub fn resolve_pending(sql: &mut dyn Sql, resolved: &[(TransferId, PendingState)]) -> Res<()> {
    for (id, state) in resolved {
        sql.execute(
            "UPDATE ledger_transfers SET state = $2 WHERE transfer = $1",
            &[id.as_str().into(), state.as_str().into()],
        )?;
    }
    Ok(())
}

/// Writes accounts' new balances, many accounts to a statement: a list of
/// values joined to the table (`UPDATE … FROM`, which both databases speak;
/// the casts tell PostgreSQL the values' types).
pub fn update_balances(sql: &mut dyn Sql, accounts: &[Account]) -> Res<()> {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        INSERT_ROWS
            .iter()
            .map(|rows| {
                let values: Vec<String> = (0..*rows)
                    .map(|row| {
                        let n = row * 5;
                        format!(
                            "(CAST(${} AS TEXT), CAST(${} AS BIGINT), CAST(${} AS BIGINT), \
                             CAST(${} AS BIGINT), CAST(${} AS BIGINT))",
                            n + 1,
                            n + 2,
                            n + 3,
                            n + 4,
                            n + 5
                        )
                    })
                    .collect();
                format!(
                    "WITH moved (account, dp, dpost, cp, cpost) AS (VALUES {})
                     UPDATE ledger_accounts SET debits_pending = moved.dp,
                         debits_posted = moved.dpost, credits_pending = moved.cp,
                         credits_posted = moved.cpost
                     FROM moved WHERE ledger_accounts.account = moved.account",
                    values.join(", ")
                )
            })
            .collect()
    });
    chunked(sql, statements, accounts, 5, |a, out| {
        let b = a.balances;
        out.extend([
            a.id.as_str().into(),
            b.debits_pending.into(),
            b.debits_posted.into(),
            b.credits_pending.into(),
            b.credits_posted.into(),
        ]);
    })
}

/// Reserves `count` positions in the ledger's order; returns the first.
pub fn reserve_seqs(sql: &mut dyn Sql, count: u64) -> Res<u64> {
    let row = sql.query_one(
        "counters",
        "INSERT INTO counters (name, value) VALUES ('ledger_transfers', $1)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + $1 RETURNING value",
        &[Value::Int(super::seq_to(count))],
    )?;
    let last = super::seq_from(row.int(0)?)?;
    Ok(last + 1 - count)
}

/// Pending transfers whose timeout is at or before `now`, oldest first.
pub fn due_pending(sql: &mut dyn Sql, now: i64, limit: u32) -> Res<Vec<Transfer>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers
             WHERE state = 'pending' AND timeout_at <= $1 ORDER BY timeout_at, seq LIMIT $2"
        )
    });
    sql.query(
        "ledger_transfers",
        query,
        &[now.into(), i64::from(limit).into()],
    )?
    .iter()
    .map(transfer_row)
    .collect()
}

/// Every account, by id (a page of them).
pub fn accounts(sql: &mut dyn Sql, programme: Option<&str>, page: Page) -> Res<Vec<Account>> {
    static ALL: OnceLock<String> = OnceLock::new();
    static OF: OnceLock<String> = OnceLock::new();
    let [limit, offset] = page.params();
    let rows = match programme {
        None => {
            let query = ALL.get_or_init(|| {
                format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts ORDER BY account
                     LIMIT $1 OFFSET $2"
                )
            });
            sql.query("ledger_accounts", query, &[limit, offset])?
        }
        Some(programme) => {
            let query = OF.get_or_init(|| {
                format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE programme = $3
                     ORDER BY account LIMIT $1 OFFSET $2"
                )
            });
            sql.query("ledger_accounts", query, &[limit, offset, programme.into()])?
        }
    };
    rows.iter().map(account_row).collect()
}

/// Per currency, the number of accounts (all, or one programme's) and the
/// sums of their balances: `(currency, accounts, [debits pending, debits
/// posted, credits pending, credits posted])`, by currency.
pub fn currency_totals(
    sql: &mut dyn Sql,
    programme: Option<&str>,
) -> Res<Vec<(String, u64, [i64; 4])>> {
    const SUMS: &str = "SELECT currency, count(*), CAST(sum(debits_pending) AS BIGINT),
         CAST(sum(debits_posted) AS BIGINT), CAST(sum(credits_pending) AS BIGINT),
         CAST(sum(credits_posted) AS BIGINT) FROM ledger_accounts";
    static ALL: OnceLock<String> = OnceLock::new();
    static OF: OnceLock<String> = OnceLock::new();
    let rows = match programme {
        None => {
            let query = ALL.get_or_init(|| format!("{SUMS} GROUP BY currency ORDER BY currency"));
            sql.query("ledger_accounts", query, &[])?
        }
        Some(programme) => {
            let query = OF.get_or_init(|| {
                format!("{SUMS} WHERE programme = $1 GROUP BY currency ORDER BY currency")
            });
            sql.query("ledger_accounts", query, &[programme.into()])?
        }
    };
    rows.iter()
        .map(|r| {
            Ok((
                r.text(0)?,
                super::seq_from(r.int(1)?)?,
                [r.int(2)?, r.int(3)?, r.int(4)?, r.int(5)?],
            ))
        })
        .collect()
}

/// An account's transfers, newest first, before position `before` (all
/// when `None`).
pub fn history(
    sql: &mut dyn Sql,
    account: &AccountId,
    before: Option<u64>,
    limit: u32,
) -> Res<Vec<Transfer>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {TRANSFER_COLUMNS} FROM (
                 SELECT {TRANSFER_COLUMNS} FROM ledger_transfers
                     WHERE debit_account = $1 AND seq < $2
                 UNION ALL
                 SELECT {TRANSFER_COLUMNS} FROM ledger_transfers
                     WHERE credit_account = $1 AND seq < $2
             ) AS t ORDER BY seq DESC LIMIT $3"
        )
    });
    let before = before.map_or(i64::MAX, super::seq_to);
    sql.query(
        "ledger_transfers",
        query,
        &[
            account.as_str().into(),
            before.into(),
            i64::from(limit).into(),
        ],
    )?
    .iter()
    .map(transfer_row)
    .collect()
}

/// The transfers that record changes of one object.
pub fn transfers_of(sql: &mut dyn Sql, kind: &str, id: &str, limit: u32) -> Res<Vec<Transfer>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers
             WHERE cause_kind = $1 AND cause_id = $2 ORDER BY seq LIMIT $3"
        )
    });
    sql.query(
        "ledger_transfers",
        query,
        &[kind.into(), id.into(), i64::from(limit).into()],
    )?
    .iter()
    .map(transfer_row)
    .collect()
}

/// Per account, the sums of its transfers as recorded, for verification:
/// `(account, debits pending, debits posted, credits pending, credits
/// posted)`, each from the transfers themselves, not the balance columns.
/// A pending transfer counts while it is pending; a post counts as posted.
pub fn sums_by_account(sql: &mut dyn Sql) -> Res<Vec<(String, [i64; 4])>> {
    let rows = sql.query(
        "ledger_transfers",
        "SELECT account, CAST(sum(dp) AS BIGINT), CAST(sum(dpost) AS BIGINT),
             CAST(sum(cp) AS BIGINT), CAST(sum(cpost) AS BIGINT) FROM (
             SELECT debit_account AS account,
                 CASE WHEN phase = 'pending' AND state = 'pending' THEN amount ELSE 0 END AS dp,
                 CASE WHEN phase IN ('single', 'post') THEN amount ELSE 0 END AS dpost,
                 0 AS cp, 0 AS cpost
             FROM ledger_transfers
             UNION ALL
             SELECT credit_account,
                 0, 0,
                 CASE WHEN phase = 'pending' AND state = 'pending' THEN amount ELSE 0 END,
                 CASE WHEN phase IN ('single', 'post') THEN amount ELSE 0 END
             FROM ledger_transfers
         ) AS legs GROUP BY account ORDER BY account",
        &[],
    )?;
    rows.iter()
        .map(|r| Ok((r.text(0)?, [r.int(1)?, r.int(2)?, r.int(3)?, r.int(4)?])))
        .collect()
}

/// Posts whose amount exceeds their pending transfer's, and posts or
/// voids of a pending transfer that is not marked as such: `(transfer,
/// what is wrong)`.
pub fn broken_resolutions(sql: &mut dyn Sql, limit: u32) -> Res<Vec<(String, String)>> {
    let rows = sql.query(
        "ledger_transfers",
        "SELECT r.transfer, r.phase, r.amount, p.amount, p.state, p.phase
         FROM ledger_transfers r LEFT JOIN ledger_transfers p ON p.transfer = r.pending_transfer
         WHERE r.phase IN ('post', 'void')
           AND (p.transfer IS NULL OR p.phase <> 'pending' OR r.amount > p.amount
                OR (r.phase = 'post' AND p.state <> 'posted')
                OR (r.phase = 'void' AND p.state <> 'voided'))
         ORDER BY r.seq LIMIT $1",
        &[i64::from(limit).into()],
    )?;
    rows.iter()
        .map(|r| {
            let detail = match r.opt_int(3)? {
                None => "its pending transfer does not exist".to_owned(),
                Some(pending) => format!(
                    "{} of {} against a {} transfer of {} marked {}",
                    r.text(1)?,
                    r.int(2)?,
                    r.opt_text(5)?.unwrap_or_default(),
                    pending,
                    r.opt_text(4)?.unwrap_or_else(|| "nothing".to_owned())
                ),
            };
            Ok((r.text(0)?, detail))
        })
        .collect()
}

/// Every account whose balances or flags are to be checked, in id order,
/// a page at a time.
pub fn all_accounts_after(sql: &mut dyn Sql, after: &str, limit: u32) -> Res<Vec<Account>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE account > $1
             ORDER BY account LIMIT $2"
        )
    });
    sql.query(
        "ledger_accounts",
        query,
        &[after.into(), i64::from(limit).into()],
    )?
    .iter()
    .map(account_row)
    .collect()
}

/// Transfers whose currency is not that of an account they move money
/// between: `(transfer, account)`.
pub fn currency_mismatches(sql: &mut dyn Sql, limit: u32) -> Res<Vec<(String, String)>> {
    let rows = sql.query(
        "ledger_transfers",
        "SELECT t.transfer, a.account FROM ledger_transfers t
         JOIN ledger_accounts a ON a.account IN (t.debit_account, t.credit_account)
         WHERE a.currency <> t.currency ORDER BY t.seq LIMIT $1",
        &[i64::from(limit).into()],
    )?;
    rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect()
}

/// How many transfers the ledger holds.
pub fn transfer_count(sql: &mut dyn Sql) -> Res<u64> {
    let row = sql.query_one(
        "ledger_transfers",
        "SELECT count(*) FROM ledger_transfers",
        &[],
    )?;
    super::seq_from(row.int(0)?)
}

/// The cycle period each of these released credentials (voucher or roster
/// entitlement ids) came from, for those the registry released.
pub fn cycle_periods(
    sql: &mut dyn Sql,
    references: &[&str],
) -> Res<std::collections::HashMap<String, String>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT e.reference, c.period FROM cycle_entitlements e
             JOIN cycles c ON c.id = e.cycle WHERE e.reference IN ({})",
            placeholders(1, LOOKUP_ROWS)
        )
    });
    let mut out = std::collections::HashMap::new();
    for chunk in references.chunks(LOOKUP_ROWS) {
        let mut params: Vec<Value> = chunk.iter().map(|id| (*id).into()).collect();
        params.resize(LOOKUP_ROWS, Value::Null);
        for row in sql.query("cycle_entitlements", query, &params)? {
            out.insert(row.text(0)?, row.text(1)?);
        }
    }
    Ok(out)
}

/// A cycle's approved entitlements' total per currency.
pub fn approved_totals(sql: &mut dyn Sql, cycle: i64) -> Res<Vec<lastmile_shared::money::Money>> {
    let rows = sql.query(
        "cycle_entitlements",
        "SELECT currency, CAST(sum(amount_minor) AS BIGINT) FROM cycle_entitlements
         WHERE cycle = $1 AND state = 'approved' GROUP BY currency ORDER BY currency",
        &[cycle.into()],
    )?;
    rows.iter()
        .map(|r| super::money(r.int(1)?, &r.text(0)?))
        .collect()
}

/// An exchange rate as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RateRow {
    pub id: i64,
    pub rate_set: i64,
    pub base: String,
    pub quote: String,
    pub rate: String,
    pub effective_from: String,
    pub source: String,
    pub state: String,
    pub entered_by: String,
    pub entered_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

const RATE_COLUMNS: &str = "id, rate_set, base, quote, rate, effective_from, source, state, \
     entered_by, entered_at, decided_by, decided_at";

fn rate_row(r: &Row) -> Res<RateRow> {
    Ok(RateRow {
        id: r.int(0)?,
        rate_set: r.int(1)?,
        base: r.text(2)?,
        quote: r.text(3)?,
        rate: r.text(4)?,
        effective_from: r.text(5)?,
        source: r.text(6)?,
        state: r.text(7)?,
        entered_by: r.text(8)?,
        entered_at: r.int(9)?,
        decided_by: r.opt_text(10)?,
        decided_at: r.opt_int(11)?,
    })
}

pub fn insert_rate(sql: &mut dyn Sql, row: &RateRow) -> Res<()> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "INSERT INTO exchange_rates ({RATE_COLUMNS}) VALUES ({})",
            placeholders(1, 12)
        )
    });
    sql.execute(
        query,
        &[
            row.id.into(),
            row.rate_set.into(),
            row.base.as_str().into(),
            row.quote.as_str().into(),
            row.rate.as_str().into(),
            row.effective_from.as_str().into(),
            row.source.as_str().into(),
            row.state.as_str().into(),
            row.entered_by.as_str().into(),
            row.entered_at.into(),
            row.decided_by.clone().into(),
            row.decided_at.into(),
        ],
    )?;
    Ok(())
}

/// A set's rates, by pair and date.
pub fn rate_set(sql: &mut dyn Sql, rate_set: i64) -> Res<Vec<RateRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {RATE_COLUMNS} FROM exchange_rates WHERE rate_set = $1
             ORDER BY base, quote, effective_from"
        )
    });
    sql.query("exchange_rates", query, &[rate_set.into()])?
        .iter()
        .map(rate_row)
        .collect()
}

/// Decides a proposed set; returns how many rates it held.
pub fn decide_rate_set(
    sql: &mut dyn Sql,
    rate_set: i64,
    state: &str,
    by: &str,
    now: i64,
) -> Res<u64> {
    sql.execute(
        "UPDATE exchange_rates SET state = $2, decided_by = $3, decided_at = $4
         WHERE rate_set = $1 AND state = 'proposed'",
        &[rate_set.into(), state.into(), by.into(), now.into()],
    )
}

/// The approved rate for a pair in force on `date` (`YYYY-MM-DD`): the
/// latest approved one from that day or before (the last approved wins a tie).
pub fn rate_in_force(
    sql: &mut dyn Sql,
    base: &str,
    quote: &str,
    date: &str,
) -> Res<Option<RateRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {RATE_COLUMNS} FROM exchange_rates
             WHERE base = $1 AND quote = $2 AND state = 'approved' AND effective_from <= $3
             ORDER BY effective_from DESC, decided_at DESC, id DESC LIMIT 1"
        )
    });
    sql.query_opt(
        "exchange_rates",
        query,
        &[base.into(), quote.into(), date.into()],
    )?
    .map(|r| rate_row(&r))
    .transpose()
}

/// A page of rates, newest entered first.
pub fn rates(sql: &mut dyn Sql, page: Page) -> Res<Vec<RateRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!("SELECT {RATE_COLUMNS} FROM exchange_rates ORDER BY id DESC LIMIT $1 OFFSET $2")
    });
    let [limit, offset] = page.params();
    sql.query("exchange_rates", query, &[limit, offset])?
        .iter()
        .map(rate_row)
        .collect()
}
