//! Cycles and their entitlements: a cycle is one period of a programme
//! (`2027-01`); generating it gives every eligible beneficiary (or every
//! household's head) an entitlement from the programme's rule — a flat
//! amount, an amount per household member with a cap, or the amount the
//! period's amounts file gives each one listed (`amounts`) — in minor units
//! of the programme's currency, by the beneficiary's chosen channel.
//!
//! A cycle is a draft until an officer submits it for approval (with the
//! exclusions they made); an approver who did not generate it approves it
//! through a proposal (`proposals::submit_cycle`), which approves its
//! entitlements in the same transaction. Only approved entitlements go
//! anywhere. A total over the programme's budget is refused at submission
//! unless the officer asks for the approver to approve it anyway, and the
//! proposal says so.

use lastmile_shared::money::Money;
use lastmile_shared::text::{Lines, PlainText};

use super::RegistryError;
use super::programmes::{self, Programme, Target};
use crate::audit::{self, Actor};
use crate::ledger::LedgerError;
use crate::ledger::postings;
use crate::storage::registry::{self as table, CycleEntitlementRow, CycleRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError, Tx};

/// Longest period label, in bytes.
pub const PERIOD_BYTES_MAX: usize = 32;
/// Longest exclusion note, in characters.
pub const NOTE_CHARS_MAX: usize = 500;

/// How a cycle's amounts are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The same amount for each one paid.
    Flat(Money),
    /// So much per household member, at most `cap` per household.
    PerMember { amount: Money, cap: Money },
    /// What the period's amounts file (by its SHA-256) gives each one listed.
    File { sha256: String },
}

impl Rule {
    /// The stored form: `flat:<minor>`, `per_member:<minor>:cap:<minor>`
    /// or `file:<sha256>`.
    pub fn text(&self) -> String {
        match self {
            Self::Flat(m) => format!("flat:{}", m.minor),
            Self::PerMember { amount, cap } => {
                format!("per_member:{}:cap:{}", amount.minor, cap.minor)
            }
            Self::File { sha256 } => format!("file:{sha256}"),
        }
    }
}

/// A rule as a person typed it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// `flat`, `per_member` or `file`.
    pub rule: String,
    /// A decimal in the programme's currency (none with `file`).
    #[serde(default)]
    pub amount: String,
    /// With `per_member`: the most per household.
    pub cap: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("a period is 1 to {PERIOD_BYTES_MAX} letters, digits, '-', '_' or '.' (2027-01)")]
    BadPeriod,
    #[error("the rule is flat, per_member or file, not {0:?}")]
    BadRule(String),
    #[error(
        "no amounts file was uploaded for period {0} of this programme: upload one before \
         generating with the file rule"
    )]
    NoAmountsFile(String),
    #[error(
        "the file rule takes each amount from the period's amounts file: give no amount or cap"
    )]
    AmountWithFile,
    #[error("the {field} is not an amount in {currency}: {reason}")]
    BadAmount {
        field: &'static str,
        currency: String,
        reason: String,
    },
    #[error("a per-member rule needs a cap")]
    NoCap,
    #[error("cycle {period} of this programme was generated with another rule ({rule})")]
    OtherRule { period: String, rule: String },
    #[error("there is no cycle {0}")]
    Unknown(i64),
    #[error("cycle {id} is {state}; this needs it {wanted}")]
    State {
        id: i64,
        state: String,
        wanted: &'static str,
    },
    #[error("cycle {id} has no entitlements to approve")]
    Empty { id: i64 },
    #[error(
        "cycle {id} totals {total}, over the programme's budget of {budget}: submit it asking \
         for approval over budget, or exclude some entitlements"
    )]
    OverBudget {
        id: i64,
        total: String,
        budget: String,
    },
    #[error("{0} has no draft or excluded entitlement in this cycle")]
    UnknownEntitlement(String),
    #[error("the note is not usable: {0}")]
    BadNote(lastmile_shared::text::TextError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl CycleError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.code(),
            Self::BadPeriod => "bad_period",
            Self::BadRule(_) => "bad_rule",
            Self::NoAmountsFile(_) => "no_amounts_file",
            Self::AmountWithFile => "amount_with_file",
            Self::BadAmount { .. } => "bad_amount",
            Self::NoCap => "no_cap",
            Self::OtherRule { .. } => "other_rule",
            Self::Unknown(_) => "unknown_cycle",
            Self::State { .. } => "cycle_state",
            Self::Empty { .. } => "cycle_empty",
            Self::OverBudget { .. } => "over_budget",
            Self::UnknownEntitlement(_) => "unknown_entitlement",
            Self::BadNote(_) => "bad_note",
            Self::Storage(_) => "storage_error",
            Self::Ledger(e) => e.code(),
        }
    }
}

fn amount(programme: &Programme, field: &'static str, text: &str) -> Result<Money, CycleError> {
    let bad = |reason: String| CycleError::BadAmount {
        field,
        currency: programme.currency.code().to_owned(),
        reason,
    };
    let money = Money::parse(text.trim(), programme.currency).map_err(|e| bad(e.to_string()))?;
    if money.is_negative() || money.is_zero() {
        return Err(bad("it must be more than zero".to_owned()));
    }
    Ok(money)
}

fn rule(
    tx: &mut dyn Tx,
    programme: &Programme,
    period: &str,
    request: &RuleRequest,
) -> Result<Rule, CycleError> {
    match request.rule.as_str() {
        "file" => {
            if !request.amount.trim().is_empty() || request.cap.is_some() {
                return Err(CycleError::AmountWithFile);
            }
            let file = table::amount_file(tx.sql(), &programme.row.programme, period)?
                .ok_or_else(|| CycleError::NoAmountsFile(period.to_owned()))?;
            Ok(Rule::File {
                sha256: file.sha256,
            })
        }
        "flat" => Ok(Rule::Flat(amount(programme, "amount", &request.amount)?)),
        "per_member" => Ok(Rule::PerMember {
            amount: amount(programme, "amount", &request.amount)?,
            cap: amount(
                programme,
                "cap",
                request.cap.as_deref().ok_or(CycleError::NoCap)?,
            )?,
        }),
        other => Err(CycleError::BadRule(other.to_owned())),
    }
}

pub(super) fn check_period(period: &str) -> Result<&str, CycleError> {
    let period = period.trim();
    let ok = !period.is_empty()
        && period.len() <= PERIOD_BYTES_MAX
        && period
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    ok.then_some(period).ok_or(CycleError::BadPeriod)
}

fn get_in(tx: &mut dyn Tx, id: i64) -> Result<CycleRow, CycleError> {
    table::cycle(tx.sql(), id)?.ok_or(CycleError::Unknown(id))
}

/// Generates (or completes) the cycle of a period: every active
/// beneficiary without an entitlement in it gets one. Generating again
/// adds only those imported since, and never twice.
pub fn generate(
    storage: &Storage,
    actor: &Actor,
    programme: &str,
    period: &str,
    request: &RuleRequest,
    now: i64,
) -> Result<CycleRow, CycleError> {
    let period = check_period(period)?;
    storage.transaction(|tx| {
        let programme = programmes::get_in(tx, programme)?;
        if programme.row.state != "active" {
            return Err(RegistryError::ProgrammeState {
                programme: programme.row.programme.clone(),
                state: programme.row.state.clone(),
                wanted: "active",
            }
            .into());
        }
        let rule = rule(tx, &programme, period, request)?;
        let cycle = match table::cycle_for_period(tx.sql(), &programme.row.programme, period)? {
            Some(existing) if existing.rule != rule.text() => {
                return Err(CycleError::OtherRule {
                    period: period.to_owned(),
                    rule: existing.rule,
                });
            }
            Some(existing) if existing.state != "draft" => {
                return Err(CycleError::State {
                    id: existing.id,
                    state: existing.state,
                    wanted: "draft",
                });
            }
            Some(existing) => existing,
            None => {
                let id = i64::try_from(tx.next_counter("cycles")?)
                    .map_err(|e| StorageError::corrupt("counters.cycles", e))?;
                let row = CycleRow {
                    id,
                    programme: programme.row.programme.clone(),
                    period: period.to_owned(),
                    rule: rule.text(),
                    state: "draft".to_owned(),
                    entitlements: 0,
                    total_minor: 0,
                    excluded: 0,
                    over_budget: false,
                    generated_by: actor.label(),
                    generated_at: now,
                    approved_by: None,
                    approved_at: None,
                };
                table::insert_cycle(tx.sql(), &row)?;
                row
            }
        };
        let households = programme.target == Target::Household;
        let (flat, per_member, cap) = match rule {
            Rule::Flat(m) => (m.minor, 0, 0),
            Rule::PerMember { amount, cap } => (0, amount.minor, cap.minor),
            Rule::File { .. } => (0, 0, 0),
        };
        let added = match rule {
            Rule::File { .. } => table::generate_entitlements_from_file(
                tx.sql(),
                cycle.id,
                &programme.row.programme,
                period,
                programme.currency.code(),
                households,
                now,
            )?,
            _ => table::generate_entitlements(
                tx.sql(),
                cycle.id,
                &programme.row.programme,
                programme.currency.code(),
                households,
                per_member,
                flat,
                cap,
                now,
            )?,
        };
        let cycle = table::recount_cycle(tx.sql(), cycle.id, programme.row.budget_minor)?;
        audit::record(
            tx,
            actor,
            "cycle.generated",
            &format!("cycle:{}", cycle.id),
            serde_json::json!({
                "programme": cycle.programme, "period": cycle.period, "rule": cycle.rule,
                "added": added, "entitlements": cycle.entitlements,
                "total_minor": cycle.total_minor, "over_budget": cycle.over_budget,
            }),
            now,
        )?;
        Ok(cycle)
    })
}

/// Excludes a draft entitlement from the cycle (or includes it again).
pub fn exclude(
    storage: &Storage,
    actor: &Actor,
    cycle: i64,
    beneficiary: &str,
    excluded: bool,
    note: &str,
    now: i64,
) -> Result<CycleRow, CycleError> {
    let note = PlainText::parse(note, Lines::One, NOTE_CHARS_MAX).map_err(CycleError::BadNote)?;
    storage.transaction(|tx| {
        let row = get_in(tx, cycle)?;
        if row.state != "draft" {
            return Err(CycleError::State {
                id: cycle,
                state: row.state,
                wanted: "draft",
            });
        }
        let programme = programmes::get_in(tx, &row.programme)?;
        let note = (!note.as_str().is_empty()).then_some(note.as_str());
        if !table::set_excluded(tx.sql(), cycle, beneficiary, excluded, note, now)? {
            return Err(CycleError::UnknownEntitlement(beneficiary.to_owned()));
        }
        audit::record(
            tx,
            actor,
            if excluded {
                "entitlement.excluded"
            } else {
                "entitlement.included"
            },
            &format!("cycle:{cycle}/{beneficiary}"),
            serde_json::json!({ "note": note }),
            now,
        )?;
        Ok(table::recount_cycle(
            tx.sql(),
            cycle,
            programme.row.budget_minor,
        )?)
    })
}

/// What an approver is asked to approve: the cycle, checked submittable,
/// and the sentence the proposal carries.
pub fn submittable_in(
    tx: &mut dyn Tx,
    cycle: i64,
    over_budget_approval: bool,
) -> Result<(CycleRow, String), CycleError> {
    let row = get_in(tx, cycle)?;
    if row.state != "draft" {
        return Err(CycleError::State {
            id: cycle,
            state: row.state,
            wanted: "draft",
        });
    }
    let programme = programmes::get_in(tx, &row.programme)?;
    let row = table::recount_cycle(tx.sql(), cycle, programme.row.budget_minor)?;
    if row.entitlements == 0 {
        return Err(CycleError::Empty { id: cycle });
    }
    let total = Money {
        minor: row.total_minor,
        currency: programme.currency,
    };
    let budget = programme.budget();
    let show = |m: Money| m.display_grouped(',', '.');
    if row.over_budget && !over_budget_approval {
        return Err(CycleError::OverBudget {
            id: cycle,
            total: show(total),
            budget: show(budget),
        });
    }
    let summary = format!(
        "cycle {} of {}: {} entitlements, {} in all{}; {} excluded",
        row.period,
        row.programme,
        row.entitlements,
        show(total),
        if row.over_budget {
            format!(", OVER the budget of {}", show(budget))
        } else {
            format!(", within the budget of {}", show(budget))
        },
        row.excluded
    );
    Ok((row, summary))
}

/// Marks a draft cycle submitted (its proposal was just made).
pub fn mark_submitted_in(tx: &mut dyn Tx, cycle: i64) -> Result<(), CycleError> {
    if !table::set_cycle_state(tx.sql(), cycle, "draft", "submitted")? {
        return Err(CycleError::Unknown(cycle));
    }
    Ok(())
}

/// A rejected cycle is a draft again, to fix and submit again.
pub fn reopen_in(tx: &mut dyn Tx, cycle: i64) -> Result<(), CycleError> {
    table::set_cycle_state(tx.sql(), cycle, "submitted", "draft")?;
    Ok(())
}

/// Who generated the cycle (who may not approve it).
pub fn generated_by_in(tx: &mut dyn Tx, cycle: i64) -> Result<String, CycleError> {
    Ok(get_in(tx, cycle)?.generated_by)
}

/// Approves a submitted cycle: its drafts become approved, its exclusions
/// cancelled. Only an approved proposal calls this.
pub fn approve_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    cycle: i64,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), CycleError> {
    if !table::approve_cycle(tx.sql(), cycle, &actor.label(), now)? {
        let row = get_in(tx, cycle)?;
        return Err(CycleError::State {
            id: cycle,
            state: row.state,
            wanted: "submitted",
        });
    }
    let (approved, cancelled) = table::approve_entitlements(tx.sql(), cycle, now)?;
    // The approved total leaves the budget for the cycle's obligations.
    let row = get_in(tx, cycle)?;
    let totals = crate::storage::ledger::approved_totals(tx.sql(), cycle)?;
    postings::commit_cycle(
        tx.sql(),
        &row.programme,
        cycle,
        &row.period,
        &totals,
        &actor.label(),
        now,
    )?;
    let mut detail = detail;
    detail["approved"] = approved.into();
    detail["cancelled"] = cancelled.into();
    audit::record(
        tx,
        actor,
        "cycle.approved",
        &format!("cycle:{cycle}"),
        detail,
        now,
    )?;
    Ok(())
}

pub fn get(storage: &Storage, id: i64) -> Result<CycleRow, CycleError> {
    storage.transaction(|tx| get_in(tx, id))
}

pub fn list(storage: &Storage, programme: &str, page: Page) -> Result<Vec<CycleRow>, CycleError> {
    Ok(storage.transaction(|tx| table::cycles(tx.sql(), programme, page))?)
}

pub fn entitlements(
    storage: &Storage,
    cycle: i64,
    state: Option<&str>,
    page: Page,
) -> Result<Vec<CycleEntitlementRow>, CycleError> {
    Ok(storage.transaction(|tx| table::cycle_entitlements(tx.sql(), cycle, state, page))?)
}

/// Counts and totals per state and channel kind.
pub fn breakdown(
    storage: &Storage,
    cycle: i64,
) -> Result<Vec<(String, String, i64, i64)>, CycleError> {
    Ok(storage.transaction(|tx| table::cycle_breakdown(tx.sql(), cycle))?)
}
