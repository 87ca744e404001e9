//! What each change of the programme's money posts, in the transaction of
//! the change it records: a budget funded, a cycle approved, a voucher
//! redeemed or cash paid out (counted at sync), a field agent's session
//! opened and closed. Every transfer id is derived from what caused it
//! (the cycle, the device and the entry's sequence number), so recording
//! the same change twice posts nothing twice.

use std::collections::HashMap;

use lastmile_shared::money::{Currency, Money};

use super::account::{Account, AccountKind};
use super::book::Outcome;
use super::transfer::{Cause, NewTransfer, Phase, TransferCode, TransferId};
use super::{LedgerError, open, post, post_all};
use crate::storage::DeviceRow;
use crate::storage::ledger as rows;
use crate::storage::sql::Sql;

/// The account of kind `kind` for these parts.
fn account(
    kind: AccountKind,
    parts: &[&str],
    currency: Currency,
    programme: Option<&str>,
) -> Result<Account, LedgerError> {
    Ok(Account::open(kind, parts, currency, programme)?)
}

fn single(
    id: TransferId,
    debit: &Account,
    credit: &Account,
    amount: i64,
    code: TransferCode,
    cause: Cause,
) -> NewTransfer {
    NewTransfer {
        id,
        debit: debit.id.clone(),
        credit: credit.id.clone(),
        amount,
        code,
        phase: Phase::Single,
        linked: false,
        cause: Some(cause),
    }
}

/// A programme's budget account in one currency.
pub fn budget(programme: &str, currency: Currency) -> Result<Account, LedgerError> {
    account(AccountKind::Budget, &[programme], currency, Some(programme))
}

/// A cycle's obligations account; `direct` for vouchers and roster
/// entries issued outside any cycle.
pub fn obligations(
    programme: &str,
    cycle: &str,
    currency: Currency,
) -> Result<Account, LedgerError> {
    account(
        AccountKind::Obligations,
        &[programme, cycle],
        currency,
        Some(programme),
    )
}

/// Obligations not tied to a cycle: vouchers and roster entries issued by
/// hand.
pub const DIRECT: &str = "direct";

/// Funds a programme's budget from a source; `reference` (the funding's
/// own id, e.g. a treasury release number) makes the transfer's id, so
/// recording it again changes nothing. Returns whether it was new.
pub fn fund(
    sql: &mut dyn Sql,
    programme: &str,
    source: &str,
    amount: Money,
    reference: &str,
    actor: &str,
    now: i64,
) -> Result<bool, LedgerError> {
    let from = account(AccountKind::Funding, &[source], amount.currency, None)?;
    let to = budget(programme, amount.currency)?;
    open(sql, &[from.clone(), to.clone()], now)?;
    let transfer = single(
        TransferId::new("fund", &[programme, reference])?,
        &from,
        &to,
        amount.minor,
        TransferCode::Fund,
        Cause {
            kind: "programme",
            id: programme.to_owned(),
        },
    );
    let outcome = post(sql, std::slice::from_ref(&transfer), now, Some(actor))?;
    match outcome.into_iter().next() {
        Some(Outcome::Created) => Ok(true),
        Some(Outcome::Exists) => Ok(false),
        Some(Outcome::Refused(refusal)) => Err(LedgerError::Refused {
            id: transfer.id,
            refusal,
        }),
        None => Err(LedgerError::Invariant(
            "a batch of one gave no outcome".into(),
        )),
    }
}

/// An approved cycle commits its approved entitlements' total (one per
/// currency) from the budget to the cycle's obligations.
pub fn commit_cycle(
    sql: &mut dyn Sql,
    programme: &str,
    cycle: i64,
    period: &str,
    totals: &[Money],
    actor: &str,
    now: i64,
) -> Result<(), LedgerError> {
    let mut batch = Vec::new();
    let cycle_text = cycle.to_string();
    for total in totals.iter().filter(|t| t.minor > 0) {
        let from = budget(programme, total.currency)?;
        let to = obligations(programme, period, total.currency)?;
        open(sql, &[from.clone(), to.clone()], now)?;
        batch.push(single(
            TransferId::new("commit", &["cycle", &cycle_text, total.currency.code()])?,
            &from,
            &to,
            total.minor,
            TransferCode::Commit,
            Cause {
                kind: "cycle",
                id: cycle_text.clone(),
            },
        ));
    }
    post_all(sql, &batch, now, Some(actor))
}

/// What a sync counted: a voucher or roster entitlement redeemed at a
/// shop, or cash paid out to a person, by one entry of a device's log.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: u64,
    /// The voucher's or the roster entitlement's id.
    pub credential: String,
    pub programme: String,
    /// The credential's whole value (what is committed for it if nothing
    /// was before).
    pub value: Money,
    pub amount: Money,
    /// Cash handed over by a field agent (otherwise redeemed at a shop).
    pub cash: bool,
}

/// Posts what one upload of `device` delivered, in its log's order.
///
/// A credential released from a cycle draws on that cycle's obligations;
/// one issued by hand draws on the programme's direct obligations, which
/// are committed for its whole value by its first delivery (a transfer
/// whose id names the credential, so later deliveries find it). A shop's
/// redemption becomes what the programme owes the merchant; cash paid out
/// is delivered, and leaves the agent's float, as one linked pair.
pub fn deliveries(
    sql: &mut dyn Sql,
    device: &DeviceRow,
    deliveries: &[Delivery],
    now: i64,
) -> Result<(), LedgerError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let references: Vec<&str> = deliveries.iter().map(|d| d.credential.as_str()).collect();
    let origins: HashMap<String, String> = rows::cycle_periods(sql, &references)?;
    let device_id = device.device.as_str();
    let actor = format!("terminal:{device_id}");
    let mut accounts = Vec::new();
    let mut batch = Vec::new();
    for d in deliveries {
        let currency = d.amount.currency;
        let seq = d.seq.to_string();
        let cause = Cause {
            kind: "entry",
            id: format!("{device_id}/{seq}"),
        };
        let from = match origins.get(&d.credential) {
            Some(period) => obligations(&d.programme, period, currency)?,
            None => {
                let from = budget(&d.programme, currency)?;
                let to = obligations(&d.programme, DIRECT, currency)?;
                let mut commit = single(
                    TransferId::new("commit", &["credential", &d.credential])?,
                    &from,
                    &to,
                    d.value.minor,
                    TransferCode::Commit,
                    Cause {
                        kind: "credential",
                        id: d.credential.clone(),
                    },
                );
                commit.linked = true;
                batch.push(commit);
                accounts.push(from);
                to
            }
        };
        if d.cash {
            let delivered = account(
                AccountKind::Delivered,
                &[&d.programme],
                currency,
                Some(&d.programme),
            )?;
            let float = float(device_id, currency)?;
            let handed = account(AccountKind::CashHandedOut, &[device_id], currency, None)?;
            let mut pay = single(
                TransferId::new("cash", &[device_id, &seq])?,
                &from,
                &delivered,
                d.amount.minor,
                TransferCode::CashOut,
                cause.clone(),
            );
            pay.linked = true;
            batch.push(pay);
            batch.push(single(
                TransferId::new("cash", &[device_id, &seq, "float"])?,
                &float,
                &handed,
                d.amount.minor,
                TransferCode::CashOut,
                cause,
            ));
            accounts.extend([delivered, float, handed]);
        } else {
            let merchant = match &device.merchant {
                Some(m) => account(AccountKind::MerchantPayable, &[m.as_str()], currency, None)?,
                None => account(
                    AccountKind::MerchantPayable,
                    &["device", device_id],
                    currency,
                    None,
                )?,
            };
            batch.push(single(
                TransferId::new("redeem", &[device_id, &seq])?,
                &from,
                &merchant,
                d.amount.minor,
                TransferCode::Redeem,
                cause,
            ));
            accounts.push(merchant);
        }
        accounts.push(from);
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    accounts.dedup_by(|a, b| a.id == b.id);
    open(sql, &accounts, now)?;
    post_all(sql, &batch, now, Some(&actor))
}

fn float(device: &str, currency: Currency) -> Result<Account, LedgerError> {
    account(AccountKind::AgentFloat, &[device], currency, None)
}

fn vault(device: &DeviceRow, currency: Currency) -> Result<Account, LedgerError> {
    let site = device.site.as_ref().map_or("unassigned", |s| s.as_str());
    account(AccountKind::CashVault, &[site], currency, None)
}

/// A field agent's cash session, as its log recorded it.
#[derive(Debug, Clone)]
pub enum Session {
    Opened {
        seq: u64,
        float: Money,
    },
    /// `expected` is the float less the payouts; `counted` what the agent
    /// found in the box.
    Closed {
        seq: u64,
        expected: Money,
        counted: Money,
    },
}

/// Posts a device's cash sessions: the float drawn from the site's vault
/// when one opens; the counted cash returned, and any shortfall (or
/// overage) to the device's variance account, when one closes.
pub fn sessions(
    sql: &mut dyn Sql,
    device: &DeviceRow,
    sessions: &[Session],
    now: i64,
) -> Result<(), LedgerError> {
    let device_id = device.device.as_str();
    let mut accounts = Vec::new();
    let mut batch = Vec::new();
    for session in sessions {
        let (seq, currency) = match session {
            Session::Opened { seq, float } => (*seq, float.currency),
            Session::Closed { seq, counted, .. } => (*seq, counted.currency),
        };
        let seq_text = seq.to_string();
        let cause = Cause {
            kind: "entry",
            id: format!("{device_id}/{seq}"),
        };
        let float = float(device_id, currency)?;
        let vault = vault(device, currency)?;
        let variance = account(AccountKind::CashVariance, &[device_id], currency, None)?;
        let id = |leg: &str| TransferId::new("float", &[device_id, &seq_text, leg]);
        match session {
            Session::Opened { float: amount, .. } if amount.minor > 0 => {
                batch.push(single(
                    id("issue")?,
                    &vault,
                    &float,
                    amount.minor,
                    TransferCode::FloatIssue,
                    cause,
                ));
            }
            Session::Opened { .. } => {}
            Session::Closed {
                expected, counted, ..
            } => {
                if counted.minor > 0 {
                    batch.push(single(
                        id("return")?,
                        &float,
                        &vault,
                        counted.minor,
                        TransferCode::FloatReturn,
                        cause.clone(),
                    ));
                }
                let short = expected.minor - counted.minor;
                if short > 0 {
                    batch.push(single(
                        id("variance")?,
                        &float,
                        &variance,
                        short,
                        TransferCode::FloatVariance,
                        cause,
                    ));
                } else if short < 0 {
                    batch.push(single(
                        id("variance")?,
                        &variance,
                        &float,
                        -short,
                        TransferCode::FloatVariance,
                        cause,
                    ));
                }
            }
        }
        accounts.extend([float, vault, variance]);
    }
    if batch.is_empty() {
        return Ok(());
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    accounts.dedup_by(|a, b| a.id == b.id);
    open(sql, &accounts, now)?;
    post_all(sql, &batch, now, Some(&format!("terminal:{device_id}")))
}

/// What a payment's change posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentPosting {
    /// Handed to a rail: the amount is reserved from the cycle's
    /// obligations as delivered-pending (`pay/<key>/<attempt>`).
    Reserve,
    /// The rail paid it: the reservation is posted.
    Settle,
    /// The rail refused it: the reservation is released.
    Void,
    /// A person marked it paid with evidence (after its reservation was
    /// released): delivered at once.
    Manual,
    /// The rail paid it and the money came back: no longer delivered.
    Reverse,
    /// Cancelled: the committed amount goes back to the budget.
    Release,
}

/// One payment's posting.
#[derive(Debug, Clone)]
pub struct PaymentMove<'a> {
    pub key: &'a str,
    /// The attempt whose reservation this is (from 1).
    pub attempt: i64,
    pub amount: i64,
    pub posting: PaymentPosting,
}

/// Posts what happened to payments of one cycle (`period`) of a
/// programme in one currency. Ids derive from the payment's key and
/// attempt, so the same news twice posts nothing twice.
pub fn payments(
    sql: &mut dyn Sql,
    programme: &str,
    period: &str,
    currency: Currency,
    moves: &[PaymentMove<'_>],
    actor: &str,
    now: i64,
) -> Result<(), LedgerError> {
    if moves.is_empty() {
        return Ok(());
    }
    let obligations = obligations(programme, period, currency)?;
    let delivered = account(
        AccountKind::Delivered,
        &[programme],
        currency,
        Some(programme),
    )?;
    let budget = budget(programme, currency)?;
    open(
        sql,
        &[obligations.clone(), delivered.clone(), budget.clone()],
        now,
    )?;
    let mut batch = Vec::with_capacity(moves.len().min(super::BATCH_TRANSFERS_MAX));
    for m in moves {
        let attempt = m.attempt.to_string();
        let reservation = TransferId::new("pay", &[m.key, &attempt])?;
        let cause = Cause {
            kind: "payment",
            id: m.key.to_owned(),
        };
        let (id, phase, debit, credit, code) = match m.posting {
            PaymentPosting::Reserve => (
                reservation,
                Phase::Pending { timeout_at: None },
                &obligations,
                &delivered,
                TransferCode::Send,
            ),
            PaymentPosting::Settle => (
                TransferId::new("pay", &[m.key, &attempt, "post"])?,
                Phase::Post {
                    pending: reservation,
                },
                &obligations,
                &delivered,
                TransferCode::Send,
            ),
            PaymentPosting::Void => (
                TransferId::new("pay", &[m.key, &attempt, "void"])?,
                Phase::Void {
                    pending: reservation,
                },
                &obligations,
                &delivered,
                TransferCode::Send,
            ),
            PaymentPosting::Manual => (
                TransferId::new("pay", &[m.key, "manual"])?,
                Phase::Single,
                &obligations,
                &delivered,
                TransferCode::Send,
            ),
            PaymentPosting::Reverse => (
                TransferId::new("pay", &[m.key, &attempt, "reversed"])?,
                Phase::Single,
                &delivered,
                &obligations,
                TransferCode::Send,
            ),
            PaymentPosting::Release => (
                TransferId::new("release", &["payment", m.key])?,
                Phase::Single,
                &obligations,
                &budget,
                TransferCode::Release,
            ),
        };
        batch.push(NewTransfer {
            id,
            debit: debit.id.clone(),
            credit: credit.id.clone(),
            amount: m.amount,
            code,
            phase,
            linked: false,
            cause: Some(cause),
        });
        if batch.len() == super::BATCH_TRANSFERS_MAX {
            post_all(sql, &batch, now, Some(actor))?;
            batch.clear();
        }
    }
    post_all(sql, &batch, now, Some(actor))
}
