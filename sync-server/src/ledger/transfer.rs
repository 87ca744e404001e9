//! Transfers: an amount debited from one account and credited to another of
//! the same currency, under an id the caller chooses (so a retried posting
//! finds its first attempt and changes nothing), a code saying what it is,
//! and the object that caused it.

use std::fmt;

use lastmile_shared::money::Currency;
use serde::Serialize;

use super::LedgerText;
use super::account::AccountId;

/// A transfer's id, chosen by the caller from what caused it (e.g.
/// `redeem/DEV-1/42` for entry 42 of a device's log): the idempotency key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TransferId(String);

impl TransferId {
    /// `head/part/…`, each part checked as ledger text.
    pub fn new(head: &str, parts: &[&str]) -> Result<Self, LedgerText> {
        let mut text = String::from(head);
        for part in parts {
            LedgerText::check_part("a transfer id part", part)?;
            text.push('/');
            text.push_str(part);
        }
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, LedgerText> {
        LedgerText::check("a transfer id", text)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransferId({:?})", self.0)
    }
}

/// What a transfer records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferCode {
    /// A funding source paid into a programme's budget.
    Fund,
    /// A cycle's approved entitlements (or an issued voucher) committed
    /// budget to obligations.
    Commit,
    /// Committed money went back to the budget (an exclusion, an expiry, a
    /// cancelled entitlement).
    Release,
    /// A voucher was redeemed at a merchant (counted at sync).
    Redeem,
    /// Cash was handed to a person (counted at sync).
    CashOut,
    /// A field agent's session drew its float from the site's vault.
    FloatIssue,
    /// A closed session's counted cash went back to the vault.
    FloatReturn,
    /// A closed session's shortfall (or overage).
    FloatVariance,
    /// A payment was handed to a rail.
    Send,
    /// A merchant was paid what it was owed.
    Settle,
    /// One leg of a currency exchange.
    Exchange,
    /// A test or benchmark posting, outside any domain flow.
    Adjust,
}

impl TransferCode {
    pub const ALL: [Self; 12] = [
        Self::Fund,
        Self::Commit,
        Self::Release,
        Self::Redeem,
        Self::CashOut,
        Self::FloatIssue,
        Self::FloatReturn,
        Self::FloatVariance,
        Self::Send,
        Self::Settle,
        Self::Exchange,
        Self::Adjust,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fund => "fund",
            Self::Commit => "commit",
            Self::Release => "release",
            Self::Redeem => "redeem",
            Self::CashOut => "cash_out",
            Self::FloatIssue => "float_issue",
            Self::FloatReturn => "float_return",
            Self::FloatVariance => "float_variance",
            Self::Send => "send",
            Self::Settle => "settle",
            Self::Exchange => "exchange",
            Self::Adjust => "adjust",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Where a transfer stands in the two-phase protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    /// Posted at once.
    Single,
    /// Reserves its amount (pending debits and credits) until posted,
    /// voided, or `timeout_at` passes.
    Pending { timeout_at: Option<i64> },
    /// Posts (up to) the amount of a pending transfer; the rest is released.
    Post { pending: TransferId },
    /// Releases a pending transfer's whole amount.
    Void { pending: TransferId },
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Pending { .. } => "pending",
            Self::Post { .. } => "post",
            Self::Void { .. } => "void",
        }
    }

    pub fn pending_id(&self) -> Option<&TransferId> {
        match self {
            Self::Post { pending } | Self::Void { pending } => Some(pending),
            Self::Single | Self::Pending { .. } => None,
        }
    }
}

/// What became of a pending transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingState {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Voided => "voided",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Posted, Self::Voided, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The object a transfer records a change of: `("cycle", "P-FOOD/2027-01")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Cause {
    pub kind: &'static str,
    pub id: String,
}

/// A transfer as a caller asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTransfer {
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    /// Minor units, positive; for a `Post`, 0 posts the pending amount in full.
    pub amount: i64,
    pub code: TransferCode,
    pub phase: Phase,
    /// This transfer and the next succeed together or not at all; a chain
    /// ends at the first transfer that is not linked.
    pub linked: bool,
    pub cause: Option<Cause>,
}

/// A transfer as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Its place in the ledger's order.
    pub seq: u64,
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: i64,
    pub currency: Currency,
    pub code: TransferCode,
    pub phase: Phase,
    /// For a pending transfer: whether it is still pending.
    pub state: Option<PendingState>,
    pub cause_kind: Option<String>,
    pub cause_id: Option<String>,
    /// The person who caused it, if one did.
    pub actor: Option<String>,
    pub at: i64,
}

impl Transfer {
    /// Which field differs from a retried request, if any (the amount of a
    /// full `Post` is stored as posted, so 0 matches it).
    pub fn differs_from(&self, new: &NewTransfer) -> Option<&'static str> {
        if self.debit != new.debit {
            return Some("debit account");
        }
        if self.credit != new.credit {
            return Some("credit account");
        }
        let full_post = matches!(new.phase, Phase::Post { .. }) && new.amount == 0;
        if self.amount != new.amount && !full_post {
            return Some("amount");
        }
        if self.code != new.code {
            return Some("code");
        }
        if self.phase.as_str() != new.phase.as_str()
            || self.phase.pending_id() != new.phase.pending_id()
        {
            return Some("phase");
        }
        let cause = new.cause.as_ref();
        if self.cause_kind.as_deref() != cause.map(|c| c.kind)
            || self.cause_id.as_deref() != cause.map(|c| c.id.as_str())
        {
            return Some("cause");
        }
        None
    }
}
