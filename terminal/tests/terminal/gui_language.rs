//! Switching language at any time: every text and amount follows (the
//! .slint labels and the sentences built in Rust alike), and Arabic mirrors
//! the layout. In its own test binary because the selected
//! translation is process-wide and would change the other tests' labels.

use crate::support;

use support::App;

#[test]
fn language_switch_reformats_amounts_and_mirrors_arabic() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.scan(&app.demo.vouchers.good.clone());
    app.controller.language_chosen("fr");
    assert_eq!(
        app.window.get_verdict().amount,
        "1\u{202F}250,00\u{00A0}KES"
    );
    assert!(app.has("Bon valide. Vous pouvez l'encaisser."));
    assert!(
        app.has("Encaisser 1\u{202F}250,00\u{00A0}KES"),
        "button labels follow too"
    );
    app.controller.language_chosen("ar");
    assert!(app.window.get_rtl());
    assert!(app.has("قسيمة صالحة. يمكنك صرفها."));
    app.controller.language_chosen("sw");
    assert!(!app.window.get_rtl());
    assert!(app.has("Vocha ni halali. Unaweza kuitumia."));
    assert_eq!(app.window.get_verdict().amount, "KES 1,250.00");
}

#[test]
fn a_toast_built_in_rust_follows_a_language_switch() {
    let app = App::start(800.0, 480.0, "en");
    app.login();
    app.window.invoke_test_print();
    assert_eq!(app.window.get_toast(), "Printed.");
    app.controller.language_chosen("fr");
    assert_eq!(app.window.get_toast(), "Imprimé.");
    app.controller.language_chosen("sw");
    assert_eq!(app.window.get_toast(), "Imechapishwa.");
    app.controller.language_chosen("ar");
    assert_eq!(app.window.get_toast(), "تمت الطباعة.");

    // A refusal built from the engine's answer, with its amount in the language's way.
    app.controller.language_chosen("fr");
    app.scan(&app.demo.vouchers.revoked.clone());
    assert_eq!(
        app.window.get_verdict().message,
        "Ce bon a été annulé par le programme. Ne l'acceptez pas."
    );
    app.controller.language_chosen("en");
    assert_eq!(
        app.window.get_verdict().message,
        "This voucher was cancelled by the programme. Do not accept it."
    );
}
