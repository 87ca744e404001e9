//! The controller: turns the operator's taps into engine jobs, and the
//! engine's answers into what the window shows.
//!
//! It keeps the raw answers (a `VoucherCheck`, an `Identified`, a `Status`,
//! receipts …) and renders all of them again whenever anything changes, so
//! a language switch re-formats every amount and sentence at once. It holds
//! no rule: whether money moves is the engine's answer, every time.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use lastmile_hardware::escpos::PaperWidth;
use lastmile_hardware::scanner::{Framed, Framing, LineEnding, LineFramer};
use lastmile_shared::id::{EntitlementId, OperatorId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::voucher::{RedemptionMode, VoucherError};
use slint::{ComponentHandle, ModelRc, SharedPixelBuffer, SharedString, VecModel};

use super::engine::Engine;
use super::format;
use super::prefs::Prefs;
use super::printing::{PrintJob, PrintOutcome, ReceiptPrinter, receipt_lines};
use super::worker::Worker;
use super::{
    AppWindow, CashFloat, CashRow, Confirmation, Entitlement as EntitlementRow, HistoryRow,
    LanguageChoice, Person, PrintStatus, Receipt as ReceiptView, Screen, Settings, SyncStatus,
    Verdict, VerdictKind,
};
use crate::cash::{CashReport, CashSession, DistributionLine};
use crate::error::Error;
use crate::i18n::{self, Credential, Language, Text};
use crate::operator::OperatorInfo;
use crate::receipt::{
    ONLINE_CONFIRM_DEADLINE_MS, Receipt, ReceiptItem, ReceiptStatus, last_valid_day,
};
use crate::redemption::{IdEntry, IdInput, Identified, Preview, VoucherCheck, VoucherRequest};
use crate::status::{REACHABILITY_PROBE_TIMEOUT_MS, Status, server_reachable};
use crate::sync_client::SyncError;

/// Gap between two keys of one keyboard-wedge scan. Scanners type a code in
/// one burst (a few ms per key); people are much slower, so their typing
/// never completes a "scan".
pub const WEDGE_INTER_KEY_MS_MAX: u64 = 60;
/// Shortest keyboard-wedge code taken as a scan.
pub const WEDGE_CODE_CHARS_MIN: usize = 6;
/// Longest text the on-screen keyboard types (a voucher code or an ID number).
pub const MANUAL_CODE_CHARS_MAX: usize = 64;
/// Receipts shown on the history screen.
pub const HISTORY_ROWS_MAX: u64 = 50;
/// Longest amount an operator can type, in characters.
pub const AMOUNT_TEXT_CHARS_MAX: usize = 12;
/// How long a toast stays on screen.
pub const TOAST_MS: u64 = 4_000;
/// How often the status (pending count, limits) is refreshed while idle.
pub const STATUS_REFRESH_MS: u64 = 30_000;
/// How long a screen that pays money ignores its pay button after it
/// appears. A double tap on "Redeem KES X" (or on a person in the cash list)
/// lands its second tap where the pay button now is; people double-tap well
/// within 500 ms, and reading the amount takes longer than this.
pub const CONFIRM_ARM_MS: u64 = 600;
/// Shortest time between two background syncs, whatever `gui.json` says.
pub const SYNC_INTERVAL_S_MIN: u64 = 10;
/// Longest wait between background syncs after failures (the back-off's cap).
pub const SYNC_BACKOFF_S_MAX: u64 = 15 * 60;
/// How often the connection badge checks that the server answers: with the
/// probe's own timeout (`REACHABILITY_PROBE_TIMEOUT_MS`) the badge is at
/// most about 5 s behind the network.
pub const REACHABILITY_PROBE_INTERVAL_MS: u64 = 3_000;

/// How long to wait before the next background sync after `failures`
/// failures in a row: the interval, doubled per failure, at most
/// [`SYNC_BACKOFF_S_MAX`] (a long outage costs no battery or data).
pub fn sync_delay(interval_s: u64, failures: u32) -> Duration {
    let interval = interval_s.max(SYNC_INTERVAL_S_MIN);
    let factor = 1u64 << failures.min(16);
    let seconds = interval.saturating_mul(factor);
    Duration::from_secs(if failures == 0 {
        interval
    } else {
        seconds.min(SYNC_BACKOFF_S_MAX.max(interval))
    })
}

/// A message in every language, so a language switch can show it again.
/// Every sentence comes from the catalogues, through [`i18n`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Localized([String; 4]);

impl Localized {
    /// Builds the message once per language.
    pub fn with(write: impl Fn(Language) -> String) -> Localized {
        Localized(Language::ALL.map(write))
    }

    /// A sentence of the catalogues with its placeholders filled.
    pub fn text(text: Text, values: &[(&str, &str)]) -> Localized {
        Localized::with(|l| i18n::fill(i18n::text(l, text), values))
    }

    /// Text that is the same in every language (names, devices' own words).
    pub fn verbatim(text: &str) -> Localized {
        Localized::with(|_| text.to_owned())
    }

    /// The sentence for an engine error; one without a sentence of its own
    /// (an internal failure) is shown as "Something went wrong" and what to do.
    pub fn of(error: &Error) -> Localized {
        Localized::refused(error, Credential::Voucher)
    }

    /// As [`Localized::of`], worded for what was refused (a voucher, an ID
    /// entitlement or a cash payout). A failure of the machine rather than
    /// a refusal (the database, a file, the network) is said as what to do;
    /// its own words go to the log (stderr), never to the screen.
    pub fn refused(error: &Error, credential: Credential) -> Localized {
        if let Error::Sync(failure) = error {
            return Localized::sync_failure(failure);
        }
        match i18n::refusal_msgid_for(credential, error.code()) {
            Some(_) => Localized::with(|l| i18n::localized_message_for(l, error, credential)),
            None => {
                eprintln!("lastmile-terminal: {} ({})", error, error.code());
                Localized::text(Text::InternalFailure, &[])
            }
        }
    }

    /// What the operator reads when a sync fails: what to do about it.
    pub fn sync_failure(failure: &SyncError) -> Localized {
        eprintln!("lastmile-terminal: sync failed: {failure}");
        Localized::text(
            match failure {
                SyncError::Unreachable { .. } | SyncError::TimedOut { .. } => Text::SyncUnreachable,
                SyncError::Tls { .. } => Text::SyncCertificate,
                SyncError::Refused { .. } => Text::SyncRefused,
                SyncError::BadResponse(_) | SyncError::AckBeyondHead { .. } => {
                    Text::SyncAnswerUnreadable
                }
                SyncError::NoServer
                | SyncError::BadUrl(_)
                | SyncError::PlainHttp(_)
                | SyncError::CaNeedsHttps(_) => Text::SyncNoServer,
            },
            &[],
        )
    }

    /// The sentence for a refusal `code` (from a voucher check), with the
    /// amount it mentions written in each language's way.
    fn refusal(code: &str, amount: Option<Money>, currency: Currency) -> Localized {
        Localized::with(|l| {
            let amount = amount.map(|m| i18n::money(m, l)).unwrap_or_default();
            let values = [("amount", amount.as_str()), ("currency", currency.code())];
            i18n::refusal(l, code, &values)
                .unwrap_or_else(|| i18n::text(l, Text::InternalFailure).to_owned())
        })
    }

    pub fn get(&self, language: Language) -> &str {
        let index = Language::ALL.iter().position(|l| *l == language);
        &self.0[index.unwrap_or(0)]
    }
}

/// What the verdict screen shows, kept raw so it can be rendered in any language.
#[derive(Debug, Clone)]
struct VerdictModel {
    kind: VerdictKind,
    reason_code: String,
    message: Localized,
    amount: Option<Money>,
    remaining: Option<Money>,
    named_holder: bool,
    programme: String,
    credential: String,
    can_redeem: bool,
    can_redeem_part: bool,
}

/// Whether a typed text's refusal as a voucher code is the one to show:
/// the printed `V-…` reference, a code mistyped or not in the book (other
/// texts that are not codes are ID numbers).
fn is_code_refusal(error: &Error) -> bool {
    use lastmile_shared::voucher_code::VoucherCodeError;
    matches!(
        error,
        Error::VoucherCode(VoucherCodeError::Reference | VoucherCodeError::Mistyped)
            | Error::CodeNotFound(_)
    )
}

/// Which verdict colour a refusal gets: amber when the operator can put it
/// right here (sync, check the ID, come back later), red otherwise. The one
/// place that decides it: verdicts, the sync screen and the home tile all
/// take their colour from here.
pub fn refusal_kind(code: &str) -> VerdictKind {
    match code {
        "identity_check_required"
        | "unknown_key"
        | "no_offline_limit"
        | "offline_too_long"
        | "over_credential_limit"
        | "over_unsynced_value"
        | "over_unsynced_count"
        | "not_yet_valid"
        | "not_logged_in"
        | "not_provisioned"
        | "not_enrolled"
        // A typed code to type again, or one a sync may bring.
        | "code_mistyped"
        | "code_is_reference"
        | "code_not_found" => VerdictKind::Warn,
        _ => VerdictKind::Bad,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AmountFor {
    Voucher,
    Entitlement,
    Float,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanFor {
    Anything,
    /// The ID card of a voucher's named holder.
    VoucherHolder,
    /// The ID card of the person about to be paid cash.
    CashIdentity,
}

#[derive(Debug, Clone)]
enum Flow {
    Idle,
    Voucher {
        qr: String,
        check: VoucherCheck,
        amount: Option<Money>,
        /// The holder's ID card, and whether it was scanned or typed.
        id_card: Option<(String, IdEntry)>,
    },
    Entitlement {
        id_text: String,
        entry: IdEntry,
        chosen: Option<EntitlementId>,
        amount: Option<Money>,
    },
    Cash {
        /// The line about to be paid; none when the person whose ID card
        /// was scanned has nothing on the list.
        line: Option<DistributionLine>,
        id_text: String,
        entry: IdEntry,
    },
}

/// A redemption the engine is asked about before it reaches Confirm.
enum Payment {
    Voucher {
        qr: String,
        id_card: Option<(String, IdEntry)>,
    },
    Entitlement {
        id_text: String,
        entry: IdEntry,
        chosen: EntitlementId,
    },
}

impl Payment {
    fn credential(&self) -> Credential {
        match self {
            Payment::Voucher { .. } => Credential::Voucher,
            Payment::Entitlement { .. } => Credential::Entitlement,
        }
    }

    /// The engine's decision for `amount` (`None`: all that is left), writing nothing.
    fn preview(&self, engine: &mut dyn Engine, amount: Option<Money>) -> Result<Preview, Error> {
        match self {
            Payment::Voucher { qr, id_card } => engine.preview_voucher(&VoucherRequest {
                qr,
                amount,
                id_card: id_card.as_ref().map(|(text, entry)| IdInput {
                    text,
                    entry: *entry,
                }),
            }),
            Payment::Entitlement {
                id_text,
                entry,
                chosen,
            } => engine.preview_entitlement(
                IdInput {
                    text: id_text,
                    entry: *entry,
                },
                chosen,
                amount,
            ),
        }
    }
}

#[derive(Debug, Clone)]
enum PrintState {
    Idle,
    Printing,
    Done(PrintOutcome),
}

struct State {
    language: Language,
    high_contrast: bool,
    operators: Vec<OperatorInfo>,
    logged_in: Option<String>,
    login_error: Option<Localized>,
    toast: Option<Localized>,
    status: Option<Status>,
    flow: Flow,
    scan_for: ScanFor,
    verdict: Option<VerdictModel>,
    identified: Option<Identified>,
    photo: Option<Photo>,
    id_message: Option<Localized>,
    amount_for: AmountFor,
    amount_text: String,
    amount_error: Option<Localized>,
    /// The engine's answer for the amount on the keypad: what it would
    /// pay and leave, or why it is refused. Continue waits for it.
    amount_check: Option<(Money, Result<Preview, Localized>)>,
    receipt: Option<Receipt>,
    print: PrintState,
    /// The receipt on screen prints when the sync asking the server to
    /// confirm it ends (so the paper says CONFIRMED when the server is there).
    print_after_sync: bool,
    /// Whether the server answered the last probe or request; `None`
    /// before the first (the badge then goes by the last sync).
    reachable: Option<bool>,
    cash_lines: Vec<DistributionLine>,
    cash_search: String,
    cash_session: Option<CashSession>,
    cash_report: Option<CashReport>,
    cash_error: Option<Localized>,
    /// The engine's answer for the payout on the identity-check screen:
    /// the pay button is on only when it would be paid now.
    cash_check: Option<(EntitlementId, Result<Preview, Localized>)>,
    history: Vec<Receipt>,
    /// A sync is queued or running on the engine worker.
    syncing: bool,
    /// Background syncs that failed in a row (for the back-off).
    sync_failures: u32,
    /// What the last background sync left to say (failure and next try).
    sync_note: Option<Localized>,
    settings_message: Option<Localized>,
    scanner_status: Localized,
    camera: Localized,
    wedge: LineFramer,
    prefs: Prefs,
}

/// The interface's controller. Lives on the event-loop thread.
pub struct Controller {
    window: slint::Weak<AppWindow>,
    engine: Worker<dyn Engine>,
    printer: RefCell<Worker<dyn ReceiptPrinter>>,
    state: RefCell<State>,
    prefs_path: Option<PathBuf>,
    toast_timer: slint::Timer,
    status_timer: slint::Timer,
    sync_timer: slint::Timer,
    /// Arms the pay button of a screen that pays money ([`CONFIRM_ARM_MS`]).
    arm_timer: slint::Timer,
    /// Runs the reachability probes, off the engine's thread (a probe of a
    /// server that is away may take its whole timeout).
    probe: RefCell<Option<Worker<()>>>,
    probing: std::cell::Cell<bool>,
    probe_timer: slint::Timer,
}

/// Pixels of a person's photo (decoded on a worker thread).
pub type Photo = SharedPixelBuffer<slint::Rgb8Pixel>;

thread_local! {
    static CONTROLLER: RefCell<Option<Rc<Controller>>> = const { RefCell::new(None) };
}

/// Runs `f` with the controller of the event loop's thread (for device threads'
/// messages, which arrive through `slint::invoke_from_event_loop`).
pub fn with_current(f: impl FnOnce(&Rc<Controller>)) {
    with_controller(f)
}

/// Runs `f` with the controller of this (the event loop's) thread.
fn with_controller(f: impl FnOnce(&Rc<Controller>)) {
    let controller = CONTROLLER.with(|c| c.borrow().clone());
    if let Some(controller) = controller {
        f(&controller);
    }
}

fn s(text: impl AsRef<str>) -> SharedString {
    SharedString::from(text.as_ref())
}

impl Controller {
    /// Wires `window` to the engine and printer workers and shows the first screen.
    pub fn attach(
        window: &AppWindow,
        engine: Worker<dyn Engine>,
        printer: Worker<dyn ReceiptPrinter>,
        prefs: Prefs,
        prefs_path: Option<PathBuf>,
    ) -> Rc<Controller> {
        let language = Language::parse(&prefs.language).unwrap_or_default();
        let high_contrast = prefs.high_contrast;
        let controller = Rc::new(Controller {
            window: window.as_weak(),
            engine,
            printer: RefCell::new(printer),
            state: RefCell::new(State {
                language,
                high_contrast,
                operators: Vec::new(),
                logged_in: None,
                login_error: None,
                toast: None,
                status: None,
                flow: Flow::Idle,
                scan_for: ScanFor::Anything,
                verdict: None,
                identified: None,
                photo: None,
                id_message: None,
                amount_for: AmountFor::Voucher,
                amount_text: String::new(),
                amount_error: None,
                amount_check: None,
                receipt: None,
                print: PrintState::Idle,
                print_after_sync: false,
                reachable: None,
                cash_lines: Vec::new(),
                cash_search: String::new(),
                cash_session: None,
                cash_report: None,
                cash_error: None,
                cash_check: None,
                history: Vec::new(),
                syncing: false,
                sync_failures: 0,
                sync_note: None,
                settings_message: None,
                scanner_status: Localized::default(),
                camera: Localized::default(),
                wedge: LineFramer::new(Framing {
                    line_ending: LineEnding::Any,
                    inter_char_timeout: Some(Duration::from_millis(WEDGE_INTER_KEY_MS_MAX)),
                    ..Framing::default()
                }),
                prefs,
            }),
            prefs_path,
            toast_timer: slint::Timer::default(),
            status_timer: slint::Timer::default(),
            sync_timer: slint::Timer::default(),
            arm_timer: slint::Timer::default(),
            probe: RefCell::new(None),
            probing: std::cell::Cell::new(false),
            probe_timer: slint::Timer::default(),
        });
        CONTROLLER.with(|c| *c.borrow_mut() = Some(controller.clone()));
        controller.connect(window);
        window
            .set_pin_digits_max(i32::try_from(crate::operator::PIN_DIGITS_MAX).unwrap_or(i32::MAX));
        controller.apply_language();
        window.set_languages(ModelRc::new(VecModel::from(
            format::LANGUAGES
                .iter()
                .map(|(code, name)| LanguageChoice {
                    code: s(code),
                    name: s(name),
                })
                .collect::<Vec<_>>(),
        )));
        controller.start();
        controller
    }

    fn connect(self: &Rc<Self>, w: &AppWindow) {
        macro_rules! on {
            ($setter:ident, |$c:ident $(, $arg:ident)*| $body:expr) => {{
                let weak = Rc::downgrade(self);
                w.$setter(move |$($arg),*| {
                    if let Some($c) = weak.upgrade() {
                        $body
                    }
                });
            }};
        }
        on!(on_pin_entered, |c, pin| c.login(pin.to_string()));
        on!(on_logout, |c| c.logout());
        on!(on_navigate, |c, screen| c.navigate(screen));
        on!(on_back, |c| c.back());
        {
            let weak = Rc::downgrade(self);
            w.on_keyboard_text(move |text| weak.upgrade().is_some_and(|c| c.keyboard_text(&text)));
        }
        on!(on_code_typed, |c, code| c.typed(code.trim().to_owned()));
        on!(on_manual_key, |c, key| c.manual_key(&key));
        on!(on_scan_id, |c| c.scan_id());
        on!(on_redeem_all, |c| c.redeem_all());
        on!(on_redeem_part, |c| c.redeem_part());
        on!(on_amount_key, |c, key| c.amount_key(&key));
        on!(on_amount_accepted, |c| c.amount_accepted());
        on!(on_redeem_confirmed, |c| c.confirmed());
        on!(on_print_retry, |c| c.print_current());
        on!(on_reprint, |c| c.print_current());
        on!(on_receipt_done, |c| c.receipt_done());
        on!(on_entitlement_chosen, |c, id| c.entitlement_chosen(&id));
        on!(on_cash_search_edited, |c, text| c
            .cash_search(text.to_string()));
        on!(on_cash_selected, |c, id| c.cash_selected(&id));
        on!(on_cash_pay, |c, _id| c.cash_pay());
        on!(on_cash_mismatch, |c| c.cash_mismatch());
        on!(on_float_open, |c| c.float_open());
        on!(on_float_close, |c| c.float_close());
        on!(on_float_report, |c| c.float_report());
        on!(on_history_reprint, |c, id| c.history_reprint(&id));
        on!(on_sync_now, |c| c.sync_now());
        on!(on_language_chosen, |c, code| c.language_chosen(&code));
        on!(on_high_contrast_changed, |c, on| c
            .high_contrast_changed(on));
        on!(on_settings_save, |c, scanner, printer| c
            .settings_save(&scanner, &printer));
        on!(on_paper_chosen, |c, mm| c.paper_chosen(mm));
        on!(on_test_print, |c| c.test_print());
    }

    // ----- Helpers ---------------------------------------------------------------------------

    fn window(&self) -> Option<AppWindow> {
        self.window.upgrade()
    }

    fn language(&self) -> Language {
        self.state.borrow().language
    }

    fn set_screen(&self, screen: Screen) {
        if let Some(w) = self.window() {
            if w.get_screen() != screen {
                self.disarm_payment(&w, screen);
            }
            w.set_screen(screen);
        }
    }

    /// On entering a screen whose button pays money, that button stays
    /// disabled for [`CONFIRM_ARM_MS`]: the tap that opened the screen, or
    /// the second half of a double tap, never pays.
    fn disarm_payment(&self, w: &AppWindow, screen: Screen) {
        if !matches!(screen, Screen::Confirm | Screen::CashPerson) {
            self.arm_timer.stop();
            w.set_payment_armed(true);
            return;
        }
        w.set_payment_armed(false);
        let window = self.window.clone();
        self.arm_timer.start(
            slint::TimerMode::SingleShot,
            Duration::from_millis(CONFIRM_ARM_MS),
            move || {
                if let Some(w) = window.upgrade() {
                    w.set_payment_armed(true);
                }
            },
        );
    }

    fn screen(&self) -> Screen {
        self.window().map_or(Screen::Login, |w| w.get_screen())
    }

    fn set_busy(&self, busy: bool) {
        if let Some(w) = self.window() {
            w.set_busy(busy);
        }
    }

    /// Shows a short message over the bottom of the window (in the current
    /// language, and in the next one if the operator switches meanwhile).
    pub fn toast(&self, message: Localized) {
        self.state.borrow_mut().toast = Some(message);
        self.render();
        self.toast_timer.start(
            slint::TimerMode::SingleShot,
            Duration::from_millis(TOAST_MS),
            || {
                with_controller(|c| {
                    c.state.borrow_mut().toast = None;
                    c.render();
                })
            },
        );
    }

    /// Queues an engine job; `apply` runs on the event loop with its result.
    fn engine<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut (dyn Engine + 'static)) -> T + Send + 'static,
        apply: impl FnOnce(&Rc<Controller>, T) + Send + 'static,
    ) {
        self.set_busy(true);
        let queued = self.engine.run(work, move |result| {
            with_controller(|c| {
                c.set_busy(false);
                apply(c, result);
                c.render();
            })
        });
        if !queued {
            self.set_busy(false);
            self.toast(Localized::text(Text::Busy, &[]));
        }
    }

    /// Fetches the status after any change (pending count, limits, cash session).
    fn refresh_status(&self) {
        let queued = self.engine.run(
            |e| e.status(),
            |result| {
                with_controller(|c| {
                    if let Ok(status) = result {
                        let mut st = c.state.borrow_mut();
                        st.cash_session = status.cash_session.clone();
                        st.status = Some(status);
                    }
                    c.render();
                })
            },
        );
        let _ = queued;
    }

    fn start(self: &Rc<Self>) {
        self.engine(
            |e| (e.operators(), e.current_login(), e.status()),
            |c, (operators, login, status)| {
                let mut st = c.state.borrow_mut();
                st.operators = operators.unwrap_or_default();
                if let Ok(status) = status {
                    st.cash_session = status.cash_session.clone();
                    st.status = Some(status);
                }
                let first = st
                    .operators
                    .first()
                    .map(|o| o.id.to_string())
                    .unwrap_or_default();
                let login = login.ok().flatten();
                st.logged_in = login.as_ref().map(|l| l.name.clone());
                drop(st);
                if let Some(w) = c.window() {
                    w.set_operator_id(s(first));
                    w.set_screen(if login.is_some() {
                        Screen::Home
                    } else {
                        Screen::Login
                    });
                }
            },
        );
        let weak = Rc::downgrade(self);
        let interval = self.state.borrow().prefs.sync_interval_s;
        self.schedule_sync(sync_delay(interval, 0));
        self.status_timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(STATUS_REFRESH_MS),
            move || {
                if let Some(c) = weak.upgrade() {
                    c.refresh_status();
                }
            },
        );
    }

    /// Keeps the connection badge true: every
    /// [`REACHABILITY_PROBE_INTERVAL_MS`], while enrolled with a server, a
    /// probe on `probe` asks whether the server answers.
    pub fn watch_server(self: &Rc<Self>, probe: Worker<()>) {
        *self.probe.borrow_mut() = Some(probe);
        let weak = Rc::downgrade(self);
        self.probe_timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(REACHABILITY_PROBE_INTERVAL_MS),
            move || {
                if let Some(c) = weak.upgrade() {
                    c.probe_server();
                }
            },
        );
    }

    fn probe_server(&self) {
        let url = self
            .state
            .borrow()
            .status
            .as_ref()
            .and_then(|s| s.server_url.clone());
        let (Some(url), false) = (url, self.probing.get()) else {
            return;
        };
        let probe = self.probe.borrow();
        let Some(probe) = probe.as_ref() else { return };
        self.probing.set(true);
        let timeout = Duration::from_millis(REACHABILITY_PROBE_TIMEOUT_MS);
        let queued = probe.run(
            move |_| server_reachable(&url, timeout),
            |reachable| {
                with_controller(|c| {
                    c.probing.set(false);
                    c.state.borrow_mut().reachable = Some(reachable);
                    c.render();
                })
            },
        );
        if !queued {
            self.probing.set(false);
        }
    }

    // ----- Login -----------------------------------------------------------------------------

    fn login(&self, pin: String) {
        let Some(w) = self.window() else { return };
        let chosen = w.get_operator_id().to_string();
        let operator = match OperatorId::parse(&chosen) {
            Ok(id) => id,
            Err(e) => {
                self.state.borrow_mut().login_error = Some(Localized::of(&Error::Id(e)));
                self.render();
                return;
            }
        };
        self.engine(
            move |e| e.login(&operator, &pin),
            |c, result| {
                if let Some(w) = c.window() {
                    w.set_pin(SharedString::new());
                }
                let mut st = c.state.borrow_mut();
                match result {
                    Ok(login) => {
                        st.logged_in = Some(login.name);
                        st.login_error = None;
                        drop(st);
                        c.set_screen(Screen::Home);
                        c.refresh_status();
                    }
                    Err(error) => st.login_error = Some(Localized::of(&error)),
                }
            },
        );
    }

    fn logout(&self) {
        self.engine(
            |e| e.logout(),
            |c, _| {
                let mut st = c.state.borrow_mut();
                st.logged_in = None;
                st.flow = Flow::Idle;
                drop(st);
                c.set_screen(Screen::Login);
            },
        );
    }

    // ----- Navigation ------------------------------------------------------------------------

    fn navigate(&self, screen: Screen) {
        match screen {
            Screen::Scan => {
                let mut st = self.state.borrow_mut();
                st.scan_for = ScanFor::Anything;
                st.flow = Flow::Idle;
                drop(st);
                if let Some(w) = self.window() {
                    w.set_manual_code(SharedString::new());
                }
                self.set_screen(Screen::Scan);
            }
            Screen::CashList => {
                self.engine(
                    |e| (e.distribution_list(), e.cash_session()),
                    |c, (lines, session)| {
                        let mut st = c.state.borrow_mut();
                        match lines {
                            Ok(lines) => st.cash_lines = lines,
                            Err(error) => {
                                drop(st);
                                c.toast(Localized::of(&error));
                                st = c.state.borrow_mut();
                            }
                        }
                        if let Ok(session) = session {
                            st.cash_session = session;
                        }
                        st.flow = Flow::Idle;
                        drop(st);
                        c.set_screen(Screen::CashList);
                    },
                );
            }
            Screen::CashFloat => {
                let mut st = self.state.borrow_mut();
                st.amount_for = AmountFor::Float;
                st.amount_text.clear();
                st.amount_error = None;
                drop(st);
                self.set_screen(Screen::CashFloat);
            }
            Screen::History => {
                self.engine(
                    |e| {
                        let head = e.log_head_seq()?;
                        let first = head.saturating_sub(HISTORY_ROWS_MAX) + 1;
                        (first..=head)
                            .rev()
                            .map(|seq| e.receipt(Some(seq)))
                            .collect::<Result<Vec<_>, _>>()
                    },
                    |c, result| {
                        match result {
                            Ok(history) => c.state.borrow_mut().history = history,
                            Err(error) => c.toast(Localized::of(&error)),
                        }
                        c.set_screen(Screen::History);
                    },
                );
            }
            Screen::Sync => {
                self.refresh_status();
                self.set_screen(Screen::Sync);
            }
            other => self.set_screen(other),
        }
        self.render();
    }

    fn back(&self) {
        let logged_in = self.state.borrow().logged_in.is_some();
        let flow_is_entitlement = matches!(self.state.borrow().flow, Flow::Entitlement { .. });
        let amount_set = match &self.state.borrow().flow {
            Flow::Voucher { amount, .. } | Flow::Entitlement { amount, .. } => amount.is_some(),
            _ => false,
        };
        let target = match self.screen() {
            Screen::Login | Screen::Home => return,
            Screen::Verdict => Screen::Scan,
            Screen::Amount if flow_is_entitlement => Screen::IdRedemption,
            Screen::Amount => Screen::Verdict,
            Screen::Confirm if amount_set => Screen::Amount,
            Screen::Confirm if flow_is_entitlement => Screen::IdRedemption,
            Screen::Confirm => Screen::Verdict,
            Screen::IdRedemption => Screen::Scan,
            Screen::CashPerson | Screen::CashFloat => Screen::CashList,
            Screen::Settings if !logged_in => Screen::Login,
            _ => Screen::Home,
        };
        if matches!(target, Screen::Scan | Screen::CashList) {
            self.navigate(target);
        } else {
            self.set_screen(target);
            self.render();
        }
    }

    // ----- Scanning --------------------------------------------------------------------------

    /// Every key typed anywhere, for keyboard-wedge scanners. Returns true
    /// when the key ended a scan (so Enter does not also press a button).
    fn keyboard_text(&self, text: &str) -> bool {
        let mut st = self.state.borrow_mut();
        let bytes: &[u8] = match text {
            "\n" | "\r" => b"\n",
            t if t
                .chars()
                .all(|ch| !ch.is_control() && !('\u{E000}'..='\u{F8FF}').contains(&ch)) =>
            {
                t.as_bytes()
            }
            _ => {
                // Arrows, Tab, function keys: not from a scanner.
                st.wedge.clear();
                return false;
            }
        };
        let framed = st.wedge.push(bytes, Instant::now());
        drop(st);
        let code = framed.into_iter().find_map(|f| match f {
            Framed::Code(code) if code.chars().count() >= WEDGE_CODE_CHARS_MIN => Some(code),
            _ => None,
        });
        match code {
            Some(code) => {
                if let Some(w) = self.window() {
                    // The scanner also typed into the focused field; that copy is not wanted.
                    w.set_manual_code(SharedString::new());
                    w.set_cash_search(SharedString::new());
                }
                self.scanned(code);
                true
            }
            None => false,
        }
    }

    /// A code from a scanner (serial, keyboard wedge, camera).
    pub fn scanned(&self, code: String) {
        self.read_code(code, IdEntry::Scanned);
    }

    /// A code typed by hand on the scan screen: an ID number typed this way
    /// is logged as typed, not scanned.
    pub fn typed(&self, code: String) {
        self.read_code(code, IdEntry::Typed);
    }

    /// A key of the on-screen keyboard. The text is edited here, so the
    /// field and the keyboard always show one text.
    fn manual_key(&self, key: &str) {
        let Some(w) = self.window() else { return };
        let mut text = w.get_manual_code().to_string();
        match key {
            "⌫" => {
                text.pop();
            }
            "↵" => return self.typed(text.trim().to_owned()),
            k if k.chars().count() == 1 && text.chars().count() < MANUAL_CODE_CHARS_MAX => {
                text.push_str(k);
            }
            _ => return,
        }
        w.set_manual_code(text.into());
    }

    fn read_code(&self, code: String, entry: IdEntry) {
        if code.is_empty() {
            return;
        }
        let (logged_in, scan_for) = {
            let st = self.state.borrow();
            (st.logged_in.is_some(), st.scan_for)
        };
        if !logged_in {
            return;
        }
        if self.window().is_some_and(|w| w.get_busy()) {
            return;
        }
        // What a code means depends on where the operator is: on the verdict
        // of a voucher for a named person it is that person's ID card; on the
        // identity check before a cash payout, the recipient's.
        let scan_for = match self.screen() {
            Screen::Verdict
                if self
                    .state
                    .borrow()
                    .verdict
                    .as_ref()
                    .is_some_and(|v| v.reason_code == "identity_check_required") =>
            {
                ScanFor::VoucherHolder
            }
            Screen::CashPerson => ScanFor::CashIdentity,
            Screen::Scan => scan_for,
            _ => ScanFor::Anything,
        };
        match scan_for {
            ScanFor::VoucherHolder => self.holder_id_read(code, entry),
            ScanFor::CashIdentity => self.cash_id_read(code, entry),
            ScanFor::Anything => self.check_code(code, entry),
        }
    }

    fn check_code(&self, code: String, entry: IdEntry) {
        self.engine(
            move |e| {
                let checked = e.check_voucher(&code);
                match checked {
                    Err(Error::Voucher(VoucherError::NotAVoucher)) => {
                        // A typed voucher code names a voucher of the book,
                        // which is then checked exactly as if scanned.
                        let by_code = e.voucher_for_code(&code);
                        if let Ok(text) = by_code {
                            let checked = e.check_voucher(&text);
                            return (text, Some(checked), None);
                        }
                        let input = IdInput { text: &code, entry };
                        let person = e.identify(input).map(|p| {
                            let photo = p.photo.as_deref().and_then(decode_photo);
                            (p, photo)
                        });
                        match (by_code, person) {
                            // The printed reference, or a well-formed code
                            // that is mistyped or unknown, and nobody with
                            // that ID: the code's own refusal says what to do.
                            (Err(refusal), Err(_)) if is_code_refusal(&refusal) => {
                                (code, Some(Err(refusal)), None)
                            }
                            (_, person) => (code, None, Some(person)),
                        }
                    }
                    other => (code, Some(other), None),
                }
            },
            move |c, (code, voucher, person)| {
                if let Some(result) = voucher {
                    c.show_voucher(code, result);
                } else if let Some(result) = person {
                    c.show_person(code, entry, result);
                }
                c.refresh_status();
            },
        );
    }

    fn show_voucher(&self, qr: String, result: Result<VoucherCheck, Error>) {
        let mut st = self.state.borrow_mut();
        match result {
            Ok(check) => {
                let claims = &check.claims;
                let partial = claims.mode == RedemptionMode::Partial;
                let (kind, code, can) = match &check.full_redemption {
                    Ok(_) => (VerdictKind::Good, "accepted".to_owned(), true),
                    Err(code) => (refusal_kind(code), code.clone(), false),
                };
                let message = if can {
                    Localized::text(Text::GoodVoucher, &[])
                } else {
                    let amount = reason_money(&code, &check, st.status.as_ref());
                    Localized::refusal(&code, amount, claims.value.currency)
                };
                st.verdict = Some(VerdictModel {
                    kind,
                    reason_code: code,
                    message,
                    amount: check
                        .full_redemption
                        .as_ref()
                        .ok()
                        .copied()
                        .or(Some(check.remaining)),
                    remaining: Some(check.remaining),
                    named_holder: claims.beneficiary.is_some(),
                    programme: claims.programme.to_string(),
                    credential: claims.id.to_string(),
                    can_redeem: can,
                    can_redeem_part: can && partial,
                });
                st.scan_for = ScanFor::Anything;
                st.flow = Flow::Voucher {
                    qr,
                    check,
                    amount: None,
                    id_card: None,
                };
            }
            Err(error) => {
                st.verdict = Some(error_verdict(&error));
                st.flow = Flow::Idle;
                st.scan_for = ScanFor::Anything;
            }
        }
        drop(st);
        self.set_screen(Screen::Verdict);
    }

    fn show_person(
        &self,
        id_text: String,
        entry: IdEntry,
        result: Result<(Identified, Option<Photo>), Error>,
    ) {
        let mut st = self.state.borrow_mut();
        match result {
            Ok((person, photo)) => {
                st.photo = photo;
                st.id_message = None;
                st.identified = Some(person);
                st.flow = Flow::Entitlement {
                    id_text,
                    entry,
                    chosen: None,
                    amount: None,
                };
                drop(st);
                self.set_screen(Screen::IdRedemption);
            }
            Err(error) => {
                st.verdict = Some(error_verdict(&error));
                st.flow = Flow::Idle;
                drop(st);
                self.set_screen(Screen::Verdict);
            }
        }
    }

    /// The operator asked to scan the ID card that the current voucher or payout needs.
    fn scan_id(&self) {
        let purpose = match self.state.borrow().flow {
            Flow::Voucher { .. } => ScanFor::VoucherHolder,
            Flow::Cash { .. } => ScanFor::CashIdentity,
            _ => ScanFor::Anything,
        };
        self.state.borrow_mut().scan_for = purpose;
        if let Some(w) = self.window() {
            w.set_manual_code(SharedString::new());
        }
        self.set_screen(Screen::Scan);
        self.render();
    }

    fn holder_id_read(&self, code: String, entry: IdEntry) {
        let mut st = self.state.borrow_mut();
        if let Flow::Voucher { id_card, .. } = &mut st.flow {
            *id_card = Some((code, entry));
        }
        st.scan_for = ScanFor::Anything;
        drop(st);
        // The engine checks the card against the voucher when redeeming.
        self.set_screen(Screen::Confirm);
        self.render();
    }

    // ----- Redemption ------------------------------------------------------------------------

    fn redeem_all(&self) {
        let mut st = self.state.borrow_mut();
        if let Flow::Voucher { amount, .. } = &mut st.flow {
            *amount = None;
        }
        drop(st);
        self.set_screen(Screen::Confirm);
        self.render();
    }

    fn redeem_part(&self) {
        let mut st = self.state.borrow_mut();
        st.amount_for = if matches!(st.flow, Flow::Entitlement { .. }) {
            AmountFor::Entitlement
        } else {
            AmountFor::Voucher
        };
        st.amount_text.clear();
        st.amount_error = None;
        drop(st);
        self.set_screen(Screen::Amount);
        self.render();
    }

    fn amount_currency(&self) -> Option<Currency> {
        let st = self.state.borrow();
        match (&st.amount_for, &st.flow) {
            (AmountFor::Voucher, Flow::Voucher { check, .. }) => Some(check.claims.value.currency),
            (
                AmountFor::Entitlement,
                Flow::Entitlement {
                    chosen: Some(id), ..
                },
            ) => st
                .identified
                .as_ref()
                .and_then(|p| p.entitlements.iter().find(|e| &e.entitlement.id == id))
                .map(|e| e.entitlement.value.currency),
            (AmountFor::Float, _) => st
                .cash_session
                .as_ref()
                .map(|s| s.float.currency)
                .or_else(|| {
                    st.cash_lines
                        .first()
                        .map(|l| l.entitlement.entitlement.value.currency)
                })
                .or_else(|| {
                    st.status
                        .as_ref()
                        .and_then(|s| s.limits.first().map(|l| l.currency))
                }),
            _ => None,
        }
    }

    fn amount_key(&self, key: &str) {
        let exponent = self.amount_currency().map_or(2, |c| c.exponent()) as usize;
        let mut st = self.state.borrow_mut();
        st.amount_error = None;
        st.amount_check = None;
        let text = &mut st.amount_text;
        match key {
            "⌫" => {
                text.pop();
            }
            "." if exponent > 0 && !text.contains('.') && text.len() < AMOUNT_TEXT_CHARS_MAX => {
                if text.is_empty() {
                    text.push('0');
                }
                text.push('.');
            }
            d if d.len() == 1
                && d.as_bytes()[0].is_ascii_digit()
                && text.len() < AMOUNT_TEXT_CHARS_MAX =>
            {
                let decimals = text.split_once('.').map(|(_, f)| f.len());
                if decimals.is_none_or(|n| n < exponent) && !(text == "0" && d == "0") {
                    if text == "0" {
                        text.clear();
                    }
                    text.push_str(d);
                }
            }
            _ => {}
        }
        drop(st);
        self.check_amount();
        self.render();
    }

    fn typed_amount(&self) -> Option<Money> {
        let currency = self.amount_currency()?;
        let text = self.state.borrow().amount_text.clone();
        Money::parse(&text, currency).ok().filter(|m| m.minor > 0)
    }

    /// Asks the engine what the amount on the keypad would do (a voucher or
    /// an ID entitlement): the same `rules::decide` as the redemption, so an
    /// amount over the balance or an offline limit is refused as it is
    /// typed, with its reason, and never reaches Confirm. An answer for an
    /// amount no longer on the keypad is dropped.
    fn check_amount(&self) {
        let Some(amount) = self.typed_amount() else {
            return;
        };
        let st = self.state.borrow();
        let request = match (&st.amount_for, &st.flow) {
            (AmountFor::Voucher, Flow::Voucher { qr, id_card, .. }) => Payment::Voucher {
                qr: qr.clone(),
                id_card: id_card.clone(),
            },
            (
                AmountFor::Entitlement,
                Flow::Entitlement {
                    id_text,
                    entry,
                    chosen: Some(chosen),
                    ..
                },
            ) => Payment::Entitlement {
                id_text: id_text.clone(),
                entry: *entry,
                chosen: chosen.clone(),
            },
            _ => return,
        };
        drop(st);
        let credential = request.credential();
        let queued = self.engine.run(
            move |e| request.preview(e, Some(amount)),
            move |result| {
                with_controller(|c| {
                    if c.typed_amount() != Some(amount) {
                        return;
                    }
                    c.state.borrow_mut().amount_check = Some((
                        amount,
                        result.map_err(|error| Localized::refused(&error, credential)),
                    ));
                    c.render();
                })
            },
        );
        if !queued {
            self.toast(Localized::text(Text::Busy, &[]));
        }
    }

    /// The engine's accepted preview of the amount on the keypad, if that is its answer.
    fn accepted_amount(&self) -> Option<Preview> {
        let typed = self.typed_amount()?;
        match &self.state.borrow().amount_check {
            Some((amount, Ok(preview))) if *amount == typed => Some(*preview),
            _ => None,
        }
    }

    fn amount_accepted(&self) {
        let Some(preview) = self.accepted_amount() else {
            return;
        };
        let mut st = self.state.borrow_mut();
        match &mut st.flow {
            Flow::Voucher { amount: a, .. } | Flow::Entitlement { amount: a, .. } => {
                *a = Some(preview.amount)
            }
            _ => return,
        }
        drop(st);
        self.set_screen(Screen::Confirm);
        self.render();
    }

    fn entitlement_chosen(&self, id: &str) {
        let mut st = self.state.borrow_mut();
        let Ok(id) = EntitlementId::parse(id) else {
            return;
        };
        let partial = st
            .identified
            .as_ref()
            .and_then(|p| p.entitlements.iter().find(|e| e.entitlement.id == id))
            .is_some_and(|e| e.entitlement.mode == RedemptionMode::Partial);
        let Flow::Entitlement {
            chosen,
            amount,
            id_text,
            entry,
        } = &mut st.flow
        else {
            return;
        };
        *chosen = Some(id.clone());
        *amount = None;
        let request = Payment::Entitlement {
            id_text: id_text.clone(),
            entry: *entry,
            chosen: id,
        };
        drop(st);
        if partial {
            self.redeem_part();
            return;
        }
        // In full: only if the rules would pay it now; if not, the reason
        // stays on this screen and Confirm is never shown.
        self.engine(
            move |e| request.preview(e, None),
            |c, result| match result {
                Ok(_) => {
                    c.state.borrow_mut().id_message = None;
                    c.set_screen(Screen::Confirm);
                }
                Err(error) => {
                    c.state.borrow_mut().id_message =
                        Some(Localized::refused(&error, Credential::Entitlement));
                }
            },
        );
    }

    fn confirmed(&self) {
        let flow = self.state.borrow().flow.clone();
        match flow {
            Flow::Voucher {
                qr,
                amount,
                id_card,
                ..
            } => self.engine(
                move |e| {
                    let id = id_card.as_ref().map(|(text, entry)| IdInput {
                        text,
                        entry: *entry,
                    });
                    e.redeem_voucher(&VoucherRequest {
                        qr: &qr,
                        amount,
                        id_card: id,
                    })
                },
                |c, result| c.recorded(result),
            ),
            Flow::Entitlement {
                id_text,
                entry,
                chosen: Some(chosen),
                amount,
            } => self.engine(
                move |e| {
                    e.redeem_entitlement(
                        IdInput {
                            text: &id_text,
                            entry,
                        },
                        &chosen,
                        amount,
                    )
                },
                |c, result| c.recorded(result),
            ),
            _ => {}
        }
    }

    /// A redemption or payout came back from the engine.
    fn recorded(&self, result: Result<Receipt, Error>) {
        match result {
            Ok(receipt) => {
                let mut st = self.state.borrow_mut();
                st.receipt = Some(receipt);
                st.cash_error = None;
                let online = st.status.as_ref().is_some_and(|s| s.server_url.is_some());
                // With a server, the paper waits (at most the confirmation
                // deadline) for its answer, so it prints what is true then.
                st.print = if online {
                    PrintState::Printing
                } else {
                    PrintState::Idle
                };
                st.print_after_sync = online;
                drop(st);
                self.set_screen(Screen::Receipt);
                if online {
                    self.run_sync(
                        false,
                        Some(Duration::from_millis(ONLINE_CONFIRM_DEADLINE_MS)),
                    );
                } else {
                    self.print_current();
                }
                self.refresh_status();
            }
            Err(error) => {
                let amount_problem = matches!(
                    error.code(),
                    "amount_over_balance"
                        | "amount_not_positive"
                        | "partial_not_allowed"
                        | "currency_mismatch"
                );
                let screen = self.screen();
                let mut st = self.state.borrow_mut();
                let credential = match st.flow {
                    Flow::Entitlement { .. } => Credential::Entitlement,
                    Flow::Cash { .. } => Credential::CashPayout,
                    _ => Credential::Voucher,
                };
                if amount_problem
                    && matches!(
                        &st.flow,
                        Flow::Voucher {
                            amount: Some(_),
                            ..
                        } | Flow::Entitlement {
                            amount: Some(_),
                            ..
                        }
                    )
                {
                    st.amount_error = Some(Localized::refused(&error, credential));
                    drop(st);
                    self.set_screen(Screen::Amount);
                } else if screen == Screen::CashPerson {
                    st.cash_error = Some(Localized::refused(&error, credential));
                } else {
                    let mut verdict = error_verdict(&error);
                    verdict.message = Localized::refused(&error, credential);
                    st.verdict = Some(verdict);
                    drop(st);
                    self.set_screen(Screen::Verdict);
                }
                self.refresh_status();
            }
        }
    }

    // ----- Printing --------------------------------------------------------------------------

    /// Prints the receipt on screen: again after paper-out or a failure (the
    /// original: nothing came out), or as a copy marked "reprint" once a
    /// paper of it has come out of the printer.
    fn print_current(&self) {
        let receipt = {
            let mut st = self.state.borrow_mut();
            st.print_after_sync = false;
            st.receipt.clone()
        };
        if let Some(receipt) = receipt {
            self.print_receipt(receipt);
        }
    }

    /// Prints `receipt` (a copy if it printed before) in the operator's
    /// language, and records it when a paper came out.
    fn print_receipt(&self, receipt: Receipt) {
        let seq = receipt.seq;
        self.print(
            PrintJob::Receipt {
                receipt: Box::new(receipt.for_paper()),
                language: self.language(),
            },
            move |c, outcome| {
                if !outcome.came_out() {
                    return;
                }
                if let Some(r) = c
                    .state
                    .borrow_mut()
                    .receipt
                    .as_mut()
                    .filter(|r| r.seq == seq)
                {
                    r.printed = true;
                }
                c.engine.run(
                    move |e| e.receipt_printed(seq),
                    |result| {
                        if let Err(error) = result {
                            eprintln!("could not record the print of a receipt: {error}");
                        }
                    },
                );
            },
        );
    }

    /// Encodes `job` for the paper and prints it, both on the printer
    /// worker; `done` runs on the event loop with what the printer did.
    fn print(
        &self,
        job: PrintJob,
        done: impl FnOnce(&Rc<Controller>, &PrintOutcome) + Send + 'static,
    ) {
        let paper = {
            let mut st = self.state.borrow_mut();
            st.print = PrintState::Printing;
            st.prefs.paper()
        };
        self.render();
        let queued = self.printer.borrow().run(
            move |p| match job.encode(paper) {
                Ok(bytes) => p.print(&bytes),
                Err(reason) => PrintOutcome::Failed(reason),
            },
            |outcome| {
                if let PrintOutcome::Offline(detail) | PrintOutcome::Failed(detail) = &outcome {
                    eprintln!("lastmile-terminal: printer: {detail}");
                }
                with_controller(|c| {
                    done(c, &outcome);
                    c.state.borrow_mut().print = PrintState::Done(outcome);
                    c.render();
                })
            },
        );
        if !queued {
            self.state.borrow_mut().print = PrintState::Done(PrintOutcome::Failed(
                i18n::text(self.language(), Text::PrinterBusy).to_owned(),
            ));
            self.render();
        }
    }

    fn receipt_done(&self) {
        let mut st = self.state.borrow_mut();
        let cash = matches!(st.flow, Flow::Cash { .. });
        st.flow = Flow::Idle;
        st.scan_for = ScanFor::Anything;
        drop(st);
        if cash {
            self.navigate(Screen::CashList);
        } else {
            self.navigate(Screen::Scan);
        }
    }

    fn history_reprint(&self, seq: &str) {
        let Ok(seq) = seq.parse::<u64>() else { return };
        self.engine(
            move |e| e.receipt(Some(seq)),
            |c, result| match result {
                Ok(receipt) => {
                    // A copy if it printed before; a receipt that never
                    // printed (the printer was away) prints its original.
                    c.state.borrow_mut().receipt = Some(receipt.clone());
                    c.print_receipt(receipt);
                    c.set_screen(Screen::Receipt);
                }
                Err(error) => c.toast(Localized::of(&error)),
            },
        );
    }

    fn test_print(&self) {
        let lines = vec![
            "Lastmile".to_owned(),
            i18n::text(self.language(), Text::TestPrint).to_owned(),
            String::new(),
        ];
        self.print(PrintJob::Lines(lines), |c, outcome| {
            c.toast(Localized::with(|l| outcome.sentence(l)));
        });
    }

    // ----- Cash distribution -----------------------------------------------------------------

    fn cash_search(&self, text: String) {
        self.state.borrow_mut().cash_search = text;
        self.render();
    }

    fn cash_selected(&self, entitlement: &str) {
        let line = {
            let st = self.state.borrow();
            st.cash_lines
                .iter()
                .find(|l| l.entitlement.entitlement.id.as_str() == entitlement)
                .cloned()
        };
        let Some(line) = line else { return };
        let id_text = line
            .id_numbers
            .first()
            .cloned()
            .unwrap_or_else(|| line.beneficiary.to_string());
        {
            let mut st = self.state.borrow_mut();
            st.flow = Flow::Cash {
                line: Some(line),
                id_text: id_text.clone(),
                entry: IdEntry::Typed,
            };
            st.cash_error = None;
            st.identified = None;
            st.photo = None;
            st.scan_for = ScanFor::Anything;
        }
        self.set_screen(Screen::CashPerson);
        // The roster's photo, for the operator to compare with the face.
        self.engine(
            move |e| {
                let person = e.identify_for_cash(IdInput {
                    text: &id_text,
                    entry: IdEntry::Typed,
                });
                person.map(|p| {
                    let photo = p.photo.as_deref().and_then(decode_photo);
                    (p, photo)
                })
            },
            |c, result| {
                let mut st = c.state.borrow_mut();
                match result {
                    Ok((person, photo)) => {
                        st.identified = Some(person);
                        st.photo = photo;
                    }
                    Err(error) => st.cash_error = Some(Localized::of(&error)),
                }
            },
        );
        self.check_payout();
    }

    /// Asks the engine whether the payout on the identity-check screen
    /// would be paid now: the rules, and the cash left in the float. Until
    /// it says yes the pay button is off; if it says no, the reason shows.
    fn check_payout(&self) {
        let (line, id_text, entry) = {
            let mut st = self.state.borrow_mut();
            st.cash_check = None;
            match &st.flow {
                Flow::Cash {
                    line: Some(line),
                    id_text,
                    entry,
                } if !line.paid => (line.clone(), id_text.clone(), *entry),
                _ => return,
            }
        };
        let entitlement = line.entitlement.entitlement.id;
        let queued = self.engine.run(
            {
                let entitlement = entitlement.clone();
                move |e| {
                    e.preview_cash_payout(
                        IdInput {
                            text: &id_text,
                            entry,
                        },
                        &entitlement,
                    )
                }
            },
            move |result| {
                with_controller(|c| {
                    let mut st = c.state.borrow_mut();
                    let current = matches!(&st.flow, Flow::Cash { line: Some(l), .. }
                        if l.entitlement.entitlement.id == entitlement);
                    if current {
                        st.cash_check = Some((
                            entitlement,
                            result.map_err(|e| Localized::refused(&e, Credential::CashPayout)),
                        ));
                    }
                    drop(st);
                    c.render();
                })
            },
        );
        if !queued {
            self.toast(Localized::text(Text::Busy, &[]));
        }
    }

    /// The ID card of the person at the counter: the selection follows
    /// that person (their line, unpaid first), or is cleared, with the reason
    /// on screen, when the list has nothing for them. The operator never
    /// looks at one person while another's line is selected.
    fn cash_id_read(&self, code: String, entry: IdEntry) {
        let text = code.clone();
        self.engine(
            move |e| {
                e.identify_for_cash(IdInput { text: &text, entry })
                    .map(|p| {
                        let photo = p.photo.as_deref().and_then(decode_photo);
                        (p, photo)
                    })
            },
            move |c, result| {
                let mut st = c.state.borrow_mut();
                let selected = match &st.flow {
                    Flow::Cash { line, .. } => line.clone(),
                    _ => None,
                };
                let (line, identified, photo, error) = match result {
                    Ok((person, photo)) => {
                        let theirs = |l: &&DistributionLine| l.beneficiary == person.beneficiary;
                        let line = selected.filter(|l| theirs(&l)).or_else(|| {
                            let mut lines = st.cash_lines.iter().filter(theirs);
                            let first = lines.clone().next();
                            lines.find(|l| !l.paid).or(first).cloned()
                        });
                        let error = line.is_none().then(|| {
                            Localized::text(Text::NotOnDistributionList, &[("name", &person.name)])
                        });
                        (line, Some(person), photo, error)
                    }
                    // Not on this terminal's list at all.
                    Err(error) if error.code() == "person_not_found" => {
                        (None, None, None, Some(Localized::of(&error)))
                    }
                    // Not read (damaged, expired card …): the selection stays as it was.
                    Err(error) => {
                        st.cash_error = Some(Localized::of(&error));
                        drop(st);
                        c.set_screen(Screen::CashPerson);
                        return;
                    }
                };
                st.flow = Flow::Cash {
                    line,
                    id_text: code,
                    entry,
                };
                st.identified = identified;
                st.photo = photo;
                st.cash_error = error;
                drop(st);
                c.set_screen(Screen::CashPerson);
                c.check_payout();
            },
        );
    }

    fn cash_pay(&self) {
        let Flow::Cash {
            line: Some(line),
            id_text,
            entry,
        } = self.state.borrow().flow.clone()
        else {
            return;
        };
        let entitlement = line.entitlement.entitlement.id.clone();
        self.engine(
            move |e| {
                e.pay_cash(
                    IdInput {
                        text: &id_text,
                        entry,
                    },
                    &entitlement,
                )
            },
            |c, result| {
                let paid = result.is_ok();
                c.recorded(result);
                if paid {
                    // Keep the list's "paid" marks current.
                    c.engine(
                        |e| e.distribution_list(),
                        |c, lines| {
                            if let Ok(lines) = lines {
                                c.state.borrow_mut().cash_lines = lines;
                            }
                        },
                    );
                }
            },
        );
    }

    fn cash_mismatch(&self) {
        {
            let mut st = self.state.borrow_mut();
            st.flow = Flow::Idle;
            st.scan_for = ScanFor::Anything;
        }
        self.toast(Localized::text(Text::NotPaidNoMatch, &[]));
        self.navigate(Screen::CashList);
    }

    fn float_open(&self) {
        let Some(float) = self.typed_amount() else {
            return;
        };
        self.engine(
            move |e| e.open_cash_session(float),
            |c, result| match result {
                Ok(receipt) => {
                    c.print_receipt(receipt);
                    c.state.borrow_mut().amount_text.clear();
                    c.refresh_status();
                    c.navigate(Screen::CashList);
                }
                Err(error) => c.state.borrow_mut().amount_error = Some(Localized::of(&error)),
            },
        );
    }

    fn float_close(&self) {
        let Some(currency) = self.amount_currency() else {
            return;
        };
        let text = self.state.borrow().amount_text.clone();
        let Ok(counted) = Money::parse(if text.is_empty() { "0" } else { &text }, currency) else {
            return;
        };
        self.engine(
            move |e| e.close_cash_session(counted),
            |c, result| {
                let mut st = c.state.borrow_mut();
                match result {
                    Ok(report) => {
                        st.cash_session = None;
                        st.cash_report = Some(report);
                    }
                    Err(error) => st.amount_error = Some(Localized::of(&error)),
                }
                drop(st);
                c.refresh_status();
            },
        );
    }

    fn float_report(&self) {
        let (report, paper) = {
            let st = self.state.borrow();
            (st.cash_report.clone(), st.prefs.paper())
        };
        if let Some(report) = report {
            let lines = report
                .render_text(paper.columns())
                .lines()
                .map(str::to_owned)
                .collect();
            self.print(PrintJob::Lines(lines), |c, outcome| {
                c.toast(Localized::with(|l| outcome.sentence(l)));
            });
        }
    }

    // ----- Sync and settings -----------------------------------------------------------------

    /// The operator pressed "Sync now".
    fn sync_now(&self) {
        self.run_sync(true, None);
    }

    /// Starts the background syncs: every `sync_interval_s` of `gui.json`.
    fn schedule_sync(&self, after: Duration) {
        self.sync_timer
            .start(slint::TimerMode::SingleShot, after, || {
                with_controller(|c| c.background_sync())
            });
    }

    /// A sync nobody asked for (the timer): only when the terminal is
    /// enrolled with a server, and never twice at once.
    fn background_sync(&self) {
        let enrolled = self
            .state
            .borrow()
            .status
            .as_ref()
            .is_some_and(|s| s.server_url.is_some());
        if enrolled {
            self.run_sync(false, None);
        } else {
            let interval = self.state.borrow().prefs.sync_interval_s;
            self.schedule_sync(sync_delay(interval, 0));
        }
    }

    /// Queues one sync round on the engine worker (the event loop never
    /// waits for the network), then the status and the receipt on screen
    /// again: a receipt not yet printed prints what the server said. A
    /// round already running does that when it ends.
    fn run_sync(&self, asked: bool, deadline: Option<Duration>) {
        let receipt_seq = {
            let mut st = self.state.borrow_mut();
            if st.syncing {
                return;
            }
            st.syncing = true;
            st.receipt.as_ref().map(|r| r.seq)
        };
        self.render();
        let queued = self.engine.run(
            move |e| {
                let result = e.sync(deadline).map(|_| ());
                let receipt = receipt_seq.map(|seq| e.receipt(Some(seq)));
                (result, e.status(), receipt)
            },
            move |(result, status, receipt)| {
                with_controller(|c| c.synced(asked, result, status, receipt))
            },
        );
        if !queued {
            let (interval, print) = {
                let mut st = self.state.borrow_mut();
                st.syncing = false;
                (st.prefs.sync_interval_s, st.print_after_sync)
            };
            self.schedule_sync(sync_delay(interval, 0));
            if asked {
                self.toast(Localized::text(Text::Busy, &[]));
            }
            if print {
                self.print_current();
            }
        }
    }

    fn synced(
        &self,
        asked: bool,
        result: Result<(), Error>,
        status: Result<Status, Error>,
        receipt: Option<Result<Receipt, Error>>,
    ) {
        let mut st = self.state.borrow_mut();
        st.syncing = false;
        if let Ok(status) = status {
            st.cash_session = status.cash_session.clone();
            st.status = Some(status);
        }
        // The receipt on screen follows the server until it prints; from
        // then on the screen shows what the paper says (the history and the
        // sync screen show the news).
        let unprinted = !matches!(&st.print, PrintState::Done(outcome) if outcome.came_out());
        // A round queued before the redemption did not carry it: ask again.
        let covered = receipt.as_ref().is_some_and(|answer| match answer {
            Ok(r) => st.receipt.as_ref().is_some_and(|shown| shown.seq == r.seq),
            Err(_) => true,
        });
        if let Some(Ok(receipt)) = receipt
            && unprinted
            && st.receipt.as_ref().is_some_and(|r| r.seq == receipt.seq)
        {
            st.receipt = Some(receipt);
        }
        st.sync_failures = match &result {
            Ok(()) => 0,
            Err(error) => {
                // The screen says when it tries again; the log says why it failed.
                if !asked {
                    eprintln!("lastmile-terminal: background sync failed: {error}");
                }
                st.sync_failures.saturating_add(1)
            }
        };
        st.reachable = match &result {
            Ok(()) => Some(true),
            Err(Error::Sync(SyncError::Unreachable { .. } | SyncError::Tls { .. })) => Some(false),
            // Refusals and odd answers came from a server that is there.
            Err(_) => Some(true),
        };
        let print = std::mem::take(&mut st.print_after_sync);
        let next = sync_delay(st.prefs.sync_interval_s, st.sync_failures);
        st.sync_note = result.as_ref().err().map(|_| {
            // Whole minutes, rounded up: "2 min", never "0 min".
            let wait = next.as_secs().div_ceil(60) * 60;
            let wait = i64::try_from(wait).unwrap_or(i64::MAX);
            Localized::with(|l| {
                let time = i18n::duration(wait, l);
                i18n::fill(i18n::text(l, Text::SyncFailedRetry), &[("time", &time)])
            })
        });
        drop(st);
        self.schedule_sync(next);
        if asked {
            self.toast(match &result {
                Ok(()) => Localized::text(Text::SyncDone, &[]),
                Err(error) => Localized::of(error),
            });
        }
        match (print, covered) {
            (true, true) => self.print_current(),
            (true, false) => {
                self.state.borrow_mut().print_after_sync = true;
                self.run_sync(
                    false,
                    Some(Duration::from_millis(ONLINE_CONFIRM_DEADLINE_MS)),
                );
            }
            (false, _) => {}
        }
        self.render();
    }

    pub fn language_chosen(&self, code: &str) {
        let Some(language) = Language::parse(code) else {
            return;
        };
        {
            let mut st = self.state.borrow_mut();
            st.language = language;
            st.prefs.language = language.code().to_owned();
        }
        self.save_prefs();
        self.apply_language();
        self.render();
    }

    fn apply_language(&self) {
        let language = self.language();
        let code = language.code();
        // "en" selects the untranslated strings of the .slint files.
        let _ = slint::select_bundled_translation(code);
        if let Some(w) = self.window() {
            w.set_language(s(code));
            w.set_rtl(language.is_right_to_left());
        }
    }

    pub fn high_contrast_changed(&self, on: bool) {
        {
            let mut st = self.state.borrow_mut();
            st.high_contrast = on;
            st.prefs.high_contrast = on;
        }
        self.save_prefs();
        self.render();
    }

    /// The receipt paper width, 58 or 80 mm; saved at once, used from the next print.
    fn paper_chosen(&self, mm: i32) {
        let Some(mm) = u32::try_from(mm)
            .ok()
            .filter(|mm| PaperWidth::from_dots_or_mm(*mm).is_some())
        else {
            return;
        };
        self.state.borrow_mut().prefs.paper_mm = mm;
        let saved = self.save_prefs();
        self.state.borrow_mut().settings_message = Some(saved_message(saved));
        self.render();
    }

    /// Scanner port and printer. The server is not a setting: it is fixed at
    /// enrolment (the settings screen shows it).
    fn settings_save(&self, scanner: &str, printer: &str) {
        {
            let mut st = self.state.borrow_mut();
            st.prefs.scanner_port = scanner.trim().to_owned();
            st.prefs.printer = printer.trim().to_owned();
        }
        let saved = self.save_prefs();
        let printer_text = printer.trim().to_owned();
        match super::open_printer(&printer_text) {
            Ok(p) => {
                *self.printer.borrow_mut() =
                    Worker::spawn("printer", move || p).unwrap_or_else(|_| {
                        Worker::inline(
                            Box::new(super::printing::NoPrinter) as Box<dyn ReceiptPrinter>
                        )
                    });
                self.state.borrow_mut().settings_message = Some(saved_message(saved));
            }
            Err(e) => {
                self.state.borrow_mut().settings_message = Some(Localized::text(
                    Text::PrinterSettingInvalid,
                    &[("detail", &e.to_string())],
                ))
            }
        }
        self.render();
    }

    fn save_prefs(&self) -> bool {
        let prefs = self.state.borrow().prefs.clone();
        match &self.prefs_path {
            Some(path) => prefs.save(path).is_ok(),
            None => true,
        }
    }

    /// Shows what the scanner and camera threads report.
    pub fn set_device_status(&self, scanner: Option<Localized>, camera: Option<Localized>) {
        let mut st = self.state.borrow_mut();
        if let Some(text) = scanner {
            st.scanner_status = text;
        }
        if let Some(text) = camera {
            st.camera = text;
        }
        drop(st);
        self.render();
    }

    // ----- Rendering -------------------------------------------------------------------------

    /// Pushes everything the window shows from the state, in the current language.
    pub fn render(&self) {
        let Some(w) = self.window() else { return };
        let st = self.state.borrow();
        let lang = st.language;
        let money = |m: Money| i18n::money(m, lang);

        w.set_high_contrast(st.high_contrast);
        w.set_operator_name(s(st.logged_in.clone().unwrap_or_default()));
        w.set_login_error(s(st.login_error.as_ref().map_or("", |l| l.get(lang))));
        w.set_operators(ModelRc::new(VecModel::from(
            st.operators
                .iter()
                .map(|o| LanguageChoice {
                    code: s(o.id.as_str()),
                    name: s(&o.name),
                })
                .collect::<Vec<_>>(),
        )));
        let terminal = st
            .status
            .as_ref()
            .and_then(|s| s.device.as_ref().map(|d| d.to_string()))
            .unwrap_or_default();
        w.set_terminal_name(s(&terminal));
        w.set_scanner_status(s(st.scanner_status.get(lang)));
        w.set_toast(s(st.toast.as_ref().map_or("", |t| t.get(lang))));

        // Sync status and the header badge.
        if let Some(status) = &st.status {
            let mut sync = sync_view(status, lang, st.syncing, st.sync_note.as_ref());
            // The latest word on reachability (a probe every few seconds,
            // or the last request) beats the last full sync's outcome.
            if let Some(reachable) = st.reachable {
                sync.online = status.server_url.is_some() && reachable;
            }
            w.set_sync(sync);
        }

        // Verdict.
        if let Some(v) = &st.verdict {
            w.set_verdict(Verdict {
                kind: v.kind,
                reason_code: s(&v.reason_code),
                message: s(v.message.get(lang)),
                amount: s(v.amount.map(money).unwrap_or_default()),
                remaining: s(v.remaining.map(money).unwrap_or_default()),
                holder: s(if v.named_holder {
                    i18n::text(lang, Text::NamedPerson)
                } else {
                    ""
                }),
                programme: s(&v.programme),
                credential: s(&v.credential),
                can_redeem: v.can_redeem,
                can_redeem_part: v.can_redeem_part,
            });
        }

        // Amount entry (partial redemption and the cash float).
        let currency = match (&st.amount_for, &st.flow) {
            (AmountFor::Voucher, Flow::Voucher { check, .. }) => Some(check.claims.value.currency),
            _ => None,
        };
        drop(st);
        let currency = currency.or_else(|| self.amount_currency());
        let st = self.state.borrow();
        let display = match currency {
            Some(c) => i18n::number_with_code(
                if st.amount_text.is_empty() {
                    "0"
                } else {
                    &st.amount_text
                },
                c.code(),
                lang,
            ),
            None => i18n::typed_amount(&st.amount_text, lang),
        };
        w.set_amount_display(s(display));
        let typed = currency.and_then(|c| Money::parse(&st.amount_text, c).ok());
        // A voucher or entitlement amount is valid when the engine accepted
        // that very amount; a float count when it is a count.
        let (valid, refusal) = match (st.amount_for, &st.amount_check) {
            (AmountFor::Float, _) => (
                typed.is_some_and(|m| m.minor > 0 || st.cash_session.is_some()),
                None,
            ),
            (_, Some((amount, answer))) if Some(*amount) == typed => match answer {
                Ok(_) => (true, None),
                Err(reason) => (false, Some(reason)),
            },
            _ => (false, None),
        };
        w.set_amount_valid(valid);
        w.set_amount_error(s(refusal
            .or(st.amount_error.as_ref())
            .map_or("", |l| l.get(lang))));
        let maximum = match &st.flow {
            Flow::Voucher { check, .. } => Some(check.remaining),
            Flow::Entitlement {
                chosen: Some(id), ..
            } => st
                .identified
                .as_ref()
                .and_then(|p| p.entitlements.iter().find(|e| &e.entitlement.id == id))
                .map(|e| e.remaining),
            _ => None,
        };
        w.set_amount_maximum(s(maximum.map(money).unwrap_or_default()));

        // Confirmation.
        match &st.flow {
            Flow::Voucher {
                check,
                amount,
                id_card,
                ..
            } => {
                let pay = amount
                    .or(check.full_redemption.as_ref().ok().copied())
                    .unwrap_or(check.remaining);
                let after = confirmed_after(*amount, &st.amount_check, check.remaining, pay);
                w.set_confirmation(Confirmation {
                    amount: s(money(pay)),
                    remaining_after: s(money(after)),
                    holder: s(if id_card.is_some() {
                        i18n::text(lang, Text::IdCardScanned)
                    } else {
                        ""
                    }),
                    programme: s(check.claims.programme.as_str()),
                    credential: s(check.claims.id.as_str()),
                });
            }
            Flow::Entitlement {
                chosen: Some(id),
                amount,
                ..
            } => {
                if let Some((person, e)) = st.identified.as_ref().and_then(|p| {
                    p.entitlements
                        .iter()
                        .find(|e| &e.entitlement.id == id)
                        .map(|e| (p, e))
                }) {
                    let pay = amount.unwrap_or(e.remaining);
                    let after = confirmed_after(*amount, &st.amount_check, e.remaining, pay);
                    w.set_confirmation(Confirmation {
                        amount: s(money(pay)),
                        remaining_after: s(money(after)),
                        holder: s(&person.name),
                        programme: s(e.entitlement.programme.as_str()),
                        credential: s(e.entitlement.id.as_str()),
                    });
                }
            }
            _ => {}
        }

        // Receipt and printing.
        if let Some(r) = &st.receipt {
            // The printer's own words are in the log; the screen says what to do.
            let status = match &st.print {
                PrintState::Idle => PrintStatus::Idle,
                PrintState::Printing => PrintStatus::Printing,
                // A printer that cannot report (a device file, no status
                // answer) took the job: nothing better is known.
                PrintState::Done(PrintOutcome::Printed | PrintOutcome::Sent) => {
                    PrintStatus::Printed
                }
                PrintState::Done(PrintOutcome::PaperOut) => PrintStatus::PaperOut,
                PrintState::Done(PrintOutcome::Offline(_)) => PrintStatus::Offline,
                PrintState::Done(PrintOutcome::Failed(_)) => PrintStatus::Failed,
                PrintState::Done(PrintOutcome::NoPrinter) => PrintStatus::NoPrinter,
            };
            let (amount, remaining) = receipt_amounts(&r.item);
            w.set_receipt(ReceiptView {
                status,
                amount: s(amount.map(money).unwrap_or_default()),
                remaining_after: s(remaining.map(money).unwrap_or_default()),
                reference: s(format!("#{}", r.seq)),
                pending: r.status == ReceiptStatus::AcceptedOfflinePending,
                columns: i32::try_from(st.prefs.paper().columns()).unwrap_or(i32::MAX),
                lines: ModelRc::new(VecModel::from(
                    receipt_lines(r, lang, st.prefs.paper())
                        .into_iter()
                        .map(SharedString::from)
                        .collect::<Vec<_>>(),
                )),
            });
        }

        // The identified person (ID redemption and cash).
        let photo = st.photo.clone();
        let person = |name: &str, id_number: &str, detail: String| Person {
            name: s(name),
            id_number: s(id_number),
            detail: s(detail),
            photo: photo
                .clone()
                .map(slint::Image::from_rgb8)
                .unwrap_or_default(),
            has_photo: photo.is_some(),
        };
        match (&st.flow, &st.identified) {
            (Flow::Cash { line, id_text, .. }, identified) => {
                let shown = identified.as_ref();
                let name = shown
                    .map(|p| p.name.as_str())
                    .or(line.as_ref().map(|l| l.name.as_str()))
                    .unwrap_or_default();
                let detail = shown
                    .and_then(|p| p.date_of_birth.clone())
                    .unwrap_or_default();
                w.set_person(person(name, id_text, detail));
                w.set_cash_row(line.as_ref().map(|l| cash_row(l, lang)).unwrap_or_default());
            }
            (_, Some(p)) => {
                let id_text = match &st.flow {
                    Flow::Entitlement { id_text, .. } => id_text.clone(),
                    _ => String::new(),
                };
                let detail = p.date_of_birth.clone().unwrap_or_default();
                w.set_person(person(&p.name, &id_text, detail));
                let now = st.status.as_ref().map_or(0, |s| s.now);
                w.set_entitlements(ModelRc::new(VecModel::from(
                    p.entitlements
                        .iter()
                        .map(|e| EntitlementRow {
                            id: s(e.entitlement.id.as_str()),
                            programme: s(e.entitlement.programme.as_str()),
                            period: s(last_valid_day(e.entitlement.valid_until)),
                            amount: s(money(e.entitlement.value)),
                            remaining: s(money(e.remaining)),
                            status_code: s(entitlement_status(e, now)),
                            redeemable: e.remaining.minor > 0,
                        })
                        .collect::<Vec<_>>(),
                )));
                w.set_id_message(s(match &st.id_message {
                    Some(message) => message.get(lang),
                    None if p.entitlements.is_empty() => i18n::text(lang, Text::NothingToPayHere),
                    None => "",
                }));
            }
            _ => {}
        }
        let payout = match (&st.flow, &st.cash_check) {
            (Flow::Cash { line: Some(l), .. }, Some((id, answer)))
                if &l.entitlement.entitlement.id == id =>
            {
                Some(answer)
            }
            _ => None,
        };
        w.set_cash_payable(matches!(payout, Some(Ok(_))));
        let refusal = match payout {
            Some(Err(reason)) => Some(reason),
            _ => None,
        };
        w.set_cash_error(s(refusal
            .or(st.cash_error.as_ref())
            .map_or("", |l| l.get(lang))));

        // Distribution list, filtered by the search text.
        let needle = st.cash_search.trim().to_lowercase();
        w.set_cash_rows(ModelRc::new(VecModel::from(
            st.cash_lines
                .iter()
                .filter(|l| {
                    needle.is_empty()
                        || l.name.to_lowercase().contains(&needle)
                        || l.id_numbers
                            .iter()
                            .any(|n| n.to_lowercase().contains(&needle))
                })
                .map(|l| cash_row(l, lang))
                .collect::<Vec<_>>(),
        )));
        w.set_cash_float(float_view(
            st.cash_session.as_ref(),
            st.cash_report.as_ref(),
            lang,
        ));

        // History.
        let pending = st
            .history
            .iter()
            .filter(|r| r.status == ReceiptStatus::AcceptedOfflinePending)
            .count();
        w.set_history_totals(s(i18n::fill(
            i18n::text(lang, Text::HistoryTotals),
            &[
                ("entries", &st.history.len().to_string()),
                ("pending", &pending.to_string()),
            ],
        )));
        w.set_history(ModelRc::new(VecModel::from(
            st.history
                .iter()
                .map(|r| {
                    let (amount, _) = receipt_amounts(&r.item);
                    let (kind, title) = receipt_kind(&r.item, lang);
                    HistoryRow {
                        id: s(r.seq.to_string()),
                        time: s(format::time_of_day(r.at)),
                        title: s(format!("#{} · {title}", r.seq)),
                        kind_code: s(kind),
                        amount: s(amount.map(money).unwrap_or_default()),
                        confirmed: r.status == ReceiptStatus::Confirmed,
                        printed: r.printed,
                    }
                })
                .collect::<Vec<_>>(),
        )));

        // Settings.
        w.set_settings(Settings {
            server_url: s(st
                .status
                .as_ref()
                .and_then(|s| s.server_url.clone())
                .unwrap_or_default()),
            terminal_id: s(&terminal),
            scanner_port: s(&st.prefs.scanner_port),
            scanner_status: s(st.scanner_status.get(lang)),
            camera: s(st.camera.get(lang)),
            printer: s(&st.prefs.printer),
            paper_mm: i32::try_from(st.prefs.paper_mm).unwrap_or_default(),
            printer_status: s(match &st.print {
                PrintState::Done(PrintOutcome::Offline(_) | PrintOutcome::Failed(_)) => {
                    i18n::text(lang, Text::PrinterNotAnswering)
                }
                _ => "",
            }),
        });
        w.set_settings_message(s(st.settings_message.as_ref().map_or("", |m| m.get(lang))));
    }
}

// ----- Views -------------------------------------------------------------------------------------

/// What is left after paying `pay` out of `remaining`, as the Confirm
/// screen shows it: for a typed amount, the engine's own answer (an amount
/// reaches Confirm only with one); in full, nothing is left. Never negative.
fn confirmed_after(
    typed: Option<Money>,
    check: &Option<(Money, Result<Preview, Localized>)>,
    remaining: Money,
    pay: Money,
) -> Money {
    match (typed, check) {
        (Some(typed), Some((amount, Ok(preview)))) if typed == *amount => preview.remaining_after,
        _ => Money::new(
            remaining.minor.saturating_sub(pay.minor).max(0),
            remaining.currency,
        ),
    }
}

/// What the settings screen says after writing `gui.json`.
fn saved_message(saved: bool) -> Localized {
    Localized::text(
        if saved {
            Text::Saved
        } else {
            Text::SettingsNotSaved
        },
        &[],
    )
}

/// The refusal a redemption would meet now because of this offline limit, if any.
fn limit_refusal(limit: &crate::status::LimitStatus) -> Option<&'static str> {
    if limit.unsynced_value_left.minor <= 0 {
        Some("over_unsynced_value")
    } else if limit.unsynced_count_left == 0 {
        Some("over_unsynced_count")
    } else if limit.offline_seconds_left <= 0 {
        Some("offline_too_long")
    } else {
        None
    }
}

fn error_verdict(error: &Error) -> VerdictModel {
    VerdictModel {
        kind: refusal_kind(error.code()),
        reason_code: error.code().to_owned(),
        message: Localized::of(error),
        amount: None,
        remaining: None,
        named_holder: false,
        programme: String::new(),
        credential: String::new(),
        can_redeem: false,
        can_redeem_part: false,
    }
}

/// The amount a refusal's sentence mentions, from what the check and the
/// status report (the check gives only the reason's code).
fn reason_money(code: &str, check: &VoucherCheck, status: Option<&Status>) -> Option<Money> {
    let currency = check.claims.value.currency;
    let limit = status.and_then(|s| s.limits.iter().find(|l| l.currency == currency));
    match code {
        "over_credential_limit" => limit.map(|l| l.credential_value_max),
        "over_unsynced_value" => limit.map(|l| l.unsynced_value_left),
        "partial_not_allowed" => Some(check.claims.value),
        "amount_over_balance" => Some(check.remaining),
        _ => None,
    }
}

fn sync_view(
    status: &Status,
    lang: Language,
    syncing: bool,
    note: Option<&Localized>,
) -> SyncStatus {
    // The back-off's note when there is one; else the engine's last failure
    // (perhaps from the command line), in the operator's language.
    let last_error = match (note, &status.last_sync_error) {
        (Some(note), _) => note.get(lang).to_owned(),
        // The stored detail is the network's own words: the log has them.
        (None, Some(_)) => i18n::text(lang, Text::LastSyncFailed).to_owned(),
        (None, None) => String::new(),
    };
    let limit = status.limits.first();
    let reached: Vec<VerdictKind> = status
        .limits
        .iter()
        .filter_map(limit_refusal)
        .map(refusal_kind)
        .collect();
    let needs_sync = !reached.is_empty();
    let limit_kind = if reached.contains(&VerdictKind::Bad) {
        VerdictKind::Bad
    } else if needs_sync {
        VerdictKind::Warn
    } else {
        VerdictKind::Good
    };
    SyncStatus {
        online: status.server_url.is_some()
            && status.last_sync_error.is_none()
            && status.last_sync_attempt_at.is_some(),
        syncing,
        pending_count: i32::try_from(status.pending_count).unwrap_or(i32::MAX),
        pending_value: s(format::money_list(&status.pending_value, lang)),
        confirmed_count: i32::try_from(status.acknowledged_seq).unwrap_or(i32::MAX),
        limit_value_left: s(limit
            .map(|l| i18n::money(l.unsynced_value_left, lang))
            .unwrap_or_else(|| "—".into())),
        limit_count_left: limit.map_or(0, |l| {
            i32::try_from(l.unsynced_count_left).unwrap_or(i32::MAX)
        }),
        offline_time_left: s(limit
            .map(|l| i18n::duration(l.offline_seconds_left, lang))
            .unwrap_or_else(|| "—".into())),
        last_sync: s(status
            .last_sync_at
            .map(|at| format::moment(at, status.now))
            .unwrap_or_else(|| "—".into())),
        last_error: s(last_error),
        needs_sync,
        limit_kind,
    }
}

fn cash_row(line: &DistributionLine, lang: Language) -> CashRow {
    CashRow {
        id: s(line.entitlement.entitlement.id.as_str()),
        name: s(&line.name),
        id_number: s(line.id_numbers.first().cloned().unwrap_or_default()),
        amount: s(i18n::money(line.entitlement.entitlement.value, lang)),
        paid: line.paid,
    }
}

fn float_view(
    session: Option<&CashSession>,
    report: Option<&CashReport>,
    lang: Language,
) -> CashFloat {
    let money = |m: Money| s(i18n::money(m, lang));
    match (session, report) {
        // A blind count: neither what was paid out nor what should be in
        // the box is on screen before the count is entered.
        (Some(open), _) => CashFloat {
            open: true,
            opening: money(open.float),
            paid_out: SharedString::new(),
            payouts: i32::try_from(open.payouts).unwrap_or(i32::MAX),
            expected: SharedString::new(),
            counted: SharedString::new(),
            variance: SharedString::new(),
            variance_kind: VerdictKind::Good,
            closed: false,
        },
        (None, Some(r)) => CashFloat {
            open: false,
            opening: money(r.session.float),
            paid_out: money(r.paid),
            payouts: i32::try_from(r.session.payouts).unwrap_or(i32::MAX),
            expected: money(r.expected),
            counted: money(r.counted),
            variance: money(r.variance),
            variance_kind: match r.variance.minor {
                0 => VerdictKind::Good,
                v if v > 0 => VerdictKind::Warn,
                _ => VerdictKind::Bad,
            },
            closed: true,
        },
        (None, None) => CashFloat::default(),
    }
}

fn receipt_amounts(item: &ReceiptItem) -> (Option<Money>, Option<Money>) {
    match item {
        ReceiptItem::Voucher {
            amount, remaining, ..
        }
        | ReceiptItem::Entitlement {
            amount, remaining, ..
        } => (Some(*amount), Some(*remaining)),
        ReceiptItem::CashPayout { amount, .. } => (Some(*amount), None),
        ReceiptItem::CashSessionOpened { float, .. } => (Some(*float), None),
        ReceiptItem::CashSessionClosed { counted, .. } => (Some(*counted), None),
    }
}

fn receipt_kind(item: &ReceiptItem, lang: Language) -> (&'static str, String) {
    let session_text = |n: &u64| {
        i18n::fill(
            i18n::text(lang, Text::SessionNumber),
            &[("n", &n.to_string())],
        )
    };
    match item {
        ReceiptItem::Voucher { voucher, .. } => ("voucher", voucher.to_string()),
        ReceiptItem::Entitlement { entitlement, .. } => ("entitlement", entitlement.to_string()),
        ReceiptItem::CashPayout { entitlement, .. } => ("cash-payout", entitlement.to_string()),
        ReceiptItem::CashSessionOpened { session, .. } => ("float-open", session_text(session)),
        ReceiptItem::CashSessionClosed { session, .. } => ("float-close", session_text(session)),
    }
}

fn entitlement_status(e: &crate::redemption::EntitlementView, now: i64) -> &'static str {
    if e.remaining.minor <= 0 {
        "redeemed"
    } else if now >= e.entitlement.valid_until {
        "expired"
    } else if now < e.entitlement.valid_from {
        "not-yet-valid"
    } else if e.redeemed.minor > 0 {
        "partly-redeemed"
    } else {
        "available"
    }
}

/// A roster photo (JPEG or PNG bytes) as pixels for the identity check.
pub fn decode_photo(bytes: &[u8]) -> Option<Photo> {
    let image = image::load_from_memory(bytes).ok()?.to_rgb8();
    Some(SharedPixelBuffer::clone_from_slice(
        image.as_raw(),
        image.width(),
        image.height(),
    ))
}
