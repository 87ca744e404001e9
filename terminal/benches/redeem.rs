//! The whole redeem path — QR text in, verified, decided, signed, committed
//! with `synchronous=FULL` — against a store that already holds
//! `LASTMILE_BENCH_PAST` (default 1 000 000) past redemptions, of which the
//! newest `LASTMILE_BENCH_PENDING` (a comma-separated list of levels, default
//! 0, 10 000 and 50 000; one fresh store each) are not yet acknowledged: the
//! offline limits are running sums, so the time should not grow with them.
//! Prints p50/p90/p99/max and the database size per level.
//!
//!     cargo bench -p lastmile-terminal --bench redeem
//!
//! Under `cargo test` (no `--bench` argument) it runs a small smoke version.
//! The past redemptions are bulk-inserted rows of the real shape (a real
//! signed entry's bytes, an index row, a balance row) but their chain is
//! synthetic; every measured redemption is a real signed entry.

#[path = "../tests/terminal/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use lastmile_shared::voucher::RedemptionMode;
use lastmile_terminal::redemption::VoucherRequest;
use lastmile_terminal::{ManualClock, Terminal};
use rusqlite::params;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Value of each pre-filled redemption, in minor units: small enough that
/// 50 000 pending ones stay within the test policy's unsynced value limit.
const PAST_AMOUNT_MINOR: i64 = 1_000;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let past = env_or("LASTMILE_BENCH_PAST", if bench { 1_000_000 } else { 2_000 });
    let samples = env_or("LASTMILE_BENCH_SAMPLES", if bench { 3_000 } else { 20 });
    let pending_levels: Vec<usize> = std::env::var("LASTMILE_BENCH_PENDING")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| {
            if bench {
                vec![0, 10_000, 50_000]
            } else {
                vec![0, 500]
            }
        });
    for pending in pending_levels {
        run(past.max(pending), pending, samples);
    }
}

/// Measures `samples` redemptions on a store holding `past` earlier
/// redemptions, the newest `pending` of them not yet acknowledged.
fn run(past: usize, pending: usize, samples: usize) {
    // On the target's disk, not a tmpfs, so fsync costs what it costs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let clock = ManualClock::new(T0);
    let mut terminal = engine(dir.path(), Arc::new(clock.clone()), &[]);
    let template = terminal
        .redeem_voucher(&VoucherRequest {
            qr: &voucher(
                "V-TEMPLATE",
                PAST_AMOUNT_MINOR,
                RedemptionMode::SingleUse,
                T0,
            ),
            amount: None,
            id_card: None,
        })
        .unwrap();
    drop(terminal);

    let started = Instant::now();
    let db = dir.path().join("terminal.sqlite3");
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    let bytes: Vec<u8> = conn
        .query_row(
            "SELECT bytes FROM log_entries WHERE seq = ?1",
            [template.seq],
            |r| r.get(0),
        )
        .unwrap();
    let acknowledged = (past - pending) as i64 + 1;
    let tx = conn.transaction().unwrap();
    {
        let mut entry = tx
            .prepare(
                "INSERT INTO log_entries (seq, hash, bytes, at, operator, kind, credential, amount_minor, currency)
                 VALUES (?1, ?2, ?3, ?4, 'op-amina', 'voucher_redeemed', ?5, ?6, 'KES')",
            )
            .unwrap();
        let mut balance = tx
            .prepare(
                "INSERT INTO credentials (credential, currency, local_confirmed_minor, local_pending_minor)
                 VALUES (?1, 'KES', ?2, ?3)",
            )
            .unwrap();
        for n in 0..past as i64 {
            let seq = n + 2;
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&seq.to_le_bytes());
            let credential = format!("voucher:V-PAST-{n:08}");
            entry
                .execute(params![
                    seq,
                    hash.as_slice(),
                    bytes,
                    T0 - DAY + n / 100,
                    credential,
                    PAST_AMOUNT_MINOR
                ])
                .unwrap();
            let (confirmed, unconfirmed) = if seq <= acknowledged {
                (PAST_AMOUNT_MINOR, 0)
            } else {
                (0, PAST_AMOUNT_MINOR)
            };
            balance
                .execute(params![credential, confirmed, unconfirmed])
                .unwrap();
        }
    }
    tx.execute(
        "UPDATE sync_state SET acknowledged_seq = ?1",
        [acknowledged],
    )
    .unwrap();
    tx.execute(
        "UPDATE pending_totals SET minor = ?1 WHERE currency = 'KES'",
        [pending as i64 * PAST_AMOUNT_MINOR],
    )
    .unwrap();
    tx.commit().unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    println!(
        "pre-filled {past} past redemptions ({pending} pending) in {:.1?}",
        started.elapsed()
    );

    let mut terminal = Terminal::open(dir.path(), Arc::new(clock)).unwrap();
    let texts: Vec<String> = (0..samples)
        .map(|i| {
            voucher(
                &format!("V-BENCH-{i:06}"),
                2_500,
                RedemptionMode::SingleUse,
                T0,
            )
        })
        .collect();
    let mut times = Vec::with_capacity(samples);
    for qr in &texts {
        let start = Instant::now();
        terminal
            .redeem_voucher(&VoucherRequest {
                qr,
                amount: None,
                id_card: None,
            })
            .unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len());
    let total = size("terminal.sqlite3") + size("terminal.sqlite3-wal");
    println!(
        "redeem path ({samples} redemptions on top of {past}, {pending} pending): p50 {:.2?}  p90 {:.2?}  p99 {:.2?}  max {:.2?}",
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
        times[times.len() - 1],
    );
    println!(
        "database: {:.1} MiB ({} bytes incl. WAL), {} log entries",
        total as f64 / (1024.0 * 1024.0),
        total,
        terminal.log_head_seq().unwrap()
    );
}
