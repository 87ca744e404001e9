//! The on-screen keyboard and keyboard-wedge scans on the scan screen,
//! through the real `.slint` components (Slint's testing backend) over the
//! demo terminal, whose voucher book holds the demo vouchers.

use crate::support;

use lastmile_shared::voucher_code::VoucherCode;
use lastmile_terminal::gui::{Screen, VerdictKind};
use slint::ComponentHandle;
use slint::platform::WindowEvent;
use support::App;

/// Taps each character of `text` on the on-screen keyboard.
fn type_on_keyboard(app: &App, text: &str) {
    for ch in text.chars() {
        app.tap(&ch.to_string());
    }
}

#[test]
fn a_voucher_code_typed_on_the_keyboard_is_checked_as_a_scan_would_be() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.window.invoke_navigate(Screen::Scan);
    assert!(!app.has("Q"), "the keyboard opens only when asked for");
    app.tap("Keyboard");
    assert!(app.has("Hide keyboard"));

    let code = VoucherCode::of_voucher(&app.demo.vouchers.good).to_string();
    // A slip of the finger, taken back with the delete key.
    type_on_keyboard(&app, &code[..5]);
    app.tap("W");
    app.tap("Delete");
    type_on_keyboard(&app, &code[5..]);
    assert_eq!(app.window.get_manual_code(), code.as_str());
    app.tap("Check");
    assert_eq!(app.screen(), Screen::Verdict);
    let verdict = app.window.get_verdict();
    assert_eq!(verdict.kind, VerdictKind::Good, "{}", verdict.reason_code);
    assert_eq!(verdict.amount, "KES 1,250.00");

    // Redeemed by code under the same rules: the revoked voucher's code is
    // refused for being revoked.
    app.window.invoke_navigate(Screen::Scan);
    // The keyboard stays open for the next code, as the operator left it.
    assert!(app.has("Hide keyboard"));
    let revoked = VoucherCode::of_voucher(&app.demo.vouchers.revoked).to_string();
    type_on_keyboard(&app, &revoked);
    app.tap("Check");
    assert_eq!(app.window.get_verdict().kind, VerdictKind::Bad);
    assert_eq!(app.window.get_verdict().reason_code, "revoked");
}

#[test]
fn a_typo_or_the_printed_reference_says_what_to_type_instead() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    let mut code: Vec<char> = VoucherCode::of_voucher(&app.demo.vouchers.single_use)
        .as_str()
        .chars()
        .collect();
    let wrong = if code[3] == 'A' { 'B' } else { 'A' };
    code[3] = wrong;
    app.scan(&code.into_iter().collect::<String>());
    assert_eq!(app.window.get_verdict().reason_code, "code_mistyped");
    assert!(app.has("The code was mistyped. Check it and type it again."));

    app.scan("V-1002");
    assert_eq!(app.window.get_verdict().reason_code, "code_is_reference");
    // An ID number is still an ID number.
    app.scan(app.demo.id_with_entitlement);
    assert_eq!(app.screen(), Screen::IdRedemption);
}

/// Types `text` as a keyboard-wedge scanner does: one burst of key presses,
/// then Enter, into whatever has the focus.
fn wedge(app: &App, text: &str) {
    let window = app.window.window();
    for ch in text.chars().chain(['\n']) {
        window.dispatch_event(WindowEvent::KeyPressed { text: ch.into() });
        window.dispatch_event(WindowEvent::KeyReleased { text: ch.into() });
    }
}

#[test]
fn a_wedge_scan_is_not_lost_when_the_field_loses_the_focus() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.window.invoke_navigate(Screen::Scan);
    app.tap("Keyboard");
    // Tab moves the focus from the text field to the next control.
    let window = app.window.window();
    window.dispatch_event(WindowEvent::KeyPressed { text: "\t".into() });
    window.dispatch_event(WindowEvent::KeyReleased { text: "\t".into() });
    wedge(&app, &app.demo.vouchers.single_use.clone());
    assert_eq!(app.screen(), Screen::Verdict);
    assert_eq!(app.window.get_verdict().amount, "KES 500.00");
    assert_eq!(
        app.window.get_manual_code(),
        "",
        "the scanner's copy in the field is dropped"
    );
}
