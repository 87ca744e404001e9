//! Background jobs that run once across server instances.
//!
//! A job is a row of the `jobs` table ([`storage::jobs`]): a kind (which
//! handler runs it), a dedupe key (enqueueing the same key again does
//! nothing), a JSON payload and a time before which it does not run. Every
//! server instance runs a [`Worker`] that claims a batch of due jobs under a
//! lease and runs each job's handler.
//!
//! Exactly-once effects: a handler gets the transaction that marks its job
//! done, so its database effects and the completion commit together or not
//! at all. A worker that dies mid-job leaves nothing behind but the claim;
//! once the lease expires another worker claims the job again and runs it
//! from scratch. A worker that overran its lease and lost the job to
//! another claim finds the completion matching no row and rolls its effects
//! back. Effects outside the database (a request to a payment rail) happen
//! at least once, so they must be idempotent on the job's key.
//!
//! A batch's jobs run in one transaction, completed by one statement, when
//! every handler succeeds; if one fails (or the claim lost a job), that
//! transaction is rolled back, whole, and the batch's jobs are run again one
//! transaction each, so a failure rolls back only its own job. A failure
//! is then recorded in a transaction of its own: attempts count, the job is
//! queued again after an exponential back-off, or goes `dead` once its
//! attempts are used up. A job of a kind no handler knows goes `dead` at
//! once.
//!
//! Periodic work (pruning request nonces) is a job too: each instance
//! enqueues it with a key per period (`prune_nonces:<minute>`), so one
//! instance runs it per period however many are up.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_core::{OsRng, RngCore};

use crate::clock::SharedClock;
use crate::device_auth;
use crate::storage::jobs::{self as store, JobRow, JobState, NewJobRow};
use crate::storage::{Storage, StorageError, Tx};

/// How long a claim holds its jobs, in milliseconds, unless the server's
/// configuration says otherwise (`job_lease_ms`). A batch must finish
/// well within it: once it passes, another worker may claim the jobs again
/// (and the late worker's completion then changes nothing). It is also how
/// long the jobs of a worker that died wait before someone else runs them.
/// Each claimer judges expiry by its own clock, so the instances' clocks
/// must agree to well within it (a clock ahead only wastes work: the jobs
/// it takes too early still run once).
pub const LEASE_MS: i64 = 60_000;
/// The shortest and longest lease a worker may be given.
pub const LEASE_MS_MIN: i64 = 100;
pub const LEASE_MS_MAX: i64 = 3_600_000;
/// Jobs one claim takes by default. Larger batches amortise the claim and
/// the completion over more jobs; smaller ones spread a burst across
/// instances sooner and lose less work to a failure in the batch.
pub const CLAIM_BATCH: u32 = 64;
/// The most jobs one claim may take.
pub const CLAIM_BATCH_MAX: u32 = 500;
/// Attempts a job gets unless its enqueuer says otherwise, and the most it
/// may ask for.
pub const ATTEMPTS_DEFAULT: u32 = 5;
pub const ATTEMPTS_MAX: u32 = 25;
/// The wait after a job's first failure, doubled after each further one, up
/// to [`BACKOFF_MAX_MS`].
pub const BACKOFF_BASE_MS: i64 = 1_000;
pub const BACKOFF_MAX_MS: i64 = 3_600_000;
/// The largest payload, as JSON text.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// The longest dedupe key and kind.
pub const KEY_BYTES_MAX: usize = 200;
pub const KIND_BYTES_MAX: usize = 64;
/// The longest failure text kept with a job.
pub const ERROR_CHARS_MAX: usize = 1_000;
/// How long an idle worker waits before looking for due jobs again, by
/// default and at most.
pub const POLL_IDLE_MS: u64 = 1_000;
pub const POLL_IDLE_MS_MAX: u64 = 60_000;
/// How long a worker waits after the database failed it.
pub const POLL_ERROR_MS: u64 = 5_000;

/// How often old request nonces are deleted.
pub const PRUNE_NONCES_PERIOD_MS: i64 = 60_000;
/// How often pending ledger transfers past their timeout are released.
pub const EXPIRE_TRANSFERS_PERIOD_MS: i64 = 60_000;
/// How often the bank rails' answer folders are read.
pub const READ_RAIL_ANSWERS_PERIOD_MS: i64 = 10_000;
/// How often unanswered and uncollected payments are looked for.
pub const PAYMENTS_OVERDUE_PERIOD_MS: i64 = 60_000;
/// How often finished jobs are deleted, how long done and dead jobs are
/// kept, and the most one run deletes of each.
pub const PRUNE_JOBS_PERIOD_MS: i64 = 3_600_000;
pub const DONE_RETENTION_MS: i64 = 7 * 24 * 3_600_000;
pub const DEAD_RETENTION_MS: i64 = 30 * 24 * 3_600_000;
pub const PRUNE_JOBS_ROWS_MAX: u32 = 10_000;

/// A claimed job, as its handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    /// JSON text.
    pub payload: String,
    /// This run's attempt, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub run_after_ms: i64,
    pub created_at_ms: i64,
}

impl Job {
    fn from_row(row: &JobRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind.clone(),
            key: row.key.clone(),
            payload: row.payload.clone(),
            attempt: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(row.max_attempts).unwrap_or(1),
            run_after_ms: row.run_after,
            created_at_ms: row.created_at,
        }
    }

    /// The payload as `T`; a payload that does not parse fails for good.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_str(&self.payload)
            .map_err(|e| JobError::Permanent(format!("the payload does not parse: {e}")))
    }
}

/// Why a handler did not finish its job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Tried again after a back-off, until the attempts are used up.
    #[error("{0}")]
    Failed(String),
    /// Not worth trying again: the job goes dead now.
    #[error("{0}")]
    Permanent(String),
    /// Tried again like [`JobError::Failed`].
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<EnqueueError> for JobError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::Storage(e) => Self::Storage(e),
            other => Self::Permanent(other.to_string()),
        }
    }
}

/// Why a job was not enqueued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("a job kind is 1 to {KIND_BYTES_MAX} characters of a-z, 0-9 and _, not {0:?}")]
    Kind(String),
    #[error("a job key is 1 to {KEY_BYTES_MAX} bytes of printable text")]
    Key,
    #[error("a job payload is at most {PAYLOAD_BYTES_MAX} bytes of JSON, not {0}")]
    PayloadTooLarge(usize),
    #[error("a job has 1 to {ATTEMPTS_MAX} attempts, not {0}")]
    Attempts(u32),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub key: &'a str,
    pub payload: &'a serde_json::Value,
    /// Not run before this Unix millisecond.
    pub run_after_ms: i64,
    pub max_attempts: u32,
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job with the key: the new one, or the one already there.
    pub id: i64,
    /// False when a job with the key existed (and nothing changed).
    pub created: bool,
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= KIND_BYTES_MAX
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= KEY_BYTES_MAX && !key.chars().any(char::is_control)
}

/// Enqueues a job with the default attempts, inside the caller's
/// transaction (so it is queued only if the caller commits). Enqueueing a
/// key that exists, in any state, does nothing.
pub fn enqueue(
    tx: &mut dyn Tx,
    kind: &str,
    key: &str,
    payload: &serde_json::Value,
    run_after_ms: i64,
    now_ms: i64,
) -> Result<Enqueued, EnqueueError> {
    enqueue_job(
        tx,
        &NewJob {
            kind,
            key,
            payload,
            run_after_ms,
            max_attempts: ATTEMPTS_DEFAULT,
        },
        now_ms,
    )
}

/// [`enqueue`] with every field given.
pub fn enqueue_job(
    tx: &mut dyn Tx,
    job: &NewJob<'_>,
    now_ms: i64,
) -> Result<Enqueued, EnqueueError> {
    if !valid_kind(job.kind) {
        return Err(EnqueueError::Kind(job.kind.chars().take(80).collect()));
    }
    if !valid_key(job.key) {
        return Err(EnqueueError::Key);
    }
    if !(1..=ATTEMPTS_MAX).contains(&job.max_attempts) {
        return Err(EnqueueError::Attempts(job.max_attempts));
    }
    let payload = job.payload.to_string();
    if payload.len() > PAYLOAD_BYTES_MAX {
        return Err(EnqueueError::PayloadTooLarge(payload.len()));
    }
    if let Some(existing) = store::by_key(tx.sql(), job.key)? {
        return Ok(Enqueued {
            id: existing.id,
            created: false,
        });
    }
    let id = random_id();
    let created = store::insert(
        tx.sql(),
        &NewJobRow {
            id,
            kind: job.kind,
            key: job.key,
            payload: &payload,
            max_attempts: i64::from(job.max_attempts),
            run_after: job.run_after_ms,
            created_at: now_ms,
        },
    )?;
    if created {
        return Ok(Enqueued { id, created });
    }
    // Another transaction inserted the key meanwhile.
    let existing = store::by_key(tx.sql(), job.key)?
        .ok_or_else(|| StorageError::corrupt("jobs", "a conflicting key is not there"))?;
    Ok(Enqueued {
        id: existing.id,
        created: false,
    })
}

/// A job id: random, so that enqueueing takes no lock shared by every
/// instance (as a counter would). Positive 63-bit ids collide with odds of
/// about n²/2⁶⁴ among n jobs kept, and a collision fails the enqueue
/// loudly (the primary key) rather than losing a job.
fn random_id() -> i64 {
    loop {
        let id = i64::try_from(OsRng.next_u64() >> 1).unwrap_or(0);
        if id > 0 {
            return id;
        }
    }
}

/// Work that recurs: enqueued once per period, with the period in its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periodic {
    pub kind: &'static str,
    pub period_ms: i64,
}

impl Periodic {
    /// The period `now_ms` falls in.
    pub fn period(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(self.period_ms.max(1))
    }

    /// `<kind>:<period>`: the same for every instance in the same period.
    pub fn key(&self, period: i64) -> String {
        format!("{}:{period}", self.kind)
    }
}

/// Enqueues this period's run of `periodic`, due at the period's start (a
/// no-op when some instance already did).
pub fn enqueue_periodic(
    tx: &mut dyn Tx,
    periodic: &Periodic,
    now_ms: i64,
) -> Result<Enqueued, EnqueueError> {
    let period = periodic.period(now_ms);
    enqueue(
        tx,
        periodic.kind,
        &periodic.key(period),
        &serde_json::json!({ "period": period }),
        period.saturating_mul(periodic.period_ms),
        now_ms,
    )
}

/// A job's code: runs inside the transaction that marks the job done.
pub type Handler = fn(&mut dyn Tx, &Job) -> Result<(), JobError>;

/// The handlers a worker knows, by kind.
#[derive(Debug, Clone, Default)]
pub struct Handlers {
    by_kind: HashMap<String, Handler>,
}

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the handler of `kind`.
    ///
    /// # Panics
    /// When `kind` is not a valid job kind: kinds are constants in the code.
    #[must_use]
    pub fn with(mut self, kind: &str, handler: Handler) -> Self {
        assert!(valid_kind(kind), "{kind:?} is not a valid job kind");
        self.by_kind.insert(kind.to_owned(), handler);
        self
    }

    pub fn get(&self, kind: &str) -> Option<Handler> {
        self.by_kind.get(kind).copied()
    }
}

/// Deletes request nonces too old to matter, as of the job's period.
fn prune_nonces(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let now = job.run_after_ms.div_euclid(1000);
    tx.prune_nonces(now - device_auth::NONCE_RETENTION_SECONDS)?;
    Ok(())
}

/// Deletes done and dead jobs past their retention, a bounded number each.
fn prune_jobs(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let now = job.run_after_ms;
    store::delete_finished(
        tx.sql(),
        JobState::Done,
        now - DONE_RETENTION_MS,
        PRUNE_JOBS_ROWS_MAX,
    )?;
    store::delete_finished(
        tx.sql(),
        JobState::Dead,
        now - DEAD_RETENTION_MS,
        PRUNE_JOBS_ROWS_MAX,
    )?;
    Ok(())
}

/// Releases the ledger's pending transfers whose timeout passed, as of
/// the job's period (a bounded number each run).
fn expire_transfers(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let now = job.run_after_ms.div_euclid(1000);
    crate::ledger::expire_due(tx.sql(), now).map_err(|e| match e {
        crate::ledger::LedgerError::Storage(e) => JobError::Storage(e),
        other => JobError::Failed(other.to_string()),
    })?;
    Ok(())
}

/// The server's own jobs.
pub fn server_handlers() -> Handlers {
    Handlers::new()
        .with("prune_nonces", prune_nonces)
        .with("prune_jobs", prune_jobs)
        .with("expire_transfers", expire_transfers)
        .with(
            crate::payments::batches::SEND_JOB,
            crate::payments::batches::send_job,
        )
        .with(
            crate::payments::answers::POLL_JOB,
            crate::payments::answers::poll_job,
        )
        .with(
            crate::payments::exceptions::OVERDUE_JOB,
            crate::payments::exceptions::overdue_job,
        )
}

/// The server's periodic jobs.
pub fn server_schedule() -> Vec<Periodic> {
    vec![
        Periodic {
            kind: "prune_nonces",
            period_ms: PRUNE_NONCES_PERIOD_MS,
        },
        Periodic {
            kind: "prune_jobs",
            period_ms: PRUNE_JOBS_PERIOD_MS,
        },
        Periodic {
            kind: "expire_transfers",
            period_ms: EXPIRE_TRANSFERS_PERIOD_MS,
        },
        Periodic {
            kind: crate::payments::answers::POLL_JOB,
            period_ms: READ_RAIL_ANSWERS_PERIOD_MS,
        },
        Periodic {
            kind: crate::payments::exceptions::OVERDUE_JOB,
            period_ms: PAYMENTS_OVERDUE_PERIOD_MS,
        },
    ]
}

/// The worker every server instance runs: a random owner, the server's
/// handlers and schedule, its lease (`job_lease_ms` in the configuration).
pub fn server_worker(storage: Arc<Storage>, clock: SharedClock, lease_ms: i64) -> Worker {
    Worker::new(storage, clock, random_owner(), server_handlers())
        .with_schedule(server_schedule())
        .with_lease_ms(lease_ms)
}

/// A random owner id for an instance's worker (with its process id, for
/// people reading the jobs table).
pub fn random_owner() -> String {
    format!("{}-{:016x}", std::process::id(), OsRng.next_u64())
}

/// The wait after `attempt` failed.
pub fn backoff_ms(attempt: u32) -> i64 {
    let doublings = attempt.saturating_sub(1).min(40);
    BACKOFF_BASE_MS
        .saturating_mul(1_i64 << doublings)
        .min(BACKOFF_MAX_MS)
}

fn error_text(e: &JobError) -> String {
    e.to_string().chars().take(ERROR_CHARS_MAX).collect()
}

/// A handler's run, with a panic turned into a failure.
fn call(handler: Handler, tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| handler(tx, job))) {
        Ok(result) => result,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(JobError::Failed(format!("the handler panicked: {text}")))
        }
    }
}

/// Why a batch's shared transaction was rolled back.
enum GroupAbort {
    Handler,
    LeaseLost,
    Storage(StorageError),
}

impl From<StorageError> for GroupAbort {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

/// What became of one claimed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    /// Failed, and queued again or dead.
    Failed,
    /// Another claim took it (the lease had expired); nothing was recorded.
    Lost,
}

/// Claims due jobs and runs them; one per server instance.
pub struct Worker {
    storage: Arc<Storage>,
    clock: SharedClock,
    owner: String,
    handlers: Handlers,
    lease_ms: i64,
    batch: u32,
    idle_poll_ms: u64,
    schedule: Vec<Periodic>,
    /// The last period of each scheduled kind this worker enqueued.
    scheduled: Mutex<HashMap<&'static str, i64>>,
    /// Random per worker, in every claim token: a worker restarted under
    /// the same owner never reuses a token of its previous life.
    session: u64,
    claims: AtomicU64,
}

impl Worker {
    /// A worker claiming as `owner` (unique per instance; see
    /// [`random_owner`]), with the default lease and batch.
    pub fn new(
        storage: Arc<Storage>,
        clock: SharedClock,
        owner: impl Into<String>,
        handlers: Handlers,
    ) -> Self {
        let owner: String = owner.into();
        let owner: String = owner.replace('#', "_").chars().take(100).collect();
        Self {
            storage,
            clock,
            owner,
            handlers,
            lease_ms: LEASE_MS,
            batch: CLAIM_BATCH,
            idle_poll_ms: POLL_IDLE_MS,
            schedule: Vec::new(),
            scheduled: Mutex::new(HashMap::new()),
            session: OsRng.next_u64(),
            claims: AtomicU64::new(0),
        }
    }

    /// The lease, clamped to [`LEASE_MS_MIN`]..=[`LEASE_MS_MAX`].
    #[must_use]
    pub fn with_lease_ms(mut self, lease_ms: i64) -> Self {
        self.lease_ms = lease_ms.clamp(LEASE_MS_MIN, LEASE_MS_MAX);
        self
    }

    /// Jobs per claim, clamped to 1..=[`CLAIM_BATCH_MAX`].
    #[must_use]
    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.clamp(1, CLAIM_BATCH_MAX);
        self
    }

    /// How long [`Worker::run_until`] waits when there was nothing to do,
    /// clamped to 1..=[`POLL_IDLE_MS_MAX`] milliseconds.
    #[must_use]
    pub fn with_idle_poll_ms(mut self, ms: u64) -> Self {
        self.idle_poll_ms = ms.clamp(1, POLL_IDLE_MS_MAX);
        self
    }

    /// Periodic jobs [`Worker::run_until`] enqueues as their periods begin.
    #[must_use]
    pub fn with_schedule(mut self, schedule: Vec<Periodic>) -> Self {
        self.schedule = schedule;
        self
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Enqueues the current period's run of each scheduled job this worker
    /// has not enqueued yet; returns how many were new in the queue.
    pub fn enqueue_due(&self) -> Result<usize, EnqueueError> {
        let now = self.clock.now_ms();
        let mut scheduled = self
            .scheduled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut created = 0;
        for periodic in &self.schedule {
            let period = periodic.period(now);
            if scheduled.get(periodic.kind) == Some(&period) {
                continue;
            }
            let enqueued = self
                .storage
                .transaction(|tx| enqueue_periodic(tx, periodic, now))?;
            created += usize::from(enqueued.created);
            scheduled.insert(periodic.kind, period);
        }
        Ok(created)
    }

    /// Claims one batch of due jobs and runs it; returns how many of them
    /// were done or failed (not those another claim took meanwhile).
    pub fn run_once(&self) -> Result<usize, StorageError> {
        let claim = self.claims.fetch_add(1, Ordering::Relaxed);
        // Unique per claim: what completes, retries or buries a job names it.
        let token = format!("{}#{:016x}.{claim}", self.owner, self.session);
        let now = self.clock.now_ms();
        let lease_until = now.saturating_add(self.lease_ms);
        let rows = self
            .storage
            .transaction(|tx| store::claim(tx.sql(), &token, now, lease_until, self.batch))?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut runnable = Vec::with_capacity(rows.len());
        let mut refused = Vec::new();
        for row in &rows {
            let job = Job::from_row(row);
            if job.attempt > job.max_attempts {
                let error = JobError::Permanent(format!(
                    "claimed {} times with {} attempts allowed: the workers that ran it \
                     stopped or overran their lease",
                    job.attempt, job.max_attempts
                ));
                refused.push((job, error));
            } else if let Some(handler) = self.handlers.get(&job.kind) {
                runnable.push((job, handler));
            } else {
                let error = JobError::Permanent(format!("no handler for job kind {:?}", job.kind));
                refused.push((job, error));
            }
        }
        let mut ran = 0;
        // Refused jobs leave the claim first, so completing the claim as a
        // whole cannot mark them done.
        for (job, error) in &refused {
            if self.record_failure(&token, job, error) == Outcome::Failed {
                ran += 1;
            }
        }
        if runnable.len() > 1 {
            match self.run_batch(&token, &runnable) {
                Ok(()) => return Ok(ran + runnable.len()),
                Err(GroupAbort::Storage(e)) => {
                    tracing::debug!("a job batch failed, running it job by job: {e}");
                }
                Err(GroupAbort::Handler | GroupAbort::LeaseLost) => {}
            }
        }
        for (job, handler) in &runnable {
            if self.run_alone(&token, job, *handler) != Outcome::Lost {
                ran += 1;
            }
        }
        Ok(ran)
    }

    /// Every job of the batch in one transaction, completed by one
    /// statement that must find each of them still held by this claim.
    fn run_batch(&self, token: &str, jobs: &[(Job, Handler)]) -> Result<(), GroupAbort> {
        self.storage.transaction(|tx| {
            for (job, handler) in jobs {
                call(*handler, tx, job).map_err(|_| GroupAbort::Handler)?;
            }
            let done = store::complete_claim(tx.sql(), token, self.clock.now_ms())?;
            if done != jobs.len() as u64 {
                return Err(GroupAbort::LeaseLost);
            }
            Ok(())
        })
    }

    /// One job in its own transaction: marked done (which locks its row
    /// until the end) if this claim still holds it, then its handler.
    fn run_alone(&self, token: &str, job: &Job, handler: Handler) -> Outcome {
        let result = self.storage.transaction(|tx| {
            if !store::complete(tx.sql(), job.id, token, self.clock.now_ms())? {
                return Ok(false);
            }
            call(handler, tx, job)?;
            Ok(true)
        });
        match result {
            Ok(true) => Outcome::Done,
            Ok(false) => Outcome::Lost,
            Err(error) => self.record_failure(token, job, &error),
        }
    }

    /// Queues a failed job again after its back-off, or buries it.
    fn record_failure(&self, token: &str, job: &Job, error: &JobError) -> Outcome {
        let text = error_text(error);
        let now = self.clock.now_ms();
        let permanent = matches!(error, JobError::Permanent(_));
        let result = self.storage.transaction(|tx| {
            if permanent || job.attempt >= job.max_attempts {
                store::bury(tx.sql(), job.id, token, &text, now)
            } else {
                let run_after = now.saturating_add(backoff_ms(job.attempt));
                store::retry(tx.sql(), job.id, token, &text, run_after)
            }
        });
        match result {
            Ok(true) => {
                tracing::warn!(
                    "job {} ({}) attempt {}/{} failed: {text}",
                    job.id,
                    job.kind,
                    job.attempt,
                    job.max_attempts
                );
                Outcome::Failed
            }
            Ok(false) => Outcome::Lost,
            Err(e) => {
                // The job stays claimed; it is claimed again once the lease expires.
                tracing::warn!("recording the failure of job {} failed: {e}", job.id);
                Outcome::Failed
            }
        }
    }

    /// Enqueues periodic jobs and runs batches until `stop` receives or its
    /// sender is dropped; between batches it waits [`POLL_IDLE_MS`] (or as
    /// set) when there was nothing to do, [`POLL_ERROR_MS`] after a database
    /// error.
    /// A batch under way is finished first.
    pub fn run_until(&self, stop: &Receiver<()>) {
        loop {
            if !matches!(stop.try_recv(), Err(TryRecvError::Empty)) {
                return;
            }
            if let Err(e) = self.enqueue_due() {
                tracing::warn!("enqueueing periodic jobs failed: {e}");
            }
            let wait = match self.run_once() {
                Ok(0) => self.idle_poll_ms,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("claiming jobs failed: {e}");
                    POLL_ERROR_MS
                }
            };
            match stop.recv_timeout(Duration::from_millis(wait)) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff_ms(1), BACKOFF_BASE_MS);
        assert_eq!(backoff_ms(2), 2 * BACKOFF_BASE_MS);
        assert_eq!(backoff_ms(4), 8 * BACKOFF_BASE_MS);
        assert_eq!(backoff_ms(20), BACKOFF_MAX_MS);
        assert_eq!(backoff_ms(u32::MAX), BACKOFF_MAX_MS);
    }

    #[test]
    fn kinds_and_keys_are_bounded() {
        assert!(valid_kind("prune_nonces"));
        assert!(!valid_kind(""));
        assert!(!valid_kind("Prune"));
        assert!(!valid_kind(&"a".repeat(KIND_BYTES_MAX + 1)));
        assert!(valid_key("prune_nonces:29000000"));
        assert!(!valid_key(""));
        assert!(!valid_key("a\nb"));
        assert!(!valid_key(&"k".repeat(KEY_BYTES_MAX + 1)));
    }

    #[test]
    fn a_periodic_key_names_its_period() {
        let p = Periodic {
            kind: "prune_nonces",
            period_ms: 60_000,
        };
        assert_eq!(p.key(p.period(120_000)), "prune_nonces:2");
        assert_eq!(p.period(179_999), 2);
        assert_eq!(p.period(180_000), 3);
    }
}
