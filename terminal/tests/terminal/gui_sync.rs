//! Background sync in the touch interface: with a server, a redemption asks
//! the server before its receipt prints (so an online sale prints
//! CONFIRMED), the terminal then syncs every `sync_interval_s` and backs off
//! while the server is away; the receipt on screen says what the paper says,
//! and the history and the sync screen go from "pending" to "confirmed"
//! with nobody pressing "Sync now". The connection badge follows a real
//! socket within seconds.
//!
//! The server is a stand-in behind the `Engine` trait: the demo terminal's
//! own answers, with the server's acknowledgement applied on top.

use crate::support;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use lastmile_shared::id::{EntitlementId, OperatorId};
use lastmile_shared::money::Money;
use lastmile_terminal::Terminal;
use lastmile_terminal::cash::{CashReport, CashSession, DistributionLine};
use lastmile_terminal::error::Error;
use lastmile_terminal::gui::controller::{REACHABILITY_PROBE_INTERVAL_MS, sync_delay};
use lastmile_terminal::gui::engine::Engine;
use lastmile_terminal::gui::prefs::SYNC_INTERVAL_S_DEFAULT;
use lastmile_terminal::gui::worker::Worker;
use lastmile_terminal::gui::{PrintStatus, Screen};
use lastmile_terminal::operator::{Login, OperatorInfo};
use lastmile_terminal::receipt::{Receipt, ReceiptStatus};
use lastmile_terminal::redemption::{IdInput, Identified, Preview, VoucherCheck, VoucherRequest};
use lastmile_terminal::status::Status;
use lastmile_terminal::sync_client::{SyncError, SyncReport};
use slint::Model;
use support::App;

const SERVER: &str = "https://lastmile.example";

/// The demo terminal, enrolled with a server that can be switched off.
struct StandInServer {
    terminal: Terminal,
    url: String,
    up: Arc<AtomicBool>,
    syncs: Arc<AtomicU32>,
    acknowledged: u64,
    last_sync_at: Option<i64>,
}

impl Engine for StandInServer {
    fn operators(&self) -> Result<Vec<OperatorInfo>, Error> {
        self.terminal.operators()
    }
    fn login(&mut self, id: &OperatorId, pin: &str) -> Result<Login, Error> {
        self.terminal.login(id, pin)
    }
    fn logout(&mut self) -> Result<(), Error> {
        self.terminal.logout()
    }
    fn current_login(&self) -> Result<Option<Login>, Error> {
        self.terminal.current_login()
    }
    fn status(&self) -> Result<Status, Error> {
        let mut status = self.terminal.status()?;
        status.server_url = Some(self.url.clone());
        status.last_sync_at = self.last_sync_at;
        if self.acknowledged >= status.log_entries {
            status.acknowledged_seq = self.acknowledged;
            status.pending_count = 0;
            status.pending_value.clear();
        }
        Ok(status)
    }
    fn check_voucher(&mut self, qr: &str) -> Result<VoucherCheck, Error> {
        self.terminal.check_voucher(qr)
    }
    fn voucher_for_code(&self, typed: &str) -> Result<String, Error> {
        self.terminal.voucher_for_code(typed)
    }
    fn redeem_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Receipt, Error> {
        self.terminal.redeem_voucher(request)
    }
    fn preview_voucher(&mut self, request: &VoucherRequest<'_>) -> Result<Preview, Error> {
        self.terminal.preview_voucher(request)
    }
    fn identify(&mut self, id: IdInput<'_>) -> Result<Identified, Error> {
        self.terminal.identify(id)
    }
    fn redeem_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Receipt, Error> {
        self.terminal.redeem_entitlement(id, entitlement, amount)
    }
    fn preview_entitlement(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
        amount: Option<Money>,
    ) -> Result<Preview, Error> {
        self.terminal.preview_entitlement(id, entitlement, amount)
    }
    fn distribution_list(&mut self) -> Result<Vec<DistributionLine>, Error> {
        self.terminal.distribution_list()
    }
    fn identify_for_cash(&mut self, id: IdInput<'_>) -> Result<Identified, Error> {
        self.terminal.identify_for_cash(id)
    }
    fn pay_cash(&mut self, id: IdInput<'_>, entitlement: &EntitlementId) -> Result<Receipt, Error> {
        self.terminal.pay_cash(id, entitlement)
    }
    fn preview_cash_payout(
        &mut self,
        id: IdInput<'_>,
        entitlement: &EntitlementId,
    ) -> Result<Preview, Error> {
        self.terminal.preview_cash_payout(id, entitlement)
    }
    fn cash_session(&self) -> Result<Option<CashSession>, Error> {
        self.terminal.cash_session()
    }
    fn open_cash_session(&mut self, float: Money) -> Result<Receipt, Error> {
        self.terminal.open_cash_session(float)
    }
    fn close_cash_session(&mut self, counted: Money) -> Result<CashReport, Error> {
        self.terminal.close_cash_session(counted)
    }
    fn receipt(&self, seq: Option<u64>) -> Result<Receipt, Error> {
        let mut receipt = self.terminal.receipt(seq)?;
        if receipt.seq <= self.acknowledged {
            receipt.status = ReceiptStatus::Confirmed;
        }
        Ok(receipt)
    }
    fn receipt_printed(&mut self, seq: u64) -> Result<(), Error> {
        self.terminal.receipt_printed(seq)
    }
    fn log_head_seq(&self) -> Result<u64, Error> {
        self.terminal.log_head_seq()
    }
    fn sync(&mut self, _deadline: Option<Duration>) -> Result<SyncReport, Error> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        if !self.up.load(Ordering::SeqCst) {
            return Err(Error::Sync(SyncError::Unreachable {
                url: self.url.clone(),
                reason: "connection refused".to_owned(),
            }));
        }
        let head = self.terminal.log_head_seq()?;
        let newly_confirmed = head - self.acknowledged;
        self.acknowledged = head;
        self.last_sync_at = Some(self.terminal.status()?.now);
        Ok(SyncReport {
            uploaded: newly_confirmed,
            acknowledged_seq: head,
            newly_confirmed,
            ..SyncReport::default()
        })
    }
}

/// Lets `by` pass on the testing backend's mocked clock, firing Slint's timers.
fn advance(by: Duration) {
    i_slint_backend_testing::mock_elapsed_time(by);
}

/// The demo terminal behind a stand-in server at `url`, up or not.
fn start(url: &str, up: bool) -> (App, Arc<AtomicBool>, Arc<AtomicU32>) {
    let up = Arc::new(AtomicBool::new(up));
    let syncs = Arc::new(AtomicU32::new(0));
    let (server_up, sync_count, url) = (up.clone(), syncs.clone(), url.to_owned());
    let app = App::start_with(800.0, 480.0, "en", move |terminal| {
        Box::new(StandInServer {
            terminal,
            url,
            up: server_up,
            syncs: sync_count,
            acknowledged: 0,
            last_sync_at: None,
        })
    });
    (app, up, syncs)
}

/// The text of the newest paper the simulated printer printed.
fn last_paper(app: &App) -> String {
    let printed = app.printed.lock().unwrap();
    String::from_utf8_lossy(printed.last().expect("something printed")).into_owned()
}

#[test]
fn an_online_sale_prints_confirmed_and_the_screen_says_the_same() {
    let (app, _up, syncs) = start(SERVER, true);
    app.login();
    app.scan(&app.demo.vouchers.good.clone());
    app.tap("Redeem KES 1,250.00");
    app.confirm_payment();
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(syncs.load(Ordering::SeqCst), 1, "asked before printing");
    let paper = last_paper(&app);
    assert!(paper.contains("CONFIRMED"), "{paper}");
    assert!(!paper.contains("PENDING"), "{paper}");
    let receipt = app.window.get_receipt();
    assert_eq!(receipt.status, PrintStatus::Printed);
    assert!(!receipt.pending);
    assert!(receipt.lines.iter().any(|l| l.trim() == "CONFIRMED"));
}

#[test]
fn pending_turns_confirmed_without_pressing_sync() {
    let (app, up, syncs) = start(SERVER, false);
    app.login();
    assert_eq!(syncs.load(Ordering::SeqCst), 0, "nothing to do yet");

    // A redemption while the server is away: recorded, asked, printed pending.
    app.scan(&app.demo.vouchers.good.clone());
    app.tap("Redeem KES 1,250.00");
    app.confirm_payment();
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(app.window.get_receipt().status, PrintStatus::Printed);
    assert_eq!(
        syncs.load(Ordering::SeqCst),
        1,
        "the server is asked before the receipt prints"
    );
    assert!(app.window.get_receipt().pending);
    assert!(last_paper(&app).contains("ACCEPTED OFFLINE"));
    let sync = app.window.get_sync();
    assert_eq!(sync.pending_count, 1);
    assert!(!sync.syncing);
    assert_eq!(
        sync.last_error, "Sync failed. Next try in 2 min.",
        "the back-off says when it tries again"
    );

    // The server comes back; the first interval passes without a retry
    // (backing off), the doubled one brings the confirmation.
    up.store(true, Ordering::SeqCst);
    let interval = Duration::from_secs(SYNC_INTERVAL_S_DEFAULT);
    assert_eq!(sync_delay(SYNC_INTERVAL_S_DEFAULT, 1), interval * 2);
    advance(interval);
    assert_eq!(syncs.load(Ordering::SeqCst), 1, "still backing off");
    assert!(app.window.get_receipt().pending);
    advance(interval);
    assert_eq!(syncs.load(Ordering::SeqCst), 2);

    // The paper the customer holds says pending, and so does its screen;
    // the history and the sync screen carry the news.
    let receipt = app.window.get_receipt();
    assert!(receipt.pending, "the screen says what the paper says");
    assert!(receipt.lines.iter().any(|l| l.contains("ACCEPTED OFFLINE")));
    let sync = app.window.get_sync();
    assert_eq!(sync.pending_count, 0);
    assert_eq!(sync.last_error, "");
    assert_ne!(sync.last_sync, "—");
    app.window.invoke_navigate(Screen::Sync);
    assert!(app.has("All confirmed by the server"));
    app.window.invoke_navigate(Screen::History);
    assert!(app.window.get_history().iter().all(|row| row.confirmed));

    // And then every interval, on its own.
    advance(interval);
    assert_eq!(syncs.load(Ordering::SeqCst), 3);
}

#[test]
fn back_off_doubles_up_to_its_cap() {
    assert_eq!(sync_delay(60, 0), Duration::from_secs(60));
    assert_eq!(sync_delay(60, 3), Duration::from_secs(480));
    assert_eq!(sync_delay(60, 10), Duration::from_secs(15 * 60));
    assert_eq!(sync_delay(1, 0), Duration::from_secs(10), "at least 10 s");
    assert_eq!(sync_delay(3600, 2), Duration::from_secs(3600));
}

#[test]
fn the_badge_follows_the_server_within_seconds() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (app, _up, _syncs) = start(&url, true);
    app.controller.watch_server(Worker::inline(Box::new(())));
    app.login();
    let probe = Duration::from_millis(REACHABILITY_PROBE_INTERVAL_MS);
    advance(probe);
    assert!(app.window.get_sync().online, "the server's port answers");
    drop(listener);
    advance(probe);
    assert!(
        !app.window.get_sync().online,
        "offline at the next probe, {REACHABILITY_PROBE_INTERVAL_MS} ms after the server went away"
    );
    let back = TcpListener::bind(url.trim_start_matches("http://")).unwrap();
    advance(probe);
    assert!(app.window.get_sync().online, "and online again");
    drop(back);
}
