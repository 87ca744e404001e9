//! What the ledger says, for people: the trial balance, a programme's
//! statement per currency and per cycle, and an account's history.

use std::collections::BTreeMap;

use serde::Serialize;

use super::account::{Account, AccountId, AccountKind};
use super::transfer::Transfer;
use crate::storage::StorageError;
use crate::storage::ledger as rows;
use crate::storage::sql::{Page, Sql};

/// One account's line in the trial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub account: AccountId,
    pub kind: AccountKind,
    pub currency: String,
    pub programme: Option<String>,
    pub debits_posted: i64,
    pub credits_posted: i64,
    pub debits_pending: i64,
    pub credits_pending: i64,
    /// Posted credits minus posted debits, in minor units.
    pub balance: i64,
}

impl From<Account> for Line {
    fn from(a: Account) -> Self {
        let b = a.balances;
        Self {
            balance: a.credit_balance().minor,
            account: a.id,
            kind: a.kind,
            currency: a.currency.code().to_owned(),
            programme: a.programme,
            debits_posted: b.debits_posted,
            credits_posted: b.credits_posted,
            debits_pending: b.debits_pending,
            credits_pending: b.credits_pending,
        }
    }
}

/// A page of accounts (all, or one programme's), by id.
pub fn lines(
    sql: &mut dyn Sql,
    programme: Option<&str>,
    page: Page,
) -> Result<Vec<Line>, StorageError> {
    Ok(rows::accounts(sql, programme, page)?
        .into_iter()
        .map(Line::from)
        .collect())
}

/// One currency's sums over the accounts of a trial balance: debits equal
/// credits, pending and posted, when the ledger holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub currency: String,
    pub accounts: u64,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl Totals {
    /// Whether the debits equal the credits, pending and posted (over one
    /// programme's accounts they need not: its funding source is not its own).
    pub fn balanced(&self) -> bool {
        self.debits_pending == self.credits_pending && self.debits_posted == self.credits_posted
    }
}

/// Per currency, the sums of every account's balances (or one programme's).
pub fn totals(sql: &mut dyn Sql, programme: Option<&str>) -> Result<Vec<Totals>, StorageError> {
    Ok(rows::currency_totals(sql, programme)?
        .into_iter()
        .map(|(currency, accounts, [dp, dpost, cp, cpost])| Totals {
            currency,
            accounts,
            debits_pending: dp,
            debits_posted: dpost,
            credits_pending: cp,
            credits_posted: cpost,
        })
        .collect())
}

/// Where a programme's money stands in one currency, or one cycle's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub currency: String,
    /// Paid into the budget by fundings.
    pub funded: i64,
    /// Bought into this currency's budget by conversions.
    pub converted_in: i64,
    /// Sold from this currency's budget by conversions.
    pub converted_out: i64,
    /// Committed to obligations by approved cycles and issued credentials.
    pub committed: i64,
    /// Delivered: redeemed at merchants, paid out in cash, confirmed by a rail.
    pub delivered: i64,
    /// Handed to a rail and not yet confirmed or failed.
    pub in_flight: i64,
    /// Committed and not yet delivered or in flight.
    pub outstanding: i64,
    /// In the budget and not committed (negative when committed beyond it).
    pub available: i64,
    #[serde(skip)]
    budget_credits: i64,
    #[serde(skip)]
    budget_debits: i64,
}

/// A programme's statement: per currency, and per cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub programme: String,
    pub currencies: Vec<Standing>,
    /// By cycle period (`direct` for credentials issued outside a cycle).
    pub cycles: BTreeMap<String, Vec<Standing>>,
}

/// Most accounts a statement reads (a programme has a budget and one
/// obligations account per cycle and currency, and one delivered account).
pub const STATEMENT_ACCOUNTS_MAX: u32 = 5_000;

pub fn statement(sql: &mut dyn Sql, programme: &str) -> Result<Statement, StorageError> {
    let accounts = rows::accounts(
        sql,
        Some(programme),
        Page {
            limit: STATEMENT_ACCOUNTS_MAX,
            offset: 0,
        },
    )?;
    let mut currencies: BTreeMap<String, Standing> = BTreeMap::new();
    let mut cycles: BTreeMap<String, BTreeMap<String, Standing>> = BTreeMap::new();
    for account in &accounts {
        let code = account.currency.code().to_owned();
        let b = account.balances;
        let standing = currencies.entry(code.clone()).or_insert_with(|| Standing {
            currency: code.clone(),
            ..Standing::default()
        });
        match account.kind {
            AccountKind::Budget => {
                standing.budget_credits += b.credits_posted;
                standing.budget_debits += b.debits_posted;
            }
            AccountKind::Exchange => {
                standing.converted_in += b.debits_posted;
                standing.converted_out += b.credits_posted;
            }
            AccountKind::Obligations => {
                let parts: Vec<&str> = account.id.as_str().split('/').collect();
                let period = parts.get(2).copied().unwrap_or("").to_owned();
                let add = |s: &mut Standing| {
                    s.committed += b.credits_posted;
                    s.delivered += b.debits_posted;
                    s.in_flight += b.debits_pending;
                };
                add(standing);
                let cycle = cycles
                    .entry(period)
                    .or_default()
                    .entry(code.clone())
                    .or_insert_with(|| Standing {
                        currency: code.clone(),
                        ..Standing::default()
                    });
                add(cycle);
            }
            _ => {}
        }
    }
    let finish = |mut s: Standing| {
        s.outstanding = s.committed - s.delivered - s.in_flight;
        s.funded = s.budget_credits - s.converted_in;
        s.available = s.budget_credits - s.budget_debits;
        s
    };
    Ok(Statement {
        programme: programme.to_owned(),
        currencies: currencies.into_values().map(finish).collect(),
        cycles: cycles
            .into_iter()
            .map(|(period, by)| {
                let mut standings: Vec<Standing> = by.into_values().map(finish).collect();
                for s in &mut standings {
                    // A cycle has no budget of its own.
                    s.available = 0;
                }
                (period, standings)
            })
            .collect(),
    })
}

/// Most transfers one history page returns.
pub const HISTORY_ROWS_MAX: u32 = 500;

/// An account's transfers, newest first, before position `before`.
pub fn history(
    sql: &mut dyn Sql,
    account: &AccountId,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<Transfer>, StorageError> {
    rows::history(sql, account, before, limit.clamp(1, HISTORY_ROWS_MAX))
}
