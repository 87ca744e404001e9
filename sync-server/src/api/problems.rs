//! The one path from a domain error to an HTTP answer: each error says its
//! status and stable code here and its `Display` is the sentence. A
//! server-side failure (storage, keys) is logged in full but answered with
//! a generic sentence (see `ApiProblem`'s `IntoResponse`), so no database
//! text reaches a caller.

use axum::http::StatusCode;

use super::ApiProblem;
use crate::double_spend::ResolveError;
use crate::id_authorities::IdAuthorityError;
use crate::keys::KeyError;
use crate::ledger::LedgerError;
use crate::ledger::conversion::ConversionError;
use crate::ledger::funding::FundingError;
use crate::ledger::rates::RatesError;
use crate::limits::LimitsError;
use crate::merchants::MerchantError;
use crate::payments::PaymentError;
use crate::people::PeopleError;
use crate::people::tokens::TokenError;
use crate::proposals::ProposalError;
use crate::registry::RegistryError;
use crate::registry::amounts::AmountsError;
use crate::registry::cycles::CycleError;
use crate::registry::import::ImportError;
use crate::registry::release::ReleaseError;
use crate::storage::StorageError;
use crate::terminals::TerminalError;
use crate::vouchers::VoucherError;

/// A domain error as an HTTP refusal.
pub trait Refusal: std::error::Error {
    fn status(&self) -> StatusCode;
    fn code(&self) -> &'static str;
}

impl ApiProblem {
    /// The refusal for `error`, in JSON (`cbor: false`) or CBOR.
    pub fn from_refusal(error: &dyn Refusal, cbor: bool) -> Self {
        Self::new(error.status(), error.code(), error, cbor)
    }
}

/// `?` on a domain error in an HQ handler.
macro_rules! json_refusal {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for ApiProblem {
            fn from(error: $error) -> Self {
                Self::from_refusal(&error, false)
            }
        })*
    };
}

json_refusal!(
    StorageError,
    KeyError,
    TerminalError,
    VoucherError,
    ResolveError,
    MerchantError,
    LimitsError,
    PeopleError,
    TokenError,
    ProposalError,
    RegistryError,
    CycleError,
    ImportError,
    AmountsError,
    ReleaseError,
    LedgerError,
    FundingError,
    RatesError,
    ConversionError,
    IdAuthorityError,
    PaymentError,
);

impl Refusal for StorageError {
    fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
    fn code(&self) -> &'static str {
        "storage_error"
    }
}

impl Refusal for KeyError {
    fn status(&self) -> StatusCode {
        match self {
            KeyError::NotInitialised => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            KeyError::NotInitialised => "server_not_initialised",
            KeyError::Storage(_) => "storage_error",
            _ => "key_error",
        }
    }
}

impl Refusal for TerminalError {
    fn status(&self) -> StatusCode {
        match self {
            TerminalError::UnknownCode | TerminalError::UnknownDevice(_) => StatusCode::NOT_FOUND,
            TerminalError::CodeUsed
            | TerminalError::KeyAlreadyEnrolled
            | TerminalError::DeviceKnown(_) => StatusCode::CONFLICT,
            TerminalError::CodeExpired => StatusCode::GONE,
            TerminalError::BadPublicKey
            | TerminalError::BadLabel(_)
            | TerminalError::BadTtl
            | TerminalError::NoAssignment
            | TerminalError::Id(_) => StatusCode::BAD_REQUEST,
            TerminalError::Storage(e) => e.status(),
            TerminalError::Keys(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            TerminalError::Storage(e) => Refusal::code(e),
            TerminalError::Keys(e) => Refusal::code(e),
            _ => TerminalError::code(self),
        }
    }
}

impl Refusal for VoucherError {
    fn status(&self) -> StatusCode {
        match self {
            VoucherError::Unknown(_) => StatusCode::NOT_FOUND,
            VoucherError::Storage(e) => e.status(),
            VoucherError::Keys(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            VoucherError::Unknown(_) => "unknown_voucher",
            VoucherError::Storage(e) => e.code(),
            VoucherError::Keys(e) => e.code(),
        }
    }
}

impl Refusal for ResolveError {
    fn status(&self) -> StatusCode {
        match self {
            ResolveError::UnknownCase(_) => StatusCode::NOT_FOUND,
            ResolveError::AlreadyResolved(_) => StatusCode::CONFLICT,
            ResolveError::Storage(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        ResolveError::code(self)
    }
}

impl Refusal for MerchantError {
    fn status(&self) -> StatusCode {
        match self {
            MerchantError::AlreadyRevoked(_) => StatusCode::CONFLICT,
            MerchantError::BadReason(_) => StatusCode::BAD_REQUEST,
            MerchantError::Storage(e) => e.status(),
            MerchantError::Keys(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            MerchantError::Storage(e) => e.code(),
            MerchantError::Keys(e) => e.code(),
            _ => MerchantError::code(self),
        }
    }
}

impl Refusal for LimitsError {
    fn status(&self) -> StatusCode {
        match self {
            LimitsError::NotPositive(_) => StatusCode::BAD_REQUEST,
            LimitsError::Storage(e) => e.status(),
            LimitsError::Keys(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            LimitsError::NotPositive(_) => "bad_limits",
            LimitsError::Storage(e) => e.code(),
            LimitsError::Keys(e) => e.code(),
        }
    }
}

impl Refusal for PeopleError {
    fn status(&self) -> StatusCode {
        match self {
            PeopleError::UsernameTaken(_) => StatusCode::CONFLICT,
            PeopleError::UnknownUser(_) => StatusCode::NOT_FOUND,
            PeopleError::WrongCredentials | PeopleError::Disabled => StatusCode::UNAUTHORIZED,
            PeopleError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            PeopleError::Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
            PeopleError::Storage(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        PeopleError::code(self)
    }
}

impl Refusal for TokenError {
    fn status(&self) -> StatusCode {
        match self {
            TokenError::Invalid => StatusCode::UNAUTHORIZED,
            TokenError::Unknown(_) => StatusCode::NOT_FOUND,
            TokenError::BadLabel(_) => StatusCode::BAD_REQUEST,
            TokenError::People(e) => e.status(),
            TokenError::Storage(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            TokenError::Invalid => "unauthorized",
            TokenError::Unknown(_) => "unknown_token",
            TokenError::BadLabel(_) => "bad_label",
            TokenError::People(e) => e.code(),
            TokenError::Storage(e) => e.code(),
        }
    }
}

impl Refusal for IdAuthorityError {
    fn status(&self) -> StatusCode {
        match self {
            IdAuthorityError::Key(_) | IdAuthorityError::BadDate { .. } => StatusCode::BAD_REQUEST,
            IdAuthorityError::Unknown(_) => StatusCode::NOT_FOUND,
            IdAuthorityError::Taken { .. }
            | IdAuthorityError::WrongState { .. }
            | IdAuthorityError::TooMany => StatusCode::CONFLICT,
            IdAuthorityError::Keys(e) => e.status(),
            IdAuthorityError::Storage(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            IdAuthorityError::Keys(e) => Refusal::code(e),
            _ => IdAuthorityError::code(self),
        }
    }
}

impl Refusal for ProposalError {
    fn status(&self) -> StatusCode {
        match self {
            ProposalError::NotAllowed
            | ProposalError::NotAnApprover
            | ProposalError::OwnProposal => StatusCode::FORBIDDEN,
            ProposalError::Unknown(_) => StatusCode::NOT_FOUND,
            ProposalError::AlreadyDecided(_)
            | ProposalError::AlreadyPending(_)
            | ProposalError::ProposerDisabled(_)
            | ProposalError::AlreadyRevoked(_)
            | ProposalError::AlreadyActive(_) => StatusCode::CONFLICT,
            ProposalError::BadReason(_) => StatusCode::BAD_REQUEST,
            ProposalError::Voucher(e) => e.status(),
            ProposalError::Case(e) => e.status(),
            ProposalError::Keys(e) => e.status(),
            ProposalError::People(e) => e.status(),
            ProposalError::Cycle(e) => e.status(),
            ProposalError::Rates(e) => e.status(),
            ProposalError::IdAuthority(e) => e.status(),
            ProposalError::Payment(e) => e.status(),
            ProposalError::Storage(e) => e.status(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            ProposalError::Voucher(e) => Refusal::code(e),
            ProposalError::Keys(e) => Refusal::code(e),
            ProposalError::IdAuthority(e) => Refusal::code(e),
            _ => ProposalError::code(self),
        }
    }
}

impl Refusal for PaymentError {
    fn status(&self) -> StatusCode {
        match self {
            PaymentError::UnknownRail(_)
            | PaymentError::UnknownCycle(_)
            | PaymentError::UnknownBatch(_)
            | PaymentError::UnknownPayment(_) => StatusCode::NOT_FOUND,
            PaymentError::RailExists(_)
            | PaymentError::RailDown { .. }
            | PaymentError::CycleNotApproved { .. }
            | PaymentError::NothingToPay(_)
            | PaymentError::BatchState { .. }
            | PaymentError::NotReserved { .. }
            | PaymentError::PaymentState { .. }
            | PaymentError::NoOtherChannel { .. }
            | PaymentError::DuplicateFile { .. }
            | PaymentError::Contradicts { .. } => StatusCode::CONFLICT,
            PaymentError::OwnBatch(_) | PaymentError::NotAllowed => StatusCode::FORBIDDEN,
            PaymentError::FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            PaymentError::Delivery(_) => StatusCode::SERVICE_UNAVAILABLE,
            PaymentError::Ledger(e) => e.status(),
            PaymentError::Proposal(e) => e.status(),
            PaymentError::Storage(e) => e.status(),
            PaymentError::BadRailConfig(_)
            | PaymentError::RailCurrency { .. }
            | PaymentError::UnknownMessage(_)
            | PaymentError::UnknownKey(_)
            | PaymentError::AmountMismatch { .. }
            | PaymentError::TooManyAnswers { .. }
            | PaymentError::Rail(_)
            | PaymentError::Currency(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
    fn code(&self) -> &'static str {
        PaymentError::code(self)
    }
}

impl Refusal for RegistryError {
    fn status(&self) -> StatusCode {
        match self {
            RegistryError::ProgrammeTaken(_)
            | RegistryError::SiteTaken(_)
            | RegistryError::ProgrammeState { .. } => StatusCode::CONFLICT,
            RegistryError::UnknownProgramme(_)
            | RegistryError::UnknownBeneficiary { .. }
            | RegistryError::UnknownSignal(_)
            | RegistryError::UnknownIssuer(_) => StatusCode::NOT_FOUND,
            RegistryError::Storage(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        RegistryError::code(self)
    }
}

impl Refusal for LedgerError {
    fn status(&self) -> StatusCode {
        match self {
            LedgerError::Storage(e) => e.status(),
            LedgerError::Text(_) => StatusCode::BAD_REQUEST,
            LedgerError::BatchTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            LedgerError::Refused { .. } | LedgerError::AccountDiffers(_) => StatusCode::CONFLICT,
            LedgerError::Invariant(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn code(&self) -> &'static str {
        LedgerError::code(self)
    }
}

impl Refusal for FundingError {
    fn status(&self) -> StatusCode {
        match self {
            FundingError::Registry(e) => e.status(),
            FundingError::Ledger(e) => e.status(),
            FundingError::Storage(e) => e.status(),
            FundingError::Amount(_)
            | FundingError::Currency(_)
            | FundingError::NotPositive
            | FundingError::Text { .. } => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        FundingError::code(self)
    }
}

impl Refusal for RatesError {
    fn status(&self) -> StatusCode {
        match self {
            RatesError::Rows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RatesError::TooMany => StatusCode::PAYLOAD_TOO_LARGE,
            RatesError::NoRate { .. } => StatusCode::CONFLICT,
            RatesError::Storage(e) => e.status(),
            RatesError::Bad { .. } | RatesError::Empty | RatesError::File(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }
    fn code(&self) -> &'static str {
        RatesError::code(self)
    }
}

impl Refusal for ConversionError {
    fn status(&self) -> StatusCode {
        match self {
            ConversionError::Registry(e) => e.status(),
            ConversionError::Rates(e) => e.status(),
            ConversionError::Ledger(e) => e.status(),
            ConversionError::Storage(e) => e.status(),
            ConversionError::NotEnough { .. } => StatusCode::CONFLICT,
            ConversionError::Rate(_) | ConversionError::Field { .. } => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        ConversionError::code(self)
    }
}

impl Refusal for CycleError {
    fn status(&self) -> StatusCode {
        match self {
            CycleError::Registry(e) => e.status(),
            CycleError::Unknown(_) | CycleError::UnknownEntitlement(_) => StatusCode::NOT_FOUND,
            CycleError::OtherRule { .. }
            | CycleError::State { .. }
            | CycleError::Empty { .. }
            | CycleError::OverBudget { .. } => StatusCode::CONFLICT,
            CycleError::Storage(e) => e.status(),
            CycleError::Ledger(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        CycleError::code(self)
    }
}

impl Refusal for AmountsError {
    fn status(&self) -> StatusCode {
        match self {
            AmountsError::Registry(e) => e.status(),
            AmountsError::Generated { .. } => StatusCode::CONFLICT,
            AmountsError::Rows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AmountsError::TooManyRows => StatusCode::PAYLOAD_TOO_LARGE,
            AmountsError::Storage(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        AmountsError::code(self)
    }
}

impl Refusal for ImportError {
    fn status(&self) -> StatusCode {
        match self {
            ImportError::Registry(e) => e.status(),
            ImportError::Closed(_) => StatusCode::CONFLICT,
            ImportError::Rows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ImportError::TooManyRows => StatusCode::PAYLOAD_TOO_LARGE,
            ImportError::Storage(e) => e.status(),
            _ => StatusCode::BAD_REQUEST,
        }
    }
    fn code(&self) -> &'static str {
        ImportError::code(self)
    }
}

impl Refusal for ReleaseError {
    fn status(&self) -> StatusCode {
        match self {
            ReleaseError::Registry(e) => e.status(),
            ReleaseError::Unknown(_) => StatusCode::NOT_FOUND,
            ReleaseError::NotApproved { .. }
            | ReleaseError::OtherIssuer { .. }
            | ReleaseError::Ended(_) => StatusCode::CONFLICT,
            ReleaseError::Keys(e) => e.status(),
            ReleaseError::Sheet(_) | ReleaseError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            ReleaseError::Keys(e) => Refusal::code(e),
            _ => ReleaseError::code(self),
        }
    }
}
