//! The payment pipeline: approved entitlements become payment
//! instructions, grouped in batches a person prepares and another approves,
//! sent once through a rail, and followed until the rail says what became
//! of each (`rails/` speaks each rail's protocol; this module holds the
//! rules and the states).
//!
//! - `rails`: the rails HQ pays through, set up by an admin;
//! - `batches`: preparing, submitting, approving (with the ledger's
//!   reservation) and sending a batch, on the background jobs;
//! - `transport`: every byte to and from a rail — files written whole
//!   under their final name or not at all, each recorded by its SHA-256;
//! - `answers`: a rail's answers (status reports, notifications) matched
//!   to payments by key and amount, applied all or nothing;
//! - `exceptions`: the queue of payments a person must decide on —
//!   retry, reroute, cancel, mark paid — each approved by someone else;
//! - `floats`: field agents' cash sessions, reconciled against the
//!   ledger's float accounts;
//! - `tracking`: timelines and totals by state and currency.
//!
//! Architecture invariant: a payment's key is derived from its instruction
//! (programme, cycle, beneficiary, channel), written in the transaction that
//! makes the payment, and is what the rail de-duplicates on (pain.001
//! `EndToEndId`). A retry sends the same key; only a new channel (a
//! reroute) makes a new payment with a new key.
//!
//! Architecture invariant: a payment is paid only when its rail says so
//! (a status report, a booking, a synced payout) or a person marks it paid
//! with evidence and another approves; an unanswered one is listed as
//! such, never guessed.

pub mod answers;
pub mod batches;
pub mod exceptions;
pub mod floats;
pub mod rails;
pub mod tracking;
pub mod transport;

use lastmile_shared::money::CurrencyError;
use sha2::{Digest, Sha256};

use crate::jobs::JobError;
use crate::ledger::LedgerError;
use crate::proposals::ProposalError;
use crate::rails::RailError;
use crate::storage::StorageError;

/// Most events of one payment's timeline shown.
pub const TIMELINE_EVENTS_MAX: i64 = 200;

/// Why a payment action was refused.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("there is no rail {0}")]
    UnknownRail(String),
    #[error("there is already a rail {0}")]
    RailExists(String),
    #[error("the rail's settings are not usable: {0}")]
    BadRailConfig(String),
    #[error("rail {rail} is down: nothing new is sent through it")]
    RailDown { rail: String },
    #[error("rail {rail} pays in {rail_currency}, the programme in {programme_currency}")]
    RailCurrency {
        rail: String,
        rail_currency: String,
        programme_currency: String,
    },
    #[error("there is no cycle {0}")]
    UnknownCycle(i64),
    #[error("cycle {id} is {state}: only an approved cycle is paid")]
    CycleNotApproved { id: i64, state: String },
    #[error("cycle {0} has no approved bank entitlement left to pay")]
    NothingToPay(i64),
    #[error("there is no payment batch {0}")]
    UnknownBatch(i64),
    #[error("batch {id} is {state}: {wanted}")]
    BatchState {
        id: i64,
        state: String,
        wanted: &'static str,
    },
    #[error(
        "batch {id} needs {needed} but cycle {cycle}'s obligations have {available} left \
         to reserve"
    )]
    NotReserved {
        id: i64,
        cycle: i64,
        needed: String,
        available: String,
    },
    #[error("whoever prepared batch {0} may not approve it")]
    OwnBatch(i64),
    #[error("there is no payment {0}")]
    UnknownPayment(String),
    #[error("payment {key} is {state}: {wanted}")]
    PaymentState {
        key: String,
        state: String,
        wanted: &'static str,
    },
    #[error("beneficiary {beneficiary} has no other channel the programme pays by")]
    NoOtherChannel { beneficiary: String },
    #[error("the file {name} was already read on {at} (as {first}): it changes nothing")]
    DuplicateFile {
        name: String,
        first: String,
        at: String,
    },
    #[error("the file answers message {0}, which no batch of this rail sent")]
    UnknownMessage(String),
    #[error("the file names payment {0}, which this rail was never sent")]
    UnknownKey(String),
    #[error("payment {key} is for {expected}, the file says {found}")]
    AmountMismatch {
        key: String,
        expected: String,
        found: String,
    },
    #[error("payment {key} is {was}; the file says {now}: it contradicts what was known")]
    Contradicts {
        key: String,
        was: String,
        now: &'static str,
    },
    #[error("the file is larger than {max} bytes")]
    FileTooLarge { max: u64 },
    #[error("the file holds more than {max} answers")]
    TooManyAnswers { max: usize },
    #[error(transparent)]
    Rail(#[from] RailError),
    #[error("the payment file could not be delivered: {0}")]
    Delivery(std::io::Error),
    #[error(transparent)]
    Currency(#[from] CurrencyError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Proposal(Box<ProposalError>),
    #[error("you may not do this")]
    NotAllowed,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ProposalError> for PaymentError {
    fn from(e: ProposalError) -> Self {
        Self::Proposal(Box::new(e))
    }
}

impl PaymentError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownRail(_) => "unknown_rail",
            Self::RailExists(_) => "rail_exists",
            Self::BadRailConfig(_) => "bad_rail_config",
            Self::RailDown { .. } => "rail_down",
            Self::RailCurrency { .. } => "rail_currency",
            Self::UnknownCycle(_) => "unknown_cycle",
            Self::CycleNotApproved { .. } => "cycle_state",
            Self::NothingToPay(_) => "nothing_to_pay",
            Self::UnknownBatch(_) => "unknown_batch",
            Self::BatchState { .. } => "batch_state",
            Self::NotReserved { .. } => "not_reserved",
            Self::OwnBatch(_) => "own_batch",
            Self::UnknownPayment(_) => "unknown_payment",
            Self::PaymentState { .. } => "payment_state",
            Self::NoOtherChannel { .. } => "no_other_channel",
            Self::DuplicateFile { .. } => "duplicate_file",
            Self::UnknownMessage(_) => "unknown_message",
            Self::UnknownKey(_) => "unknown_payment_key",
            Self::AmountMismatch { .. } => "amount_mismatch",
            Self::Contradicts { .. } => "contradicts",
            Self::FileTooLarge { .. } => "file_too_large",
            Self::TooManyAnswers { .. } => "too_many_answers",
            Self::Rail(_) => "rail_refused",
            Self::Delivery(_) => "delivery_failed",
            Self::Currency(_) => "bad_currency",
            Self::Ledger(e) => e.code(),
            Self::Proposal(e) => e.code(),
            Self::NotAllowed => "forbidden",
            Self::Storage(_) => "storage_error",
        }
    }
}

impl From<PaymentError> for JobError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::Storage(e) => JobError::Storage(e),
            // A folder not there yet, a disk full: tried again later.
            PaymentError::Delivery(e) => JobError::Failed(e.to_string()),
            other => JobError::Permanent(other.to_string()),
        }
    }
}

/// A payment's idempotency key: `LM` and 32 hex digits of a SHA-256 over
/// the instruction's parts (length-prefixed, so no two instructions share
/// one), 34 characters — within ISO 20022's 35 for `EndToEndId`.
pub fn payment_key(programme: &str, cycle: i64, beneficiary: &str, channel: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        "lastmile/payment/v1",
        programme,
        &cycle.to_string(),
        beneficiary,
        channel,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    format!("LM{}", hex::encode_upper(&digest[..16]))
}

/// A batch's message id: `LMB`, its number and 12 hex digits over the
/// programme and cycle, at most 35 characters.
pub fn message_id(batch: i64, programme: &str, cycle: i64) -> String {
    let mut hash = Sha256::new();
    hash.update((programme.len() as u64).to_be_bytes());
    hash.update(programme.as_bytes());
    hash.update(cycle.to_be_bytes());
    let digest = hash.finalize();
    format!("LMB{batch:010}{}", hex::encode_upper(&digest[..6]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fit_an_end_to_end_id_and_differ_per_instruction() {
        let key = payment_key("P1", 3, "B-1", "iban:DE89370400440532013000");
        assert_eq!(key.len(), 34);
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(
            key,
            payment_key("P1", 3, "B-1", "iban:DE89370400440532013000")
        );
        assert_ne!(key, payment_key("P1", 3, "B-1", "cash:S1"));
        assert_ne!(
            key,
            payment_key("P1", 4, "B-1", "iban:DE89370400440532013000")
        );
        // Length prefixes: moving a character between parts changes the key.
        assert_ne!(
            payment_key("P1", 3, "B-1x", "y"),
            payment_key("P1", 3, "B-1", "xy")
        );
        let id = message_id(12, "P1", 3);
        assert!(id.len() <= 35, "{id}");
        assert!(id.starts_with("LMB0000000012"));
    }
}
