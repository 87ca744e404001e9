//! The job queue, written once for both backends (`src/jobs.rs` runs it).
//!
//! A claim is one statement: it picks the oldest claimable jobs (queued and
//! due, or running on a lease that has expired), marks them running under
//! the claim's token with a lease deadline, and returns them. On PostgreSQL
//! the pick locks its rows `FOR UPDATE SKIP LOCKED`, so instances claiming
//! at the same time take disjoint jobs without waiting for each other; on
//! SQLite the same statement runs without it (one writer at a time). That
//! clause is the only difference between the dialects here.
//!
//! Every change to a claimed job (done, retry, dead) matches
//! `lease_owner = <token> AND state = 'running'`: once another worker has
//! claimed the job again (after the lease expired), the old claim changes
//! nothing. Times are Unix milliseconds.

use super::StorageError;
use super::sql::{Dialect, Page, Row, Sql};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_after`, or to be claimed.
    Queued,
    /// Claimed by a worker until `lease_until`.
    Running,
    /// Its handler's effects are committed.
    Done,
    /// Failed for good (attempts used up, no handler, or refused).
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [Self::Queued, Self::Running, Self::Done, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One stored job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub key: String,
    /// JSON text.
    pub payload: String,
    pub state: JobState,
    /// Claims so far, this one included while it runs.
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: i64,
    /// The token of the claim that holds or last held it.
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJobRow<'a> {
    pub id: i64,
    pub kind: &'a str,
    pub key: &'a str,
    pub payload: &'a str,
    pub max_attempts: i64,
    pub run_after: i64,
    pub created_at: i64,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

impl JobCounts {
    pub fn total(&self) -> u64 {
        self.queued + self.running + self.done + self.dead
    }
}

macro_rules! columns {
    () => {
        "id, kind, key, payload, state, attempts, max_attempts, run_after, lease_owner, \
         lease_until, last_error, created_at, finished_at"
    };
}

/// The claim, with the row-lock clause of the dialect spliced in.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
                 attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs \
                 WHERE state IN ('queued', 'running') \
                   AND ((state = 'queued' AND run_after <= $3) \
                     OR (state = 'running' AND lease_until <= $3)) \
                 ORDER BY run_after, id LIMIT $4 ",
            $lock,
            ") RETURNING ",
            columns!()
        )
    };
}

const CLAIM_POSTGRES: &str = claim_sql!("FOR UPDATE SKIP LOCKED");
const CLAIM_SQLITE: &str = claim_sql!("");

fn row(r: &Row) -> Result<JobRow, StorageError> {
    let state = r.text(4)?;
    Ok(JobRow {
        id: r.int(0)?,
        kind: r.text(1)?,
        key: r.text(2)?,
        payload: r.text(3)?,
        state: JobState::parse(&state).ok_or_else(|| StorageError::corrupt("jobs.state", state))?,
        attempts: r.int(5)?,
        max_attempts: r.int(6)?,
        run_after: r.int(7)?,
        lease_owner: r.opt_text(8)?,
        lease_until: r.opt_int(9)?,
        last_error: r.opt_text(10)?,
        created_at: r.int(11)?,
        finished_at: r.opt_int(12)?,
    })
}

/// Inserts a queued job unless one with its key exists; true if inserted.
pub fn insert(sql: &mut dyn Sql, job: &NewJobRow<'_>) -> Result<bool, StorageError> {
    let changed = sql.execute(
        "INSERT INTO jobs (id, kind, key, payload, state, attempts, max_attempts, run_after,
             created_at)
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7)
         ON CONFLICT (key) DO NOTHING",
        &[
            job.id.into(),
            job.kind.into(),
            job.key.into(),
            job.payload.into(),
            job.max_attempts.into(),
            job.run_after.into(),
            job.created_at.into(),
        ],
    )?;
    Ok(changed == 1)
}

pub fn by_key(sql: &mut dyn Sql, key: &str) -> Result<Option<JobRow>, StorageError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM jobs WHERE key = $1");
    sql.query_opt("jobs", SQL, &[key.into()])?
        .map(|r| row(&r))
        .transpose()
}

pub fn by_id(sql: &mut dyn Sql, id: i64) -> Result<Option<JobRow>, StorageError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM jobs WHERE id = $1");
    sql.query_opt("jobs", SQL, &[id.into()])?
        .map(|r| row(&r))
        .transpose()
}

/// Claims up to `limit` jobs claimable at `now` for the claim `token`, until
/// `lease_until`; oldest (`run_after`, then id) first.
pub fn claim(
    sql: &mut dyn Sql,
    token: &str,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<JobRow>, StorageError> {
    let statement = match sql.dialect() {
        Dialect::Postgres => CLAIM_POSTGRES,
        Dialect::Sqlite => CLAIM_SQLITE,
    };
    let mut jobs = sql
        .query(
            "jobs",
            statement,
            &[
                token.into(),
                lease_until.into(),
                now.into(),
                i64::from(limit).into(),
            ],
        )?
        .iter()
        .map(row)
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING comes in no particular order.
    jobs.sort_by_key(|j| (j.run_after, j.id));
    Ok(jobs)
}

/// Marks one job of the claim `token` done; false if the claim lost it.
pub fn complete(sql: &mut dyn Sql, id: i64, token: &str, now: i64) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE jobs SET state = 'done', finished_at = $3, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        &[id.into(), token.into(), now.into()],
    )? == 1)
}

/// Marks every job still held by the claim `token` done; returns how many.
pub fn complete_claim(sql: &mut dyn Sql, token: &str, now: i64) -> Result<u64, StorageError> {
    sql.execute(
        "UPDATE jobs SET state = 'done', finished_at = $2, lease_until = NULL
         WHERE lease_owner = $1 AND state = 'running'",
        &[token.into(), now.into()],
    )
}

/// Puts a failed job of the claim `token` back in the queue, not to be
/// claimed before `run_after`; false if the claim lost it.
pub fn retry(
    sql: &mut dyn Sql,
    id: i64,
    token: &str,
    error: &str,
    run_after: i64,
) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE jobs SET state = 'queued', run_after = $4, lease_until = NULL, last_error = $3
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        &[id.into(), token.into(), error.into(), run_after.into()],
    )? == 1)
}

/// Gives up on a job of the claim `token`; false if the claim lost it.
pub fn bury(
    sql: &mut dyn Sql,
    id: i64,
    token: &str,
    error: &str,
    now: i64,
) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE jobs SET state = 'dead', finished_at = $4, lease_until = NULL, last_error = $3
         WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        &[id.into(), token.into(), error.into(), now.into()],
    )? == 1)
}

/// Jobs in `state`, oldest first, one page.
pub fn list(sql: &mut dyn Sql, state: JobState, page: Page) -> Result<Vec<JobRow>, StorageError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM jobs WHERE state = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
    );
    let [limit, offset] = page.params();
    sql.query("jobs", SQL, &[state.as_str().into(), limit, offset])?
        .iter()
        .map(row)
        .collect()
}

pub fn counts(sql: &mut dyn Sql) -> Result<JobCounts, StorageError> {
    let mut counts = JobCounts::default();
    for r in sql.query(
        "jobs",
        "SELECT state, count(*) FROM jobs GROUP BY state",
        &[],
    )? {
        let state = r.text(0)?;
        let n = u64::try_from(r.int(1)?).map_err(|e| StorageError::corrupt("jobs", e))?;
        match JobState::parse(&state) {
            Some(JobState::Queued) => counts.queued = n,
            Some(JobState::Running) => counts.running = n,
            Some(JobState::Done) => counts.done = n,
            Some(JobState::Dead) => counts.dead = n,
            None => return Err(StorageError::corrupt("jobs.state", state)),
        }
    }
    Ok(counts)
}

/// Deletes up to `limit` jobs in `state` (done or dead) that finished before
/// `before`; returns how many.
pub fn delete_finished(
    sql: &mut dyn Sql,
    state: JobState,
    before: i64,
    limit: u32,
) -> Result<u64, StorageError> {
    sql.execute(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
             WHERE state = $1 AND finished_at < $2 LIMIT $3)",
        &[
            state.as_str().into(),
            before.into(),
            i64::from(limit).into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialects_differ_only_by_the_row_lock() {
        assert_eq!(
            CLAIM_POSTGRES.replace("FOR UPDATE SKIP LOCKED", ""),
            CLAIM_SQLITE
        );
        assert!(CLAIM_POSTGRES.contains("LIMIT $4 FOR UPDATE SKIP LOCKED)"));
    }

    #[test]
    fn states_round_trip() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("paused"), None);
    }
}
