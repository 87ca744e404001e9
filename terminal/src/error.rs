//! The engine's one error type. Every variant says what happened and what to
//! do; [`Error::code`] is stable for scripts and translations, and
//! [`Error::category`] decides the command line's exit code.

use lastmile_shared::id::{DeviceId, EntitlementId, IdError, OperatorId};
use lastmile_shared::id_card::IdCardError;
use lastmile_shared::money::{Currency, Money, MoneyError};
use lastmile_shared::roster::Delivery;
use lastmile_shared::rules::RejectReason;
use lastmile_shared::trust_list::{DocumentError, TrustListError};
use lastmile_shared::voucher::VoucherError;
use lastmile_shared::voucher_code::VoucherCodeError;

use crate::device_key::DeviceKeyError;
use crate::operator::{PIN_DIGITS_MAX, PIN_DIGITS_MIN};
use crate::sync_client::SyncError;

/// What kind of failure an [`Error`] is; the CLI maps each to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// A redemption, payout or cash action was refused (the input was read
    /// and understood, and the answer is no). Nothing changed.
    Refused,
    /// The request itself was malformed (an amount, an id). Nothing changed.
    Usage,
    /// The terminal is not enrolled or lacks a document it needs.
    NotProvisioned,
    /// The server could not be reached or answered with an error.
    Network,
    /// No operator logged in, a wrong PIN or a locked operator.
    Operator,
    /// Anything else: a damaged database or key file, a bug.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Voucher(#[from] VoucherError),
    #[error("{0}")]
    Rejected(RejectReason),
    #[error("{0}")]
    VoucherCode(#[from] VoucherCodeError),
    #[error(
        "no voucher with code {0} is in this terminal's voucher book: check the code, sync, or scan the QR code"
    )]
    CodeNotFound(String),
    #[error("{0}")]
    IdCard(#[from] IdCardError),
    #[error("no one with ID {0} is on this terminal's roster")]
    PersonNotFound(String),
    #[error("this person has no entitlement {0} on the roster")]
    EntitlementNotFound(EntitlementId),
    #[error("entitlement {0} is paid in cash by a field agent, not redeemed at a merchant")]
    CashEntitlement(EntitlementId),
    #[error("entitlement {0} is redeemed at a merchant, not paid in cash")]
    MerchantEntitlement(EntitlementId),
    /// The rules' "already redeemed", said of a person's merchant entitlement.
    #[error("this person has already received entitlement {0} in full")]
    EntitlementUsed(EntitlementId),
    /// The rules' "already redeemed", said of a cash payout.
    #[error("entitlement {0} has already been paid out in cash; do not pay twice")]
    AlreadyPaidOut(EntitlementId),
    #[error("no cash session is open; open one with a counted float first")]
    NoCashSession,
    #[error("cash session {0} is already open; close it before opening another")]
    CashSessionOpen(u64),
    #[error("only {available} is left in the cash float, but {needed} is to be paid")]
    FloatTooSmall { available: Money, needed: Money },
    #[error("the cash session is in {session}, but this payment is in {payment}")]
    SessionCurrency {
        session: Currency,
        payment: Currency,
    },
    #[error("the terminal handles several currencies ({0}); say which one")]
    CurrencyAmbiguous(String),
    #[error("no operator is logged in; log in with your operator id and PIN")]
    NotLoggedIn,
    #[error("wrong PIN; {attempts_left} attempt(s) left before the operator is locked")]
    WrongPin { attempts_left: u32 },
    #[error(
        "operator {operator} is locked after too many wrong PINs; try again in {minutes_left} minute(s)"
    )]
    LockedOut {
        operator: OperatorId,
        minutes_left: i64,
    },
    #[error("there is no operator {0} on this terminal")]
    UnknownOperator(OperatorId),
    #[error("operator {0} already exists")]
    OperatorExists(OperatorId),
    #[error("a PIN is {PIN_DIGITS_MIN} to {PIN_DIGITS_MAX} digits")]
    BadPin,
    #[error("an operator name is 1 to {max} characters")]
    BadOperatorName { max: usize },
    #[error("a shop, site or terminal name is 1 to {max} characters, without control characters")]
    BadLetterheadName { max: usize },
    #[error("the operator PIN store failed: {0}")]
    PinHash(String),
    #[error("invalid amount: {0}")]
    Amount(#[from] MoneyError),
    #[error("{0}")]
    Id(#[from] IdError),
    #[error(
        "this terminal is not enrolled; run `lastmile-terminal enroll --server URL --code CODE`"
    )]
    NotEnrolled,
    #[error("this terminal has no {0} yet; sync with the server first")]
    NotProvisioned(&'static str),
    #[error("this terminal is already enrolled as device {0}")]
    AlreadyEnrolled(DeviceId),
    #[error("enrolment failed: {0}")]
    Enrolment(SyncError),
    #[error(
        "this terminal is enrolled as device {device}, but its first sync failed: {source}; run `lastmile-terminal sync` to finish"
    )]
    FirstSyncFailed {
        device: DeviceId,
        source: Box<Error>,
    },
    #[error("the {what} was refused: {reason}")]
    Document { what: &'static str, reason: String },
    #[error("{0}")]
    Sync(#[from] SyncError),
    #[error(
        "this terminal's clock says {now}, earlier than {latest_seen}, a time it has already seen (its last entry or sync): set the clock right, or sync to correct it, before redeeming"
    )]
    ClockBehind { now: i64, latest_seen: i64 },
    #[error("there is no log entry with sequence {0}")]
    NoSuchEntry(u64),
    #[error("there is nothing to reprint yet")]
    NothingToReprint,
    #[error("the device log is damaged at sequence {seq}: {reason}")]
    LogDamaged { seq: u64, reason: String },
    #[error(
        "the stored balances do not match the device log: {0}; the signed log is the record, so restore the terminal from a backup or ask HQ before redeeming"
    )]
    BalancesDiffer(crate::device_log::BalanceDifferences),
    #[error("{0}")]
    DeviceKey(#[from] DeviceKeyError),
    #[error("terminal database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl From<TrustListError> for Error {
    fn from(error: TrustListError) -> Self {
        Error::Document {
            what: "trust list",
            reason: error.to_string(),
        }
    }
}

impl Error {
    pub(crate) fn document(what: &'static str, error: DocumentError) -> Self {
        Error::Document {
            what,
            reason: error.to_string(),
        }
    }

    /// A refusal of a spend on `entitlement`, paid out as `delivery`, as
    /// people should read it: the rules' "already redeemed" (the code the
    /// engine returns, shared with the server) said of the person's
    /// entitlement or cash payout rather than of a voucher.
    pub fn for_entitlement(self, entitlement: &EntitlementId, delivery: Delivery) -> Self {
        match (self, delivery) {
            (Error::Rejected(RejectReason::AlreadyRedeemed), Delivery::Cash) => {
                Error::AlreadyPaidOut(entitlement.clone())
            }
            (Error::Rejected(RejectReason::AlreadyRedeemed), Delivery::Merchant) => {
                Error::EntitlementUsed(entitlement.clone())
            }
            (other, _) => other,
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A stable code: the shared crate's codes for voucher and rule
    /// refusals, the engine's own otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Voucher(e) => e.code(),
            Error::Rejected(r) => r.code(),
            Error::VoucherCode(e) => e.code(),
            Error::CodeNotFound(_) => "code_not_found",
            Error::IdCard(e) => match e {
                IdCardError::Oversize { .. } => "id_card_oversize",
                IdCardError::Empty => "id_card_empty",
                IdCardError::Unrecognised => "id_card_unrecognised",
                IdCardError::Damaged(_) => "id_card_damaged",
                IdCardError::UntrustedSignature => "id_card_untrusted",
                IdCardError::UnknownAuthority { .. } => "id_card_unknown_authority",
                IdCardError::RetiredAuthority { .. } => "id_card_retired_authority",
                IdCardError::AuthorityNotValid { .. } => "id_card_authority_not_valid",
                IdCardError::BadSignature { .. } => "id_card_bad_signature",
                IdCardError::NoIdNumber => "id_card_no_number",
                IdCardError::Expired => "id_card_expired",
                IdCardError::NotYetValid => "id_card_not_yet_valid",
            },
            Error::PersonNotFound(_) => "person_not_found",
            Error::EntitlementNotFound(_) => "entitlement_not_found",
            Error::CashEntitlement(_) => "cash_entitlement",
            Error::MerchantEntitlement(_) => "merchant_entitlement",
            Error::EntitlementUsed(_) => "entitlement_used",
            Error::AlreadyPaidOut(_) => "already_paid_out",
            Error::NoCashSession => "no_cash_session",
            Error::CashSessionOpen(_) => "cash_session_open",
            Error::FloatTooSmall { .. } => "float_too_small",
            Error::SessionCurrency { .. } => "session_currency",
            Error::CurrencyAmbiguous(_) => "currency_ambiguous",
            Error::NotLoggedIn => "not_logged_in",
            Error::WrongPin { .. } => "wrong_pin",
            Error::LockedOut { .. } => "locked_out",
            Error::UnknownOperator(_) => "unknown_operator",
            Error::OperatorExists(_) => "operator_exists",
            Error::BadPin => "bad_pin",
            Error::BadOperatorName { .. } => "bad_operator_name",
            Error::BadLetterheadName { .. } => "bad_letterhead_name",
            Error::PinHash(_) => "pin_hash",
            Error::Amount(_) => "bad_amount",
            Error::Id(_) => "bad_id",
            Error::NotEnrolled => "not_enrolled",
            Error::NotProvisioned(_) => "not_provisioned",
            Error::AlreadyEnrolled(_) => "already_enrolled",
            Error::Enrolment(_) => "enrolment_failed",
            Error::FirstSyncFailed { .. } => "first_sync_failed",
            Error::Document { .. } => "document_refused",
            Error::Sync(_) => "sync_failed",
            Error::ClockBehind { .. } => "clock_behind",
            Error::NoSuchEntry(_) => "no_such_entry",
            Error::NothingToReprint => "nothing_to_reprint",
            Error::LogDamaged { .. } => "log_damaged",
            Error::BalancesDiffer(_) => "balances_differ",
            Error::DeviceKey(_) => "device_key",
            Error::Database(_) => "database",
            Error::Io { .. } => "io",
        }
    }

    pub fn category(&self) -> ErrorCategory {
        use ErrorCategory as C;
        match self {
            Error::Voucher(_)
            | Error::Rejected(_)
            | Error::CodeNotFound(_)
            | Error::IdCard(_)
            | Error::PersonNotFound(_)
            | Error::EntitlementNotFound(_)
            | Error::CashEntitlement(_)
            | Error::MerchantEntitlement(_)
            | Error::EntitlementUsed(_)
            | Error::AlreadyPaidOut(_)
            | Error::AlreadyEnrolled(_)
            | Error::NoCashSession
            | Error::CashSessionOpen(_)
            | Error::FloatTooSmall { .. }
            | Error::SessionCurrency { .. }
            | Error::OperatorExists(_)
            | Error::ClockBehind { .. }
            | Error::NothingToReprint => C::Refused,
            Error::Amount(_)
            | Error::VoucherCode(_)
            | Error::Id(_)
            | Error::BadPin
            | Error::BadOperatorName { .. }
            | Error::BadLetterheadName { .. }
            | Error::CurrencyAmbiguous(_)
            | Error::NoSuchEntry(_) => C::Usage,
            Error::NotEnrolled | Error::NotProvisioned(_) => C::NotProvisioned,
            Error::Sync(_) | Error::Document { .. } | Error::Enrolment(_) => C::Network,
            // Enrolled: what the first sync met decides, as for `sync`.
            Error::FirstSyncFailed { source, .. } => source.category(),
            Error::NotLoggedIn
            | Error::WrongPin { .. }
            | Error::LockedOut { .. }
            | Error::UnknownOperator(_) => C::Operator,
            Error::LogDamaged { .. }
            | Error::BalancesDiffer(_)
            | Error::DeviceKey(_)
            | Error::PinHash(_)
            | Error::Database(_)
            | Error::Io { .. } => C::Internal,
        }
    }
}
