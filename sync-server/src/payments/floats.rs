//! The cash rail's floats, reconciled at HQ: what each field agent's
//! terminal recorded of its cash sessions (the counted opening float, the
//! payouts, the signed close with the counted cash and its variance),
//! checked against the ledger's float account for that terminal.
//!
//! The sessions are kept at each sync from the entries of the signed log
//! ([`record`], in the sync's transaction). A device's float reconciles
//! when
//! - every close agrees with its synced entries: the terminal expected
//!   the float less every payout of the session, neither more nor less;
//! - the ledger's float account holds exactly what the sessions explain:
//!   the open sessions' floats less what they delivered, plus what closed
//!   sessions left in it (their float less their deliveries less what the
//!   terminal expected, which is what was paid out but not delivered).
//!
//! A payout is delivered when the sync counted it against its entitlement
//! and the ledger posted it. One that was not — a second payout of an
//! entitlement (a double-spend case), or one of an entitlement no roster
//! here lists (an alarm) — still left the box: it is shown on its own line,
//! as what the case's or the alarm's resolution must account for.

use std::collections::{BTreeMap, HashSet};

use lastmile_shared::device_log::{LogEntry, LogEvent};
use lastmile_shared::money::{Currency, Money};

use crate::ledger::account::{AccountId, AccountKind};
use crate::storage::floats::{self as table, CashSessionRow, Closed, Opened, SessionSums};
use crate::storage::ledger as ledger_rows;
use crate::storage::sql::{Page, Sql};
use crate::storage::{DeviceRow, Storage, StorageError, seq_to};

use super::PaymentError;

/// Most sessions shown with each device.
pub const SESSIONS_SHOWN: i64 = 20;
/// Most closes listed as disagreeing with their entries, per device.
pub const MISMATCHES_SHOWN: i64 = 20;

/// A count of payouts and their sum, in minor units.
type Payouts = (i64, i64);

/// Records the cash sessions one upload of `device` opened, paid from and
/// closed. `delivered` are the entries (by sequence) the sync counted and
/// the ledger posted; a payout not among them is disputed.
pub fn record(
    sql: &mut dyn Sql,
    device: &DeviceRow,
    fresh: &[&LogEntry],
    delivered: &HashSet<u64>,
    now: i64,
) -> Result<(), StorageError> {
    let id = device.device.as_str();
    // Opens first, then the payouts of each session summed, then closes:
    // one upload may hold all three of one session.
    let mut payouts: BTreeMap<i64, (Payouts, Payouts)> = BTreeMap::new();
    let mut closes = Vec::new();
    for entry in fresh {
        match &entry.event {
            LogEvent::CashSessionOpened { session: s, float } => table::open(
                sql,
                &Opened {
                    device: id,
                    session: seq_to(*s),
                    site: entry.site.as_ref().map(|s| s.as_str()),
                    operator: entry.operator.as_str(),
                    currency: float.currency.code(),
                    float_minor: float.minor,
                    seq: seq_to(entry.seq),
                    at: entry.at,
                },
                now,
            )?,
            LogEvent::CashPaidOut {
                session: s, amount, ..
            } => {
                let sums = payouts.entry(seq_to(*s)).or_default();
                let side = if delivered.contains(&entry.seq) {
                    &mut sums.0
                } else {
                    &mut sums.1
                };
                side.0 += 1;
                side.1 = side.1.saturating_add(amount.minor);
            }
            LogEvent::CashSessionClosed {
                session: s,
                expected,
                counted,
                ..
            } => closes.push(Closed {
                device: id,
                session: seq_to(*s),
                expected_minor: expected.minor,
                counted_minor: counted.minor,
                seq: seq_to(entry.seq),
                at: entry.at,
            }),
            _ => {}
        }
    }
    for (s, (counted, disputed)) in payouts {
        table::add_payouts(sql, id, s, counted, disputed, now)?;
    }
    for close in &closes {
        table::close(sql, close, now)?;
    }
    Ok(())
}

/// One device's float in one currency, reconciled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FloatView {
    pub device: String,
    pub site: Option<String>,
    pub currency: String,
    pub sessions: i64,
    pub open_sessions: i64,
    /// The cash the agent should hold now: the open sessions' floats less
    /// every payout from them, delivered or not.
    pub holds: Money,
    /// Paid out but not delivered in the ledger, in all sessions (a
    /// double-spend case, or an entitlement HQ does not know): out of the
    /// box all the same.
    pub disputed: Money,
    /// What the closed sessions' counts came to against what their
    /// terminals expected (negative: short).
    pub variance: Money,
    /// The ledger's float account: what it holds now.
    pub ledger: Money,
    /// What the sessions say the ledger should hold.
    pub explained: Money,
    /// The ledger less what the sessions explain; zero when reconciled.
    pub unexplained: Money,
    /// Closes whose expected cash is not the float less every payout.
    pub mismatched_closes: Vec<CashSessionRow>,
    pub reconciled: bool,
    /// The latest sessions, newest first.
    pub latest: Vec<CashSessionRow>,
}

fn money(minor: i64, currency: Currency) -> Money {
    Money { minor, currency }
}

/// The ledger's float account of `device` in `currency`: what it holds,
/// credits less debits posted (a float drawn from the vault is credited
/// to it; payouts and returns debit it), zero when it was never opened.
fn ledger_float(sql: &mut dyn Sql, device: &str, currency: Currency) -> Result<i64, PaymentError> {
    let id = AccountId::new(AccountKind::AgentFloat, &[device], currency)
        .map_err(|e| StorageError::corrupt("a float account id", e))?;
    Ok(ledger_rows::accounts_by_id(sql, &[id.as_str()], false)?
        .first()
        .map_or(0, |a| a.balances.credits_posted - a.balances.debits_posted))
}

fn view(sql: &mut dyn Sql, device: String, currency: &str) -> Result<FloatView, PaymentError> {
    let code = Currency::parse(currency)?;
    let s: SessionSums = table::sums(sql, &device, currency)?;
    let latest = table::sessions(sql, &device, currency, false, SESSIONS_SHOWN)?;
    let mismatched_closes = table::sessions(sql, &device, currency, true, MISMATCHES_SHOWN)?;
    let ledger = ledger_float(sql, &device, code)?;
    let open_left = s.open_float_minor - s.open_paid_minor;
    let closed_left = (s.float_minor - s.open_float_minor)
        - (s.paid_minor - s.open_paid_minor)
        - s.expected_minor;
    let explained = open_left + closed_left;
    let unexplained = ledger - explained;
    Ok(FloatView {
        site: latest.first().and_then(|r| r.site.clone()),
        device,
        currency: currency.to_owned(),
        sessions: s.sessions,
        open_sessions: s.open,
        holds: money(open_left - s.open_disputed_minor, code),
        disputed: money(s.disputed_minor, code),
        variance: money(s.counted_minor - s.expected_minor, code),
        ledger: money(ledger, code),
        explained: money(explained, code),
        unexplained: money(unexplained, code),
        reconciled: unexplained == 0 && mismatched_closes.is_empty(),
        mismatched_closes,
        latest,
    })
}

/// The floats of the devices (at `site`, if given), a page of them.
pub fn list(
    storage: &Storage,
    site: Option<&str>,
    page: Page,
) -> Result<Vec<FloatView>, PaymentError> {
    storage.transaction(|tx| {
        let devices = table::devices(tx.sql(), site, page)?;
        devices
            .into_iter()
            .map(|(device, currency)| view(tx.sql(), device, &currency))
            .collect()
    })
}
