//! Field agents' cash sessions as their logs recorded them (the rules of
//! reconciliation are in `src/payments/floats.rs`; this file only reads and
//! writes rows). Every query is written once.

use std::sync::OnceLock;

use super::StorageError;
use super::sql::{Page, Row, Sql};

type Res<T> = Result<T, StorageError>;

/// One session, as far as the synced entries tell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CashSessionRow {
    pub device: String,
    pub session: i64,
    pub site: Option<String>,
    pub operator: String,
    pub currency: String,
    pub float_minor: i64,
    pub opened_seq: i64,
    pub opened_at: i64,
    pub payouts: i64,
    pub paid_minor: i64,
    pub disputed: i64,
    pub disputed_minor: i64,
    pub expected_minor: Option<i64>,
    pub counted_minor: Option<i64>,
    pub closed_seq: Option<i64>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
}

const COLUMNS: &str = "device, session, site, operator, currency, float_minor, opened_seq, \
     opened_at, payouts, paid_minor, disputed, disputed_minor, expected_minor, counted_minor, \
     closed_seq, closed_at, updated_at";

fn session_row(r: &Row) -> Res<CashSessionRow> {
    Ok(CashSessionRow {
        device: r.text(0)?,
        session: r.int(1)?,
        site: r.opt_text(2)?,
        operator: r.text(3)?,
        currency: r.text(4)?,
        float_minor: r.int(5)?,
        opened_seq: r.int(6)?,
        opened_at: r.int(7)?,
        payouts: r.int(8)?,
        paid_minor: r.int(9)?,
        disputed: r.int(10)?,
        disputed_minor: r.int(11)?,
        expected_minor: r.opt_int(12)?,
        counted_minor: r.opt_int(13)?,
        closed_seq: r.opt_int(14)?,
        closed_at: r.opt_int(15)?,
        updated_at: r.int(16)?,
    })
}

/// A session just opened. Opening the same session again (an entry sent
/// twice is stored once, so this only happens on a corrupt log) keeps the
/// first.
pub struct Opened<'a> {
    pub device: &'a str,
    pub session: i64,
    pub site: Option<&'a str>,
    pub operator: &'a str,
    pub currency: &'a str,
    pub float_minor: i64,
    pub seq: i64,
    pub at: i64,
}

pub fn open(sql: &mut dyn Sql, o: &Opened<'_>, now: i64) -> Res<()> {
    sql.execute(
        "INSERT INTO cash_sessions (device, session, site, operator, currency, float_minor,
             opened_seq, opened_at, payouts, paid_minor, disputed, disputed_minor, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, 0, $9)
         ON CONFLICT (device, session) DO NOTHING",
        &[
            o.device.into(),
            o.session.into(),
            o.site.into(),
            o.operator.into(),
            o.currency.into(),
            o.float_minor.into(),
            o.seq.into(),
            o.at.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// Adds one upload's payouts to a session: those delivered and those
/// disputed. A session not known here (opened before this table
/// existed) is left alone.
pub fn add_payouts(
    sql: &mut dyn Sql,
    device: &str,
    session: i64,
    counted: (i64, i64),
    disputed: (i64, i64),
    now: i64,
) -> Res<()> {
    sql.execute(
        "UPDATE cash_sessions SET payouts = payouts + $3, paid_minor = paid_minor + $4,
             disputed = disputed + $5, disputed_minor = disputed_minor + $6, updated_at = $7
         WHERE device = $1 AND session = $2",
        &[
            device.into(),
            session.into(),
            counted.0.into(),
            counted.1.into(),
            disputed.0.into(),
            disputed.1.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// A session's close: what the terminal expected in the box and what the
/// agent counted, by the entry that closed it.
pub struct Closed<'a> {
    pub device: &'a str,
    pub session: i64,
    pub expected_minor: i64,
    pub counted_minor: i64,
    pub seq: i64,
    pub at: i64,
}

/// Closes a session; one not known here, or closed already, is left alone.
pub fn close(sql: &mut dyn Sql, c: &Closed<'_>, now: i64) -> Res<()> {
    sql.execute(
        "UPDATE cash_sessions SET expected_minor = $3, counted_minor = $4, closed_seq = $5,
             closed_at = $6, updated_at = $7
         WHERE device = $1 AND session = $2 AND closed_seq IS NULL",
        &[
            c.device.into(),
            c.session.into(),
            c.expected_minor.into(),
            c.counted_minor.into(),
            c.seq.into(),
            c.at.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// The devices that held a float, with a site filter, a page of them by
/// device id.
pub fn devices(sql: &mut dyn Sql, site: Option<&str>, page: Page) -> Res<Vec<(String, String)>> {
    let [limit, offset] = page.params();
    sql.query(
        "cash_sessions",
        "SELECT DISTINCT device, currency FROM cash_sessions
         WHERE (CAST($1 AS TEXT) IS NULL OR site = $1)
         ORDER BY device, currency LIMIT $2 OFFSET $3",
        &[site.into(), limit, offset],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}

/// The sessions of `device` in `currency`, newest first, at most `most`:
/// all of them, or with `mismatched` only the closed ones whose close
/// disagrees with their synced entries (the terminal expected other than
/// the float less every payout).
pub fn sessions(
    sql: &mut dyn Sql,
    device: &str,
    currency: &str,
    mismatched: bool,
    most: i64,
) -> Res<Vec<CashSessionRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {COLUMNS} FROM cash_sessions WHERE device = $1 AND currency = $2
               AND ($3 = 0 OR (closed_seq IS NOT NULL
                   AND expected_minor <> float_minor - paid_minor - disputed_minor))
             ORDER BY session DESC LIMIT $4"
        )
    });
    sql.query(
        "cash_sessions",
        query,
        &[
            device.into(),
            currency.into(),
            i64::from(mismatched).into(),
            most.into(),
        ],
    )?
    .iter()
    .map(session_row)
    .collect()
}

/// What all sessions of `device` in `currency` add up to (they may be
/// more than [`sessions`] lists): the floats, the counted and disputed
/// payouts, the floats of the open sessions, and each closed session's
/// expected and counted cash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSums {
    pub sessions: i64,
    pub open: i64,
    pub float_minor: i64,
    pub paid_minor: i64,
    pub disputed_minor: i64,
    pub open_float_minor: i64,
    pub open_paid_minor: i64,
    pub open_disputed_minor: i64,
    pub expected_minor: i64,
    pub counted_minor: i64,
}

pub fn sums(sql: &mut dyn Sql, device: &str, currency: &str) -> Res<SessionSums> {
    let row = sql.query_one(
        "cash_sessions",
        "SELECT count(*),
             CAST(COALESCE(SUM(CASE WHEN closed_seq IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT),
             CAST(COALESCE(SUM(float_minor), 0) AS BIGINT),
             CAST(COALESCE(SUM(paid_minor), 0) AS BIGINT),
             CAST(COALESCE(SUM(disputed_minor), 0) AS BIGINT),
             CAST(COALESCE(SUM(CASE WHEN closed_seq IS NULL THEN float_minor ELSE 0 END), 0)
                 AS BIGINT),
             CAST(COALESCE(SUM(CASE WHEN closed_seq IS NULL THEN paid_minor ELSE 0 END), 0)
                 AS BIGINT),
             CAST(COALESCE(SUM(CASE WHEN closed_seq IS NULL THEN disputed_minor ELSE 0 END), 0)
                 AS BIGINT),
             CAST(COALESCE(SUM(expected_minor), 0) AS BIGINT),
             CAST(COALESCE(SUM(counted_minor), 0) AS BIGINT)
         FROM cash_sessions WHERE device = $1 AND currency = $2",
        &[device.into(), currency.into()],
    )?;
    Ok(SessionSums {
        sessions: row.int(0)?,
        open: row.int(1)?,
        float_minor: row.int(2)?,
        paid_minor: row.int(3)?,
        disputed_minor: row.int(4)?,
        open_float_minor: row.int(5)?,
        open_paid_minor: row.int(6)?,
        open_disputed_minor: row.int(7)?,
        expected_minor: row.int(8)?,
        counted_minor: row.int(9)?,
    })
}
