//! `lastmile-terminal`: the offline-first point-of-sale engine.
//!
//! One [`Terminal`] owns one data directory (a SQLite store and the device
//! key file) and does every job the terminal does: enrolment, voucher and
//! ID redemption, cash distribution, operators, the signed device log,
//! receipts, status and sync. The command line (`src/cli`) and the GUI are
//! thin drivers of this API.
//!
//! Architecture invariants:
//! - every redemption and payout goes through `lastmile_shared::rules::decide`;
//! - a log entry, the balances derived from it and the cash session it
//!   touches are written in one SQLite transaction, committed with
//!   `synchronous=FULL` before anything is reported as done;
//! - documents from the server (trust list, revocations, roster, policy) are
//!   only accepted through `RootSigned::open` against the enrolled root key;
//! - the engine never reads the clock itself: time comes from a [`Clock`].

pub mod cash;
pub mod clock;
pub mod device_key;
pub mod device_log;
pub mod enrolment;
pub mod error;
pub mod gui;
pub mod i18n;
pub mod operator;
pub mod receipt;
pub mod redemption;
pub mod status;
mod store;
pub mod sync_client;
pub mod terminal;
pub mod voucher_book;

pub use clock::{Clock, ManualClock, SkewedClock, SystemClock};
pub use error::{Error, ErrorCategory};
pub use terminal::Terminal;
