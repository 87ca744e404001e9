//! Sync ingest throughput through the real HTTP endpoint, on SQLite and on
//! PostgreSQL: entries per second with signature, chain and double-spend
//! checks, and the bytes on the wire per entry.
//!
//!   cargo bench -p lastmile-server --bench ingest
//!
//! PostgreSQL comes from LASTMILE_TEST_POSTGRES_URL, or a throwaway cluster
//! (scripts/postgres.sh) when unset. Knobs: LASTMILE_BENCH_DEVICES,
//! LASTMILE_BENCH_ENTRIES (per device), LASTMILE_BENCH_BATCH.

#[path = "../tests/server/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use common::Backend;
use lastmile_shared::sync::{self, UploadRequest};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(backend: Backend, devices: u64, entries: u64, batch: u64) {
    let app = common::spawn_app(backend);
    let vouchers = app.issue(50, "1000000.00", "partial");
    let mut terminals = Vec::new();
    for d in 0..devices {
        let mut terminal = app.terminal("shop-1", "site-1");
        for n in 0..entries {
            terminal.redeem(&vouchers[((n + d) % 50) as usize].qr_text, 1);
        }
        terminals.push(Arc::new(terminal));
    }
    let mut body_bytes = 0u64;
    for terminal in &terminals {
        let mut start = 1;
        while start <= entries {
            let end = (start + batch - 1).min(entries);
            body_bytes += sync::to_cbor(&UploadRequest {
                entries: terminal.entries(start..=end),
                acknowledged_seq: 0,
            })
            .len() as u64;
            start = end + 1;
        }
    }
    let began = Instant::now();
    let workers: Vec<_> = terminals
        .iter()
        .map(|terminal| {
            let terminal = terminal.clone();
            std::thread::spawn(move || {
                let mut start = 1;
                while start <= entries {
                    let end = (start + batch - 1).min(entries);
                    let answer = terminal.upload(start..=end).expect("upload refused");
                    assert_eq!(answer.acknowledged_seq, end);
                    start = end + 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("an upload thread failed");
    }
    let elapsed = began.elapsed().as_secs_f64();
    let total = devices * entries;
    assert_eq!(app.entry_count(), total);
    println!(
        "{backend:?}: {total} entries ({devices} devices x {entries}, batches of {batch}) in {elapsed:.2} s \
         = {:.0} entries/s; request body {:.0} bytes/entry",
        total as f64 / elapsed,
        body_bytes as f64 / total as f64,
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs a smoke size.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (devices, entries, batch) = if smoke {
        (2, 100, 50)
    } else {
        (
            knob("LASTMILE_BENCH_DEVICES", 4),
            knob("LASTMILE_BENCH_ENTRIES", 10_000),
            knob("LASTMILE_BENCH_BATCH", 500),
        )
    };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        run(backend, devices, entries, batch);
    }
}
