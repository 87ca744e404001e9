//! The exception queue: payments a rail refused (with its reason), that
//! came back, that no rail answered for in time, or cash nobody collected
//! in its window. A person proposes what to do — retry, reroute to the
//! beneficiary's next channel, cancel, or mark paid with evidence — and a
//! second person approves it (each is a proposal: money moves or is
//! forgone). What an unknown outcome allows is narrower: a payment the
//! bank may have paid is never retried, rerouted or cancelled on a guess;
//! only its answer (a status file) or evidence that it was paid closes it.

use lastmile_shared::payee::{Channel, ChannelKind};
use serde::{Deserialize, Serialize};

use super::batches;
use super::rails;
use super::{PaymentError, message_id, payment_key};
use crate::audit::{self, Actor};
use crate::jobs::{Job, JobError};
use crate::ledger::postings::{self, PaymentMove, PaymentPosting};
use crate::people::{Caller, Permission};
use crate::proposals::{self, Action};
use crate::storage::payments::{self as table, BatchRow, Change, PaymentRow};
use crate::storage::proposals::ProposalRow;
use crate::storage::registry as registry_rows;
use crate::storage::{Storage, StorageError, Tx};

/// The job that lists unanswered and uncollected payments as exceptions.
pub const OVERDUE_JOB: &str = "payments_overdue";
/// Most payments one run of it moves into the queue.
const OVERDUE_SWEEP_MAX: i64 = 1_000;

/// What a person may propose for a payment in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Send it again through the same rail with the same key.
    Retry,
    /// Pay it by the beneficiary's next channel instead.
    Reroute,
    /// Pay it no more; its committed amount goes back to the budget.
    Cancel,
    /// It was paid (another way, or the bank confirmed it by other means):
    /// the reason holds the evidence.
    MarkPaid,
}

impl Remedy {
    pub const ALL: [Self; 4] = [Self::Retry, Self::Reroute, Self::Cancel, Self::MarkPaid];

    pub fn kind(self) -> &'static str {
        match self {
            Self::Retry => "payment.retry",
            Self::Reroute => "payment.reroute",
            Self::Cancel => "payment.cancel",
            Self::MarkPaid => "payment.mark_paid",
        }
    }

    pub fn parse_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.kind() == kind)
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Reroute => "reroute",
            Self::Cancel => "cancel",
            Self::MarkPaid => "mark_paid",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Whether the rail may still pay it: sent (or taken) with no final answer.
fn outcome_unknown(p: &PaymentRow) -> bool {
    matches!(p.state.as_str(), "sent" | "accepted")
}

/// Why `remedy` does not fit `payment` now, if it does not.
fn refusal(p: &PaymentRow, remedy: Remedy) -> Option<&'static str> {
    if !p.exception {
        return Some("only a payment in the exception queue is resolved by hand");
    }
    let cash_uncollected = p.rail == rails::CASH && p.state == "sent";
    match remedy {
        Remedy::MarkPaid => None,
        Remedy::Retry if p.state == "failed" && p.rail != rails::CASH => None,
        Remedy::Retry => Some("only a payment its bank refused is retried"),
        // Another channel fixes an account's problem (closed, unknown,
        // blocked) or money that came back, not a bank's own refusal.
        Remedy::Reroute
            if p.state == "failed"
                && !p.reason.as_deref().is_some_and(|code| {
                    code == "reversed" || crate::rails::iso20022::reasons::reroutable(code)
                }) =>
        {
            Some(
                "the bank's reason is not one another channel fixes: retry, cancel or mark it paid",
            )
        }
        Remedy::Reroute | Remedy::Cancel if p.state == "failed" || cash_uncollected => None,
        Remedy::Reroute | Remedy::Cancel if outcome_unknown(p) => Some(
            "the bank may have paid it: import its status report or mark it paid with evidence",
        ),
        Remedy::Reroute | Remedy::Cancel => Some("it is not in a state that allows it"),
    }
}

/// Proposes resolving a payment of the queue; `reason` says why (for
/// [`Remedy::MarkPaid`], the evidence: a bank reference, a receipt).
pub fn propose(
    storage: &Storage,
    caller: &Caller,
    key: &str,
    remedy: Remedy,
    reason: &str,
    now: i64,
) -> Result<ProposalRow, PaymentError> {
    if !caller.may(Permission::HandleExceptions) {
        return Err(PaymentError::NotAllowed);
    }
    let reason = proposals::reason_text(reason)?;
    storage.transaction(|tx| {
        let payment = table::payment(tx.sql(), key)?
            .ok_or_else(|| PaymentError::UnknownPayment(key.to_owned()))?;
        if let Some(wanted) = refusal(&payment, remedy) {
            return Err(PaymentError::PaymentState {
                key: key.to_owned(),
                state: payment.state,
                wanted,
            });
        }
        if remedy == Remedy::Reroute {
            next_channel(tx, &payment)?;
        }
        let action = Action::ResolvePayment {
            key: key.to_owned(),
            remedy,
        };
        Ok(proposals::propose_in(tx, caller, &action, &reason, now)?)
    })
}

/// The beneficiary's first channel after this payment's that the
/// programme pays by, that the pipeline can pay (bank or cash) and that
/// no payment of this cycle used yet.
fn next_channel(tx: &mut dyn Tx, p: &PaymentRow) -> Result<Channel, PaymentError> {
    let none = || PaymentError::NoOtherChannel {
        beneficiary: p.beneficiary.clone(),
    };
    let channels =
        table::beneficiary_channels(tx.sql(), &p.programme, &p.beneficiary)?.ok_or_else(none)?;
    let programme = registry_rows::programme(tx.sql(), &p.programme)?
        .ok_or_else(|| StorageError::corrupt("payments.programme", &p.programme))?;
    let allowed: Vec<&str> = programme.channels.split(',').collect();
    let mut after_current = false;
    for text in channels.split(' ').filter(|t| !t.is_empty()) {
        if text == p.channel {
            after_current = true;
            continue;
        }
        if !after_current {
            continue;
        }
        let Ok(channel) = Channel::parse_text(text) else {
            continue;
        };
        let kind = channel.kind();
        if !allowed.contains(&kind.code()) || !matches!(kind, ChannelKind::Bank | ChannelKind::Cash)
        {
            continue;
        }
        let key = payment_key(&p.programme, p.cycle, &p.beneficiary, text);
        if table::payment(tx.sql(), &key)?.is_none() {
            return Ok(channel);
        }
    }
    Err(none())
}

/// Carries out an approved remedy (from `proposals::decide`).
/// What the proposal said: who proposed the remedy (a retry's new batch
/// names them as its preparer) and why (the evidence, for a payment marked
/// paid).
#[derive(Debug, Clone, Copy)]
pub struct Proposed<'a> {
    pub by: &'a str,
    pub reason: &'a str,
}

pub fn carry_out_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    key: &str,
    remedy: Remedy,
    proposed: Proposed<'_>,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), PaymentError> {
    let evidence = proposed.reason;
    let p = table::payment(tx.sql(), key)?
        .ok_or_else(|| PaymentError::UnknownPayment(key.to_owned()))?;
    if let Some(wanted) = refusal(&p, remedy) {
        return Err(PaymentError::PaymentState {
            key: key.to_owned(),
            state: p.state,
            wanted,
        });
    }
    let label = actor.label();
    let cycle =
        registry_rows::cycle(tx.sql(), p.cycle)?.ok_or(PaymentError::UnknownCycle(p.cycle))?;
    let currency = lastmile_shared::money::Currency::parse(&p.currency)?;
    let post = |tx: &mut dyn Tx, posting| -> Result<(), PaymentError> {
        postings::payments(
            tx.sql(),
            &p.programme,
            &cycle.period,
            currency,
            &[PaymentMove {
                key,
                attempt: p.attempts.max(1),
                amount: p.amount_minor,
                posting,
            }],
            &label,
            now,
        )?;
        Ok(())
    };
    let mut event_detail = detail.clone();
    event_detail["evidence"] = evidence.into();
    let (to, event) = match remedy {
        Remedy::Retry => ("batched", "retried"),
        Remedy::Reroute => ("rerouted", "rerouted"),
        Remedy::Cancel => ("cancelled", "cancelled"),
        Remedy::MarkPaid => ("paid", "marked_paid"),
    };
    let next = if remedy == Remedy::Reroute {
        let channel = next_channel(tx, &p)?;
        event_detail["to"] = channel.to_string().into();
        Some(channel)
    } else {
        None
    };
    let event_text = event_detail.to_string();
    let changed = table::change(
        tx.sql(),
        &Change {
            payment: key,
            from: &p.state,
            to,
            reason: if remedy == Remedy::Retry {
                None
            } else {
                p.reason.as_deref()
            },
            detail: Some(evidence),
            exception: false,
            attempt: 0,
            event,
            actor: &label,
            event_detail: &event_text,
        },
        now,
    )?;
    if !changed {
        return Err(PaymentError::PaymentState {
            key: key.to_owned(),
            state: p.state,
            wanted: "it changed since the proposal",
        });
    }
    // What the cash rail's entitlement is in (issued, on a roster) or a
    // bank's (sent).
    let entitlement_state = if p.rail == rails::CASH {
        "issued"
    } else {
        "sent"
    };
    match remedy {
        Remedy::Retry => {
            let id = i64::try_from(tx.next_counter("payment_batches")?)
                .map_err(|e| StorageError::corrupt("counters.payment_batches", e))?;
            let batch = BatchRow {
                id,
                programme: p.programme.clone(),
                cycle: p.cycle,
                rail: p.rail.clone(),
                currency: p.currency.clone(),
                payments: 1,
                total_minor: p.amount_minor,
                state: "approved".to_owned(),
                message_id: message_id(id, &p.programme, p.cycle),
                prepared_by: proposed.by.to_owned(),
                prepared_at: now,
                approved_by: Some(label.clone()),
                approved_at: Some(now),
                sent_at: None,
            };
            table::insert_batch(tx.sql(), &batch)?;
            table::move_to_batch(tx.sql(), key, id)?;
            batches::reserve_and_queue(tx, actor, &batch, "batched", now)?;
        }
        Remedy::Reroute => {
            let channel = next.ok_or_else(|| PaymentError::NoOtherChannel {
                beneficiary: p.beneficiary.clone(),
            })?;
            table::reroute_entitlement(
                tx.sql(),
                p.cycle,
                &p.beneficiary,
                entitlement_state,
                &channel.to_string(),
                channel.kind().code(),
                now,
            )?;
        }
        Remedy::Cancel => {
            table::set_entitlement_state(
                tx.sql(),
                p.cycle,
                &p.beneficiary,
                entitlement_state,
                "cancelled",
                now,
            )?;
            post(tx, PaymentPosting::Release)?;
        }
        Remedy::MarkPaid => {
            table::set_entitlement_state(
                tx.sql(),
                p.cycle,
                &p.beneficiary,
                entitlement_state,
                "paid",
                now,
            )?;
            // A reservation still held (no answer yet) is posted; a refused
            // or uncollected one was released or never made: delivered now.
            let reserved = outcome_unknown(&p) && p.rail != rails::CASH;
            post(
                tx,
                if reserved {
                    PaymentPosting::Settle
                } else {
                    PaymentPosting::Manual
                },
            )?;
        }
    }
    audit::record(
        tx,
        actor,
        remedy.kind(),
        &format!("payment:{key}"),
        event_detail,
        now,
    )?;
    Ok(())
}

/// Lists as exceptions the bank payments no answer came for within their
/// rail's deadline, and the cash payments nobody collected in their
/// roster's window. Runs every minute, a bounded number each time.
pub fn overdue_job(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let now = job.run_after_ms.div_euclid(1000);
    let queue =
        |tx: &mut dyn Tx, keys: Vec<String>, reason: &str, event: &str| -> Result<(), JobError> {
            for key in keys {
                let Some(p) = table::payment(tx.sql(), &key)? else {
                    continue;
                };
                table::change(
                    tx.sql(),
                    &Change {
                        payment: &key,
                        from: &p.state,
                        to: &p.state,
                        reason: Some(reason),
                        detail: None,
                        exception: true,
                        attempt: 0,
                        event,
                        actor: "server",
                        event_detail: "{}",
                    },
                    now,
                )?;
            }
            Ok(())
        };
    for rail in table::rails(tx.sql(), rails::RAILS_MAX)? {
        let loaded = rails::load_in(tx, &rail.rail).map_err(JobError::from)?;
        let deadline = i64::try_from(loaded.bank.config.answer_deadline_hours)
            .unwrap_or(i64::MAX / 7200)
            .saturating_mul(3600);
        let due = table::unanswered(tx.sql(), &rail.rail, now - deadline, OVERDUE_SWEEP_MAX)?;
        queue(tx, due, "no_answer", "unanswered")?;
    }
    let due = table::overdue_cash(tx.sql(), now, OVERDUE_SWEEP_MAX)?;
    queue(tx, due, "unpaid_in_window", "uncollected")?;
    Ok(())
}
