//! Redemption by voucher and by ID: verify, build the terminal context from
//! the store, ask `rules::decide`, and on "accept" append the signed entry
//! and update the balances in one transaction.

use lastmile_shared::device_log::{IdentityCheck, LogEvent, SignedEntry};
use lastmile_shared::id::{BeneficiaryId, EntitlementId, OperatorId};
use lastmile_shared::id_card::{self, IdCard, IdSource};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::roster::{Delivery, Entitlement, RosterPerson};
use lastmile_shared::rules::{
    self, CredentialState, Decision, RedemptionTerms, RejectReason, TerminalContext,
};
use lastmile_shared::voucher::{self, BeneficiaryBinding, VerifiedVoucher, VoucherClaims};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use crate::device_log::{self, Movement};
use crate::error::Error;
use crate::operator;
use crate::receipt::Receipt;
use crate::terminal::{Ready, Terminal};

/// How an ID reached the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdEntry {
    /// From a scanner or camera (a Claim 169 QR or an ID-number barcode).
    Scanned,
    /// Typed by the operator, who compared the person with the roster.
    Typed,
}

/// An ID as presented: the scanned or typed text and how it was entered.
#[derive(Debug, Clone, Copy)]
pub struct IdInput<'a> {
    pub text: &'a str,
    pub entry: IdEntry,
}

/// A voucher redemption request.
#[derive(Debug, Clone, Copy)]
pub struct VoucherRequest<'a> {
    /// The QR text (`LM1:...`).
    pub qr: &'a str,
    /// The amount to redeem; `None` redeems everything that is left.
    pub amount: Option<Money>,
    /// The holder's ID, for vouchers bound to a beneficiary.
    pub id_card: Option<IdInput<'a>>,
}

/// What a voucher is worth here and now, and what a request would redeem,
/// before redeeming anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherCheck {
    pub claims: VoucherClaims,
    pub redeemed: Money,
    pub remaining: Money,
    /// The amount the request would redeem now (all that is left when it
    /// names no amount), and if it would be refused, why (the stable
    /// `RejectReason` code).
    pub full_redemption: Result<Money, String>,
    /// The rule that refuses it now, for a sentence in the operator's
    /// language (`full_redemption` carries its code for scripts).
    #[serde(skip)]
    pub refusal: Option<RejectReason>,
}

/// An entitlement with what is left of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitlementView {
    pub entitlement: Entitlement,
    pub redeemed: Money,
    pub remaining: Money,
}

/// A person identified by ID card or number, as the roster describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identified {
    pub beneficiary: BeneficiaryId,
    /// The name on the roster, to compare with the person and their card.
    pub name: String,
    /// The name on a signed ID card, when there was one.
    pub card_name: Option<String>,
    pub date_of_birth: Option<String>,
    /// A small JPEG from the roster (or else from the card), if any.
    #[serde(skip)]
    pub photo: Option<Vec<u8>>,
    pub identity: IdentityCheck,
    pub entitlements: Vec<EntitlementView>,
}

pub(crate) fn voucher_key(voucher: &lastmile_shared::id::VoucherId) -> String {
    format!("voucher:{voucher}")
}

pub(crate) fn entitlement_key(entitlement: &EntitlementId) -> String {
    format!("entitlement:{entitlement}")
}

/// What this terminal knows has been redeemed against one credential.
pub(crate) fn credential_state(
    conn: &Connection,
    credential: &str,
    revoked: bool,
) -> Result<CredentialState, Error> {
    let row: Option<(i64, i64, i64)> = conn
        .query_row(
            "SELECT local_confirmed_minor, local_pending_minor, server_redeemed_minor
             FROM credentials WHERE credential = ?1",
            [credential],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (confirmed, pending, server) = row.unwrap_or_default();
    // The server's total includes this terminal's confirmed redemptions; it
    // may lag behind them, never the other way round.
    Ok(CredentialState {
        revoked,
        redeemed_minor: server.max(confirmed).saturating_add(pending),
        redeemed_unsynced_minor: pending,
    })
}

/// What one spend needs: the credential, its terms and what was presented.
pub(crate) struct Spend<'a> {
    pub credential: String,
    pub terms: RedemptionTerms<'a>,
    pub revoked: bool,
    pub presented: Option<BeneficiaryBinding>,
    pub requested: Option<Money>,
}

/// Decides a spend with `rules::decide` against what the store holds now;
/// writes nothing. Returns the amount and what remains after it.
pub(crate) fn decide_spend(
    conn: &Connection,
    ready: &Ready<'_>,
    now: i64,
    spend: &Spend<'_>,
) -> Result<(Money, Money), Error> {
    let currency = spend.terms.value.currency;
    let state = credential_state(conn, &spend.credential, spend.revoked)?;
    let head = device_log::head(conn)?;
    let acknowledged = device_log::acknowledged_seq(conn)?;
    let unsynced_count = u32::try_from(head.seq.saturating_sub(acknowledged)).unwrap_or(u32::MAX);
    let unsynced_value_minor = device_log::pending_minor(conn, currency)?;
    let last_sync_at: i64 = conn
        .prepare_cached("SELECT last_sync_at FROM sync_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let enrolment = ready.enrolment;
    // The revocation list comes root-signed through sync; it may name this very terminal
    // or its merchant.
    let device_revoked = ready
        .revocations
        .is_some_and(|list| list.devices.contains(&enrolment.device));
    let merchant_revoked = match (&enrolment.merchant, ready.revocations) {
        (Some(merchant), Some(list)) => list.merchants.contains(merchant),
        _ => false,
    };
    let context = TerminalContext {
        now,
        merchant: enrolment.merchant.as_ref(),
        site: enrolment.site.as_ref(),
        device_revoked,
        merchant_revoked,
        limits: ready.policy.limits.iter().find(|l| l.currency == currency),
        unsynced_value_minor,
        unsynced_count,
        last_sync_at,
        presented_beneficiary: spend.presented,
    };
    match rules::decide(&spend.terms, &state, &context, spend.requested) {
        Decision::Reject(reason) => Err(Error::Rejected(reason)),
        Decision::Accept {
            amount,
            remaining_after,
        } => Ok((amount, remaining_after)),
    }
}

/// Decides a spend and, if accepted, appends the entry
/// `event(amount, remaining_after)` in the caller's transaction, which must
/// have been begun `IMMEDIATE` so that the balance read is still true at
/// commit.
pub(crate) fn decide_and_append(
    tx: &rusqlite::Transaction<'_>,
    ready: &Ready<'_>,
    operator: &OperatorId,
    now: i64,
    spend: Spend<'_>,
    event: impl FnOnce(Money, Money) -> LogEvent,
) -> Result<(SignedEntry, Money), Error> {
    let (amount, remaining_after) = decide_spend(tx, ready, now, &spend)?;
    let signed = device_log::append(
        tx,
        ready.enrolment,
        ready.key,
        operator,
        now,
        event(amount, remaining_after),
        Some(Movement {
            credential: &spend.credential,
            amount,
        }),
    )?;
    Ok((signed, amount))
}

/// Reads an ID and finds the person on the roster.
pub(crate) fn identify<'r>(
    ready: &Ready<'r>,
    id: IdInput<'_>,
    now: i64,
) -> Result<(IdCard, IdentityCheck, &'r RosterPerson), Error> {
    let roster = ready.roster.ok_or(Error::NotProvisioned("roster"))?;
    let card = id_card::read(id.text, ready.policy.id_authorities(), now)?;
    let identity = match (&card.source, id.entry) {
        (IdSource::SignedClaim169 { .. }, _) => IdentityCheck::SignedIdCard,
        (IdSource::Number, IdEntry::Scanned) => IdentityCheck::IdBarcode,
        (IdSource::Number, IdEntry::Typed) => IdentityCheck::Manual,
    };
    let person = roster
        .find(&card.id_number)
        .ok_or_else(|| Error::PersonNotFound(card.id_number.clone()))?;
    Ok((card, identity, person))
}

pub(crate) fn find_entitlement<'p>(
    person: &'p RosterPerson,
    entitlement: &EntitlementId,
) -> Result<&'p Entitlement, Error> {
    person
        .entitlements
        .iter()
        .find(|e| &e.id == entitlement)
        .ok_or_else(|| Error::EntitlementNotFound(entitlement.clone()))
}

fn view(conn: &Connection, entitlement: &Entitlement) -> Result<EntitlementView, Error> {
    let state = credential_state(conn, &entitlement_key(&entitlement.id), false)?;
    let currency: Currency = entitlement.value.currency;
    let redeemed = state.redeemed_minor.min(entitlement.value.minor);
    Ok(EntitlementView {
        entitlement: entitlement.clone(),
        redeemed: Money::new(redeemed, currency),
        remaining: Money::new(entitlement.value.minor - redeemed, currency),
    })
}

pub(crate) fn identified(
    conn: &Connection,
    card: IdCard,
    identity: IdentityCheck,
    person: &RosterPerson,
    delivery: Delivery,
) -> Result<Identified, Error> {
    let entitlements = person
        .entitlements
        .iter()
        .filter(|e| e.delivery == delivery)
        .map(|e| view(conn, e))
        .collect::<Result<_, _>>()?;
    Ok(Identified {
        beneficiary: person.beneficiary.clone(),
        name: person.name.clone(),
        card_name: card.full_name,
        date_of_birth: person.date_of_birth.clone().or(card.date_of_birth),
        photo: person.photo.clone().or(card.photo),
        identity,
        entitlements,
    })
}

impl Terminal {
    /// Verifies a voucher and says what it is worth now, changing nothing.
    pub fn check_voucher(&mut self, qr: &str) -> Result<VoucherCheck, Error> {
        self.check_redemption(&VoucherRequest {
            qr,
            amount: None,
            id_card: None,
        })
    }

    /// Answers what [`Terminal::redeem_voucher`] would answer for `request`
    /// (amount, ID card and all), changing nothing: no transaction is
    /// begun, nothing is written.
    pub fn check_redemption(
        &mut self,
        request: &VoucherRequest<'_>,
    ) -> Result<VoucherCheck, Error> {
        let now = self.now()?;
        let (conn, ready) = self.ready()?;
        let read = ReadRequest::new(&ready, request, now)?;
        let claims = &read.verified.claims;
        let spend = read.spend(request.amount);
        let state = credential_state(conn, &spend.credential, spend.revoked)?;
        let currency = claims.value.currency;
        let redeemed = state.redeemed_minor.min(claims.value.minor);
        let preview = decide_spend(conn, &ready, now, &spend);
        let refusal = match &preview {
            Err(Error::Rejected(reason)) => Some(reason.clone()),
            _ => None,
        };
        let preview = preview
            .map(|(amount, _)| amount)
            .map_err(|e| e.code().to_owned());
        Ok(VoucherCheck {
            refusal,
            redeemed: Money::new(redeemed, currency),
            remaining: Money::new(claims.value.minor - redeemed, currency),
            full_redemption: preview,
            claims: claims.clone(),
        })
    }

    /// Decides `request` exactly as [`Terminal::redeem_voucher`] would now,
    /// writing nothing: what the keypad asks before it lets an amount reach
    /// the Confirm screen.
    pub fn preview_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Preview, Error> {
        let now = self.now()?;
        let (conn, ready) = self.ready()?;
        let read = ReadRequest::new(&ready, request, now)?;
        let spend = read.spend(request.amount);
        let (amount, remaining_after) = decide_spend(conn, &ready, now, &spend)?;
        Ok(Preview {
            amount,
            remaining_after,
        })
    }

    /// Redeems a voucher (all of it, or `request.amount`). On success the
    /// signed entry is durable and the receipt says "accepted offline —
    /// pending" until a sync confirms it.
    pub fn redeem_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Receipt, Error> {
        let now = self.entry_time()?;
        let (conn, ready) = self.ready()?;
        let read = ReadRequest::new(&ready, request, now)?;
        let (claims, kid) = (&read.verified.claims, &read.verified.kid);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let operator = operator::require(&tx, now)?;
        let spend = read.spend(request.amount);
        let (signed, _) = decide_and_append(&tx, &ready, &operator, now, spend, |amount, rest| {
            LogEvent::VoucherRedeemed {
                voucher: claims.id.clone(),
                issuer: claims.issuer.clone(),
                programme: claims.programme.clone(),
                kid: kid.clone(),
                amount,
                remaining_after: rest,
                credential: request.qr.trim().to_owned(),
            }
        })?;
        tx.commit()?;
        Ok(self.fresh_receipt(&signed))
    }

    /// Reads an ID card or number and returns the person with their
    /// merchant entitlements (what can be redeemed here), changing nothing.
    pub fn identify(&mut self, id: IdInput<'_>) -> Result<Identified, Error> {
        let now = self.now()?;
        let (conn, ready) = self.ready()?;
        let (card, identity, person) = identify(&ready, id, now)?;
        identified(conn, card, identity, person, Delivery::Merchant)
    }

    /// Decides an entitlement redemption exactly as
    /// [`Terminal::redeem_entitlement`] would now, writing nothing.
    pub fn preview_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Preview, Error> {
        let now = self.now()?;
        let (conn, ready) = self.ready()?;
        let (_, _, person) = identify(&ready, id, now)?;
        let chosen = chosen_merchant_entitlement(person, entitlement)?;
        let (amount, remaining_after) =
            decide_spend(conn, &ready, now, &entitlement_spend(chosen, amount))?;
        Ok(Preview {
            amount,
            remaining_after,
        })
    }

    /// Redeems one of the identified person's merchant entitlements.
    pub fn redeem_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Receipt, Error> {
        let now = self.entry_time()?;
        let (conn, ready) = self.ready()?;
        let (_, identity, person) = identify(&ready, id, now)?;
        let chosen = chosen_merchant_entitlement(person, entitlement)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let operator = operator::require(&tx, now)?;
        let spend = entitlement_spend(chosen, amount);
        let (signed, _) = decide_and_append(&tx, &ready, &operator, now, spend, |amount, rest| {
            LogEvent::EntitlementRedeemed {
                entitlement: chosen.id.clone(),
                beneficiary: person.beneficiary.clone(),
                programme: chosen.programme.clone(),
                amount,
                remaining_after: rest,
                identity,
            }
        })?;
        tx.commit()?;
        Ok(self.fresh_receipt(&signed))
    }
}

/// What a redemption would pay and leave, as `rules::decide` answers it
/// now; nothing is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub amount: Money,
    pub remaining_after: Money,
}

/// One of `person`'s entitlements that is redeemed at a shop.
fn chosen_merchant_entitlement<'p>(
    person: &'p RosterPerson,
    entitlement: &EntitlementId,
) -> Result<&'p Entitlement, Error> {
    let chosen = find_entitlement(person, entitlement)?;
    if chosen.delivery != Delivery::Merchant {
        return Err(Error::CashEntitlement(chosen.id.clone()));
    }
    Ok(chosen)
}

fn entitlement_spend(chosen: &Entitlement, amount: Option<Money>) -> Spend<'_> {
    Spend {
        credential: entitlement_key(&chosen.id),
        terms: chosen.terms(),
        revoked: false,
        presented: None,
        requested: amount,
    }
}

/// A voucher request read against the terminal's signed data: the verified
/// voucher, whether HQ revoked it, and the binding of the ID presented. The
/// check and the redemption both start here, so a check answers the very
/// question the redemption decides.
struct ReadRequest {
    verified: VerifiedVoucher,
    revoked: bool,
    presented: Option<BeneficiaryBinding>,
}

impl ReadRequest {
    fn new(ready: &Ready<'_>, request: &VoucherRequest<'_>, now: i64) -> Result<Self, Error> {
        let verified = voucher::verify(request.qr, ready.trust, now)?;
        let presented = match request.id_card {
            None => None,
            Some(id) => {
                let card = id_card::read(id.text, ready.policy.id_authorities(), now)?;
                let beneficiary = match ready.roster.and_then(|r| r.find(&card.id_number)) {
                    Some(person) => person.beneficiary.clone(),
                    None => BeneficiaryId::parse(card.id_number.trim())?,
                };
                Some(BeneficiaryBinding::compute(
                    &verified.claims.id,
                    &beneficiary,
                ))
            }
        };
        let revoked = is_revoked(ready, &verified.claims, &verified.kid);
        Ok(Self {
            verified,
            revoked,
            presented,
        })
    }

    fn spend(&self, requested: Option<Money>) -> Spend<'_> {
        Spend {
            credential: voucher_key(&self.verified.claims.id),
            terms: self.verified.claims.terms(),
            revoked: self.revoked,
            presented: self.presented,
            requested,
        }
    }
}

fn is_revoked(ready: &Ready<'_>, claims: &VoucherClaims, kid: &lastmile_shared::id::KeyId) -> bool {
    ready
        .revocations
        .is_some_and(|list| list.vouchers.contains(&claims.id) || list.keys.contains(kid))
}
