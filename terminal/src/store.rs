//! The terminal's SQLite file: connection settings and migrations.
//!
//! Settings, and why (see also `ARCHITECTURE.md`):
//! - `journal_mode=WAL`: readers never block the writer, and a commit is one
//!   append to the write-ahead log rather than a rewrite of database pages.
//! - `synchronous=FULL`: every commit fsyncs the WAL before `COMMIT`
//!   returns. In WAL mode `NORMAL` only syncs at checkpoints, so the last
//!   transactions before a power cut can vanish even though the person at
//!   the counter was told "done"; `FULL` makes "committed" mean "on disk".
//! - `foreign_keys=ON`: derived tables cannot point at entries that do not
//!   exist.
//! - `busy_timeout`: a second process on the same file (the CLI while the
//!   GUI runs) waits for the write lock instead of failing.
//! - Money-moving transactions are `BEGIN IMMEDIATE`: the write lock is taken
//!   before the balance is read, so two processes cannot both decide on the
//!   same stale balance.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::Error;

/// How long a writer waits for another process's transaction to finish.
pub(crate) const BUSY_TIMEOUT_MS: u64 = 10_000;

/// Schema migrations, applied in order, each once.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_disputes.sql")),
    (3, include_str!("../migrations/0003_server_ca.sql")),
    (
        4,
        include_str!("../migrations/0004_running_totals_and_clock.sql"),
    ),
    (5, include_str!("../migrations/0005_voucher_book.sql")),
    (
        6,
        include_str!("../migrations/0006_letterhead_and_prints.sql"),
    ),
];

/// Opens (creating if needed) the store and brings its schema up to date.
pub(crate) fn open(path: &Path, now: i64) -> Result<Connection, Error> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Database(rusqlite::Error::InvalidParameterName(
            format!("journal_mode is {mode}, WAL is required"),
        )));
    }
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         PRAGMA foreign_keys=ON;
         PRAGMA trusted_schema=OFF;",
    )?;
    migrate(&mut conn, now)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, now: i64) -> Result<(), Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         ) STRICT;",
    )?;
    let current: i64 = tx
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    for (version, sql) in MIGRATIONS {
        if *version > current {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                [*version, now],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}
