//! Maker–checker: an action that moves or forgoes money is stored as a
//! proposal, and only a different person with the approver role may
//! approve it (which carries it out, in the same transaction) or reject it.
//!
//! Used now for voucher revocations, case write-offs, key rotations, cycles
//! and ID authorities (added and retired); the
//! payment pipeline adds its own [`Action`]s (entitlements, batches).
//!
//! Architecture invariant: the only way to carry out an [`Action`] is
//! [`decide`] with [`Decision::Approve`], by someone other than its author.

use lastmile_shared::id::{IssuerId, VoucherId};
use lastmile_shared::text::{Lines, PlainText, TextError};
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::double_spend::{self, Resolution, ResolveError};
use crate::id_authorities::{self, Change, IdAuthorityError};
use crate::keys::{self, KeyDir, KeyError};
use crate::ledger::rates::{self, RateRequest, RatesError};
use crate::payments::exceptions::{self, Remedy};
use crate::payments::{PaymentError, batches};
use crate::people::{self, Caller, NewUser, PeopleError, Permission, UserView};
use crate::registry::cycles::{self, CycleError};
use crate::storage::ledger::{self as ledger_rows, RateRow};
use crate::storage::proposals::{self as table, NewProposal, ProposalRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError, Tx};
use crate::vouchers::{self, VoucherError};

/// Longest reason or decision note, in characters.
pub const REASON_CHARS_MAX: usize = 1000;

/// What a proposal would do once approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    RevokeVoucher(VoucherId),
    WriteOffCase(u64),
    /// A new active issuer key for this issuer; the active ones retire.
    RotateIssuerKey(IssuerId),
    /// A new root key, handed over from the old one.
    RotateRootKey,
    /// Enables a held account: one with a role that approves or creates
    /// people, created by an admin over HTTP.
    ActivateUser(String),
    /// Approves a submitted cycle's entitlements.
    ApproveCycle(i64),
    /// Puts a set of exchange rates in force.
    ApproveRates(i64),
    /// Makes a proposed ID authority key (by key id) active.
    AddIdAuthority(String),
    /// Retires an active ID authority key.
    RetireIdAuthority(String),
    /// Approves a submitted payment batch: reserves and sends it.
    ApproveBatch(i64),
    /// Resolves a payment of the exception queue (by key).
    ResolvePayment {
        key: String,
        remedy: Remedy,
    },
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RevokeVoucher(_) => "voucher.revoke",
            Self::WriteOffCase(_) => "case.write_off",
            Self::RotateIssuerKey(_) => "keys.rotate_issuer",
            Self::RotateRootKey => "keys.rotate_root",
            Self::ActivateUser(_) => "user.activate",
            Self::ApproveCycle(_) => "cycle.approve",
            Self::ApproveRates(_) => "rates.approve",
            Self::AddIdAuthority(_) => "id_authority.add",
            Self::RetireIdAuthority(_) => "id_authority.retire",
            Self::ApproveBatch(_) => "batch.approve",
            Self::ResolvePayment { remedy, .. } => remedy.kind(),
        }
    }

    pub fn object(&self) -> String {
        match self {
            Self::RevokeVoucher(v) => format!("voucher:{v}"),
            Self::WriteOffCase(c) => format!("case:{c}"),
            Self::RotateIssuerKey(issuer) => format!("issuer:{issuer}"),
            Self::RotateRootKey => "keys:root".to_owned(),
            Self::ActivateUser(name) => format!("user:{name}"),
            Self::ApproveCycle(id) => format!("cycle:{id}"),
            Self::ApproveRates(set) => format!("rates:{set}"),
            Self::AddIdAuthority(kid) | Self::RetireIdAuthority(kid) => {
                format!("id_authority:{kid}")
            }
            Self::ApproveBatch(id) => format!("batch:{id}"),
            Self::ResolvePayment { key, .. } => format!("payment:{key}"),
        }
    }

    /// Who may propose it.
    pub fn permission(&self) -> Permission {
        match self {
            Self::RevokeVoucher(_) => Permission::ProposeRevocation,
            Self::WriteOffCase(_) => Permission::ProposeWriteOff,
            Self::RotateIssuerKey(_) | Self::RotateRootKey => Permission::ProposeKeyRotation,
            Self::ActivateUser(_) => Permission::ManageUsers,
            Self::ApproveCycle(_) => Permission::ManageCycles,
            Self::ApproveRates(_) => Permission::EnterRates,
            Self::AddIdAuthority(_) | Self::RetireIdAuthority(_) => Permission::ManageIdAuthorities,
            Self::ApproveBatch(_) => Permission::PreparePayments,
            Self::ResolvePayment { .. } => Permission::HandleExceptions,
        }
    }

    fn parse(kind: &str, object: &str) -> Result<Self, StorageError> {
        let corrupt = || StorageError::corrupt("proposals", format!("{kind} {object}"));
        match (kind, object.split_once(':')) {
            ("voucher.revoke", Some(("voucher", id))) => Ok(Self::RevokeVoucher(
                VoucherId::parse(id).map_err(|_| corrupt())?,
            )),
            ("case.write_off", Some(("case", id))) => {
                Ok(Self::WriteOffCase(id.parse().map_err(|_| corrupt())?))
            }
            ("keys.rotate_issuer", Some(("issuer", id))) => Ok(Self::RotateIssuerKey(
                IssuerId::parse(id).map_err(|_| corrupt())?,
            )),
            ("keys.rotate_root", Some(("keys", "root"))) => Ok(Self::RotateRootKey),
            ("user.activate", Some(("user", name))) => Ok(Self::ActivateUser(name.to_owned())),
            ("cycle.approve", Some(("cycle", id))) => {
                Ok(Self::ApproveCycle(id.parse().map_err(|_| corrupt())?))
            }
            ("rates.approve", Some(("rates", id))) => {
                Ok(Self::ApproveRates(id.parse().map_err(|_| corrupt())?))
            }
            ("id_authority.add", Some(("id_authority", kid))) => {
                Ok(Self::AddIdAuthority(kid.to_owned()))
            }
            ("id_authority.retire", Some(("id_authority", kid))) => {
                Ok(Self::RetireIdAuthority(kid.to_owned()))
            }
            ("batch.approve", Some(("batch", id))) => {
                Ok(Self::ApproveBatch(id.parse().map_err(|_| corrupt())?))
            }
            (kind, Some(("payment", key))) => match Remedy::parse_kind(kind) {
                Some(remedy) => Ok(Self::ResolvePayment {
                    key: key.to_owned(),
                    remedy,
                }),
                None => Err(corrupt()),
            },
            _ => Err(corrupt()),
        }
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error("your role may not propose this")]
    NotAllowed,
    #[error("only a person with the approver role may decide a proposal")]
    NotAnApprover,
    #[error("you proposed this yourself: another approver must decide it")]
    OwnProposal,
    #[error("there is no proposal {0}")]
    Unknown(i64),
    #[error("proposal {0} is already decided")]
    AlreadyDecided(i64),
    #[error("{0}, who proposed this, is disabled: the proposal can only be rejected")]
    ProposerDisabled(String),
    #[error("proposal {0} for this is already waiting for a decision")]
    AlreadyPending(i64),
    #[error("the reason is not usable: {0}")]
    BadReason(TextError),
    #[error("voucher {0} is already revoked")]
    AlreadyRevoked(VoucherId),
    #[error("the account {0:?} is already active")]
    AlreadyActive(String),
    #[error(transparent)]
    People(#[from] PeopleError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error(transparent)]
    Rates(#[from] RatesError),
    #[error(transparent)]
    IdAuthority(#[from] IdAuthorityError),
    #[error(transparent)]
    Voucher(#[from] VoucherError),
    #[error(transparent)]
    Case(#[from] ResolveError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Payment(Box<PaymentError>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<PaymentError> for ProposalError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Storage(e) => Self::Storage(e),
            PaymentError::Proposal(e) => *e,
            other => Self::Payment(Box::new(other)),
        }
    }
}

impl ProposalError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed | Self::NotAnApprover => "forbidden",
            Self::OwnProposal => "own_proposal",
            Self::Unknown(_) => "unknown_proposal",
            Self::AlreadyDecided(_) => "proposal_decided",
            Self::AlreadyPending(_) => "proposal_pending",
            Self::ProposerDisabled(_) => "proposer_disabled",
            Self::BadReason(_) => "bad_reason",
            Self::AlreadyRevoked(_) => "voucher_revoked",
            Self::AlreadyActive(_) => "user_active",
            Self::People(e) => e.code(),
            Self::Cycle(e) => e.code(),
            Self::Rates(e) => e.code(),
            Self::IdAuthority(e) => e.code(),
            Self::Voucher(e) => match e {
                VoucherError::Unknown(_) => "unknown_voucher",
                _ => "voucher_error",
            },
            Self::Case(e) => e.code(),
            Self::Keys(_) => "key_error",
            Self::Payment(e) => e.code(),
            Self::Storage(_) => "storage_error",
        }
    }
}

/// A proposal's reason or a decision's note, checked.
pub(crate) fn reason_text(reason: &str) -> Result<PlainText, ProposalError> {
    PlainText::parse(reason, Lines::Many, REASON_CHARS_MAX).map_err(ProposalError::BadReason)
}

/// Checks that the action can still be carried out now.
fn check(tx: &mut dyn Tx, action: &Action) -> Result<(), ProposalError> {
    match action {
        Action::RevokeVoucher(id) => {
            let row = tx
                .voucher(id)?
                .ok_or_else(|| VoucherError::Unknown(id.clone()))?;
            if row.revoked_at.is_some() {
                return Err(ProposalError::AlreadyRevoked(id.clone()));
            }
        }
        Action::WriteOffCase(case) => match table::case_resolution(tx.sql(), *case)? {
            None => return Err(ResolveError::UnknownCase(*case).into()),
            Some(Some(_)) => return Err(ResolveError::AlreadyResolved(*case).into()),
            Some(None) => {}
        },
        Action::RotateIssuerKey(_) | Action::RotateRootKey => {
            if tx.root_key()?.is_none() {
                return Err(KeyError::NotInitialised.into());
            }
        }
        Action::ApproveCycle(_) | Action::ApproveRates(_) | Action::ResolvePayment { .. } => {}
        Action::ApproveBatch(batch) => {
            let row = crate::storage::payments::batch(tx.sql(), *batch)?
                .ok_or(PaymentError::UnknownBatch(*batch))?;
            if row.state != "draft" {
                return Err(PaymentError::BatchState {
                    id: *batch,
                    state: row.state,
                    wanted: "only a draft is submitted",
                }
                .into());
            }
        }
        Action::AddIdAuthority(kid) => id_authorities::check_in(tx, kid, Change::Activate)?,
        Action::RetireIdAuthority(kid) => id_authorities::check_in(tx, kid, Change::Retire)?,
        Action::ActivateUser(name) => {
            let user = crate::storage::people::user_by_name(tx.sql(), name)?
                .ok_or_else(|| PeopleError::UnknownUser(name.clone()))?;
            if user.disabled_at.is_none() {
                return Err(ProposalError::AlreadyActive(name.clone()));
            }
        }
    }
    Ok(())
}

/// Stores a proposal to carry out `action`, with the proposer's reason.
pub fn propose(
    storage: &Storage,
    caller: &Caller,
    action: &Action,
    reason: &str,
    now: i64,
) -> Result<ProposalRow, ProposalError> {
    if !caller.may(action.permission()) {
        return Err(ProposalError::NotAllowed);
    }
    let reason = reason_text(reason)?;
    storage.transaction(|tx| propose_in(tx, caller, action, &reason, now))
}

pub(crate) fn propose_in(
    tx: &mut dyn Tx,
    caller: &Caller,
    action: &Action,
    reason: &PlainText,
    now: i64,
) -> Result<ProposalRow, ProposalError> {
    check(tx, action)?;
    let object = action.object();
    if let Some(id) = table::pending_for(tx.sql(), action.kind(), &object)? {
        return Err(ProposalError::AlreadyPending(id));
    }
    let id = i64::try_from(tx.next_counter("proposals")?)
        .map_err(|e| StorageError::corrupt("counters.proposals", e))?;
    let inserted = table::insert(
        tx.sql(),
        &NewProposal {
            id,
            kind: action.kind(),
            object: &object,
            payload: "{}",
            reason: reason.as_str(),
            proposed_by: caller.id,
            proposed_at: now,
        },
    )?;
    if !inserted {
        return Err(ProposalError::AlreadyPending(id));
    }
    audit::record(
        tx,
        &caller.actor(),
        "proposal.created",
        &format!("proposal:{id}"),
        serde_json::json!({ "kind": action.kind(), "object": object, "reason": reason.as_str() }),
        now,
    )?;
    table::get(tx.sql(), id)?.ok_or(ProposalError::Unknown(id))
}

/// A person created by someone at HQ, and the proposal that must be
/// approved before they can sign in, if their role needs one.
#[derive(Debug, Clone, Serialize)]
pub struct Admitted {
    pub user: UserView,
    pub proposal: Option<ProposalRow>,
}

/// Creates a person on behalf of an admin. An approver or an admin
/// ([`crate::people::Role::needs_approval`]) is created disabled, with a
/// `user.activate` proposal that another approver decides: otherwise an
/// admin could make themselves a second account and approve their own
/// proposals with it.
pub fn admit(
    storage: &Storage,
    caller: &Caller,
    user: &NewUser<'_>,
    now: i64,
) -> Result<Admitted, ProposalError> {
    if !caller.may(Permission::ManageUsers) {
        return Err(ProposalError::NotAllowed);
    }
    let checked = people::Checked::new(user)?;
    let held = checked.role().needs_approval();
    let reason = reason_text(&format!(
        "new {} account {}",
        checked.role().code(),
        checked.username()
    ))?;
    storage.transaction(|tx| {
        let user = people::insert_in(tx, &caller.actor(), &checked, held, now)?;
        let proposal = if held {
            let action = Action::ActivateUser(user.username.clone());
            Some(propose_in(tx, caller, &action, &reason, now)?)
        } else {
            None
        };
        Ok(Admitted { user, proposal })
    })
}

/// Submits a draft cycle for approval: a `cycle.approve` proposal whose
/// reason starts with the cycle's totals (and says when they are over the
/// budget, which `over_budget_approval` must then accept), and the cycle
/// is submitted, in one transaction. Until decided, it cannot change.
pub fn submit_cycle(
    storage: &Storage,
    caller: &Caller,
    cycle: i64,
    reason: &str,
    over_budget_approval: bool,
    now: i64,
) -> Result<ProposalRow, ProposalError> {
    let action = Action::ApproveCycle(cycle);
    if !caller.may(action.permission()) {
        return Err(ProposalError::NotAllowed);
    }
    reason_text(reason)?;
    storage.transaction(|tx| {
        let (_, summary) = cycles::submittable_in(tx, cycle, over_budget_approval)?;
        let reason = reason_text(&format!("{summary}. {}", reason.trim()))?;
        let proposal = propose_in(tx, caller, &action, &reason, now)?;
        cycles::mark_submitted_in(tx, cycle)?;
        Ok(proposal)
    })
}

/// Enters a set of exchange rates (typed, or a file named `source`) as
/// proposed, with the `rates.approve` proposal that puts them in force once
/// another person approves it, in one transaction.
pub fn enter_rates(
    storage: &Storage,
    caller: &Caller,
    requests: &[RateRequest],
    source: &str,
    now: i64,
) -> Result<(Vec<RateRow>, ProposalRow), ProposalError> {
    if !caller.may(Permission::EnterRates) {
        return Err(ProposalError::NotAllowed);
    }
    storage.transaction(|tx| {
        let (set, rows) = rates::enter_in(tx, requests, source, &caller.actor().label(), now)?;
        let summary: Vec<String> = rows
            .iter()
            .take(5)
            .map(|r| {
                format!(
                    "1 {} = {} {} from {}",
                    r.base, r.rate, r.quote, r.effective_from
                )
            })
            .collect();
        let more = rows.len().saturating_sub(summary.len());
        let reason = reason_text(&format!(
            "{} exchange rate(s) from {source}: {}{}",
            rows.len(),
            summary.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ))?;
        let proposal = propose_in(tx, caller, &Action::ApproveRates(set), &reason, now)?;
        Ok((rows, proposal))
    })
}

/// Approves (carrying the action out) or rejects a pending proposal. The
/// decider must be an approver and not the proposal's author.
pub fn decide(
    storage: &Storage,
    keys: &KeyDir,
    caller: &Caller,
    id: i64,
    decision: Decision,
    note: &str,
    now: i64,
) -> Result<ProposalRow, ProposalError> {
    if !caller.may(Permission::Decide) {
        return Err(ProposalError::NotAnApprover);
    }
    let note = reason_text(note)?;
    storage.transaction(|tx| {
        let proposal = table::get(tx.sql(), id)?.ok_or(ProposalError::Unknown(id))?;
        if proposal.state != "pending" {
            return Err(ProposalError::AlreadyDecided(id));
        }
        if proposal.proposed_by == caller.id {
            return Err(ProposalError::OwnProposal);
        }
        let action = Action::parse(&proposal.kind, &proposal.object)?;
        // Who generated a cycle may not approve it either, whoever submitted it.
        if let Action::ApproveCycle(cycle) = action
            && cycles::generated_by_in(tx, cycle)? == caller.actor().label()
        {
            return Err(ProposalError::OwnProposal);
        }
        // Nor who prepared a batch.
        if let Action::ApproveBatch(batch) = action
            && batches::prepared_by_in(tx, batch)? == caller.actor().label()
        {
            return Err(PaymentError::OwnBatch(batch).into());
        }
        // A disabled person's proposals may be rejected, never carried out.
        let proposer_disabled = crate::storage::people::user_by_id(tx.sql(), proposal.proposed_by)?
            .is_none_or(|user| user.disabled_at.is_some());
        if decision == Decision::Approve && proposer_disabled {
            return Err(ProposalError::ProposerDisabled(proposal.proposed_by_name.clone()));
        }
        let state = match decision {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        };
        if !table::decide(tx.sql(), id, state, caller.id, now, note.as_str())? {
            return Err(ProposalError::AlreadyDecided(id));
        }
        audit::record(
            tx,
            &caller.actor(),
            match decision {
                Decision::Approve => "proposal.approved",
                Decision::Reject => "proposal.rejected",
            },
            &format!("proposal:{id}"),
            serde_json::json!({ "kind": proposal.kind, "object": proposal.object, "note": note.as_str() }),
            now,
        )?;
        match (decision, &action) {
            (Decision::Reject, Action::ApproveCycle(cycle)) => cycles::reopen_in(tx, *cycle)?,
            (Decision::Reject, Action::ApproveBatch(batch)) => batches::reopen_in(tx, *batch)?,
            (Decision::Reject, Action::AddIdAuthority(kid)) => {
                id_authorities::reject_in(tx, &caller.actor(), kid, now)?;
            }
            (Decision::Reject, Action::ApproveRates(set)) => {
                let by = caller.actor().label();
                ledger_rows::decide_rate_set(tx.sql(), *set, "rejected", &by, now)?;
            }
            _ => {}
        }
        if decision == Decision::Approve {
            let detail = serde_json::json!({
                "proposal": id,
                "proposed_by": proposal.proposed_by_name,
                "approved_by": caller.username,
            });
            match &action {
                Action::RevokeVoucher(voucher) => {
                    vouchers::revoke_in(tx, keys, &caller.actor(), voucher, detail, now)?;
                }
                Action::WriteOffCase(case) => {
                    let text = format!("{} (approved: {})", proposal.reason, note.as_str());
                    let note = double_spend::resolution_note(&text)
                        .or_else(|_| double_spend::resolution_note(&proposal.reason))?;
                    double_spend::resolve_in(
                        tx,
                        &caller.actor(),
                        *case,
                        Resolution::WrittenOff,
                        &note,
                        detail,
                        now,
                    )?;
                }
                Action::RotateIssuerKey(issuer) => {
                    keys::rotate_in(tx, keys, &caller.actor(), issuer, detail, now)?;
                }
                Action::RotateRootKey => {
                    keys::rotate_root_in(tx, keys, &caller.actor(), detail, now)?;
                }
                Action::ActivateUser(name) => {
                    people::enable_in(tx, &caller.actor(), name, detail, now)?;
                }
                Action::ApproveCycle(cycle) => {
                    cycles::approve_in(tx, &caller.actor(), *cycle, detail, now)?;
                }
                Action::ApproveRates(set) => {
                    let by = caller.actor().label();
                    ledger_rows::decide_rate_set(tx.sql(), *set, "approved", &by, now)?;
                    audit::record(tx, &caller.actor(), "rates.approved", &format!("rates:{set}"), detail, now)?;
                }
                Action::ApproveBatch(batch) => {
                    batches::approve_in(tx, &caller.actor(), *batch, detail, now)?;
                }
                Action::ResolvePayment { key, remedy } => {
                    let actor = caller.actor();
                    let by = format!("user:{}", proposal.proposed_by_name);
                    let proposed = exceptions::Proposed {
                        by: &by,
                        reason: &proposal.reason,
                    };
                    exceptions::carry_out_in(tx, &actor, key, *remedy, proposed, detail, now)?;
                }
                Action::AddIdAuthority(kid) | Action::RetireIdAuthority(kid) => {
                    let change = match action {
                        Action::AddIdAuthority(_) => Change::Activate,
                        _ => Change::Retire,
                    };
                    let actor = caller.actor();
                    id_authorities::carry_out_in(tx, keys, &actor, kid, change, detail, now)?;
                }
            }
        }
        table::get(tx.sql(), id)?.ok_or(ProposalError::Unknown(id))
    })
}

/// Newest first, optionally only pending (or approved, or rejected) ones.
pub fn list(
    storage: &Storage,
    state: Option<&str>,
    page: Page,
) -> Result<Vec<ProposalRow>, StorageError> {
    storage.transaction(|tx| table::list(tx.sql(), state, page))
}

pub fn get(storage: &Storage, id: i64) -> Result<Option<ProposalRow>, StorageError> {
    storage.transaction(|tx| table::get(tx.sql(), id))
}
