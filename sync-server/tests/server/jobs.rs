//! Background jobs: idempotent enqueueing, leases, lost leases, back-off,
//! dead jobs, periodic jobs across instances, the worker each server runs;
//! and three worker processes over one PostgreSQL, one killed with SIGKILL
//! midway, running each of 10 000 jobs' effects exactly once.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::Backend;
use lastmile_server::clock::{self, ManualClock, SharedClock};
use lastmile_server::device_auth::NONCE_RETENTION_SECONDS;
use lastmile_server::jobs::{
    self, ATTEMPTS_DEFAULT, EnqueueError, Enqueued, Handlers, Job, JobError, LEASE_MS, NewJob,
    PAYLOAD_BYTES_MAX, Worker,
};
use lastmile_server::storage::jobs::{self as store, JobRow, JobState};
use lastmile_server::storage::sql::{Page, Value};
use lastmile_server::storage::{DatabaseUrl, Storage, StorageError, Tx};
use lastmile_shared::id::KeyId;
use serde_json::json;

lastmile_tests::on_both_backends!(
    enqueue_is_idempotent_on_key,
    a_claimed_job_is_invisible_to_other_claimers_until_its_lease_expires,
    completing_after_losing_the_lease_does_nothing,
    a_handlers_effects_commit_with_its_completion,
    retries_back_off_and_go_dead_after_max_attempts,
    an_unknown_kind_goes_dead,
    a_failing_job_in_a_batch_rolls_back_only_its_own_effects,
    a_job_claimed_more_often_than_its_attempts_goes_dead_without_running,
    jobs_are_listed_and_counted_by_state,
    periodic_jobs_run_once_per_period_across_instances,
    every_server_instance_runs_a_worker_that_stops_on_shutdown,
);

/// 2023-11-14, in seconds.
const T0: i64 = 1_700_000_000;

fn open(backend: Backend) -> (Arc<Storage>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let database = common::fresh_database(backend, dir.path());
    let storage = Arc::new(Storage::open(&database).unwrap());
    create_effects(&storage);
    (storage, dir)
}

/// What the test handler does: one row per run, no key, so a second run of
/// the same job would show.
fn create_effects(storage: &Storage) {
    storage
        .transaction(|tx| {
            tx.sql()
                .execute("CREATE TABLE job_effects (job BIGINT NOT NULL)", &[])
        })
        .unwrap();
}

/// (rows, distinct jobs) in `job_effects`.
fn effects(storage: &Storage) -> (i64, i64) {
    storage
        .transaction(|tx| {
            let row = tx.sql().query_one(
                "job_effects",
                "SELECT count(*), count(DISTINCT job) FROM job_effects",
                &[],
            )?;
            Ok::<_, StorageError>((row.int(0)?, row.int(1)?))
        })
        .unwrap()
}

/// Records its run, then does what the payload asks: `{"fail": true}`
/// fails, `{"permanent": true}` fails for good, `{"panic": true}` panics.
fn record(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    tx.sql().execute(
        "INSERT INTO job_effects (job) VALUES ($1)",
        &[Value::Int(job.id)],
    )?;
    let payload: serde_json::Value = job.payload()?;
    if payload["fail"] == true {
        return Err(JobError::Failed("asked to fail".to_owned()));
    }
    if payload["permanent"] == true {
        return Err(JobError::Permanent("asked to fail for good".to_owned()));
    }
    if payload["panic"] == true {
        panic!("asked to panic");
    }
    Ok(())
}

fn handlers() -> Handlers {
    Handlers::new().with("record", record)
}

fn manual() -> (Arc<ManualClock>, SharedClock) {
    let clock = ManualClock::at(T0);
    let shared: SharedClock = clock.clone();
    (clock, shared)
}

fn worker(storage: &Arc<Storage>, clock: &SharedClock, owner: &str) -> Worker {
    Worker::new(storage.clone(), clock.clone(), owner, handlers())
}

fn enqueue(storage: &Storage, key: &str, payload: serde_json::Value, now_ms: i64) -> Enqueued {
    enqueue_with(storage, "record", key, payload, ATTEMPTS_DEFAULT, now_ms)
}

fn enqueue_with(
    storage: &Storage,
    kind: &str,
    key: &str,
    payload: serde_json::Value,
    max_attempts: u32,
    now_ms: i64,
) -> Enqueued {
    storage
        .transaction(|tx| {
            jobs::enqueue_job(
                tx,
                &NewJob {
                    kind,
                    key,
                    payload: &payload,
                    run_after_ms: now_ms,
                    max_attempts,
                },
                now_ms,
            )
        })
        .unwrap()
}

fn job(storage: &Storage, id: i64) -> JobRow {
    storage
        .transaction(|tx| store::by_id(tx.sql(), id))
        .unwrap()
        .unwrap()
}

fn claim(storage: &Storage, token: &str, now_ms: i64) -> Vec<JobRow> {
    storage
        .transaction(|tx| store::claim(tx.sql(), token, now_ms, now_ms + LEASE_MS, 100))
        .unwrap()
}

fn counts(storage: &Storage) -> store::JobCounts {
    storage.transaction(|tx| store::counts(tx.sql())).unwrap()
}

fn enqueue_is_idempotent_on_key(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (_, clock) = manual();
    let now = clock.now_ms();
    let first = enqueue(&storage, "order:17", json!({ "n": 1 }), now);
    assert!(first.created);
    let again = enqueue(&storage, "order:17", json!({ "n": 2 }), now);
    assert_eq!(
        again,
        Enqueued {
            id: first.id,
            created: false
        }
    );
    let other = enqueue(&storage, "order:18", json!({ "n": 3 }), now);
    assert!(other.created && other.id != first.id);
    assert_eq!(counts(&storage).queued, 2);
    assert_eq!(job(&storage, first.id).payload, r#"{"n":1}"#);

    // Still a no-op once the job ran: a key is used once, ever.
    assert_eq!(worker(&storage, &clock, "w").run_once().unwrap(), 2);
    let late = enqueue(&storage, "order:17", json!({ "n": 4 }), now);
    assert!(!late.created);
    assert_eq!(counts(&storage).done, 2);
    assert_eq!(counts(&storage).total(), 2);
    assert_eq!(effects(&storage), (2, 2));
}

fn a_claimed_job_is_invisible_to_other_claimers_until_its_lease_expires(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (manual, clock) = manual();
    let now = clock.now_ms();
    for i in 0..3 {
        enqueue(&storage, &format!("k{i}"), json!({}), now);
    }
    // Not due yet: not claimable.
    enqueue_later(&storage, "later", now + 10 * LEASE_MS);

    let a = claim(&storage, "a#0", now);
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|j| j.state == JobState::Running
        && j.attempts == 1
        && j.lease_owner.as_deref() == Some("a#0")
        && j.lease_until == Some(now + LEASE_MS)));
    assert!(claim(&storage, "b#0", now).is_empty());
    manual.advance(LEASE_MS / 1000 - 1);
    assert!(claim(&storage, "b#1", clock.now_ms()).is_empty());
    // A worker sees nothing either.
    assert_eq!(worker(&storage, &clock, "w").run_once().unwrap(), 0);
    assert_eq!(effects(&storage), (0, 0));

    manual.advance(1);
    let b = claim(&storage, "b#2", clock.now_ms());
    let mut ids: Vec<i64> = b.iter().map(|j| j.id).collect();
    ids.sort_unstable();
    let mut expected: Vec<i64> = a.iter().map(|j| j.id).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(b.iter().all(|j| j.attempts == 2));
    assert!(claim(&storage, "c#0", clock.now_ms()).is_empty());
}

fn enqueue_later(storage: &Storage, key: &str, run_after_ms: i64) -> Enqueued {
    storage
        .transaction(|tx| jobs::enqueue(tx, "record", key, &json!({}), run_after_ms, T0 * 1000))
        .unwrap()
}

fn completing_after_losing_the_lease_does_nothing(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (manual, clock) = manual();
    let id = enqueue(&storage, "k", json!({}), clock.now_ms()).id;
    assert_eq!(claim(&storage, "a#0", clock.now_ms()).len(), 1);
    manual.advance(LEASE_MS / 1000);
    assert_eq!(claim(&storage, "b#0", clock.now_ms()).len(), 1);

    let now = clock.now_ms();
    let late = storage
        .transaction(|tx| {
            Ok::<_, StorageError>((
                store::complete(tx.sql(), id, "a#0", now)?,
                store::complete_claim(tx.sql(), "a#0", now)?,
                store::retry(tx.sql(), id, "a#0", "late", now)?,
                store::bury(tx.sql(), id, "a#0", "late", now)?,
            ))
        })
        .unwrap();
    assert_eq!(late, (false, 0, false, false));
    let row = job(&storage, id);
    assert_eq!(row.state, JobState::Running);
    assert_eq!(row.lease_owner.as_deref(), Some("b#0"));
    assert_eq!(row.last_error, None);

    assert!(
        storage
            .transaction(|tx| store::complete(tx.sql(), id, "b#0", now))
            .unwrap()
    );
    assert_eq!(job(&storage, id).state, JobState::Done);
    // Done is final: not even the claim that did it can requeue it.
    assert!(
        !storage
            .transaction(|tx| store::retry(tx.sql(), id, "b#0", "late", now))
            .unwrap()
    );
}

fn a_handlers_effects_commit_with_its_completion(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (_, clock) = manual();
    let ids: Vec<i64> = (0..5)
        .map(|i| enqueue(&storage, &format!("k{i}"), json!({}), clock.now_ms()).id)
        .collect();
    let worker = worker(&storage, &clock, "w");
    assert_eq!(worker.run_once().unwrap(), 5);
    assert_eq!(effects(&storage), (5, 5));
    for id in ids {
        let row = job(&storage, id);
        assert_eq!(row.state, JobState::Done);
        assert_eq!(row.finished_at, Some(clock.now_ms()));
        assert!(row.lease_owner.unwrap().starts_with("w#"));
    }
    assert_eq!(worker.run_once().unwrap(), 0);
    assert_eq!(effects(&storage), (5, 5));
}

fn retries_back_off_and_go_dead_after_max_attempts(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (manual, clock) = manual();
    let id = enqueue_with(
        &storage,
        "record",
        "flaky",
        json!({ "fail": true }),
        3,
        clock.now_ms(),
    )
    .id;
    let worker = worker(&storage, &clock, "w");

    assert_eq!(worker.run_once().unwrap(), 1);
    let row = job(&storage, id);
    assert_eq!(
        (row.state, row.attempts, row.run_after),
        (JobState::Queued, 1, clock.now_ms() + jobs::BACKOFF_BASE_MS)
    );
    assert_eq!(row.last_error.as_deref(), Some("asked to fail"));
    assert_eq!(row.lease_until, None);
    // Not before its back-off.
    assert_eq!(worker.run_once().unwrap(), 0);

    manual.advance(1);
    assert_eq!(worker.run_once().unwrap(), 1);
    let row = job(&storage, id);
    assert_eq!(
        (row.state, row.attempts, row.run_after),
        (
            JobState::Queued,
            2,
            clock.now_ms() + 2 * jobs::BACKOFF_BASE_MS
        )
    );
    manual.advance(1);
    assert_eq!(worker.run_once().unwrap(), 0);
    manual.advance(1);
    assert_eq!(worker.run_once().unwrap(), 1);
    let row = job(&storage, id);
    assert_eq!((row.state, row.attempts), (JobState::Dead, 3));
    assert_eq!(row.finished_at, Some(clock.now_ms()));
    assert_eq!(row.last_error.as_deref(), Some("asked to fail"));

    manual.advance(24 * 3600);
    assert_eq!(worker.run_once().unwrap(), 0);
    // Each failed run's effects were rolled back.
    assert_eq!(effects(&storage), (0, 0));

    // A permanent failure goes dead at once.
    let id = enqueue(
        &storage,
        "hopeless",
        json!({ "permanent": true }),
        clock.now_ms(),
    )
    .id;
    assert_eq!(worker.run_once().unwrap(), 1);
    let row = job(&storage, id);
    assert_eq!((row.state, row.attempts), (JobState::Dead, 1));
    assert_eq!(row.last_error.as_deref(), Some("asked to fail for good"));
    assert_eq!(effects(&storage), (0, 0));
}

fn an_unknown_kind_goes_dead(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (_, clock) = manual();
    let id = enqueue_with(
        &storage,
        "nobody_handles_this",
        "k",
        json!({}),
        5,
        clock.now_ms(),
    )
    .id;
    let known = enqueue(&storage, "known", json!({}), clock.now_ms()).id;
    let worker = worker(&storage, &clock, "w");
    assert_eq!(worker.run_once().unwrap(), 2);
    let row = job(&storage, id);
    assert_eq!((row.state, row.attempts), (JobState::Dead, 1));
    assert_eq!(
        row.last_error.as_deref(),
        Some(r#"no handler for job kind "nobody_handles_this""#)
    );
    assert_eq!(job(&storage, known).state, JobState::Done);
    assert_eq!(worker.run_once().unwrap(), 0);
    assert_eq!(effects(&storage), (1, 1));
}

fn a_failing_job_in_a_batch_rolls_back_only_its_own_effects(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (_, clock) = manual();
    let now = clock.now_ms();
    let good: Vec<i64> = (0..10)
        .map(|i| enqueue(&storage, &format!("good{i}"), json!({}), now).id)
        .collect();
    let failing = enqueue(&storage, "failing", json!({ "fail": true }), now).id;
    let panicking = enqueue(&storage, "panicking", json!({ "panic": true }), now).id;
    let worker = worker(&storage, &clock, "w");
    assert_eq!(worker.run_once().unwrap(), 12);
    assert_eq!(effects(&storage), (10, 10));
    for id in good {
        assert_eq!(job(&storage, id).state, JobState::Done);
    }
    let row = job(&storage, failing);
    assert_eq!((row.state, row.attempts), (JobState::Queued, 1));
    let row = job(&storage, panicking);
    assert_eq!(row.state, JobState::Queued);
    assert_eq!(
        row.last_error.as_deref(),
        Some("the handler panicked: asked to panic")
    );
}

fn a_job_claimed_more_often_than_its_attempts_goes_dead_without_running(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (manual, clock) = manual();
    let id = enqueue_with(&storage, "record", "k", json!({}), 2, clock.now_ms()).id;
    // Two workers claim it and die (their leases expire).
    for token in ["gone#0", "gone#1"] {
        assert_eq!(claim(&storage, token, clock.now_ms()).len(), 1);
        manual.advance(LEASE_MS / 1000);
    }
    assert_eq!(worker(&storage, &clock, "w").run_once().unwrap(), 1);
    let row = job(&storage, id);
    assert_eq!((row.state, row.attempts), (JobState::Dead, 3));
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("claimed 3 times"),
        "{row:?}"
    );
    assert_eq!(effects(&storage), (0, 0));
}

fn jobs_are_listed_and_counted_by_state(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (_, clock) = manual();
    let now = clock.now_ms();
    for i in 0..3 {
        enqueue(&storage, &format!("k{i}"), json!({}), now);
    }
    enqueue_with(&storage, "unknown_kind", "u", json!({}), 5, now);
    enqueue_later(&storage, "later", now + 3_600_000);
    assert_eq!(
        counts(&storage),
        store::JobCounts {
            queued: 5,
            ..Default::default()
        }
    );
    worker(&storage, &clock, "w").run_once().unwrap();
    assert_eq!(
        counts(&storage),
        store::JobCounts {
            queued: 1,
            running: 0,
            done: 3,
            dead: 1
        }
    );
    let list = |state, limit| {
        storage
            .transaction(|tx| store::list(tx.sql(), state, Page::first(limit)))
            .unwrap()
    };
    assert_eq!(list(JobState::Done, 10).len(), 3);
    assert_eq!(list(JobState::Done, 2).len(), 2);
    let dead = list(JobState::Dead, 10);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].kind, "unknown_kind");
    assert_eq!(list(JobState::Queued, 10)[0].key, "later");
    assert!(list(JobState::Running, 10).is_empty());
}

fn periodic_jobs_run_once_per_period_across_instances(backend: Backend) {
    let (storage, _dir) = open(backend);
    let (manual, clock) = manual();
    let instance = |owner: &str| {
        Worker::new(
            storage.clone(),
            clock.clone(),
            owner,
            jobs::server_handlers(),
        )
        .with_schedule(jobs::server_schedule())
    };
    let (a, b, c) = (instance("a"), instance("b"), instance("c"));
    // A nonce past its retention, and a fresh one.
    let kid = KeyId::parse("dev-test-1").unwrap();
    storage
        .transaction(|tx| {
            assert!(tx.insert_nonce(&kid, "old", T0 - NONCE_RETENTION_SECONDS - 120)?);
            assert!(tx.insert_nonce(&kid, "fresh", T0)?);
            Ok::<_, StorageError>(())
        })
        .unwrap();

    // prune_nonces, prune_jobs, expire_transfers, read_rail_answers and
    // payments_overdue, once however many instances enqueue them.
    assert_eq!(a.enqueue_due().unwrap(), 5);
    assert_eq!(b.enqueue_due().unwrap(), 0);
    assert_eq!(c.enqueue_due().unwrap(), 0);
    assert_eq!(a.enqueue_due().unwrap(), 0);
    let ran = b.run_once().unwrap() + a.run_once().unwrap() + c.run_once().unwrap();
    assert_eq!(ran, 5);
    let minute = clock.now_ms() / 60_000;
    let row = storage
        .transaction(|tx| store::by_key(tx.sql(), &format!("prune_nonces:{minute}")))
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state, row.run_after),
        (JobState::Done, minute * 60_000)
    );
    storage
        .transaction(|tx| {
            // Pruned: the old nonce may be used again, the fresh one not.
            assert!(tx.insert_nonce(&kid, "old", T0)?);
            assert!(!tx.insert_nonce(&kid, "fresh", T0)?);
            Ok::<_, StorageError>(())
        })
        .unwrap();

    // The next minute: all but prune_jobs (hourly) again, once.
    manual.advance(60);
    assert_eq!(c.enqueue_due().unwrap(), 4);
    assert_eq!(a.enqueue_due().unwrap(), 0);
    assert_eq!(b.enqueue_due().unwrap(), 0);
    assert_eq!(a.run_once().unwrap() + b.run_once().unwrap(), 4);
    assert_eq!(
        counts(&storage),
        store::JobCounts {
            done: 9,
            ..Default::default()
        }
    );

    // Eight days on, prune_jobs deletes the done jobs past their retention.
    manual.advance(8 * 24 * 3600);
    assert_eq!(a.enqueue_due().unwrap(), 5);
    assert_eq!(a.run_once().unwrap(), 5);
    let done = storage
        .transaction(|tx| store::list(tx.sql(), JobState::Done, Page::first(10)))
        .unwrap();
    let mut keys: Vec<String> = done.into_iter().map(|j| j.key).collect();
    keys.sort();
    let now = clock.now_ms();
    assert_eq!(
        keys,
        [
            format!("expire_transfers:{}", now / 60_000),
            format!("payments_overdue:{}", now / 60_000),
            format!("prune_jobs:{}", now / 3_600_000),
            format!("prune_nonces:{}", now / 60_000),
            format!("read_rail_answers:{}", now / 10_000),
        ]
    );
}

fn every_server_instance_runs_a_worker_that_stops_on_shutdown(backend: Backend) {
    let app = common::spawn_app(backend);
    let prune_ran = || {
        app.storage
            .transaction(|tx| store::list(tx.sql(), JobState::Done, Page::first(10)))
            .unwrap()
            .iter()
            .any(|j| j.kind == "prune_nonces")
    };
    assert!(common::eventually(Duration::from_secs(30), prune_ran));
    // The worker also runs jobs enqueued by anyone.
    let id = enqueue_with(
        &app.storage,
        "prune_jobs",
        "asked:1",
        json!({}),
        1,
        clock::system().now_ms(),
    )
    .id;
    assert!(common::eventually(Duration::from_secs(30), || job(
        &app.storage,
        id
    )
    .state
        == JobState::Done));
    let storage = app.storage.clone();
    let began = Instant::now();
    drop(app);
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        began.elapsed()
    );
    // Stopped: a job enqueued now stays queued.
    let id = enqueue_with(
        &storage,
        "prune_jobs",
        "asked:2",
        json!({}),
        1,
        clock::system().now_ms(),
    )
    .id;
    std::thread::sleep(Duration::from_millis(2 * jobs::POLL_IDLE_MS));
    assert_eq!(job(&storage, id).state, JobState::Queued);
}

#[test]
fn enqueue_refuses_what_is_out_of_bounds() {
    let (storage, _dir) = open(Backend::Sqlite);
    let attempt = |kind: &str, key: &str, payload: serde_json::Value, attempts: u32| {
        storage.transaction(|tx| {
            jobs::enqueue_job(
                tx,
                &NewJob {
                    kind,
                    key,
                    payload: &payload,
                    run_after_ms: 0,
                    max_attempts: attempts,
                },
                0,
            )
        })
    };
    assert!(matches!(
        attempt("Bad-Kind", "k", json!({}), 5),
        Err(EnqueueError::Kind(_))
    ));
    assert!(matches!(
        attempt(&"k".repeat(65), "k", json!({}), 5),
        Err(EnqueueError::Kind(_))
    ));
    assert!(matches!(
        attempt("record", "", json!({}), 5),
        Err(EnqueueError::Key)
    ));
    assert!(matches!(
        attempt("record", &"k".repeat(201), json!({}), 5),
        Err(EnqueueError::Key)
    ));
    assert!(matches!(
        attempt("record", "k", json!("x".repeat(PAYLOAD_BYTES_MAX)), 5),
        Err(EnqueueError::PayloadTooLarge(_))
    ));
    assert!(matches!(
        attempt("record", "k", json!({}), 0),
        Err(EnqueueError::Attempts(0))
    ));
    assert!(matches!(
        attempt("record", "k", json!({}), 26),
        Err(EnqueueError::Attempts(26))
    ));
    assert_eq!(counts(&storage).total(), 0);
    assert!(attempt("record", "k", json!("x".repeat(1000)), 25).is_ok());
}

/// The storage a `steal` handler takes its own job away from under.
static THIEF: Mutex<Option<Arc<Storage>>> = Mutex::new(None);

/// Records its run, then has another claim take every job of the queue as
/// if this worker's lease had long expired.
fn steal(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    record(tx, job)?;
    let thief = THIEF.lock().unwrap().clone().unwrap();
    let far = job.run_after_ms + 100 * LEASE_MS;
    thief.transaction(|other| store::claim(other.sql(), "thief#0", far, far + LEASE_MS, 100))?;
    Ok(())
}

/// PostgreSQL only: the handler needs a second transaction to commit while
/// the worker's is open, which SQLite's single writer refuses.
#[test]
fn a_worker_that_loses_its_lease_mid_batch_rolls_its_effects_back() {
    let (storage, _dir) = open(Backend::Postgres);
    *THIEF.lock().unwrap() = Some(storage.clone());
    let (_, clock) = manual();
    let ids: Vec<i64> = (0..4)
        .map(|i| enqueue(&storage, &format!("k{i}"), json!({}), clock.now_ms()).id)
        .collect();
    let worker = Worker::new(
        storage.clone(),
        clock.clone(),
        "slow",
        Handlers::new().with("record", steal),
    );
    // The batch's completion finds the jobs taken, and job by job each
    // finds its lease gone: nothing ran, nothing recorded.
    assert_eq!(worker.run_once().unwrap(), 0);
    assert_eq!(effects(&storage), (0, 0));
    for id in ids {
        let row = job(&storage, id);
        assert_eq!(row.state, JobState::Running);
        assert_eq!(row.lease_owner.as_deref(), Some("thief#0"));
        assert_eq!(row.last_error, None);
    }
}

// Three worker processes, one killed.

const KILL_TEST_JOBS: i64 = 10_000;
/// The victim's handler run (from 0) at which it stalls and is killed.
const STALL_AT_RUN: u64 = 1_000;
const CHILD_DATABASE: &str = "LASTMILE_JOBS_TEST_CHILD_DATABASE";
/// Short, so the killed worker's jobs are claimed again soon.
const CHILD_LEASE_MS: i64 = 2_000;

/// The victim stalls, inside a batch's transaction, at its run of this
/// many: the SIGKILL then lands with effects written but not committed and
/// jobs claimed but not done.
const CHILD_STALL_AFTER: &str = "LASTMILE_JOBS_TEST_CHILD_STALL_AFTER";

/// A worker process, killed when dropped.
struct ChildWorker {
    child: Child,
    stdin: Option<ChildStdin>,
    owner: String,
    /// What else it printed.
    lines: mpsc::Receiver<String>,
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_child(url: &str, stall_after: Option<u64>) -> ChildWorker {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if let Some(n) = stall_after {
        command.env(CHILD_STALL_AFTER, n.to_string());
    }
    let mut child = command
        .args([
            "--exact",
            "jobs::child_worker_process",
            "--nocapture",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DATABASE, url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting a worker process");
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // After libtest's `test … ... ` on the same line.
            if let Some((_, said)) = line.split_once("jobs worker: ") {
                let _ = line_tx.send(said.to_owned());
            }
        }
    });
    let said = lines
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker process names its owner");
    let owner = said.strip_prefix("owner ").unwrap().to_owned();
    ChildWorker {
        child,
        stdin,
        owner,
        lines,
    }
}

/// Handler runs in this process (the worker process).
static RUNS: AtomicU64 = AtomicU64::new(0);
static STALL_AFTER: OnceLock<Option<u64>> = OnceLock::new();

/// `record`, except that the run after the stall count never ends.
fn record_or_stall(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let runs = RUNS.fetch_add(1, Ordering::SeqCst);
    if STALL_AFTER.get().copied().flatten() == Some(runs) {
        println!("\njobs worker: stalled");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    record(tx, job)
}

/// One of the worker processes: runs when started by the test below.
#[test]
#[ignore = "a worker process of three_worker_processes_…, which starts it"]
fn child_worker_process() {
    let Ok(url) = std::env::var(CHILD_DATABASE) else {
        return;
    };
    let stall_after = std::env::var(CHILD_STALL_AFTER)
        .ok()
        .map(|n| n.parse().unwrap());
    STALL_AFTER.set(stall_after).unwrap();
    let storage = Arc::new(Storage::open(&DatabaseUrl::Postgres(url)).unwrap());
    let worker = Worker::new(
        storage,
        clock::system(),
        jobs::random_owner(),
        Handlers::new().with("record", record_or_stall),
    )
    .with_lease_ms(CHILD_LEASE_MS)
    .with_idle_poll_ms(50);
    println!("\njobs worker: owner {}", worker.owner());
    // Stops when the parent closes stdin.
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        drop(stop);
    });
    worker.run_until(&stopped);
}

fn pg_count(storage: &Storage, sql: &'static str, params: &[Value]) -> i64 {
    storage
        .transaction(|tx| tx.sql().query_one("jobs", sql, params)?.int(0))
        .unwrap()
}

fn done_by(storage: &Storage, owner: &str) -> i64 {
    pg_count(
        storage,
        "SELECT count(*) FROM jobs WHERE state = 'done' AND lease_owner LIKE $1",
        &[format!("{owner}#%").into()],
    )
}

#[test]
fn three_worker_processes_over_one_postgres_run_every_job_once_though_one_is_killed() {
    let url = lastmile_tests::fresh_postgres_database();
    let storage = Storage::open(&DatabaseUrl::Postgres(url.clone())).unwrap();
    create_effects(&storage);
    let now = clock::system().now_ms();
    for chunk in 0..KILL_TEST_JOBS / 1_000 {
        storage
            .transaction(|tx| {
                for i in chunk * 1_000..(chunk + 1) * 1_000 {
                    jobs::enqueue(tx, "record", &format!("job:{i}"), &json!({}), now, now)?;
                }
                Ok::<_, EnqueueError>(())
            })
            .unwrap();
    }
    assert_eq!(counts(&storage).queued, KILL_TEST_JOBS as u64);

    let began = Instant::now();
    let victim = spawn_child(&url, Some(STALL_AT_RUN));
    let workers: Vec<ChildWorker> = (0..2).map(|_| spawn_child(&url, None)).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    assert_eq!(
        victim.lines.recv_timeout(Duration::from_secs(300)).unwrap(),
        "stalled"
    );
    let owner = victim.owner.clone();
    drop(victim); // SIGKILL (std's Child::kill on Unix), then reaped.
    let killed_at = began.elapsed();
    let done_by_victim = done_by(&storage, &owner);
    let held_by_victim = pg_count(
        &storage,
        "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1",
        &[format!("{owner}#%").into()],
    );
    let left = KILL_TEST_JOBS - i64::try_from(counts(&storage).done).unwrap();
    assert!(left > 0, "every job was done before the kill");
    assert!(
        done_by_victim > 0 && held_by_victim > 0,
        "{done_by_victim} {held_by_victim}"
    );

    while counts(&storage).done < KILL_TEST_JOBS as u64 {
        assert!(
            Instant::now() < deadline,
            "not every job was done: {:?}",
            counts(&storage)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let finished = began.elapsed();
    // The survivors stop when asked (stdin closed), cleanly.
    let mut survivors = Vec::new();
    for mut worker in workers {
        drop(worker.stdin.take());
        let stop_deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = worker.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < stop_deadline, "a worker did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "a worker exited with {status}");
        survivors.push(done_by(&storage, &worker.owner));
    }

    let (rows, distinct) = effects(&storage);
    eprintln!(
        "{KILL_TEST_JOBS} jobs; victim killed after {killed_at:?} having done \
         {done_by_victim} and holding {held_by_victim} claimed; {left} left at the kill; \
         survivors did {survivors:?}; all done after {finished:?}; effects {rows} rows, \
         {distinct} distinct, {} duplicates",
        rows - distinct
    );
    assert_eq!((rows, distinct), (KILL_TEST_JOBS, KILL_TEST_JOBS));
    assert_eq!(
        counts(&storage),
        store::JobCounts {
            done: KILL_TEST_JOBS as u64,
            ..Default::default()
        }
    );
    assert_eq!(
        pg_count(
            &storage,
            "SELECT count(*) FROM jobs j WHERE NOT EXISTS
                 (SELECT 1 FROM job_effects e WHERE e.job = j.id)",
            &[]
        ),
        0
    );
    // Nothing committed in the victim's name after it died, and every job
    // it held was run by a survivor (claimed at least twice).
    assert_eq!(done_by(&storage, &owner), done_by_victim);
    assert_eq!(
        done_by_victim + survivors.iter().sum::<i64>(),
        KILL_TEST_JOBS
    );
    assert!(
        pg_count(
            &storage,
            "SELECT count(*) FROM jobs WHERE attempts >= 2",
            &[]
        ) >= held_by_victim
    );
}
