//! The payment pipeline's rows: rails, batches, payments, their events and
//! the files exchanged with rails (`src/payments/` holds the rules; this
//! file only reads and writes rows). Every query is written once.

use std::sync::OnceLock;

use super::StorageError;
use super::sql::{Page, Row, Sql, Value, values_list};

type Res<T> = Result<T, StorageError>;

/// Payments (or events) written by one multi-row `INSERT`, largest first.
const INSERT_ROWS: [usize; 3] = [64, 8, 1];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RailRow {
    pub rail: String,
    pub kind: String,
    pub currency: String,
    /// JSON (`payments::rails::RailConfig`).
    pub config: String,
    pub state: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const RAIL_COLUMNS: &str =
    "rail, kind, currency, config, state, created_by, created_at, updated_at";

fn rail_row(r: &Row) -> Res<RailRow> {
    Ok(RailRow {
        rail: r.text(0)?,
        kind: r.text(1)?,
        currency: r.text(2)?,
        config: r.text(3)?,
        state: r.text(4)?,
        created_by: r.text(5)?,
        created_at: r.int(6)?,
        updated_at: r.int(7)?,
    })
}

/// Inserts a rail; `false` when its name is taken.
pub fn insert_rail(sql: &mut dyn Sql, r: &RailRow) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO rails (rail, kind, currency, config, state, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (rail) DO NOTHING",
        &[
            r.rail.as_str().into(),
            r.kind.as_str().into(),
            r.currency.as_str().into(),
            r.config.as_str().into(),
            r.state.as_str().into(),
            r.created_by.as_str().into(),
            r.created_at.into(),
            r.updated_at.into(),
        ],
    )? == 1)
}

pub fn rail(sql: &mut dyn Sql, rail: &str) -> Res<Option<RailRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| format!("SELECT {RAIL_COLUMNS} FROM rails WHERE rail = $1"));
    sql.query_opt("rails", query, &[rail.into()])?
        .as_ref()
        .map(rail_row)
        .transpose()
}

/// Every rail, by name (there are a handful).
pub fn rails(sql: &mut dyn Sql, most: i64) -> Res<Vec<RailRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query =
        SQL.get_or_init(|| format!("SELECT {RAIL_COLUMNS} FROM rails ORDER BY rail LIMIT $1"));
    sql.query("rails", query, &[most.into()])?
        .iter()
        .map(rail_row)
        .collect()
}

pub fn set_rail_state(sql: &mut dyn Sql, rail: &str, state: &str, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE rails SET state = $2, updated_at = $3 WHERE rail = $1 AND state <> $2",
        &[rail.into(), state.into(), now.into()],
    )? == 1)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BatchRow {
    pub id: i64,
    pub programme: String,
    pub cycle: i64,
    pub rail: String,
    pub currency: String,
    pub payments: i64,
    pub total_minor: i64,
    pub state: String,
    pub message_id: String,
    pub prepared_by: String,
    pub prepared_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub sent_at: Option<i64>,
}

const BATCH_COLUMNS: &str = "id, programme, cycle, rail, currency, payments, total_minor, state, \
     message_id, prepared_by, prepared_at, approved_by, approved_at, sent_at";

fn batch_row(r: &Row) -> Res<BatchRow> {
    Ok(BatchRow {
        id: r.int(0)?,
        programme: r.text(1)?,
        cycle: r.int(2)?,
        rail: r.text(3)?,
        currency: r.text(4)?,
        payments: r.int(5)?,
        total_minor: r.int(6)?,
        state: r.text(7)?,
        message_id: r.text(8)?,
        prepared_by: r.text(9)?,
        prepared_at: r.int(10)?,
        approved_by: r.opt_text(11)?,
        approved_at: r.opt_int(12)?,
        sent_at: r.opt_int(13)?,
    })
}

pub fn insert_batch(sql: &mut dyn Sql, b: &BatchRow) -> Res<()> {
    sql.execute(
        "INSERT INTO payment_batches (id, programme, cycle, rail, currency, payments, total_minor,
             state, message_id, prepared_by, prepared_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            b.id.into(),
            b.programme.as_str().into(),
            b.cycle.into(),
            b.rail.as_str().into(),
            b.currency.as_str().into(),
            b.payments.into(),
            b.total_minor.into(),
            b.state.as_str().into(),
            b.message_id.as_str().into(),
            b.prepared_by.as_str().into(),
            b.prepared_at.into(),
        ],
    )?;
    Ok(())
}

pub fn batch(sql: &mut dyn Sql, id: i64) -> Res<Option<BatchRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query =
        SQL.get_or_init(|| format!("SELECT {BATCH_COLUMNS} FROM payment_batches WHERE id = $1"));
    sql.query_opt("payment_batches", query, &[id.into()])?
        .as_ref()
        .map(batch_row)
        .transpose()
}

/// The batch whose file carried `message_id`.
pub fn batch_by_message(sql: &mut dyn Sql, message_id: &str) -> Res<Option<BatchRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!("SELECT {BATCH_COLUMNS} FROM payment_batches WHERE message_id = $1")
    });
    sql.query_opt("payment_batches", query, &[message_id.into()])?
        .as_ref()
        .map(batch_row)
        .transpose()
}

/// Newest first; only a cycle's when `cycle` is given.
pub fn batches(sql: &mut dyn Sql, cycle: Option<i64>, page: Page) -> Res<Vec<BatchRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {BATCH_COLUMNS} FROM payment_batches
             WHERE (CAST($1 AS BIGINT) IS NULL OR cycle = $1) ORDER BY id DESC LIMIT $2 OFFSET $3"
        )
    });
    let [limit, offset] = page.params();
    sql.query("payment_batches", query, &[cycle.into(), limit, offset])?
        .iter()
        .map(batch_row)
        .collect()
}

/// Moves a batch from state `from` to `to`; `false` when it was not in `from`.
pub fn set_batch_state(sql: &mut dyn Sql, id: i64, from: &str, to: &str) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE payment_batches SET state = $3 WHERE id = $1 AND state = $2",
        &[id.into(), from.into(), to.into()],
    )? == 1)
}

pub fn approve_batch(sql: &mut dyn Sql, id: i64, by: &str, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE payment_batches SET state = 'approved', approved_by = $2, approved_at = $3
         WHERE id = $1 AND state = 'submitted'",
        &[id.into(), by.into(), now.into()],
    )? == 1)
}

pub fn mark_batch_sent(sql: &mut dyn Sql, id: i64, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE payment_batches SET state = 'sent', sent_at = $2 WHERE id = $1 AND state = 'approved'",
        &[id.into(), now.into()],
    )? == 1)
}

/// An approved entitlement no payment was made for yet, with what paying
/// it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payable {
    pub beneficiary: String,
    pub amount_minor: i64,
    pub channel: String,
}

/// A cycle's approved bank entitlements in `currency` that have no
/// payment by their channel yet, by beneficiary (at most `most`).
pub fn payable(sql: &mut dyn Sql, cycle: i64, currency: &str, most: i64) -> Res<Vec<Payable>> {
    sql.query(
        "cycle_entitlements",
        "SELECT e.beneficiary, e.amount_minor, e.channel FROM cycle_entitlements e
         WHERE e.cycle = $1 AND e.state = 'approved' AND e.channel_kind = 'bank'
           AND e.currency = $2 AND e.amount_minor > 0
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.cycle = e.cycle
                           AND p.beneficiary = e.beneficiary AND p.channel = e.channel)
         ORDER BY e.beneficiary LIMIT $3",
        &[cycle.into(), currency.into(), most.into()],
    )?
    .iter()
    .map(|r| {
        Ok(Payable {
            beneficiary: r.text(0)?,
            amount_minor: r.int(1)?,
            channel: r.text(2)?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRow {
    pub payment: String,
    pub batch: Option<i64>,
    pub programme: String,
    pub cycle: i64,
    pub beneficiary: String,
    pub rail: String,
    pub channel: String,
    pub amount_minor: i64,
    pub currency: String,
    pub state: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub exception: bool,
    pub attempts: i64,
    pub events: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const PAYMENT_COLUMNS: &str = "payment, batch, programme, cycle, beneficiary, rail, channel, \
     amount_minor, currency, state, reason, detail, exception, attempts, events, created_at, \
     updated_at";
const PAYMENT_COLUMN_COUNT: usize = 17;

fn payment_row(r: &Row) -> Res<PaymentRow> {
    Ok(PaymentRow {
        payment: r.text(0)?,
        batch: r.opt_int(1)?,
        programme: r.text(2)?,
        cycle: r.int(3)?,
        beneficiary: r.text(4)?,
        rail: r.text(5)?,
        channel: r.text(6)?,
        amount_minor: r.int(7)?,
        currency: r.text(8)?,
        state: r.text(9)?,
        reason: r.opt_text(10)?,
        detail: r.opt_text(11)?,
        exception: r.flag(12)?,
        attempts: r.int(13)?,
        events: r.int(14)?,
        created_at: r.int(15)?,
        updated_at: r.int(16)?,
    })
}

fn payment_values(p: &PaymentRow, out: &mut Vec<Value>) {
    out.extend([
        p.payment.as_str().into(),
        p.batch.into(),
        p.programme.as_str().into(),
        p.cycle.into(),
        p.beneficiary.as_str().into(),
        p.rail.as_str().into(),
        p.channel.as_str().into(),
        p.amount_minor.into(),
        p.currency.as_str().into(),
        p.state.as_str().into(),
        p.reason.clone().into(),
        p.detail.clone().into(),
        p.exception.into(),
        p.attempts.into(),
        p.events.into(),
        p.created_at.into(),
        p.updated_at.into(),
    ]);
}

fn insert_statement(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        INSERT_ROWS
            .iter()
            .map(|&n| {
                values_list(
                    &format!("INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES "),
                    PAYMENT_COLUMN_COUNT,
                    n,
                )
            })
            .collect()
    });
    let index = INSERT_ROWS.iter().position(|&n| n == rows).unwrap_or(0);
    all[index].as_str()
}

/// Inserts new payments (their keys must be new: a key taken is a
/// constraint error, which rolls the caller back).
pub fn insert_payments(sql: &mut dyn Sql, rows: &[PaymentRow]) -> Res<()> {
    let mut rest = rows;
    while !rest.is_empty() {
        let n = INSERT_ROWS
            .into_iter()
            .find(|&n| n <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(n);
        let mut values = Vec::with_capacity(n * PAYMENT_COLUMN_COUNT);
        for p in chunk {
            payment_values(p, &mut values);
        }
        sql.execute(insert_statement(n), &values)?;
        rest = tail;
    }
    Ok(())
}

pub fn payment(sql: &mut dyn Sql, key: &str) -> Res<Option<PaymentRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query =
        SQL.get_or_init(|| format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment = $1"));
    sql.query_opt("payments", query, &[key.into()])?
        .as_ref()
        .map(payment_row)
        .transpose()
}

/// A batch's payments after `after` (by key), at most `most`: read in
/// pages, so a batch of any size is streamed.
pub fn batch_payments(
    sql: &mut dyn Sql,
    batch: i64,
    after: &str,
    most: i64,
) -> Res<Vec<PaymentRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE batch = $1 AND payment > $2
             ORDER BY payment LIMIT $3"
        )
    });
    sql.query(
        "payments",
        query,
        &[batch.into(), after.into(), most.into()],
    )?
    .iter()
    .map(payment_row)
    .collect()
}

/// A batch's payments with what a payment file needs (key, amount,
/// channel, the creditor's name), after `after` by key, at most `most`.
pub fn batch_instructions(
    sql: &mut dyn Sql,
    batch: i64,
    after: &str,
    most: i64,
) -> Res<Vec<(String, i64, String, String)>> {
    sql.query(
        "payments",
        "SELECT p.payment, p.amount_minor, p.channel, b.name FROM payments p
         JOIN beneficiaries b ON b.programme = p.programme AND b.beneficiary = p.beneficiary
         WHERE p.batch = $1 AND p.payment > $2 ORDER BY p.payment LIMIT $3",
        &[batch.into(), after.into(), most.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.int(1)?, r.text(2)?, r.text(3)?)))
    .collect()
}

/// The files already read from a rail's folder under `name`.
pub fn file_named(sql: &mut dyn Sql, rail: &str, name: &str) -> Res<bool> {
    Ok(sql
        .query_opt(
            "rail_files",
            "SELECT 1 FROM rail_files WHERE rail = $1 AND name = $2 AND direction = 'in'",
            &[rail.into(), name.into()],
        )?
        .is_some())
}

/// A bank rail's payments sent before `sent_before` with no answer yet
/// and not in the exception queue (at most `most`).
pub fn unanswered(sql: &mut dyn Sql, rail: &str, sent_before: i64, most: i64) -> Res<Vec<String>> {
    sql.query(
        "payments",
        "SELECT p.payment FROM payments p JOIN payment_batches b ON b.id = p.batch
         WHERE p.rail = $1 AND p.state IN ('sent', 'accepted') AND p.exception = 0
           AND b.sent_at < $2
         ORDER BY p.payment LIMIT $3",
        &[rail.into(), sent_before.into(), most.into()],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

/// Deletes a draft batch's payments and their events (never sent: they
/// were only a plan).
pub fn delete_draft_payments(sql: &mut dyn Sql, batch: i64) -> Res<u64> {
    sql.execute(
        "DELETE FROM payment_events WHERE payment IN
             (SELECT payment FROM payments WHERE batch = $1 AND state = 'batched')",
        &[batch.into()],
    )?;
    sql.execute(
        "DELETE FROM payments WHERE batch = $1 AND state = 'batched'",
        &[batch.into()],
    )
}

/// Records the first event (`created`) of every payment of a new batch.
pub fn created_events(sql: &mut dyn Sql, batch: i64, actor: &str, now: i64) -> Res<u64> {
    sql.execute(
        "INSERT INTO payment_events (payment, seq, kind, actor, detail, at)
         SELECT payment, 1, 'created', $2, '{}', $3 FROM payments WHERE batch = $1",
        &[batch.into(), actor.into(), now.into()],
    )
}

/// Moves a payment to another batch (a retry goes out in a file of its own).
pub fn move_to_batch(sql: &mut dyn Sql, payment: &str, batch: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE payments SET batch = $2 WHERE payment = $1",
        &[payment.into(), batch.into()],
    )? == 1)
}

/// Filters of a payment list.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub batch: Option<i64>,
    pub cycle: Option<i64>,
    pub state: Option<String>,
    pub exceptions_only: bool,
}

/// Payments matching `filter`, most recently changed first.
pub fn payments(sql: &mut dyn Sql, filter: &PaymentFilter, page: Page) -> Res<Vec<PaymentRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments
             WHERE (CAST($1 AS BIGINT) IS NULL OR batch = $1)
               AND (CAST($2 AS BIGINT) IS NULL OR cycle = $2)
               AND (CAST($3 AS TEXT) IS NULL OR state = $3)
               AND (CAST($4 AS BIGINT) = 0 OR exception = 1)
             ORDER BY updated_at DESC, payment LIMIT $5 OFFSET $6"
        )
    });
    let [limit, offset] = page.params();
    sql.query(
        "payments",
        query,
        &[
            filter.batch.into(),
            filter.cycle.into(),
            filter.state.clone().into(),
            filter.exceptions_only.into(),
            limit,
            offset,
        ],
    )?
    .iter()
    .map(payment_row)
    .collect()
}

/// Counts and amounts by state and currency, of a batch, a cycle, a
/// programme or everything.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateTotal {
    pub state: String,
    pub currency: String,
    pub payments: i64,
    pub amount_minor: i64,
    pub exceptions: i64,
}

pub fn state_totals(
    sql: &mut dyn Sql,
    programme: Option<&str>,
    cycle: Option<i64>,
    batch: Option<i64>,
) -> Res<Vec<StateTotal>> {
    sql.query(
        "payments",
        "SELECT state, currency, COUNT(*), CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT),
             CAST(COALESCE(SUM(exception), 0) AS BIGINT)
         FROM payments
         WHERE (CAST($1 AS TEXT) IS NULL OR programme = $1)
           AND (CAST($2 AS BIGINT) IS NULL OR cycle = $2)
           AND (CAST($3 AS BIGINT) IS NULL OR batch = $3)
         GROUP BY state, currency ORDER BY state, currency",
        &[programme.into(), cycle.into(), batch.into()],
    )?
    .iter()
    .map(|r| {
        Ok(StateTotal {
            state: r.text(0)?,
            currency: r.text(1)?,
            payments: r.int(2)?,
            amount_minor: r.int(3)?,
            exceptions: r.int(4)?,
        })
    })
    .collect()
}

/// One line of a payment's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub payment: String,
    pub seq: i64,
    pub kind: String,
    pub actor: String,
    /// JSON.
    pub detail: String,
    pub at: i64,
}

const EVENT_COLUMNS: &str = "payment, seq, kind, actor, detail, at";

fn event_row(r: &Row) -> Res<EventRow> {
    Ok(EventRow {
        payment: r.text(0)?,
        seq: r.int(1)?,
        kind: r.text(2)?,
        actor: r.text(3)?,
        detail: r.text(4)?,
        at: r.int(5)?,
    })
}

pub fn events(sql: &mut dyn Sql, payment: &str, most: i64) -> Res<Vec<EventRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {EVENT_COLUMNS} FROM payment_events WHERE payment = $1 ORDER BY seq LIMIT $2"
        )
    });
    sql.query("payment_events", query, &[payment.into(), most.into()])?
        .iter()
        .map(event_row)
        .collect()
}

/// The newest events of all payments (for a live view).
pub fn recent_events(sql: &mut dyn Sql, most: i64) -> Res<Vec<EventRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {EVENT_COLUMNS} FROM payment_events
             ORDER BY at DESC, payment DESC, seq DESC LIMIT $1"
        )
    });
    sql.query("payment_events", query, &[most.into()])?
        .iter()
        .map(event_row)
        .collect()
}

/// Counts one more attempt for each payment of `batch` in state `state`.
pub fn count_attempt(sql: &mut dyn Sql, batch: i64, state: &str) -> Res<u64> {
    sql.execute(
        "UPDATE payments SET attempts = attempts + 1 WHERE batch = $1 AND state = $2",
        &[batch.into(), state.into()],
    )
}

/// An event recorded on payments: what happened, who did it, and its
/// detail (JSON).
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: &'a str,
    pub actor: &'a str,
    pub detail: &'a str,
}

/// Every payment of `batch` in state `from` moves to `to`, each with
/// `event` (two statements, whatever the batch's size).
pub fn move_batch(
    sql: &mut dyn Sql,
    batch: i64,
    from: &str,
    to: &str,
    event: Event<'_>,
    now: i64,
) -> Res<u64> {
    sql.execute(
        "INSERT INTO payment_events (payment, seq, kind, actor, detail, at)
         SELECT payment, events + 1, $3, $4, $5, $6 FROM payments WHERE batch = $1 AND state = $2",
        &[
            batch.into(),
            from.into(),
            event.kind.into(),
            event.actor.into(),
            event.detail.into(),
            now.into(),
        ],
    )?;
    sql.execute(
        "UPDATE payments SET state = $3, events = events + 1, updated_at = $4
         WHERE batch = $1 AND state = $2",
        &[batch.into(), from.into(), to.into(), now.into()],
    )
}

/// What changes on one payment, with the event that records it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub payment: &'a str,
    /// The payment's state the change expects (it is refused otherwise).
    pub from: &'a str,
    pub to: &'a str,
    pub reason: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub exception: bool,
    /// Added to the attempts.
    pub attempt: i64,
    pub event: &'a str,
    pub actor: &'a str,
    /// JSON.
    pub event_detail: &'a str,
}

/// Applies `change` if the payment is still in `change.from`; `false`
/// (and nothing written) otherwise.
pub fn change(sql: &mut dyn Sql, c: &Change<'_>, now: i64) -> Res<bool> {
    let moved = sql.execute(
        "UPDATE payments SET state = $3, reason = $4, detail = $5, exception = $6,
             attempts = attempts + $7, events = events + 1, updated_at = $8
         WHERE payment = $1 AND state = $2",
        &[
            c.payment.into(),
            c.from.into(),
            c.to.into(),
            c.reason.into(),
            c.detail.into(),
            c.exception.into(),
            c.attempt.into(),
            now.into(),
        ],
    )?;
    if moved != 1 {
        return Ok(false);
    }
    sql.execute(
        "INSERT INTO payment_events (payment, seq, kind, actor, detail, at)
         SELECT payment, events, $2, $3, $4, $5 FROM payments WHERE payment = $1",
        &[
            c.payment.into(),
            c.event.into(),
            c.actor.into(),
            c.event_detail.into(),
            now.into(),
        ],
    )?;
    Ok(true)
}

/// Records an event on a payment without changing its state.
pub fn note_event(
    sql: &mut dyn Sql,
    payment: &str,
    kind: &str,
    actor: &str,
    detail: &str,
    now: i64,
) -> Res<()> {
    sql.execute(
        "UPDATE payments SET events = events + 1, updated_at = $2 WHERE payment = $1",
        &[payment.into(), now.into()],
    )?;
    sql.execute(
        "INSERT INTO payment_events (payment, seq, kind, actor, detail, at)
         SELECT payment, events, $2, $3, $4, $5 FROM payments WHERE payment = $1",
        &[
            payment.into(),
            kind.into(),
            actor.into(),
            detail.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// Sets the state of the entitlement a payment pays.
pub fn set_entitlement_state(
    sql: &mut dyn Sql,
    cycle: i64,
    beneficiary: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE cycle_entitlements SET state = $4, updated_at = $5
         WHERE cycle = $1 AND beneficiary = $2 AND state = $3",
        &[
            cycle.into(),
            beneficiary.into(),
            from.into(),
            to.into(),
            now.into(),
        ],
    )? == 1)
}

/// Every entitlement of a batch's payments from `from` to `to`.
pub fn set_batch_entitlements(
    sql: &mut dyn Sql,
    batch: i64,
    from: &str,
    to: &str,
    now: i64,
) -> Res<u64> {
    sql.execute(
        "UPDATE cycle_entitlements SET state = $3, updated_at = $4
         WHERE state = $2 AND EXISTS (SELECT 1 FROM payments p WHERE p.batch = $1
             AND p.cycle = cycle_entitlements.cycle AND p.beneficiary = cycle_entitlements.beneficiary)",
        &[batch.into(), from.into(), to.into(), now.into()],
    )
}

/// Points an approved-again entitlement at another channel (a reroute).
pub fn reroute_entitlement(
    sql: &mut dyn Sql,
    cycle: i64,
    beneficiary: &str,
    from: &str,
    channel: &str,
    kind: &str,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE cycle_entitlements SET state = 'approved', channel = $4, channel_kind = $5,
             reference = NULL, valid_until = NULL, updated_at = $6
         WHERE cycle = $1 AND beneficiary = $2 AND state = $3",
        &[
            cycle.into(),
            beneficiary.into(),
            from.into(),
            channel.into(),
            kind.into(),
            now.into(),
        ],
    )? == 1)
}

/// A beneficiary's channels (space-separated text forms, in order).
pub fn beneficiary_channels(
    sql: &mut dyn Sql,
    programme: &str,
    beneficiary: &str,
) -> Res<Option<String>> {
    sql.query_opt(
        "beneficiaries",
        "SELECT channels FROM beneficiaries WHERE programme = $1 AND beneficiary = $2",
        &[programme.into(), beneficiary.into()],
    )?
    .map(|r| r.text(0))
    .transpose()
}

/// Cash payments put on a roster: the issued cash entitlements of a cycle
/// that have no payment yet.
pub fn track_released_cash(sql: &mut dyn Sql, cycle: i64, now: i64) -> Res<u64> {
    let created = sql.execute(
        "INSERT INTO payments (payment, batch, programme, cycle, beneficiary, rail, channel,
             amount_minor, currency, state, reason, detail, exception, attempts, events,
             created_at, updated_at)
         SELECT e.reference, NULL, e.programme, e.cycle, e.beneficiary, 'cash', e.channel,
             e.amount_minor, e.currency, 'sent', NULL, NULL, 0, 1, 1, $2, $2
         FROM cycle_entitlements e
         WHERE e.cycle = $1 AND e.channel_kind = 'cash' AND e.state = 'issued'
           AND e.amount_minor > 0 AND e.reference IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment = e.reference)",
        &[cycle.into(), now.into()],
    )?;
    sql.execute(
        "INSERT INTO payment_events (payment, seq, kind, actor, detail, at)
         SELECT p.payment, 1, 'sent', 'server', '{\"list\":\"roster\"}', $2 FROM payments p
         WHERE p.cycle = $1 AND p.rail = 'cash'
           AND NOT EXISTS (SELECT 1 FROM payment_events v WHERE v.payment = p.payment)",
        &[cycle.into(), now.into()],
    )?;
    Ok(created)
}

/// A cash payment whose entitlement a sync closed (`paid`): the payment
/// is paid too, with the device and entry that paid it.
pub fn close_cash_payment(
    sql: &mut dyn Sql,
    reference: &str,
    actor: &str,
    detail: &str,
    now: i64,
) -> Res<bool> {
    change(
        sql,
        &Change {
            payment: reference,
            from: "sent",
            to: "paid",
            reason: None,
            detail: None,
            exception: false,
            attempt: 0,
            event: "paid",
            actor,
            event_detail: detail,
        },
        now,
    )
}

/// Cash payments still unpaid once their roster entry's window closed
/// (at most `most`).
pub fn overdue_cash(sql: &mut dyn Sql, now: i64, most: i64) -> Res<Vec<String>> {
    sql.query(
        "payments",
        "SELECT p.payment FROM payments p JOIN cycle_entitlements e
             ON e.cycle = p.cycle AND e.beneficiary = p.beneficiary AND e.reference = p.payment
         WHERE p.rail = 'cash' AND p.state = 'sent' AND p.exception = 0 AND e.state = 'issued'
           AND e.valid_until <= $1
         ORDER BY p.payment LIMIT $2",
        &[now.into(), most.into()],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RailFileRow {
    pub sha256: String,
    pub rail: String,
    pub direction: String,
    pub format: String,
    pub name: String,
    pub bytes: i64,
    pub batch: Option<i64>,
    pub message_id: Option<String>,
    pub outcome: String,
    /// JSON.
    pub summary: String,
    pub actor: String,
    pub at: i64,
}

const FILE_COLUMNS: &str =
    "sha256, rail, direction, format, name, bytes, batch, message_id, outcome, summary, actor, at";

fn file_row(r: &Row) -> Res<RailFileRow> {
    Ok(RailFileRow {
        sha256: r.text(0)?,
        rail: r.text(1)?,
        direction: r.text(2)?,
        format: r.text(3)?,
        name: r.text(4)?,
        bytes: r.int(5)?,
        batch: r.opt_int(6)?,
        message_id: r.opt_text(7)?,
        outcome: r.text(8)?,
        summary: r.text(9)?,
        actor: r.text(10)?,
        at: r.int(11)?,
    })
}

/// Records a file; `false` when one with its hash was recorded before.
pub fn insert_file(sql: &mut dyn Sql, f: &RailFileRow) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO rail_files (sha256, rail, direction, format, name, bytes, batch, message_id,
             outcome, summary, actor, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (sha256) DO NOTHING",
        &[
            f.sha256.as_str().into(),
            f.rail.as_str().into(),
            f.direction.as_str().into(),
            f.format.as_str().into(),
            f.name.as_str().into(),
            f.bytes.into(),
            f.batch.into(),
            f.message_id.clone().into(),
            f.outcome.as_str().into(),
            f.summary.as_str().into(),
            f.actor.as_str().into(),
            f.at.into(),
        ],
    )? == 1)
}

pub fn file(sql: &mut dyn Sql, sha256: &str) -> Res<Option<RailFileRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query =
        SQL.get_or_init(|| format!("SELECT {FILE_COLUMNS} FROM rail_files WHERE sha256 = $1"));
    sql.query_opt("rail_files", query, &[sha256.into()])?
        .as_ref()
        .map(file_row)
        .transpose()
}

/// The files of a batch, oldest first.
pub fn batch_files(sql: &mut dyn Sql, batch: i64, most: i64) -> Res<Vec<RailFileRow>> {
    static SQL: OnceLock<String> = OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "SELECT {FILE_COLUMNS} FROM rail_files WHERE batch = $1 ORDER BY at, sha256 LIMIT $2"
        )
    });
    sql.query("rail_files", query, &[batch.into(), most.into()])?
        .iter()
        .map(file_row)
        .collect()
}
