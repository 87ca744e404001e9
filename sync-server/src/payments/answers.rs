//! A rail's answers — a bank's `pain.002` status reports and `camt.054`
//! notifications — read from its folder or uploaded by a person, and
//! matched to payments by key (`EndToEndId`) and amount.
//!
//! A file is applied all or nothing: read whole and checked first, it is
//! refused, changing nothing, when it was read before (by its SHA-256),
//! answers a message this rail never sent, names a payment the rail was
//! never sent or with another amount, or contradicts what is known (paid,
//! then rejected; rejected, then paid). Otherwise each payment moves —
//! accepted, paid (its reservation posted, its entitlement paid), failed
//! (its reservation released, into the exception queue with the bank's
//! reason) or reversed — with an event naming the file.

use std::collections::{BTreeMap, HashMap};

use lastmile_shared::money::{Currency, Money};
use serde::Serialize;

use super::PaymentError;
use super::rails::{self, LoadedRail};
use super::transport;
use crate::audit::{self, Actor};
use crate::calendar;
use crate::jobs::{Job, JobError};
use crate::ledger::postings::{self, PaymentMove, PaymentPosting};
use crate::rails::{Effect, Rail};
use crate::storage::payments::{self as table, Change, PaymentRow, RailFileRow};
use crate::storage::registry as registry_rows;
use crate::storage::{Storage, StorageError, Tx};

/// Most answers (payments) one file may speak of.
pub const ANSWERS_MAX: usize = 2_000_000;
/// Longest file name kept.
const NAME_CHARS_MAX: usize = 200;
/// The job that reads every bank rail's folder.
pub const POLL_JOB: &str = "read_rail_answers";

/// What a file changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnswerReport {
    pub file: String,
    pub sha256: String,
    pub format: String,
    pub message_id: String,
    pub batch: Option<i64>,
    pub accepted: u64,
    pub paid: u64,
    pub rejected: u64,
    pub reversed: u64,
    /// Answers that told nothing new (a payment already paid, paid again).
    pub unchanged: u64,
}

/// One payment's planned move.
struct Planned {
    payment: PaymentRow,
    to: &'static str,
    reason: Option<String>,
    detail: Option<String>,
    exception: bool,
    event: &'static str,
    posting: Option<PaymentPosting>,
}

fn effect_name(effect: &Effect) -> &'static str {
    match effect {
        Effect::Accepted { .. } => "accepted",
        Effect::Settled { .. } => "paid",
        Effect::Rejected { .. } => "rejected",
        Effect::Reversed { .. } => "reversed",
    }
}

fn amount_of(effect: &Effect) -> Option<Money> {
    match effect {
        Effect::Settled { amount, .. } => *amount,
        Effect::Reversed { amount, .. } => Some(*amount),
        Effect::Accepted { .. } | Effect::Rejected { .. } => None,
    }
}

/// What `effect` does to `payment`: a planned move, nothing new (`None`),
/// or a contradiction.
fn plan(payment: PaymentRow, effect: &Effect) -> Result<Option<Planned>, PaymentError> {
    let state = payment.state.as_str();
    let contradicts = || PaymentError::Contradicts {
        key: payment.payment.clone(),
        was: match &payment.reason {
            Some(reason) => format!("{state} ({reason})"),
            None => state.to_owned(),
        },
        now: effect_name(effect),
    };
    let open = matches!(state, "sent" | "accepted");
    let planned = |to, reason, detail, exception, event, posting| Planned {
        payment: payment.clone(),
        to,
        reason,
        detail,
        exception,
        event,
        posting,
    };
    Ok(match effect {
        Effect::Accepted { .. } => match state {
            "sent" => Some(planned("accepted", None, None, false, "accepted", None)),
            "accepted" | "paid" => None,
            _ => return Err(contradicts()),
        },
        Effect::Settled { reference, .. } => match state {
            _ if open => Some(planned(
                "paid",
                None,
                reference.clone(),
                false,
                "paid",
                Some(PaymentPosting::Settle),
            )),
            "paid" => None,
            _ => return Err(contradicts()),
        },
        Effect::Rejected { reason, detail, .. } => match state {
            _ if open => Some(planned(
                "failed",
                Some(reason.clone().unwrap_or_else(|| "RJCT".to_owned())),
                detail.clone(),
                true,
                "failed",
                Some(PaymentPosting::Void),
            )),
            "failed" | "rerouted" | "cancelled" => None,
            _ => return Err(contradicts()),
        },
        Effect::Reversed { .. } => match state {
            "paid" => Some(planned(
                "failed",
                Some("reversed".to_owned()),
                None,
                true,
                "reversed",
                Some(PaymentPosting::Reverse),
            )),
            "failed" if payment.reason.as_deref() == Some("reversed") => None,
            _ => return Err(contradicts()),
        },
    })
}

/// Reads and applies an answer file a person uploaded: refused (an
/// error, nothing written) when it is not applicable.
pub fn import(
    storage: &Storage,
    actor: &Actor,
    rail: &str,
    name: &str,
    bytes: &[u8],
    now: i64,
) -> Result<AnswerReport, PaymentError> {
    storage.transaction(|tx| import_in(tx, actor, rail, name, bytes, now))
}

/// [`import`] inside the caller's transaction.
pub fn import_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    rail: &str,
    name: &str,
    bytes: &[u8],
    now: i64,
) -> Result<AnswerReport, PaymentError> {
    let name: String = name.chars().take(NAME_CHARS_MAX).collect();
    let LoadedRail {
        row: rail_row,
        bank,
    } = rails::load_in(tx, rail)?;
    let sha256 = transport::sha256(bytes);
    if let Some(first) = table::file(tx.sql(), &sha256)? {
        return Err(PaymentError::DuplicateFile {
            name,
            first: first.name,
            at: calendar::format_date(first.at),
        });
    }
    let mut effects: Vec<Effect> = Vec::new();
    let mut input = bytes;
    let read = bank.read_answer(&mut input, &mut |effect| {
        if effects.len() >= ANSWERS_MAX {
            return Err(crate::rails::RailError::Answer(format!(
                "more than {ANSWERS_MAX} answers"
            )));
        }
        effects.push(effect);
        Ok(())
    });
    let answer = match read {
        Err(_) if effects.len() >= ANSWERS_MAX => {
            return Err(PaymentError::TooManyAnswers { max: ANSWERS_MAX });
        }
        other => other?,
    };
    let batch = match &answer.answers {
        None => None,
        Some(message) => {
            let batch = table::batch_by_message(tx.sql(), message)?
                .filter(|b| b.rail == rail_row.rail)
                .ok_or_else(|| PaymentError::UnknownMessage(message.clone()))?;
            Some(batch)
        }
    };
    if let (Some(reason), Some(batch)) = (&answer.rejects_all, &batch) {
        let mut after = String::new();
        loop {
            let page = table::batch_payments(tx.sql(), batch.id, &after, 5_000)?;
            let Some(last) = page.last() else { break };
            after = last.payment.clone();
            effects.extend(page.into_iter().map(|p| Effect::Rejected {
                key: p.payment,
                reason: Some(reason.clone()),
                detail: None,
            }));
        }
    }
    // One answer per payment: the same news twice is once; different news
    // about one payment in one file is a contradiction.
    let mut by_key: BTreeMap<String, Effect> = BTreeMap::new();
    for effect in effects {
        match by_key.get(effect.key()) {
            Some(seen) if effect_name(seen) != effect_name(&effect) => {
                return Err(PaymentError::Contradicts {
                    key: effect.key().to_owned(),
                    was: effect_name(seen).to_owned(),
                    now: effect_name(&effect),
                });
            }
            Some(_) => {}
            None => {
                by_key.insert(effect.key().to_owned(), effect);
            }
        }
    }
    let mut report = AnswerReport {
        file: name.clone(),
        sha256: sha256.clone(),
        format: answer.format.to_owned(),
        message_id: answer.message_id.clone(),
        batch: batch.as_ref().map(|b| b.id),
        ..AnswerReport::default()
    };
    let currency = Currency::parse(&rail_row.currency)?;
    let mut planned = Vec::new();
    for (key, effect) in &by_key {
        let payment = table::payment(tx.sql(), key)?
            .filter(|p| p.rail == rail_row.rail)
            .filter(|p| batch.as_ref().is_none_or(|b| p.batch == Some(b.id)))
            .ok_or_else(|| PaymentError::UnknownKey(key.clone()))?;
        if let Some(amount) = amount_of(effect) {
            let expected = Money {
                minor: payment.amount_minor,
                currency,
            };
            if amount != expected {
                return Err(PaymentError::AmountMismatch {
                    key: key.clone(),
                    expected: expected.to_string(),
                    found: amount.to_string(),
                });
            }
        }
        match plan(payment, effect)? {
            Some(p) => planned.push(p),
            None => report.unchanged += 1,
        }
    }
    apply(tx, actor, &name, &sha256, currency, &planned, now)?;
    for p in &planned {
        match p.event {
            "accepted" => report.accepted += 1,
            "paid" => report.paid += 1,
            "failed" => report.rejected += 1,
            _ => report.reversed += 1,
        }
    }
    table::insert_file(
        tx.sql(),
        &RailFileRow {
            sha256,
            rail: rail_row.rail.clone(),
            direction: "in".to_owned(),
            format: answer.format.to_owned(),
            name,
            bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            batch: report.batch,
            message_id: Some(answer.message_id),
            outcome: "applied".to_owned(),
            summary: serde_json::to_string(&report)
                .map_err(|e| StorageError::corrupt("report", e))?,
            actor: actor.label(),
            at: now,
        },
    )?;
    audit::record(
        tx,
        actor,
        "rail_file.applied",
        &format!("rail:{}", rail_row.rail),
        serde_json::to_value(&report).map_err(|e| StorageError::corrupt("report", e))?,
        now,
    )?;
    Ok(report)
}

/// Writes the planned moves: each payment's change and event, the ledger
/// per cycle, and the entitlements paid (or not, once reversed).
fn apply(
    tx: &mut dyn Tx,
    actor: &Actor,
    file: &str,
    sha256: &str,
    currency: Currency,
    planned: &[Planned],
    now: i64,
) -> Result<(), PaymentError> {
    let label = actor.label();
    let event_detail = serde_json::json!({ "file": file, "sha256": sha256 }).to_string();
    let mut moves: HashMap<(String, i64), Vec<PaymentMove<'_>>> = HashMap::new();
    for p in planned {
        let changed = table::change(
            tx.sql(),
            &Change {
                payment: &p.payment.payment,
                from: &p.payment.state,
                to: p.to,
                reason: p.reason.as_deref(),
                detail: p.detail.as_deref(),
                exception: p.exception,
                attempt: 0,
                event: p.event,
                actor: &label,
                event_detail: &event_detail,
            },
            now,
        )?;
        if !changed {
            return Err(StorageError::corrupt(
                "payments",
                "a payment changed while its answer was applied",
            )
            .into());
        }
        match p.to {
            "paid" => {
                table::set_entitlement_state(
                    tx.sql(),
                    p.payment.cycle,
                    &p.payment.beneficiary,
                    "sent",
                    "paid",
                    now,
                )?;
            }
            "failed" if p.payment.state == "paid" => {
                table::set_entitlement_state(
                    tx.sql(),
                    p.payment.cycle,
                    &p.payment.beneficiary,
                    "paid",
                    "sent",
                    now,
                )?;
            }
            _ => {}
        }
        if let Some(posting) = p.posting {
            moves
                .entry((p.payment.programme.clone(), p.payment.cycle))
                .or_default()
                .push(PaymentMove {
                    key: &p.payment.payment,
                    attempt: p.payment.attempts.max(1),
                    amount: p.payment.amount_minor,
                    posting,
                });
        }
    }
    for ((programme, cycle), moves) in moves {
        let row =
            registry_rows::cycle(tx.sql(), cycle)?.ok_or(PaymentError::UnknownCycle(cycle))?;
        postings::payments(
            tx.sql(),
            &programme,
            &row.period,
            currency,
            &moves,
            &label,
            now,
        )?;
    }
    Ok(())
}

/// Reads each bank rail's folder: every answer file not read before is
/// applied, or recorded as refused with the reason (so a person sees it,
/// and it is not read again); nothing else changes for a refused file.
pub fn poll_job(tx: &mut dyn Tx, job: &Job) -> Result<(), JobError> {
    let now = job.run_after_ms.div_euclid(1000);
    let rails = table::rails(tx.sql(), rails::RAILS_MAX)?;
    for rail in rails.iter().filter(|r| r.kind == "bank_file") {
        let LoadedRail { bank, .. } = rails::load_in(tx, &rail.rail).map_err(JobError::from)?;
        let Ok(files) = transport::waiting(&bank.config.inbox) else {
            // A folder not there (yet) holds no answer.
            continue;
        };
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if table::file_named(tx.sql(), &rail.rail, &name)? {
                continue;
            }
            let bytes = transport::read(&path, transport::ANSWER_BYTES_MAX)
                .map_err(|e| JobError::Failed(format!("reading {}: {e}", path.display())))?;
            read_one(tx, &rail.rail, &name, bytes, now)?;
        }
    }
    Ok(())
}

/// Applies one file from a folder. Every check runs before anything is
/// written, so a refusal leaves the transaction clean for its record.
fn read_one(
    tx: &mut dyn Tx,
    rail: &str,
    name: &str,
    bytes: Option<Vec<u8>>,
    now: i64,
) -> Result<(), JobError> {
    let outcome = match &bytes {
        None => Err(PaymentError::FileTooLarge {
            max: transport::ANSWER_BYTES_MAX,
        }),
        Some(bytes) => import_in(tx, &Actor::Server, rail, name, bytes, now),
    };
    let error = match outcome {
        Ok(_) => return Ok(()),
        Err(PaymentError::Storage(e)) => return Err(JobError::Storage(e)),
        // Raised while applying, after writes: the whole poll rolls back.
        Err(e @ PaymentError::Ledger(_)) => return Err(JobError::Failed(e.to_string())),
        Err(e) => e,
    };
    let data = bytes.unwrap_or_default();
    let sha256 = transport::sha256(&data);
    tracing::warn!("the answer file {name} of rail {rail} changes nothing: {error}");
    // Under its hash and name, not its hash alone: the same bytes may be
    // applied later (uploaded once their batch is known), and a duplicate's
    // hash is taken by the file it repeats.
    let key = format!("{sha256}:{name}");
    table::insert_file(
        tx.sql(),
        &RailFileRow {
            sha256: key,
            rail: rail.to_owned(),
            direction: "in".to_owned(),
            format: "unknown".to_owned(),
            name: name.to_owned(),
            bytes: i64::try_from(data.len()).unwrap_or(i64::MAX),
            batch: None,
            message_id: None,
            outcome: "refused".to_owned(),
            summary: serde_json::json!({ "code": error.code(), "why": error.to_string() })
                .to_string(),
            actor: "server".to_owned(),
            at: now,
        },
    )?;
    audit::record(
        tx,
        &Actor::Server,
        "rail_file.refused",
        &format!("rail:{rail}"),
        serde_json::json!({ "file": name, "code": error.code(), "why": error.to_string() }),
        now,
    )?;
    Ok(())
}
