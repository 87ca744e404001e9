//! Background-job throughput on PostgreSQL: worker processes (three, as
//! three server instances would run) drain a queue of jobs whose handler
//! writes one row each, in its job's completion transaction; then every
//! job's effect is checked to have happened exactly once.
//!
//!   cargo bench -p lastmile-server --bench jobs
//!
//! Runs with claims of `jobs::CLAIM_BATCH` jobs (the default, completed a
//! batch per transaction) and of one job (a transaction per job).
//! PostgreSQL comes from LASTMILE_TEST_POSTGRES_URL, or a throwaway cluster
//! (scripts/postgres.sh) when unset. Knobs: LASTMILE_BENCH_JOBS (30 000),
//! LASTMILE_BENCH_WORKERS (3). The worker processes are this binary again.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lastmile_server::clock;
use lastmile_server::jobs::{self, EnqueueError, Handlers, Job, JobError, Worker};
use lastmile_server::storage::sql::Value;
use lastmile_server::storage::{DatabaseUrl, Storage, Tx};

/// Set in a worker process: the database URL.
const CHILD: &str = "LASTMILE_BENCH_JOBS_CHILD";
/// Set in a worker process: jobs per claim.
const CHILD_BATCH: &str = "LASTMILE_BENCH_JOBS_CHILD_BATCH";

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    tx.sql().execute(
        "INSERT INTO job_effects (job) VALUES ($1)",
        &[Value::Int(job.id)],
    )?;
    Ok(())
}

/// A worker process: runs until its stdin closes.
fn child(url: String) {
    let storage = Arc::new(Storage::open(&DatabaseUrl::Postgres(url)).unwrap());
    let batch = u32::try_from(knob(CHILD_BATCH, u64::from(jobs::CLAIM_BATCH))).unwrap();
    let worker = Worker::new(
        storage,
        clock::system(),
        jobs::random_owner(),
        Handlers::new().with("record", record),
    )
    .with_batch(batch)
    .with_idle_poll_ms(5);
    println!("ready");
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        drop(stop);
    });
    worker.run_until(&stopped);
}

struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(url: &str, batch: u32) -> Process {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, url)
        .env(CHILD_BATCH, batch.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting a worker process");
    let stdin = child.stdin.take();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    Process { child, stdin }
}

fn count(storage: &Storage, sql: &'static str) -> i64 {
    storage
        .transaction(|tx| tx.sql().query_one("bench", sql, &[])?.int(0))
        .unwrap()
}

fn run(jobs_total: u64, workers: u64, batch: u32) {
    use lastmile_server::clock::Clock;
    let url = lastmile_tests::fresh_postgres_database();
    let storage = Storage::open(&DatabaseUrl::Postgres(url.clone())).unwrap();
    storage
        .transaction(|tx| {
            tx.sql()
                .execute("CREATE TABLE job_effects (job BIGINT NOT NULL)", &[])
        })
        .unwrap();
    let processes: Vec<Process> = (0..workers).map(|_| spawn(&url, batch)).collect();

    // Every job becomes visible at once, when this transaction commits.
    let now = clock::SystemClock.now_ms();
    storage
        .transaction(|tx| {
            for i in 0..jobs_total {
                jobs::enqueue(
                    tx,
                    "record",
                    &format!("bench:{i}"),
                    &serde_json::json!({}),
                    now,
                    now,
                )?;
            }
            Ok::<_, EnqueueError>(())
        })
        .unwrap();
    let began = Instant::now();
    let began_ms = clock::SystemClock.now_ms();
    let total = i64::try_from(jobs_total).unwrap();
    // Polled rarely (counting is work for the database too); the time taken
    // is read from the jobs' completion times.
    while count(&storage, "SELECT count(*) FROM jobs WHERE state = 'done'") < total {
        assert!(
            began.elapsed() < Duration::from_secs(600),
            "the workers stalled"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let last_ms = count(&storage, "SELECT max(finished_at) FROM jobs");
    let elapsed = (last_ms - began_ms).max(1) as f64 / 1000.0;
    for mut process in processes {
        drop(process.stdin.take());
        let status = process.child.wait().unwrap();
        assert!(status.success(), "a worker process exited with {status}");
    }
    let rows = count(&storage, "SELECT count(*) FROM job_effects");
    let distinct = count(&storage, "SELECT count(DISTINCT job) FROM job_effects");
    assert_eq!(
        (rows, distinct),
        (total, total),
        "an effect was lost or repeated"
    );
    println!(
        "PostgreSQL, {workers} worker processes, claims of {batch}: {jobs_total} jobs in \
         {elapsed:.2} s = {:.0} jobs/s (effects: {rows} rows, {distinct} distinct)",
        jobs_total as f64 / elapsed
    );
}

fn main() {
    if let Ok(url) = std::env::var(CHILD) {
        child(url);
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` runs a smoke size.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let jobs_total = if smoke {
        500
    } else {
        knob("LASTMILE_BENCH_JOBS", 30_000)
    };
    let workers = knob("LASTMILE_BENCH_WORKERS", 3);
    for batch in [jobs::CLAIM_BATCH, 1] {
        run(jobs_total, workers, batch);
    }
}
