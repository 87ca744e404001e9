//! The engine as the interface sees it.
//!
//! The interface never calls the engine on its own thread: every call is a
//! job for the engine worker (see `worker.rs`), which owns the [`Terminal`]
//! and so its SQLite connection. One thread keeps the engine's calls in the
//! order the operator made them.

use std::time::Duration;

use lastmile_shared::id::{EntitlementId, OperatorId};
use lastmile_shared::money::Money;

use crate::Terminal;
use crate::cash::{CashReport, CashSession, DistributionLine};
use crate::error::Error;
use crate::operator::{Login, OperatorInfo};
use crate::receipt::Receipt;
use crate::redemption::{IdInput, Identified, Preview, VoucherCheck, VoucherRequest};
use crate::status::Status;
use crate::sync_client::SyncReport;

/// What the interface asks of the engine: a subset of [`Terminal`]'s API.
/// It is a trait so that a test can count calls or inject a failure; the
/// application uses `Terminal` itself.
pub trait Engine: Send {
    fn operators(&self) -> Result<Vec<OperatorInfo>, Error>;
    fn login(&mut self, id: &OperatorId, pin: &str) -> Result<Login, Error>;
    fn logout(&mut self) -> Result<(), Error>;
    fn current_login(&self) -> Result<Option<Login>, Error>;
    fn status(&self) -> Result<Status, Error>;
    fn check_voucher(&mut self, qr: &str) -> Result<VoucherCheck, Error>;
    /// The voucher text a typed voucher code names (the voucher book).
    fn voucher_for_code(&self, typed: &str) -> Result<String, Error>;
    fn redeem_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Receipt, Error>;
    /// What `redeem_voucher` would decide now; the keypad asks as each key is typed.
    fn preview_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Preview, Error>;
    fn identify(&mut self, id: IdInput<'_>) -> Result<Identified, Error>;
    fn redeem_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Receipt, Error>;
    fn preview_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Preview, Error>;
    fn distribution_list(&mut self) -> Result<Vec<DistributionLine>, Error>;
    fn identify_for_cash(&mut self, id: IdInput<'_>) -> Result<Identified, Error>;
    fn pay_cash(&mut self, id: IdInput<'_>, entitlement: &EntitlementId) -> Result<Receipt, Error>;
    fn preview_cash_payout(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
    ) -> Result<Preview, Error>;
    fn cash_session(&self) -> Result<Option<CashSession>, Error>;
    fn open_cash_session(&mut self, float: Money) -> Result<Receipt, Error>;
    fn close_cash_session(&mut self, counted: Money) -> Result<CashReport, Error>;
    fn receipt(&self, seq: Option<u64>) -> Result<Receipt, Error>;
    /// Records that a paper of receipt `seq` came out of the printer.
    fn receipt_printed(&mut self, seq: u64) -> Result<(), Error>;
    fn log_head_seq(&self) -> Result<u64, Error>;
    /// One sync round; with a deadline, each request gets at most that long
    /// and one attempt (a receipt waiting to print).
    fn sync(&mut self, deadline: Option<Duration>) -> Result<SyncReport, Error>;
}

impl Engine for Terminal {
    fn operators(&self) -> Result<Vec<OperatorInfo>, Error> {
        Terminal::operators(self)
    }
    fn login(&mut self, id: &OperatorId, pin: &str) -> Result<Login, Error> {
        Terminal::login(self, id, pin)
    }
    fn logout(&mut self) -> Result<(), Error> {
        Terminal::logout(self)
    }
    fn current_login(&self) -> Result<Option<Login>, Error> {
        Terminal::current_login(self)
    }
    fn status(&self) -> Result<Status, Error> {
        Terminal::status(self)
    }
    fn check_voucher(&mut self, qr: &str) -> Result<VoucherCheck, Error> {
        Terminal::check_voucher(self, qr)
    }
    fn voucher_for_code(&self, typed: &str) -> Result<String, Error> {
        Terminal::voucher_for_code(self, typed)
    }
    fn redeem_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Receipt, Error> {
        Terminal::redeem_voucher(self, request)
    }
    fn preview_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Preview, Error> {
        Terminal::preview_voucher(self, request)
    }
    fn identify(&mut self, id: IdInput<'_>) -> Result<Identified, Error> {
        Terminal::identify(self, id)
    }
    fn redeem_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Receipt, Error> {
        Terminal::redeem_entitlement(self, id, entitlement, amount)
    }
    fn preview_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Preview, Error> {
        Terminal::preview_entitlement(self, id, entitlement, amount)
    }
    fn distribution_list(&mut self) -> Result<Vec<DistributionLine>, Error> {
        Terminal::distribution_list(self)
    }
    fn identify_for_cash(&mut self, id: IdInput<'_>) -> Result<Identified, Error> {
        Terminal::identify_for_cash(self, id)
    }
    fn pay_cash(&mut self, id: IdInput<'_>, entitlement: &EntitlementId) -> Result<Receipt, Error> {
        Terminal::pay_cash(self, id, entitlement)
    }
    fn preview_cash_payout(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
    ) -> Result<Preview, Error> {
        Terminal::preview_cash_payout(self, id, entitlement)
    }
    fn cash_session(&self) -> Result<Option<CashSession>, Error> {
        Terminal::cash_session(self)
    }
    fn open_cash_session(&mut self, float: Money) -> Result<Receipt, Error> {
        Terminal::open_cash_session(self, float)
    }
    fn close_cash_session(&mut self, counted: Money) -> Result<CashReport, Error> {
        Terminal::close_cash_session(self, counted)
    }
    fn receipt(&self, seq: Option<u64>) -> Result<Receipt, Error> {
        Terminal::receipt(self, seq)
    }
    fn receipt_printed(&mut self, seq: u64) -> Result<(), Error> {
        Terminal::receipt_printed(self, seq)
    }
    fn log_head_seq(&self) -> Result<u64, Error> {
        Terminal::log_head_seq(self)
    }
    fn sync(&mut self, deadline: Option<Duration>) -> Result<SyncReport, Error> {
        Terminal::sync_within(self, deadline)
    }
}
