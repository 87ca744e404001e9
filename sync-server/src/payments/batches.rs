//! Payment batches: a cycle's approved bank entitlements, grouped per
//! rail and currency in files of at most the rail's size, prepared by one
//! person, approved by another (a `batch.approve` proposal), and sent by a
//! background job that any server instance may run.
//!
//! The approval reserves every payment's amount in the ledger (pending
//! transfers from the cycle's obligations, which refuse a batch the cycle
//! cannot cover) and queues the send in the same transaction. The send
//! writes the rail's file from the stored payments — the same bytes each
//! time, since every field comes from the batch — then marks the payments
//! sent, in the job's transaction.

use lastmile_shared::money::{Currency, Money};
use lastmile_shared::payee::Channel;
use serde::{Deserialize, Serialize};

use super::rails::{self, LoadedRail};
use super::transport::{self, DeliveryError};
use super::{PaymentError, message_id, payment_key};
use crate::audit::{self, Actor};
use crate::calendar;
use crate::jobs::{self, Job, JobError, NewJob};
use crate::ledger::postings::{self, PaymentMove, PaymentPosting};
use crate::people::{Caller, Permission};
use crate::proposals::{self, Action};
use crate::rails::{Instruction, Rail, RailError, Submission};
use crate::storage::ledger as ledger_rows;
use crate::storage::payments::{self as table, BatchRow, Event, PaymentRow};
use crate::storage::proposals::ProposalRow;
use crate::storage::registry as registry_rows;
use crate::storage::sql::{Page, Sql};
use crate::storage::{Storage, StorageError, Tx};

/// Most batches one preparation makes (prepare again for more).
pub const PREPARE_BATCHES_MAX: usize = 100;
/// Payments read from storage at a time while a file is written.
const SEND_PAGE_ROWS: i64 = 5_000;
/// The job that sends a batch.
pub const SEND_JOB: &str = "send_batch";
/// Attempts of a send whose folder is not writable, with the jobs' back-off
/// (1 s doubling to an hour): about a day and a half of trying.
pub const SEND_ATTEMPTS: u32 = 25;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SendPayload {
    batch: i64,
}

/// A batch, with what its approver is shown.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    #[serde(flatten)]
    pub row: BatchRow,
    /// What the cycle's obligations have left to reserve now, in the
    /// batch's currency.
    pub reservable_minor: i64,
}

fn money(minor: i64, currency: &str) -> Result<Money, PaymentError> {
    Ok(Money {
        minor,
        currency: Currency::parse(currency)?,
    })
}

/// What the cycle's obligations in `currency` can still reserve.
fn reservable(
    sql: &mut dyn Sql,
    programme: &str,
    period: &str,
    currency: Currency,
) -> Result<Money, PaymentError> {
    let account = postings::obligations(programme, period, currency)?;
    let left = ledger_rows::accounts_by_id(sql, &[account.id.as_str()], false)?
        .first()
        .map_or(0, |a| {
            let b = &a.balances;
            b.credits_posted - b.debits_posted - b.debits_pending
        });
    Ok(Money {
        minor: left,
        currency,
    })
}

fn view(sql: &mut dyn Sql, row: BatchRow) -> Result<BatchView, PaymentError> {
    let cycle =
        registry_rows::cycle(sql, row.cycle)?.ok_or(PaymentError::UnknownCycle(row.cycle))?;
    let currency = Currency::parse(&row.currency)?;
    let left = reservable(sql, &row.programme, &cycle.period, currency)?;
    Ok(BatchView {
        reservable_minor: left.minor,
        row,
    })
}

/// Makes batches of `cycle`'s approved bank entitlements not paid yet, for
/// `rail`, each of at most the rail's file size.
pub fn prepare(
    storage: &Storage,
    caller: &Caller,
    cycle: i64,
    rail: &str,
    now: i64,
) -> Result<Vec<BatchView>, PaymentError> {
    if !caller.may(Permission::PreparePayments) {
        return Err(PaymentError::NotAllowed);
    }
    storage.transaction(|tx| {
        let cycle_row =
            registry_rows::cycle(tx.sql(), cycle)?.ok_or(PaymentError::UnknownCycle(cycle))?;
        if cycle_row.state != "approved" {
            return Err(PaymentError::CycleNotApproved {
                id: cycle,
                state: cycle_row.state,
            });
        }
        let programme = registry_rows::programme(tx.sql(), &cycle_row.programme)?
            .ok_or_else(|| StorageError::corrupt("cycles.programme", &cycle_row.programme))?;
        let LoadedRail {
            row: rail_row,
            bank,
        } = rails::load_in(tx, rail)?;
        if rail_row.state != "active" {
            return Err(PaymentError::RailDown {
                rail: rail.to_owned(),
            });
        }
        if rail_row.currency != programme.currency {
            return Err(PaymentError::RailCurrency {
                rail: rail.to_owned(),
                rail_currency: rail_row.currency,
                programme_currency: programme.currency,
            });
        }
        let size = i64::try_from(bank.capabilities().batch_payments_max).unwrap_or(i64::MAX);
        let actor = caller.actor();
        let mut made = Vec::new();
        while made.len() < PREPARE_BATCHES_MAX {
            let due = table::payable(tx.sql(), cycle, &programme.currency, size)?;
            if due.is_empty() {
                break;
            }
            let id = i64::try_from(tx.next_counter("payment_batches")?)
                .map_err(|e| StorageError::corrupt("counters.payment_batches", e))?;
            let mut total: i64 = 0;
            let mut rows = Vec::with_capacity(due.len());
            for p in &due {
                // Only a channel a bank can pay reaches a bank file.
                if !matches!(Channel::parse_text(&p.channel), Ok(Channel::Bank(_))) {
                    return Err(
                        StorageError::corrupt("cycle_entitlements.channel", &p.channel).into(),
                    );
                }
                total = total.checked_add(p.amount_minor).ok_or_else(|| {
                    StorageError::corrupt("cycle_entitlements.amount_minor", "overflow")
                })?;
                rows.push(PaymentRow {
                    payment: payment_key(&programme.programme, cycle, &p.beneficiary, &p.channel),
                    batch: Some(id),
                    programme: programme.programme.clone(),
                    cycle,
                    beneficiary: p.beneficiary.clone(),
                    rail: rail.to_owned(),
                    channel: p.channel.clone(),
                    amount_minor: p.amount_minor,
                    currency: programme.currency.clone(),
                    state: "batched".to_owned(),
                    reason: None,
                    detail: None,
                    exception: false,
                    attempts: 0,
                    events: 1,
                    created_at: now,
                    updated_at: now,
                });
            }
            let batch = BatchRow {
                id,
                programme: programme.programme.clone(),
                cycle,
                rail: rail.to_owned(),
                currency: programme.currency.clone(),
                payments: rows.len() as i64,
                total_minor: total,
                state: "draft".to_owned(),
                message_id: message_id(id, &programme.programme, cycle),
                prepared_by: actor.label(),
                prepared_at: now,
                approved_by: None,
                approved_at: None,
                sent_at: None,
            };
            table::insert_batch(tx.sql(), &batch)?;
            table::insert_payments(tx.sql(), &rows)?;
            table::created_events(tx.sql(), id, &actor.label(), now)?;
            audit::record(
                tx,
                &actor,
                "batch.prepared",
                &format!("batch:{id}"),
                serde_json::json!({
                    "cycle": cycle, "rail": rail, "payments": batch.payments,
                    "total_minor": total, "currency": batch.currency,
                }),
                now,
            )?;
            made.push(view(tx.sql(), batch)?);
        }
        if made.is_empty() {
            return Err(PaymentError::NothingToPay(cycle));
        }
        Ok(made)
    })
}

/// Submits a draft batch for approval: a `batch.approve` proposal whose
/// reason starts with the batch's count, total and what the cycle has left
/// to reserve (refused when it cannot cover the batch).
pub fn submit(
    storage: &Storage,
    caller: &Caller,
    batch: i64,
    reason: &str,
    now: i64,
) -> Result<ProposalRow, PaymentError> {
    if !caller.may(Permission::PreparePayments) {
        return Err(PaymentError::NotAllowed);
    }
    storage.transaction(|tx| {
        let row = table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))?;
        if row.state != "draft" {
            return Err(PaymentError::BatchState {
                id: batch,
                state: row.state,
                wanted: "only a draft is submitted",
            });
        }
        let total = money(row.total_minor, &row.currency)?;
        let cycle = registry_rows::cycle(tx.sql(), row.cycle)?.ok_or(PaymentError::UnknownCycle(row.cycle))?;
        let left = reservable(tx.sql(), &row.programme, &cycle.period, total.currency)?;
        if left.minor < total.minor {
            return Err(PaymentError::NotReserved {
                id: batch,
                cycle: row.cycle,
                needed: total.to_string(),
                available: left.to_string(),
            });
        }
        let text = format!(
            "Batch {batch} of cycle {} on {}: {} payments, {} (the cycle has {} left to reserve). {}",
            row.cycle,
            row.rail,
            row.payments,
            total,
            left,
            reason.trim()
        );
        let reason = proposals::reason_text(&text)?;
        let proposal = proposals::propose_in(tx, caller, &Action::ApproveBatch(batch), &reason, now)?;
        table::set_batch_state(tx.sql(), batch, "draft", "submitted")?;
        Ok(proposal)
    })
}

/// Cancels a draft batch: its payments were only a plan and are removed,
/// so their entitlements can be batched again.
pub fn cancel_draft(
    storage: &Storage,
    caller: &Caller,
    batch: i64,
    now: i64,
) -> Result<BatchRow, PaymentError> {
    if !caller.may(Permission::PreparePayments) {
        return Err(PaymentError::NotAllowed);
    }
    storage.transaction(|tx| {
        if !table::set_batch_state(tx.sql(), batch, "draft", "cancelled")? {
            let row = table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))?;
            return Err(PaymentError::BatchState {
                id: batch,
                state: row.state,
                wanted: "only a draft is cancelled",
            });
        }
        let removed = table::delete_draft_payments(tx.sql(), batch)?;
        audit::record(
            tx,
            &caller.actor(),
            "batch.cancelled",
            &format!("batch:{batch}"),
            serde_json::json!({ "payments": removed }),
            now,
        )?;
        table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))
    })
}

/// Who prepared a batch (who may not approve it).
pub fn prepared_by_in(tx: &mut dyn Tx, batch: i64) -> Result<String, PaymentError> {
    Ok(table::batch(tx.sql(), batch)?
        .ok_or(PaymentError::UnknownBatch(batch))?
        .prepared_by)
}

/// A rejected batch goes back to its preparer as a draft.
pub fn reopen_in(tx: &mut dyn Tx, batch: i64) -> Result<(), PaymentError> {
    table::set_batch_state(tx.sql(), batch, "submitted", "draft")?;
    Ok(())
}

/// Carries out an approved `batch.approve`: reserves every payment in the
/// ledger, marks them approved and queues the send.
pub fn approve_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    batch: i64,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), PaymentError> {
    if !table::approve_batch(tx.sql(), batch, &actor.label(), now)? {
        let row = table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))?;
        return Err(PaymentError::BatchState {
            id: batch,
            state: row.state,
            wanted: "only a submitted batch is approved",
        });
    }
    let row = table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))?;
    reserve_and_queue(tx, actor, &row, "batched", now)?;
    audit::record(
        tx,
        actor,
        "batch.approved",
        &format!("batch:{batch}"),
        detail,
        now,
    )?;
    Ok(())
}

/// Reserves each payment of `row` now in state `from` (its next attempt),
/// moves them to approved and queues the batch's send.
pub(crate) fn reserve_and_queue(
    tx: &mut dyn Tx,
    actor: &Actor,
    row: &BatchRow,
    from: &str,
    now: i64,
) -> Result<(), PaymentError> {
    let cycle =
        registry_rows::cycle(tx.sql(), row.cycle)?.ok_or(PaymentError::UnknownCycle(row.cycle))?;
    let currency = Currency::parse(&row.currency)?;
    let label = actor.label();
    let mut after = String::new();
    loop {
        let page = table::batch_payments(tx.sql(), row.id, &after, SEND_PAGE_ROWS)?;
        let Some(last) = page.last() else { break };
        after = last.payment.clone();
        let due: Vec<&PaymentRow> = page.iter().filter(|p| p.state == from).collect();
        let moves: Vec<PaymentMove<'_>> = due
            .iter()
            .map(|p| PaymentMove {
                key: &p.payment,
                attempt: p.attempts + 1,
                amount: p.amount_minor,
                posting: PaymentPosting::Reserve,
            })
            .collect();
        postings::payments(
            tx.sql(),
            &row.programme,
            &cycle.period,
            currency,
            &moves,
            &label,
            now,
        )
        .map_err(|e| match e {
            crate::ledger::LedgerError::Refused { .. } => PaymentError::NotReserved {
                id: row.id,
                cycle: row.cycle,
                needed: money(row.total_minor, &row.currency)
                    .map_or_else(|_| row.total_minor.to_string(), |m| m.to_string()),
                available: "less".to_owned(),
            },
            other => other.into(),
        })?;
    }
    table::count_attempt(tx.sql(), row.id, from)?;
    let approved = Event {
        kind: "approved",
        actor: &label,
        detail: "{}",
    };
    table::move_batch(tx.sql(), row.id, from, "approved", approved, now)?;
    let payload = serde_json::to_value(SendPayload { batch: row.id })
        .map_err(|e| StorageError::corrupt("send payload", e))?;
    jobs::enqueue_job(
        tx,
        &NewJob {
            kind: SEND_JOB,
            key: &format!("send_batch:{}", row.id),
            payload: &payload,
            run_after_ms: now.saturating_mul(1000),
            max_attempts: SEND_ATTEMPTS,
        },
        now.saturating_mul(1000),
    )
    .map_err(|e| match e {
        jobs::EnqueueError::Storage(e) => PaymentError::Storage(e),
        other => StorageError::corrupt("jobs", other.to_string()).into(),
    })?;
    Ok(())
}

/// The instructions of a batch, read from storage a page at a time.
struct Instructions<'a> {
    sql: &'a mut dyn Sql,
    batch: i64,
    currency: Currency,
    after: String,
    page: std::vec::IntoIter<(String, i64, String, String)>,
    done: bool,
}

impl Iterator for Instructions<'_> {
    type Item = Result<Instruction, RailError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((key, minor, channel, name)) = self.page.next() {
                self.after.clone_from(&key);
                return Some(match Channel::parse_text(&channel) {
                    Ok(channel) => Ok(Instruction {
                        key,
                        amount: Money {
                            minor,
                            currency: self.currency,
                        },
                        payee_name: name,
                        channel,
                    }),
                    Err(e) => Err(RailError::Instruction {
                        key,
                        reason: format!("its channel {channel:?} does not parse: {e}"),
                    }),
                });
            }
            if self.done {
                return None;
            }
            match table::batch_instructions(self.sql, self.batch, &self.after, SEND_PAGE_ROWS) {
                Ok(rows) => {
                    self.done = (rows.len() as i64) < SEND_PAGE_ROWS;
                    self.page = rows.into_iter();
                    if self.page.len() == 0 {
                        return None;
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(RailError::Batch(format!("reading the batch: {e}"))));
                }
            }
        }
    }
}

/// The job that sends a batch (see the module documentation). A batch
/// already sent is left alone, so a job run twice sends once.
pub fn send_job(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let SendPayload { batch } = job.payload()?;
    let now = job
        .run_after_ms
        .div_euclid(1000)
        .max(job.created_at_ms.div_euclid(1000));
    send_in(tx, batch, now).map_err(JobError::from)
}

fn send_in(tx: &mut dyn Tx, batch: i64, now: i64) -> Result<(), PaymentError> {
    let row = table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))?;
    if row.state == "sent" {
        return Ok(());
    }
    if row.state != "approved" {
        return Err(PaymentError::BatchState {
            id: batch,
            state: row.state,
            wanted: "only an approved batch is sent",
        });
    }
    let LoadedRail {
        row: rail_row,
        bank,
    } = rails::load_in(tx, &row.rail)?;
    let currency = Currency::parse(&row.currency)?;
    let approved_at = row.approved_at.unwrap_or(row.prepared_at);
    let submission = Submission {
        message_id: row.message_id.clone(),
        created_at: approved_at,
        execution_date: calendar::format_date(approved_at),
        payments: u64::try_from(row.payments).unwrap_or(0),
        total: money(row.total_minor, &row.currency)?,
    };
    let name = bank.file_name(&submission);
    let delivered = {
        let mut instructions = Instructions {
            sql: tx.sql(),
            batch,
            currency,
            after: String::new(),
            page: Vec::new().into_iter(),
            done: false,
        };
        transport::deliver(&bank.config.outbox, &name, |out| {
            bank.write_batch(&submission, &mut instructions, out)
        })
        .map_err(|e| match e {
            DeliveryError::Io(e) => PaymentError::Delivery(e),
            DeliveryError::Content(e) => PaymentError::Rail(e),
        })?
    };
    let detail = serde_json::json!({ "file": name, "sha256": delivered.sha256 }).to_string();
    table::insert_file(
        tx.sql(),
        &table::RailFileRow {
            sha256: delivered.sha256.clone(),
            rail: rail_row.rail.clone(),
            direction: "out".to_owned(),
            format: bank.format(),
            name: name.clone(),
            bytes: i64::try_from(delivered.bytes).unwrap_or(i64::MAX),
            batch: Some(batch),
            message_id: Some(row.message_id.clone()),
            outcome: "sent".to_owned(),
            summary: serde_json::json!({ "payments": row.payments }).to_string(),
            actor: "server".to_owned(),
            at: now,
        },
    )?;
    let sent = Event {
        kind: "sent",
        actor: "server",
        detail: &detail,
    };
    table::move_batch(tx.sql(), batch, "approved", "sent", sent, now)?;
    table::set_batch_entitlements(tx.sql(), batch, "approved", "sent", now)?;
    table::mark_batch_sent(tx.sql(), batch, now)?;
    audit::record(
        tx,
        &Actor::Server,
        "batch.sent",
        &format!("batch:{batch}"),
        serde_json::json!({ "file": name, "sha256": delivered.sha256, "bytes": delivered.bytes }),
        now,
    )?;
    Ok(())
}

pub fn get(storage: &Storage, batch: i64) -> Result<BatchView, PaymentError> {
    storage.transaction(|tx| {
        let row = table::batch(tx.sql(), batch)?.ok_or(PaymentError::UnknownBatch(batch))?;
        view(tx.sql(), row)
    })
}

pub fn list(
    storage: &Storage,
    cycle: Option<i64>,
    page: Page,
) -> Result<Vec<BatchRow>, PaymentError> {
    Ok(storage.transaction(|tx| table::batches(tx.sql(), cycle, page))?)
}

/// The files a batch exchanged with its rail.
pub fn files(storage: &Storage, batch: i64) -> Result<Vec<table::RailFileRow>, PaymentError> {
    Ok(storage.transaction(|tx| table::batch_files(tx.sql(), batch, 100))?)
}
