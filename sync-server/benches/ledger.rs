//! Posting transfers in batches through the ledger, with every invariant
//! check on, on SQLite or PostgreSQL: the figure is transfers per second,
//! each batch one database transaction (look-ups for retries, the account
//! rows locked, the transfers written, balances updated, committed).
//!
//!   cargo bench -p lastmile-server --bench ledger
//!   LASTMILE_BENCH_BACKEND=postgres cargo bench -p lastmile-server --bench ledger
//!
//! Knobs: LASTMILE_BENCH_TRANSFERS (200 000), LASTMILE_BENCH_BATCH (1 000),
//! LASTMILE_BENCH_MERCHANTS (1 000). PostgreSQL comes from
//! LASTMILE_TEST_POSTGRES_URL (`scripts/postgres.sh start`); note that the
//! test cluster runs with fsync off, while SQLite syncs every commit.

#[path = "../tests/server/common/mod.rs"]
mod common;

use std::time::Instant;

use common::Backend;
use lastmile_server::ledger::account::{Account, AccountKind};
use lastmile_server::ledger::book::Outcome;
use lastmile_server::ledger::transfer::{NewTransfer, Phase, TransferCode, TransferId};
use lastmile_server::ledger::{self, verify};
use lastmile_shared::money::Currency;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A cycle's obligations and its merchants' payables, in one currency.
type Flow = (Account, Vec<Account>);

/// Batch `batch_number`: `size` redemptions from the `first`-th on, spread
/// over the flows and their merchants (the same arguments give the same
/// batch, so a second call is a retry).
fn redemptions(flows: &[Flow], batch_number: u64, first: usize, size: usize) -> Vec<NewTransfer> {
    (0..size)
        .map(|n| {
            let k = first + n;
            let (obligations, payables) = &flows[k % flows.len()];
            NewTransfer {
                id: TransferId::parse(&format!("redeem/{batch_number}/{n}")).unwrap(),
                debit: obligations.id.clone(),
                credit: payables[(k / flows.len()) % payables.len()].id.clone(),
                amount: 100 + (k % 9_000) as i64,
                code: TransferCode::Redeem,
                phase: Phase::Single,
                linked: false,
                cause: None,
            }
        })
        .collect()
}

fn main() {
    let backend = match std::env::var("LASTMILE_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let total = knob("LASTMILE_BENCH_TRANSFERS", 200_000);
    let batch_size = knob("LASTMILE_BENCH_BATCH", 1_000) as usize;
    let merchants = knob("LASTMILE_BENCH_MERCHANTS", 1_000) as usize;
    let app = common::spawn_app(backend);
    let now = common::now();

    // Two programmes in two currencies: a funding source, a budget, one
    // cycle's obligations (flagged), and a payable per merchant (flagged).
    let mut flows = Vec::new();
    for code in ["KES", "EUR"] {
        let currency = Currency::parse(code).unwrap();
        let open = |kind, parts: &[&str]| Account::open(kind, parts, currency, Some("P")).unwrap();
        let funding = open(AccountKind::Funding, &["donor"]);
        let budget = open(AccountKind::Budget, &["P"]);
        let obligations = open(AccountKind::Obligations, &["P", "2027-01"]);
        let payables: Vec<Account> = (0..merchants)
            .map(|m| open(AccountKind::MerchantPayable, &[&format!("M{m}")]))
            .collect();
        let mut all = vec![funding.clone(), budget.clone(), obligations.clone()];
        all.extend(payables.iter().cloned());
        app.storage
            .transaction(|tx| ledger::open(tx.sql(), &all, now))
            .unwrap();
        // Enough committed to redeem everything.
        let seed = [
            (&funding, &budget, "fund"),
            (&budget, &obligations, "commit"),
        ]
        .map(|(debit, credit, name)| NewTransfer {
            id: TransferId::parse(&format!("{name}/{code}")).unwrap(),
            debit: debit.id.clone(),
            credit: credit.id.clone(),
            amount: i64::MAX / 4,
            code: TransferCode::Adjust,
            phase: Phase::Single,
            linked: false,
            cause: None,
        });
        app.storage
            .transaction(|tx| ledger::post_all(tx.sql(), &seed, now, None))
            .unwrap();
        flows.push((obligations, payables));
    }

    let started = Instant::now();
    let mut posted = 0u64;
    let mut batch_number = 0u64;
    while posted < total {
        let batch = redemptions(&flows, batch_number, posted as usize, batch_size);
        let outcomes = app
            .storage
            .transaction(|tx| ledger::post(tx.sql(), &batch, now, Some("bench")))
            .unwrap();
        assert!(outcomes.iter().all(|o| *o == Outcome::Created));
        posted += batch.len() as u64;
        batch_number += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "ledger {}: {posted} transfers in batches of {batch_size} over {} accounts: \
         {seconds:.2} s, {:.0} transfers/s",
        app.storage.backend(),
        2 * (merchants + 3),
        posted as f64 / seconds
    );

    // The same batches again are retries: nothing is posted.
    let started = Instant::now();
    let retry = redemptions(&flows, 0, 0, batch_size);
    let outcomes = app
        .storage
        .transaction(|tx| ledger::post(tx.sql(), &retry, now, Some("bench")))
        .unwrap();
    assert!(outcomes.iter().all(|o| *o == Outcome::Exists));
    println!(
        "ledger {}: a retried batch of {batch_size}: {:.1} ms, nothing posted",
        app.storage.backend(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    let started = Instant::now();
    let report = app
        .storage
        .transaction(|tx| verify::verify(tx.sql()))
        .unwrap();
    assert!(report.holds(), "{report:?}");
    println!(
        "ledger {}: verify over {} transfers and {} accounts: {:.2} s, holds",
        app.storage.backend(),
        report.transfers,
        report.accounts,
        started.elapsed().as_secs_f64()
    );
}
