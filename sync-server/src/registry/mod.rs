//! The programme registry: programmes, the sites they pay at, their
//! beneficiaries (imported from files, each with an ordered list of payment
//! channels), fraud signals for a person to review, and cycles whose
//! entitlements an approver approves before anything is paid.
//!
//! Every later step reads from here: the issuance of vouchers and rosters,
//! and the payment pipeline. Every change is audited, in the transaction
//! that makes it.

pub mod amounts;
pub mod cycles;
pub mod import;
pub mod pattern;
pub mod programmes;
pub mod release;
pub mod signals;
pub mod sites;

use lastmile_shared::id::IdError;
use lastmile_shared::money::CurrencyError;
use lastmile_shared::text::TextError;

use crate::storage::StorageError;

/// Why a registry action was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the {field} is not usable: {source}")]
    BadId {
        field: &'static str,
        source: IdError,
    },
    #[error("the {field} is not usable: {source}")]
    BadText {
        field: &'static str,
        source: TextError,
    },
    #[error(transparent)]
    BadCurrency(#[from] CurrencyError),
    #[error("{field} {text:?} is not a date (YYYY-MM-DD)")]
    BadDate { field: &'static str, text: String },
    #[error("the programme ends ({ends}) before it starts ({starts})")]
    EndsBeforeStart { starts: String, ends: String },
    #[error("{0:?} is not a payment channel (bank, mobile, cash or voucher)")]
    BadChannelKind(String),
    #[error("a programme pays by at least one channel")]
    NoChannels,
    #[error("the channel {0} is listed twice")]
    ChannelTwice(String),
    #[error("the target is individual or household, not {0:?}")]
    BadTarget(String),
    #[error("the largest household is 1 to {max} people", max = programmes::HOUSEHOLD_MAX)]
    BadHouseholdMax,
    #[error("the budget is not an amount in {currency}: {reason}")]
    BadBudget { currency: String, reason: String },
    #[error(transparent)]
    BadPattern(#[from] pattern::PatternError),
    #[error("the issuer {0} has no key here: create or rotate its key first")]
    UnknownIssuer(String),
    #[error("there is already a programme {0}")]
    ProgrammeTaken(String),
    #[error("there is no programme {0}")]
    UnknownProgramme(String),
    #[error("programme {programme} is {state}; this needs it {wanted}")]
    ProgrammeState {
        programme: String,
        state: String,
        wanted: &'static str,
    },
    #[error("there is already a site {0}")]
    SiteTaken(String),
    #[error("there is no beneficiary {beneficiary} in programme {programme}")]
    UnknownBeneficiary {
        programme: String,
        beneficiary: String,
    },
    #[error("there is no signal {0} waiting for review")]
    UnknownSignal(i64),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl RegistryError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadId { .. } => "bad_id",
            Self::BadText { .. } => "bad_text",
            Self::BadCurrency(_) => "bad_currency",
            Self::BadDate { .. } => "bad_date",
            Self::EndsBeforeStart { .. } => "ends_before_start",
            Self::BadChannelKind(_) => "bad_channel",
            Self::NoChannels => "no_channels",
            Self::ChannelTwice(_) => "channel_twice",
            Self::BadTarget(_) => "bad_target",
            Self::BadHouseholdMax => "bad_household_max",
            Self::BadBudget { .. } => "bad_budget",
            Self::BadPattern(_) => "bad_id_pattern",
            Self::UnknownIssuer(_) => "unknown_issuer",
            Self::ProgrammeTaken(_) => "programme_taken",
            Self::UnknownProgramme(_) => "unknown_programme",
            Self::ProgrammeState { .. } => "programme_state",
            Self::SiteTaken(_) => "site_taken",
            Self::UnknownBeneficiary { .. } => "unknown_beneficiary",
            Self::UnknownSignal(_) => "unknown_signal",
            Self::Storage(_) => "storage_error",
        }
    }
}
