//! The touch screen as a finger uses it: real pointer events (press, then
//! release) at the position of each control, in every language, at 800×480
//! and 1280×800. Every control acts on the first tap; a double tap on a
//! money button never skips Confirm; an amount the rules refuse is refused
//! as it is typed, with the reason worded for what is paid.
//!
//! The selected translation is process-wide, so the tests of this binary
//! take turns (`LANGUAGE`) and each walks the four languages in order.

use crate::support;

use std::sync::Mutex;

use lastmile_shared::money::{Currency, Money};
use lastmile_terminal::gui::Screen;
use lastmile_terminal::gui::controller::CONFIRM_ARM_MS;
use lastmile_terminal::i18n::{self, Language, Text};
use slint::Model;
use support::App;

/// One test at a time: each selects translations for the whole process.
static LANGUAGE: Mutex<()> = Mutex::new(());

const SIZES: [(f32, f32); 2] = [(800.0, 480.0), (1280.0, 800.0)];

/// Two taps of a quick double tap, from the first release to the second press.
const DOUBLE_TAP_GAP_MS: u64 = 120;

/// The window's words in one language, from the same catalogues the window uses.
struct Words(Language);

impl Words {
    fn t(&self, msgid: &'static str) -> String {
        i18n::translate(self.0, msgid).to_owned()
    }

    /// A label with one `{}` placeholder, as `@tr("…{}", value)` fills it.
    fn t1(&self, msgid: &'static str, value: &str) -> String {
        self.t(msgid).replacen("{}", value, 1)
    }

    fn kes(&self, major: i64) -> String {
        i18n::money(Money::new(major * 100, kes()), self.0)
    }
}

fn kes() -> Currency {
    Currency::parse("KES").expect("KES")
}

fn each_language_and_size(mut scene: impl FnMut(&Words, f32, f32)) {
    let _turn = LANGUAGE.lock().unwrap_or_else(|e| e.into_inner());
    for language in Language::ALL {
        for (width, height) in SIZES {
            scene(&Words(language), width, height);
        }
    }
}

fn touch_digits(app: &App, digits: &str) {
    for d in digits.chars() {
        app.touch(&d.to_string());
    }
}

fn login_by_touch(app: &App, w: &Words) {
    touch_digits(app, app.demo.operator_pin);
    app.touch(&w.t("OK"));
    assert_eq!(
        app.screen(),
        Screen::Home,
        "{}",
        app.window.get_login_error()
    );
}

#[test]
fn every_control_acts_on_the_first_tap() {
    each_language_and_size(|w, width, height| {
        let at = format!("{} at {width}×{height}", w.0.code());
        let app = App::start(width, height, w.0.code());

        // The operator chooser switches with one tap, each way.
        assert_eq!(app.window.get_operators().row_count(), 2, "{at}");
        app.touch("Daniel Kiprop");
        assert_eq!(app.window.get_operator_id(), "op-2", "{at}");
        app.touch("Grace Muthoni");
        assert_eq!(app.window.get_operator_id(), "op-1", "{at}");
        login_by_touch(&app, w);

        // Home tiles and the header's Back.
        for (tile, screen) in [
            ("Settings", Screen::Settings),
            ("History", Screen::History),
            ("Sync", Screen::Sync),
        ] {
            app.touch(&w.t(tile));
            assert_eq!(app.screen(), screen, "{tile} {at}");
            app.touch(&w.t("Back"));
            assert_eq!(app.screen(), Screen::Home, "Back from {tile} {at}");
        }

        // "Sync now" on a terminal with no server: a sentence saying so.
        app.touch(&w.t("Sync"));
        app.touch(&w.t("Sync now"));
        assert_eq!(
            app.window.get_toast(),
            i18n::text(w.0, Text::SyncNoServer),
            "{at}"
        );
        app.touch(&w.t("Back"));

        // Cash: open the float on the keypad, pick a person, pay.
        app.touch(&w.t("Cash payout"));
        assert_eq!(app.screen(), Screen::CashList, "{at}");
        app.touch(&w.t("Open float"));
        assert_eq!(app.screen(), Screen::CashFloat, "{at}");
        touch_digits(&app, "10000");
        app.touch(&w.t("Open float"));
        assert_eq!(app.screen(), Screen::CashList, "{at}");
        assert!(app.window.get_cash_float().open, "{at}");
        app.touch(&format!("Joseph Otieno, {}", w.kes(2500)));
        assert_eq!(app.screen(), Screen::CashPerson, "{at}");
        let pay = w.t1("Match — pay {}", &w.kes(2500));
        assert_eq!(
            app.find(&pay).accessible_enabled(),
            Some(false),
            "not armed yet {at}"
        );
        app.wait_armed();
        app.touch(&pay);
        assert_eq!(app.screen(), Screen::Receipt, "{at}");
        app.touch(&w.t("Next customer"));
        assert_eq!(app.screen(), Screen::CashList, "{at}");
        app.touch(&w.t("Back"));
        assert_eq!(app.screen(), Screen::Home, "{at}");

        // A voucher, in part, on the keypad.
        app.touch(&w.t("Scan voucher"));
        assert_eq!(app.screen(), Screen::Scan, "{at}");
        app.window
            .set_manual_code(app.demo.vouchers.good.clone().into());
        app.touch(&w.t("Check"));
        assert_eq!(app.screen(), Screen::Verdict, "{at}");
        app.touch(&w.t("Part amount"));
        assert_eq!(app.screen(), Screen::Amount, "{at}");
        touch_digits(&app, "500");
        app.touch(&w.t("Continue"));
        assert_eq!(app.screen(), Screen::Confirm, "{at}");
        app.wait_armed();
        app.touch(&w.t("Confirm payment"));
        assert_eq!(app.screen(), Screen::Receipt, "{at}");
        let printed = app.printed.lock().unwrap().len();
        app.touch(&w.t("Reprint"));
        assert_eq!(app.printed.lock().unwrap().len(), printed + 1, "{at}");
        app.touch(&w.t("Next customer"));
        assert_eq!(app.screen(), Screen::Scan, "{at}");
        app.touch(&w.t("Back"));

        // An ID card: the entitlement's Pay, the keypad, Confirm.
        app.touch(&w.t("ID card"));
        app.window
            .set_manual_code(app.demo.id_with_entitlement.into());
        app.touch(&w.t("Check"));
        assert_eq!(app.screen(), Screen::IdRedemption, "{at}");
        app.touch(&w.t("Pay"));
        assert_eq!(app.screen(), Screen::Amount, "{at}");
        touch_digits(&app, "1000");
        app.touch(&w.t("Continue"));
        app.wait_armed();
        app.touch(&w.t("Confirm payment"));
        assert_eq!(app.screen(), Screen::Receipt, "{at}");
        assert_eq!(
            app.window.get_receipt().remaining_after,
            w.kes(2000),
            "{at}"
        );
        app.touch(&w.t("Next customer"));
        app.touch(&w.t("Back"));

        // Settings: paper, contrast, log out.
        app.touch(&w.t("Settings"));
        app.touch(&w.t1("{} mm", "80"));
        assert_eq!(app.window.get_settings().paper_mm, 80, "{at}");
        app.touch(&w.t("Off"));
        assert!(app.window.get_high_contrast(), "{at}");
        app.touch(&w.t("Log out"));
        assert_eq!(app.screen(), Screen::Login, "{at}");
    });
}

#[test]
fn a_double_tap_on_redeem_never_skips_confirm() {
    each_language_and_size(|w, width, height| {
        let at = format!("{} at {width}×{height}", w.0.code());
        let app = App::start(width, height, w.0.code());
        app.login();
        app.scan(&app.demo.vouchers.good.clone());
        let (x, y) = app.centre_of(&w.t1("Redeem {}", &w.kes(1250)));

        app.tap_at(x, y);
        assert_eq!(app.screen(), Screen::Confirm, "{at}");
        // The hazard is real: the second tap lands on the pay button.
        let confirm = app.find(&w.t("Confirm payment"));
        let (p, s) = (confirm.absolute_position(), confirm.size());
        assert!(
            (p.x..p.x + s.width).contains(&x) && (p.y..p.y + s.height).contains(&y),
            "the finger is on \"Confirm payment\" {at}"
        );
        app.wait_ms(DOUBLE_TAP_GAP_MS);
        app.tap_at(x, y);
        assert_eq!(
            app.screen(),
            Screen::Confirm,
            "the second tap paid nothing {at}"
        );
        assert_eq!(app.window.get_sync().pending_count, 0, "{at}");
        assert!(app.printed.lock().unwrap().is_empty(), "{at}");

        // Once the person has read the amount, the same place pays.
        app.wait_ms(CONFIRM_ARM_MS);
        app.tap_at(x, y);
        assert_eq!(app.screen(), Screen::Receipt, "{at}");
        assert_eq!(app.window.get_sync().pending_count, 1, "{at}");
    });
}

#[test]
fn amounts_over_the_balance_are_refused_as_they_are_typed() {
    each_language_and_size(|w, width, height| {
        let at = format!("{} at {width}×{height}", w.0.code());
        let app = App::start(width, height, w.0.code());
        app.login();

        // An ID entitlement of KES 3,000: 5,000 is refused on the keypad.
        app.scan(app.demo.id_with_entitlement);
        app.touch(&w.t("Pay"));
        assert_eq!(app.screen(), Screen::Amount, "{at}");
        touch_digits(&app, "5000");
        assert!(!app.window.get_amount_valid(), "{at}");
        let refusal = i18n::fill(
            i18n::translate(w.0, "Only {amount} is left of this entitlement."),
            &[("amount", &w.kes(3000))],
        );
        assert_eq!(app.window.get_amount_error(), refusal, "{at}");
        assert!(app.has(&refusal), "the reason is on screen {at}");
        assert_eq!(
            app.find(&w.t("Continue")).accessible_enabled(),
            Some(false),
            "{at}"
        );
        app.touch(&w.t("Continue"));
        assert_eq!(app.screen(), Screen::Amount, "Continue is off {at}");

        // Corrected to all that is left: Confirm shows nothing left, never less.
        for _ in 0..4 {
            app.touch(&w.t("Delete"));
        }
        touch_digits(&app, "3000");
        assert!(app.window.get_amount_valid(), "{at}");
        assert_eq!(app.window.get_amount_error(), "", "{at}");
        app.touch(&w.t("Continue"));
        assert_eq!(app.screen(), Screen::Confirm, "{at}");
        assert_eq!(
            app.window.get_confirmation().remaining_after,
            w.kes(0),
            "{at}"
        );

        // A voucher of KES 1,250: its own words.
        app.scan(&app.demo.vouchers.good.clone());
        app.touch(&w.t("Part amount"));
        touch_digits(&app, "1251");
        assert_eq!(
            app.window.get_amount_error(),
            i18n::fill(
                i18n::translate(w.0, "Only {amount} is left on this voucher."),
                &[("amount", &w.kes(1250))],
            ),
            "{at}"
        );
        assert!(!app.window.get_amount_valid(), "{at}");
    });
}

#[test]
fn a_payout_the_float_cannot_cover_is_never_offered() {
    each_language_and_size(|w, width, height| {
        let at = format!("{} at {width}×{height}", w.0.code());
        let app = App::start(width, height, w.0.code());
        app.login();
        app.window.invoke_navigate(Screen::CashFloat);
        touch_digits(&app, "1000");
        app.touch(&w.t("Open float"));
        assert_eq!(app.screen(), Screen::CashList, "{at}");

        app.touch(&format!("Joseph Otieno, {}", w.kes(2500)));
        app.wait_armed();
        let pay = w.t1("Match — pay {}", &w.kes(2500));
        assert_eq!(app.find(&pay).accessible_enabled(), Some(false), "{at}");
        let refusal = i18n::fill(
            i18n::translate(w.0, "Only {amount} is left in the cash float."),
            &[("amount", &w.kes(1000))],
        );
        assert_eq!(app.window.get_cash_error(), refusal, "{at}");
        assert!(app.has(&refusal), "the reason is on screen {at}");
        app.touch(&pay);
        assert_eq!(app.screen(), Screen::CashPerson, "nothing paid {at}");
        assert_eq!(app.window.get_cash_float().payouts, 0, "{at}");
    });
}
