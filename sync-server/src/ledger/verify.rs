//! `lastmile-server ledger verify`: the ledger's invariants over the whole
//! database, recomputed from the transfers rather than trusted from the
//! balance columns.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::storage::StorageError;
use crate::storage::ledger as rows;
use crate::storage::sql::Sql;

/// Most problems one report lists (the count is always whole).
pub const PROBLEMS_LISTED_MAX: usize = 100;
/// Accounts read per query.
const ACCOUNTS_PAGE: u32 = 500;

/// One currency's totals over every account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CurrencyTotals {
    pub currency: String,
    pub accounts: u64,
    pub debits_pending: i128,
    pub credits_pending: i128,
    pub debits_posted: i128,
    pub credits_posted: i128,
}

/// What verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub accounts: u64,
    pub transfers: u64,
    pub currencies: Vec<CurrencyTotals>,
    /// How many problems there are.
    pub problem_count: u64,
    /// The first [`PROBLEMS_LISTED_MAX`] of them.
    pub problems: Vec<String>,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_LISTED_MAX {
            self.problems.push(text);
        }
    }
}

/// Checks every invariant: per currency debits equal credits (pending and
/// posted); no flagged account beyond its flags and no balance negative;
/// every account's balances equal the sums of its transfers; a post never
/// exceeds its pending transfer, and each pending transfer is marked with
/// what resolved it; a transfer's currency is that of both its accounts.
pub fn verify(sql: &mut dyn Sql) -> Result<Report, StorageError> {
    let mut report = Report {
        transfers: rows::transfer_count(sql)?,
        ..Report::default()
    };
    let mut sums: HashMap<String, [i64; 4]> = rows::sums_by_account(sql)?.into_iter().collect();
    let mut currencies: BTreeMap<String, CurrencyTotals> = BTreeMap::new();
    let mut after = String::new();
    loop {
        let page = rows::all_accounts_after(sql, &after, ACCOUNTS_PAGE)?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id.as_str().to_owned();
        for account in page {
            report.accounts += 1;
            let b = account.balances;
            let totals = currencies
                .entry(account.currency.code().to_owned())
                .or_insert_with(|| CurrencyTotals {
                    currency: account.currency.code().to_owned(),
                    ..CurrencyTotals::default()
                });
            totals.accounts += 1;
            totals.debits_pending += i128::from(b.debits_pending);
            totals.credits_pending += i128::from(b.credits_pending);
            totals.debits_posted += i128::from(b.debits_posted);
            totals.credits_posted += i128::from(b.credits_posted);
            if let Some(broken) = b.breaks(account.flags) {
                report.problem(format!("{}: {broken}", account.id));
            }
            let [dp, dpost, cp, cpost] = sums.remove(account.id.as_str()).unwrap_or_default();
            let recorded = [
                b.debits_pending,
                b.debits_posted,
                b.credits_pending,
                b.credits_posted,
            ];
            if recorded != [dp, dpost, cp, cpost] {
                report.problem(format!(
                    "{}: balances {recorded:?} (debits pending, posted; credits pending, \
                     posted) but its transfers sum to {:?}",
                    account.id,
                    [dp, dpost, cp, cpost]
                ));
            }
        }
    }
    let mut orphans: Vec<&String> = sums.keys().collect();
    orphans.sort();
    for account in orphans {
        report.problem(format!("transfers name {account}, which does not exist"));
    }
    for totals in currencies.values() {
        if totals.debits_posted != totals.credits_posted
            || totals.debits_pending != totals.credits_pending
        {
            report.problem(format!(
                "{}: debits {} posted / {} pending but credits {} posted / {} pending",
                totals.currency,
                totals.debits_posted,
                totals.debits_pending,
                totals.credits_posted,
                totals.credits_pending
            ));
        }
    }
    report.currencies = currencies.into_values().collect();
    let limit = PROBLEMS_LISTED_MAX as u32;
    for (transfer, detail) in rows::broken_resolutions(sql, limit)? {
        report.problem(format!("{transfer}: {detail}"));
    }
    for (transfer, account) in rows::currency_mismatches(sql, limit)? {
        report.problem(format!("{transfer}: its currency is not that of {account}"));
    }
    Ok(report)
}
