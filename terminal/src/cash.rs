//! Cash distribution for field agents: a session opened with a counted
//! float, payouts to people on the site's distribution list after an
//! identity check, and a close with the counted float and its variance.
//!
//! A cash entitlement is paid at most once, in full, across all sessions:
//! the payout goes through `rules::decide` like any redemption (so a paid
//! entitlement is "already redeemed"), and `cash_payouts.entitlement` is
//! unique as a second line of defence.
//!
//! The close is a blind count: what should be in the box (the float minus
//! the payouts) is not shown, printed or serialised while the session is
//! open, only in the report made after the agent entered the count, so the
//! count is what the agent found, not what the terminal expected.

use lastmile_shared::device_log::{IdentityCheck, LogEvent};
use lastmile_shared::id::{BeneficiaryId, DeviceId, EntitlementId, MerchantId, OperatorId, SiteId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::roster::{Delivery, Entitlement, RosterPerson};
use lastmile_shared::rules::RejectReason;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::device_log;
use crate::error::Error;
use crate::i18n::{self, Language, Text};
use crate::operator;
use crate::receipt::{Letterhead, Receipt, ReceiptLine, place_lines, utc_text};
use crate::redemption::{
    self, EntitlementView, IdInput, Identified, Preview, Spend, credential_state, entitlement_key,
};
use crate::terminal::{Ready, Terminal};

/// An open (or closed) cash session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashSession {
    pub session: u64,
    pub operator: OperatorId,
    pub opened_at: i64,
    pub float: Money,
    /// Paid out so far; with the float it gives the expected cash, so it is
    /// not serialised either (blind count): the report carries it.
    #[serde(skip_serializing)]
    pub paid: Money,
    pub payouts: u64,
    /// Cash that should be in the drawer now: float minus payouts. Never
    /// shown before the count (blind count); the report carries it.
    #[serde(skip_serializing)]
    pub expected: Money,
}

/// One payout in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub seq: u64,
    pub entitlement: EntitlementId,
    pub beneficiary: BeneficiaryId,
    /// The person's name on the roster, if they are still on it.
    pub name: Option<String>,
    pub amount: Money,
}

/// The end-of-day report of a closed session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashReport {
    pub session: CashSession,
    /// Where and by whom: the letterhead, the terminal's ids and the
    /// operator's name (the session holds the operator's id).
    pub letterhead: Letterhead,
    pub device: Option<DeviceId>,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub operator_name: Option<String>,
    pub closed_at: i64,
    /// Sequence of the log entry that closed the session.
    pub closed_seq: u64,
    /// Paid out in the session.
    pub paid: Money,
    /// What should have been in the box: the float minus the payouts.
    pub expected: Money,
    pub counted: Money,
    /// Counted minus expected: negative means cash is missing.
    pub variance: Money,
    pub payouts: Vec<Payout>,
}

/// One line of the distribution list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistributionLine {
    pub beneficiary: BeneficiaryId,
    pub name: String,
    pub id_numbers: Vec<String>,
    pub entitlement: EntitlementView,
    pub paid: bool,
}

fn money(minor: i64, currency: &str) -> Result<Money, Error> {
    let currency = Currency::parse(currency).map_err(|e| Error::LogDamaged {
        seq: 0,
        reason: format!("a cash session's stored currency is invalid: {e}"),
    })?;
    Ok(Money::new(minor, currency))
}

/// How a session was closed: log entry, time, counted cash (minor units).
struct Closed {
    seq: u64,
    at: i64,
    counted_minor: i64,
}

/// The person an ID points to and their cash entitlement `entitlement`.
fn cash_entitlement<'r>(
    ready: &Ready<'r>,
    id: IdInput<'_>,
    entitlement: &EntitlementId,
    now: i64,
) -> Result<(IdentityCheck, &'r RosterPerson, &'r Entitlement), Error> {
    let (_, identity, person) = redemption::identify(ready, id, now)?;
    let chosen = redemption::find_entitlement(person, entitlement)?;
    if chosen.delivery != Delivery::Cash {
        return Err(Error::MerchantEntitlement(chosen.id.clone()));
    }
    Ok((identity, person, chosen))
}

/// The open session, if it can pay `chosen` (same currency).
fn open_session_for(conn: &Connection, chosen: &Entitlement) -> Result<CashSession, Error> {
    let (open, _) = load_session(conn, None)?.ok_or(Error::NoCashSession)?;
    if open.float.currency != chosen.value.currency {
        return Err(Error::SessionCurrency {
            session: open.float.currency,
            payment: chosen.value.currency,
        });
    }
    Ok(open)
}

/// A cash entitlement is paid in full.
fn payout_spend(chosen: &Entitlement) -> Spend<'_> {
    Spend {
        credential: entitlement_key(&chosen.id),
        terms: chosen.terms(),
        revoked: false,
        presented: None,
        requested: None,
    }
}

/// The cash still in the box must cover the payout.
fn float_covers(open: &CashSession, amount: Money) -> Result<(), Error> {
    if amount.minor > open.expected.minor {
        return Err(Error::FloatTooSmall {
            available: open.expected,
            needed: amount,
        });
    }
    Ok(())
}

fn load_session(
    conn: &Connection,
    which: Option<u64>,
) -> Result<Option<(CashSession, Option<Closed>)>, Error> {
    let sql = "SELECT session, operator, opened_at, currency, float_minor, paid_minor, payouts,
                      closed_seq, closed_at, counted_minor
               FROM cash_sessions WHERE (?1 IS NULL AND closed_seq IS NULL) OR session = ?1";
    let row = conn
        .query_row(sql, [which], |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, u64>(6)?,
                r.get::<_, Option<u64>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<i64>>(9)?,
            ))
        })
        .optional()?;
    let Some((
        session,
        operator,
        opened_at,
        currency,
        float,
        paid,
        payouts,
        closed_seq,
        closed_at,
        counted,
    )) = row
    else {
        return Ok(None);
    };
    let closed = match (closed_seq, closed_at, counted) {
        (Some(seq), Some(at), Some(counted_minor)) => Some(Closed {
            seq,
            at,
            counted_minor,
        }),
        _ => None,
    };
    Ok(Some((
        CashSession {
            session,
            operator: OperatorId::parse(&operator)?,
            opened_at,
            float: money(float, &currency)?,
            paid: money(paid, &currency)?,
            payouts,
            expected: money(float - paid, &currency)?,
        },
        closed,
    )))
}

impl CashReport {
    /// The report as plain text in English, `columns` characters wide.
    pub fn render_text(&self, columns: usize) -> String {
        self.render_text_in(Language::English, columns)
    }

    /// The report as plain text in `language`, `columns` characters wide,
    /// amounts written the language's way (as on its receipts).
    pub fn render_text_in(&self, language: Language, columns: usize) -> String {
        let m = |money: &Money| i18n::money_on_paper(*money, language);
        let label = |text: Text| i18n::text(language, text);
        let numbered = |text: Text, n: u64| i18n::fill(label(text), &[("n", &n.to_string())]);
        let rtl = language.is_right_to_left();
        let line = |label: &str, value: &str| {
            // Right to left, as on the receipts: the label on its own line
            // above its (Latin) value, so no line mixes directions.
            if rtl {
                return format!("{label}\n{value}");
            }
            let used = label.chars().count() + value.chars().count();
            format!(
                "{label}{}{value}",
                " ".repeat(columns.saturating_sub(used).max(1))
            )
        };
        let rule = "-".repeat(columns);
        let s = &self.session;
        let mut out = vec![
            self.letterhead
                .shop
                .clone()
                .unwrap_or_else(|| "LASTMILE".into()),
            label(Text::CashReportTitle).to_owned(),
            rule.clone(),
        ];
        if let Some(device) = &self.device {
            for place in place_lines(
                language,
                &self.letterhead,
                self.merchant.as_ref(),
                self.site.as_ref(),
                device,
            ) {
                if let ReceiptLine::Pair(label, value) = place {
                    out.push(line(&label, &value));
                }
            }
        }
        let operator = self
            .operator_name
            .clone()
            .unwrap_or_else(|| s.operator.to_string());
        out.extend([
            line(label(Text::ReceiptSession), &s.session.to_string()),
            line(label(Text::ReceiptOperator), &operator),
            line(label(Text::CashReportOpened), &utc_text(s.opened_at)),
            line(label(Text::CashReportClosed), &utc_text(self.closed_at)),
            rule.clone(),
        ]);
        for payout in &self.payouts {
            let who = payout
                .name
                .clone()
                .unwrap_or_else(|| payout.beneficiary.to_string());
            out.push(line(&format!("#{} {who}", payout.seq), &m(&payout.amount)));
        }
        out.push(rule.clone());
        out.push(line(label(Text::ReceiptOpeningFloat), &m(&s.float)));
        out.push(line(
            &numbered(Text::CashReportPaidOut, s.payouts),
            &m(&self.paid),
        ));
        out.push(line(label(Text::ReceiptExpected), &m(&self.expected)));
        out.push(line(label(Text::ReceiptCounted), &m(&self.counted)));
        out.push(line(label(Text::ReceiptVariance), &m(&self.variance)));
        out.push(rule);
        out.push(numbered(Text::CashReportLogEntry, self.closed_seq));
        let mut text = out.join("\n");
        text.push('\n');
        text
    }
}

impl Terminal {
    /// Opens a cash session with the float the agent counted.
    pub fn open_cash_session(&mut self, float: Money) -> Result<Receipt, Error> {
        if float.minor <= 0 {
            return Err(Error::Rejected(RejectReason::AmountNotPositive));
        }
        let now = self.entry_time()?;
        let (conn, ready) = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let operator = operator::require(&tx, now)?;
        if let Some((open, _)) = load_session(&tx, None)? {
            return Err(Error::CashSessionOpen(open.session));
        }
        let session: u64 = tx.query_row(
            "SELECT coalesce(max(session), 0) + 1 FROM cash_sessions",
            [],
            |r| r.get(0),
        )?;
        let signed = device_log::append(
            &tx,
            ready.enrolment,
            ready.key,
            &operator,
            now,
            LogEvent::CashSessionOpened { session, float },
            None,
        )?;
        tx.execute(
            "INSERT INTO cash_sessions (session, operator, currency, float_minor, opened_seq, opened_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                session,
                operator.as_str(),
                float.currency.code(),
                float.minor,
                signed.entry.seq,
                now
            ],
        )?;
        tx.commit()?;
        Ok(self.fresh_receipt(&signed))
    }

    /// The open cash session, if any.
    pub fn cash_session(&self) -> Result<Option<CashSession>, Error> {
        Ok(load_session(&self.conn, None)?.map(|(session, _)| session))
    }

    /// The site's distribution list: every cash entitlement on the roster
    /// and whether it has been paid.
    pub fn distribution_list(&mut self) -> Result<Vec<DistributionLine>, Error> {
        let (conn, ready) = self.ready()?;
        let roster = ready.roster.ok_or(Error::NotProvisioned("roster"))?;
        let mut lines = Vec::new();
        for person in &roster.people {
            for entitlement in person
                .entitlements
                .iter()
                .filter(|e| e.delivery == Delivery::Cash)
            {
                let state = credential_state(conn, &entitlement_key(&entitlement.id), false)?;
                let currency = entitlement.value.currency;
                let redeemed = state.redeemed_minor.min(entitlement.value.minor);
                lines.push(DistributionLine {
                    beneficiary: person.beneficiary.clone(),
                    name: person.name.clone(),
                    id_numbers: person.id_numbers.clone(),
                    entitlement: EntitlementView {
                        entitlement: entitlement.clone(),
                        redeemed: Money::new(redeemed, currency),
                        remaining: Money::new(entitlement.value.minor - redeemed, currency),
                    },
                    paid: redeemed >= entitlement.value.minor,
                });
            }
        }
        Ok(lines)
    }

    /// The identity check before a payout: the person the ID points to,
    /// with roster name and photo, and their cash entitlements.
    pub fn identify_for_cash(&mut self, id: IdInput<'_>) -> Result<Identified, Error> {
        let now = self.now()?;
        let (conn, ready) = self.ready()?;
        let (card, identity, person) = redemption::identify(&ready, id, now)?;
        redemption::identified(conn, card, identity, person, Delivery::Cash)
    }

    /// Decides a payout exactly as [`Terminal::pay_cash`] would now,
    /// writing nothing: the identity-check screen asks before it offers
    /// "pay", so a payout the float cannot cover is never offered.
    pub fn preview_cash_payout(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
    ) -> Result<Preview, Error> {
        let now = self.now()?;
        let (conn, ready) = self.ready()?;
        let (_, _, chosen) = cash_entitlement(&ready, id, entitlement, now)?;
        let open = open_session_for(conn, chosen)?;
        let (amount, remaining_after) =
            redemption::decide_spend(conn, &ready, now, &payout_spend(chosen))?;
        float_covers(&open, amount)?;
        Ok(Preview {
            amount,
            remaining_after,
        })
    }

    /// Pays a cash entitlement in full from the open session.
    pub fn pay_cash(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
    ) -> Result<Receipt, Error> {
        let now = self.entry_time()?;
        let (conn, ready) = self.ready()?;
        let (identity, person, chosen) = cash_entitlement(&ready, id, entitlement, now)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let operator = operator::require(&tx, now)?;
        let open = open_session_for(&tx, chosen)?;
        let session = open.session;
        let (signed, amount) = redemption::decide_and_append(
            &tx,
            &ready,
            &operator,
            now,
            payout_spend(chosen),
            |amount, _| LogEvent::CashPaidOut {
                session,
                entitlement: chosen.id.clone(),
                beneficiary: person.beneficiary.clone(),
                programme: chosen.programme.clone(),
                amount,
                identity,
            },
        )?;
        // Returning drops the transaction: the signed entry is rolled back.
        float_covers(&open, amount)?;
        tx.execute(
            "INSERT INTO cash_payouts (seq, session, entitlement, beneficiary, amount_minor)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                signed.entry.seq,
                session,
                chosen.id.as_str(),
                person.beneficiary.as_str(),
                amount.minor
            ],
        )?;
        tx.execute(
            "UPDATE cash_sessions SET paid_minor = paid_minor + ?2, payouts = payouts + 1
             WHERE session = ?1",
            params![session, amount.minor],
        )?;
        tx.commit()?;
        Ok(self.fresh_receipt(&signed))
    }

    /// Closes the open session with the cash the agent counted, logs the
    /// result and returns the end-of-day report.
    pub fn close_cash_session(&mut self, counted: Money) -> Result<CashReport, Error> {
        if counted.is_negative() {
            return Err(Error::Rejected(RejectReason::AmountNotPositive));
        }
        let now = self.entry_time()?;
        let (conn, ready) = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let operator = operator::require(&tx, now)?;
        let (open, _) = load_session(&tx, None)?.ok_or(Error::NoCashSession)?;
        if counted.currency != open.float.currency {
            return Err(Error::SessionCurrency {
                session: open.float.currency,
                payment: counted.currency,
            });
        }
        let variance = counted.checked_sub(open.expected)?;
        let signed = device_log::append(
            &tx,
            ready.enrolment,
            ready.key,
            &operator,
            now,
            LogEvent::CashSessionClosed {
                session: open.session,
                expected: open.expected,
                counted,
                variance,
            },
            None,
        )?;
        tx.execute(
            "UPDATE cash_sessions SET closed_seq = ?2, closed_at = ?3, counted_minor = ?4
             WHERE session = ?1",
            params![open.session, signed.entry.seq, now, counted.minor],
        )?;
        tx.commit()?;
        self.cash_report(open.session)
    }

    /// The end-of-day report of a closed session.
    pub fn cash_report(&self, session: u64) -> Result<CashReport, Error> {
        let (open, closed) =
            load_session(&self.conn, Some(session))?.ok_or(Error::NoCashSession)?;
        let Closed {
            seq: closed_seq,
            at: closed_at,
            counted_minor,
        } = closed.ok_or(Error::CashSessionOpen(session))?;
        let currency = open.float.currency;
        let roster = self.documents.roster.as_ref();
        let mut statement = self.conn.prepare(
            "SELECT seq, entitlement, beneficiary, amount_minor FROM cash_payouts
             WHERE session = ?1 ORDER BY seq",
        )?;
        let payouts = statement
            .query_map([session], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .map(|row| {
                let (seq, entitlement, beneficiary, amount) = row?;
                let beneficiary = BeneficiaryId::parse(&beneficiary)?;
                Ok(Payout {
                    seq,
                    entitlement: EntitlementId::parse(&entitlement)?,
                    name: roster
                        .and_then(|r| r.people.iter().find(|p| p.beneficiary == beneficiary))
                        .map(|p| p.name.clone()),
                    beneficiary,
                    amount: Money::new(amount, currency),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let counted = Money::new(counted_minor, currency);
        let enrolment = self.enrolment.as_ref();
        Ok(CashReport {
            variance: counted.checked_sub(open.expected)?,
            letterhead: self.letterhead()?,
            device: enrolment.map(|e| e.device.clone()),
            merchant: enrolment.and_then(|e| e.merchant.clone()),
            site: enrolment.and_then(|e| e.site.clone()),
            operator_name: operator::name(&self.conn, &open.operator)?,
            paid: open.paid,
            expected: open.expected,
            session: open,
            closed_at,
            closed_seq,
            counted,
            payouts,
        })
    }
}
