//! Pictures of the main screens in every language, rendered by Slint's
//! software renderer from the real window over a demo terminal.
//!
//! Ignored by default (it writes files); `scripts/gui-screenshots.sh` runs it:
//!     LASTMILE_SCREENSHOTS=docs/screenshots cargo test -p lastmile-terminal \
//!         --test terminal gui_screenshots:: -- --ignored

use crate::support;

use std::path::{Path, PathBuf};

use lastmile_terminal::gui::Screen;
use slint::Model;
use support::App;

const LANGUAGES: [&str; 4] = ["en", "fr", "sw", "ar"];

fn out_dir() -> PathBuf {
    let dir = std::env::var_os("LASTMILE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// Every scene, in order, for one language and size.
fn scenes(language: &str, width: f32, height: f32, high_contrast: bool, only: Option<&[&str]>) {
    let app = App::start(width, height, language);
    if high_contrast {
        app.controller.high_contrast_changed(true);
    }
    let dir = out_dir();
    let suffix = if high_contrast { "-contrast" } else { "" };
    let size = format!("{}x{}", width as u32, height as u32);
    let shot = |name: &str| {
        if only.is_some_and(|o| !o.contains(&name)) {
            return;
        }
        let path = dir.join(format!("{size}-{language}-{name}{suffix}.png"));
        app.snapshot(&path);
    };
    let v = app.demo.vouchers.clone();

    shot("01-login");
    app.type_digits("9999");
    app.window.invoke_pin_entered(app.window.get_pin());
    shot("01a-login-wrong-pin");
    app.type_digits("12");
    app.login_rest();
    shot("02-home");
    app.window.invoke_navigate(Screen::Scan);
    app.window.set_manual_code("LM1:".into());
    shot("03-scan");
    app.scan(&v.good);
    shot("04-verdict-good");
    app.scan(&v.named);
    shot("05-verdict-amber");
    app.scan(&v.revoked);
    shot("06-verdict-red");
    app.scan(&v.good);
    app.tap_action("redeem-part");
    app.type_digits("5000");
    shot("07a-amount-refused");
    for _ in 0..4 {
        app.window.invoke_amount_key("⌫".into());
    }
    app.type_digits("500");
    shot("07-amount");
    app.window.invoke_amount_accepted();
    app.wait_armed();
    shot("08-confirm");
    app.paper_out
        .store(true, std::sync::atomic::Ordering::SeqCst);
    app.window.invoke_redeem_confirmed();
    shot("09-receipt-paper-out");
    app.paper_out
        .store(false, std::sync::atomic::Ordering::SeqCst);
    app.window.invoke_print_retry();
    shot("10-receipt-printed");
    app.scan(app.demo.id_with_entitlement);
    shot("11-id-redemption");
    app.window.invoke_navigate(Screen::CashFloat);
    app.type_digits("20000");
    shot("12-float-open");
    app.window.invoke_float_open();
    shot("13-cash-list");
    let first = app
        .window
        .get_cash_rows()
        .row_data(1)
        .expect("a distribution line");
    app.window.invoke_cash_selected(first.id.clone());
    app.wait_armed();
    shot("14-cash-identity");
    app.window.invoke_cash_pay(first.id);
    app.window.invoke_receipt_done();
    app.window.invoke_navigate(Screen::CashFloat);
    app.type_digits("17400");
    app.window.invoke_float_close();
    shot("15-float-closed");
    app.window.invoke_navigate(Screen::History);
    shot("16-history");
    app.window.invoke_navigate(Screen::Sync);
    shot("17-sync");
    app.window.invoke_navigate(Screen::Settings);
    shot("18-settings");
}

#[test]
#[ignore = "writes pictures; run by scripts/gui-screenshots.sh"]
fn screenshots_800x480_every_language() {
    for language in LANGUAGES {
        scenes(language, 800.0, 480.0, false, None);
    }
}

#[test]
#[ignore = "writes pictures; run by scripts/gui-screenshots.sh"]
fn screenshots_1280x800_and_high_contrast() {
    let some: &[&str] = &[
        "02-home",
        "04-verdict-good",
        "06-verdict-red",
        "09-receipt-paper-out",
        "13-cash-list",
        "14-cash-identity",
        "17-sync",
    ];
    for language in ["en", "ar"] {
        scenes(language, 1280.0, 800.0, false, Some(some));
    }
    scenes(
        "en",
        800.0,
        480.0,
        true,
        Some(&[
            "04-verdict-good",
            "05-verdict-amber",
            "06-verdict-red",
            "09-receipt-paper-out",
        ]),
    );
}
