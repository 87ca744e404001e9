//! The touch interface, driven through its real `.slint` components
//! (Slint's testing backend) over a real engine and store: redemption,
//! rejection, partial redemption, paper-out and reprint, ID redemption,
//! and a cash payout with float open and close.

use crate::support;

use std::sync::Arc;

use lastmile_hardware::emulator::infer_paper_width;
use lastmile_hardware::escpos::PaperWidth;
use lastmile_shared::device_log::{IdentityCheck, LogEvent};
use lastmile_terminal::Terminal;
use lastmile_terminal::gui::controller::refusal_kind;
use lastmile_terminal::gui::{PrintStatus, Screen, VerdictKind};
use lastmile_terminal::i18n;
use slint::Model;
use support::App;

#[test]
fn full_redemption_records_prints_and_shows_pending() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.scan(&app.demo.vouchers.good.clone());
    assert_eq!(app.screen(), Screen::Verdict);
    let verdict = app.window.get_verdict();
    assert_eq!(verdict.kind, VerdictKind::Good);
    assert_eq!(verdict.amount, "KES 1,250.00");
    assert!(verdict.can_redeem && verdict.can_redeem_part);
    assert!(
        app.has("Good voucher. You can redeem it."),
        "the reason is shown in plain words"
    );

    app.tap("Redeem KES 1,250.00");
    assert_eq!(app.screen(), Screen::Confirm);
    assert_eq!(app.window.get_confirmation().amount, "KES 1,250.00");
    assert_eq!(app.window.get_confirmation().remaining_after, "KES 0.00");
    app.confirm_payment();

    assert_eq!(app.screen(), Screen::Receipt);
    let receipt = app.window.get_receipt();
    assert_eq!(receipt.status, PrintStatus::Printed);
    assert!(
        receipt.pending,
        "accepted offline: pending until a sync confirms it"
    );
    assert_eq!(app.printed.lock().unwrap().len(), 1);
    assert_eq!(app.window.get_sync().pending_count, 1);

    // The same voucher again: fully used now, refused in red.
    app.tap("Next customer");
    app.scan(&app.demo.vouchers.good.clone());
    let verdict = app.window.get_verdict();
    assert_eq!(verdict.kind, VerdictKind::Bad);
    assert_eq!(verdict.reason_code, "already_redeemed");
    assert!(app.has("This voucher has already been used in full."));
}

#[test]
fn rejections_are_red_or_amber_with_the_reason_in_plain_words() {
    let app = App::start(800.0, 480.0, "en");
    app.login();

    app.scan(&app.demo.vouchers.revoked.clone());
    let verdict = app.window.get_verdict();
    assert_eq!(
        (verdict.kind, verdict.reason_code.as_str()),
        (VerdictKind::Bad, "revoked")
    );
    assert!(!verdict.can_redeem);
    assert!(app.has("This voucher was cancelled by the programme. Do not accept it."));

    app.scan(&app.demo.vouchers.expired.clone());
    let v = app.window.get_verdict();
    assert_eq!(v.kind, VerdictKind::Bad, "{} {}", v.reason_code, v.message);

    app.scan(&app.demo.vouchers.other_shop.clone());
    assert_eq!(app.window.get_verdict().reason_code, "wrong_merchant");

    // A voucher for a named person is amber: scan their ID card first.
    app.scan(&app.demo.vouchers.named.clone());
    let verdict = app.window.get_verdict();
    assert_eq!(
        (verdict.kind, verdict.reason_code.as_str()),
        (VerdictKind::Warn, "identity_check_required")
    );
    // Scanning her ID card right there (any scanner) lets the engine check the binding.
    app.tap("Scan their ID card");
    app.scan_here(app.demo.id_with_entitlement);
    assert_eq!(app.screen(), Screen::Confirm);
    app.confirm_payment();
    assert_eq!(
        app.screen(),
        Screen::Receipt,
        "{:?}",
        app.window.get_verdict()
    );
    assert_eq!(app.window.get_receipt().amount, "KES 800.00");
    app.tap("Next customer");

    // A forged code: red, with the engine's own message, and nothing recorded.
    app.scan(&app.demo.vouchers.forged.clone());
    let v = app.window.get_verdict();
    assert_eq!(v.kind, VerdictKind::Bad, "{} {}", v.reason_code, v.message);
    assert!(!v.message.is_empty());
    assert_eq!(
        app.window.get_sync().pending_count,
        1,
        "only the named voucher was recorded"
    );

    // "Scan again" goes back to scanning.
    app.tap("Scan again");
    assert_eq!(app.screen(), Screen::Scan);
}

#[test]
fn partial_redemption_then_paper_out_retry_and_balance() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.scan(&app.demo.vouchers.good.clone());
    app.tap("Part amount");
    assert_eq!(app.screen(), Screen::Amount);
    assert!(!app.window.get_amount_valid());
    app.type_digits("500");
    assert_eq!(app.window.get_amount_display(), "KES 500");
    assert!(app.window.get_amount_valid());
    app.tap("Continue");

    assert_eq!(app.screen(), Screen::Confirm);
    assert_eq!(app.window.get_confirmation().amount, "KES 500.00");
    assert_eq!(app.window.get_confirmation().remaining_after, "KES 750.00");

    app.paper_out
        .store(true, std::sync::atomic::Ordering::SeqCst);
    app.confirm_payment();
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(app.window.get_receipt().status, PrintStatus::PaperOut);
    assert!(app.has("PAPER OUT"));
    assert_eq!(
        app.window.get_sync().pending_count,
        1,
        "the payment is saved even without paper"
    );

    app.paper_out
        .store(false, std::sync::atomic::Ordering::SeqCst);
    app.tap("Retry");
    assert_eq!(app.window.get_receipt().status, PrintStatus::Printed);
    let paper = |n: usize| String::from_utf8_lossy(&app.printed.lock().unwrap()[n]).into_owned();
    assert!(
        !paper(0).contains("COPY"),
        "the first paper after the outage is the original"
    );
    app.tap("Reprint");
    assert_eq!(app.printed.lock().unwrap().len(), 2);
    assert!(
        paper(1).contains("*** COPY"),
        "a print after a printed one is a copy"
    );

    // More than is left is refused as it is typed: Continue stays off.
    app.tap("Next customer");
    app.scan(&app.demo.vouchers.good.clone());
    assert_eq!(app.window.get_verdict().amount, "KES 750.00");
    app.tap("Part amount");
    app.type_digits("900");
    assert!(!app.window.get_amount_valid());
    assert_eq!(
        app.window.get_amount_error(),
        "Only KES 750.00 is left on this voucher."
    );
    app.tap("Continue");
    assert_eq!(app.screen(), Screen::Amount);
}

#[test]
fn the_history_marks_receipts_never_printed_and_their_first_print_is_the_original() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.paper_out
        .store(true, std::sync::atomic::Ordering::SeqCst);
    app.scan(&app.demo.vouchers.good.clone());
    app.tap("Redeem KES 1,250.00");
    app.confirm_payment();
    assert_eq!(app.window.get_receipt().status, PrintStatus::PaperOut);
    app.tap("Next customer");
    app.paper_out
        .store(false, std::sync::atomic::Ordering::SeqCst);

    app.window.invoke_navigate(Screen::History);
    let row = app.window.get_history().row_data(0).unwrap();
    assert!(!row.printed);
    assert!(app.has(&format!(
        "{} {} {} Never printed",
        row.time, row.title, row.amount
    )));
    app.window.invoke_history_reprint(row.id.clone());
    let papers = app.printed.lock().unwrap().clone();
    let first = String::from_utf8_lossy(papers.last().unwrap()).into_owned();
    assert!(first.contains("VOUCHER REDEMPTION"), "{first}");
    assert!(
        !first.contains("COPY"),
        "never printed before: the original"
    );

    app.window.invoke_navigate(Screen::History);
    assert!(app.window.get_history().row_data(0).unwrap().printed);
    app.window.invoke_history_reprint(row.id.clone());
    let papers = app.printed.lock().unwrap().clone();
    assert_eq!(papers.len(), 2);
    assert!(String::from_utf8_lossy(&papers[1]).contains("*** COPY"));
}

#[test]
fn id_card_redemption_shows_the_person_and_their_entitlements() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.scan(app.demo.id_with_entitlement);
    assert_eq!(app.screen(), Screen::IdRedemption);
    assert_eq!(app.window.get_person().name, "Amina Wanjiru");
    assert!(app.window.get_person().has_photo);
    let food = app
        .window
        .get_entitlements()
        .iter()
        .find(|e| e.id == "food-05-amina-w")
        .expect("merchant entitlement");
    assert_eq!(food.remaining, "KES 3,000.00");
    app.window.invoke_entitlement_chosen(food.id.clone());
    // A partial entitlement asks how much.
    assert_eq!(app.screen(), Screen::Amount);
    app.type_digits("1000");
    app.tap("Continue");
    app.confirm_payment();
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(app.window.get_receipt().remaining_after, "KES 2,000.00");
}

#[test]
fn cash_payout_with_float_open_and_close() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.tap("Cash payout");
    assert_eq!(app.screen(), Screen::CashList);
    assert_eq!(app.window.get_cash_rows().row_count(), 6);
    assert!(!app.window.get_cash_float().open);

    app.tap("Open float");
    assert_eq!(app.screen(), Screen::CashFloat);
    app.type_digits("10000");
    app.tap("Open float");
    assert_eq!(app.screen(), Screen::CashList);
    assert!(app.window.get_cash_float().open);
    // A blind count: what should be in the box is not on screen while open.
    assert_eq!(app.window.get_cash_float().expected, "");
    assert_eq!(app.window.get_cash_float().opening, "KES 10,000.00");

    // Search, pick Joseph, check identity with name and photo, pay.
    app.window.set_cash_search("otieno".into());
    app.window.invoke_cash_search_edited("otieno".into());
    assert_eq!(app.window.get_cash_rows().row_count(), 1);
    app.tap("Joseph Otieno, KES 2,500.00");
    assert_eq!(app.screen(), Screen::CashPerson);
    assert_eq!(app.window.get_person().name, "Joseph Otieno");
    assert!(app.window.get_person().has_photo);
    app.wait_armed();
    app.tap("Match — pay KES 2,500.00");
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(app.window.get_receipt().amount, "KES 2,500.00");

    app.tap("Next customer");
    assert_eq!(app.screen(), Screen::CashList);
    let joseph = app
        .window
        .get_cash_rows()
        .iter()
        .find(|r| r.name == "Joseph Otieno")
        .unwrap();
    assert!(joseph.paid);
    assert_eq!(app.window.get_cash_float().expected, "");
    assert_eq!(app.window.get_cash_float().paid_out, "");

    // Paying him twice is impossible: the engine refuses, the screen says why.
    app.window.invoke_cash_selected(joseph.id.clone());
    assert!(app.has("Already paid. Do not pay twice."));

    // Close the float: counted 7,400 against 7,500 expected is 100 short.
    app.window.invoke_navigate(Screen::CashFloat);
    app.type_digits("7400");
    app.tap("Close float with this count");
    let float = app.window.get_cash_float();
    assert!(float.closed);
    // Only now, after the count, the expected cash shows.
    assert_eq!(float.expected, "KES 7,500.00");
    assert_eq!(float.paid_out, "KES 2,500.00");
    assert_eq!(float.variance, "KES -100.00");
    assert_eq!(float.variance_kind, VerdictKind::Bad);
}

/// The identity check recorded in log entry `seq` of the app's terminal.
fn identity_in_log(app: &App, seq: u64) -> IdentityCheck {
    let terminal = Terminal::open(app.dir.path(), Arc::new(app.clock.clone())).expect("terminal");
    match terminal.log_entry(seq).expect("log entry").entry.event {
        LogEvent::EntitlementRedeemed { identity, .. } | LogEvent::CashPaidOut { identity, .. } => {
            identity
        }
        other => panic!("entry {seq} is not an ID payment: {other:?}"),
    }
}

#[test]
fn an_id_number_typed_on_the_screen_is_logged_as_typed_and_a_scanned_one_as_scanned() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    // Typed into the scan screen's field, then "Check".
    app.scan(app.demo.id_with_entitlement);
    assert_eq!(app.screen(), Screen::IdRedemption);
    app.window
        .invoke_entitlement_chosen("food-05-amina-w".into());
    app.type_digits("100");
    app.tap("Continue");
    app.confirm_payment();
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(identity_in_log(&app, 1), IdentityCheck::Manual);

    // The same number from a barcode scanner.
    app.tap("Next customer");
    app.scanner(app.demo.id_with_entitlement);
    assert_eq!(app.screen(), Screen::IdRedemption);
    app.window
        .invoke_entitlement_chosen("food-05-amina-w".into());
    app.type_digits("100");
    app.tap("Continue");
    app.confirm_payment();
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(identity_in_log(&app, 2), IdentityCheck::IdBarcode);
}

#[test]
fn a_scanned_id_card_moves_the_cash_selection_to_that_person_or_clears_it() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.window.invoke_navigate(Screen::CashFloat);
    app.type_digits("10000");
    app.tap("Open float");
    app.window.invoke_cash_selected("cash-05-joseph-o".into());
    assert_eq!(app.window.get_cash_row().name, "Joseph Otieno");

    // Amina's card is scanned instead: her line is selected, not Joseph's.
    app.tap("Scan their ID card");
    app.scanner(app.demo.id_with_entitlement);
    assert_eq!(app.screen(), Screen::CashPerson);
    assert_eq!(app.window.get_person().name, "Amina Wanjiru");
    assert_eq!(app.window.get_cash_row().id, "cash-05-amina-w");
    app.wait_armed();
    app.tap("Match — pay KES 2,500.00");
    assert_eq!(app.screen(), Screen::Receipt);
    assert_eq!(app.window.get_receipt().amount, "KES 2,500.00");
    assert_eq!(identity_in_log(&app, 2), IdentityCheck::IdBarcode);

    // Someone not on the list: nothing is selected, and the screen says why.
    app.tap("Next customer");
    app.window.invoke_cash_selected("cash-05-joseph-o".into());
    app.tap("Scan their ID card");
    app.scanner("99999999");
    assert_eq!(app.screen(), Screen::CashPerson);
    assert_eq!(app.window.get_cash_row().id, "");
    assert!(app.has("Nobody with ID 99999999 is on this terminal's list."));
    assert!(
        !app.find("Match — pay ")
            .accessible_enabled()
            .unwrap_or(true),
        "nothing can be paid"
    );
    app.window.invoke_cash_pay("cash-05-joseph-o".into());
    assert_eq!(
        app.screen(),
        Screen::CashPerson,
        "no payment without a line"
    );
}

#[test]
fn refusals_that_a_sync_fixes_are_amber() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.scan(&app.demo.vouchers.unknown_key.clone());
    let verdict = app.window.get_verdict();
    assert_eq!(
        (verdict.kind, verdict.reason_code.as_str()),
        (VerdictKind::Warn, "unknown_key")
    );
    // Every refusal whose sentence asks for a sync, wherever it shows.
    for code in i18n::refusal_codes() {
        let msgid = i18n::refusal_msgid(code).unwrap_or_default();
        let asks_for_a_sync = ["Sync first", "Sync before", "Sync, then", "next sync"]
            .iter()
            .any(|words| msgid.contains(words));
        if asks_for_a_sync {
            assert_eq!(refusal_kind(code), VerdictKind::Warn, "{code}: {msgid}");
        }
    }
}

#[test]
fn settings_show_the_enrolled_server_and_set_printer_and_paper() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.window.invoke_navigate(Screen::Settings);
    assert!(
        app.has("Not enrolled with a server"),
        "the training terminal has no server"
    );
    assert!(!app.has("https://…"), "the server is not an editable field");

    // 80 mm paper: receipts are laid out for it, on screen and on paper.
    assert_eq!(app.window.get_settings().paper_mm, 58);
    app.tap("80 mm");
    assert_eq!(app.window.get_settings().paper_mm, 80);
    app.scan(&app.demo.vouchers.good.clone());
    app.tap("Redeem KES 1,250.00");
    app.confirm_payment();
    assert_eq!(app.window.get_receipt().columns, 48);
    let english = app.printed.lock().unwrap().last().unwrap().clone();
    assert_eq!(infer_paper_width(&english), PaperWidth::Mm80);

    // In Arabic the receipt prints through the receipt's own ESC/POS, labels as images.
    app.controller.language_chosen("ar");
    app.window.invoke_reprint();
    let arabic = app.printed.lock().unwrap().last().unwrap().clone();
    let rasters = |job: &[u8]| job.windows(3).filter(|w| w == b"\x1dv0").count();
    assert!(
        rasters(&arabic) > rasters(&english) + 5,
        "Arabic labels print as images ({} against {})",
        rasters(&arabic),
        rasters(&english)
    );
    app.controller.language_chosen("en");

    // A bare device path is a printer setting the terminal takes.
    app.window.invoke_navigate(Screen::Settings);
    app.window
        .invoke_settings_save("".into(), "/dev/usb/lp0".into());
    assert_eq!(app.window.get_settings_message(), "Saved.");
    assert_eq!(app.window.get_settings().printer, "/dev/usb/lp0");
}
