//! Field agents' floats reconciled at HQ, from signed entries a real
//! terminal key signed and uploaded over HTTP: a session whose one payout
//! names an entitlement no roster lists (paid, not delivered: the ledger's
//! float account keeps it) closed 5.00 short; a session whose close expects
//! less than its entries leave (a close that disagrees, so the float does not
//! reconcile); a session still open. The API says so, to the minor unit, and
//! the console page in a real headless Chromium shows it in English and
//! French, at 1280x800 and 800x480 (screenshots when
//! `LASTMILE_CONSOLE_SCREENSHOTS` names a directory).

use lastmile_server::people::Role;
use lastmile_shared::device_log::{IdentityCheck, LogEvent};
use lastmile_shared::id::{BeneficiaryId, EntitlementId, ProgrammeId};
use lastmile_shared::money::Money;
use lastmile_tests::browser::Browser;

use crate::common::{self, Backend, spawn_app};
use crate::console::{shot, sign_in, sign_in_french};
use crate::console_registry::fits_800x480;

fn kes(minor: i64) -> Money {
    Money::new(minor, common::kes())
}

#[test]
fn a_float_is_reconciled_against_the_ledger_in_the_api_and_the_console() {
    let app = spawn_app(Backend::Sqlite);
    let mut agent = app.terminal("field-team", "site-1");
    agent.record(LogEvent::CashSessionOpened {
        session: 1,
        float: kes(50_000),
    });
    agent.record(LogEvent::CashPaidOut {
        session: 1,
        entitlement: EntitlementId::parse("E-NOT-ON-ANY-ROSTER").unwrap(),
        beneficiary: BeneficiaryId::parse("B-9").unwrap(),
        programme: ProgrammeId::parse("P-none").unwrap(),
        amount: kes(2_500),
        identity: IdentityCheck::Manual,
    });
    agent.record(LogEvent::CashSessionClosed {
        session: 1,
        expected: kes(47_500),
        counted: kes(47_000),
        variance: kes(-500),
    });
    // No payout, yet the terminal expected 290.00 of a 300.00 float.
    agent.record(LogEvent::CashSessionOpened {
        session: 2,
        float: kes(30_000),
    });
    agent.record(LogEvent::CashSessionClosed {
        session: 2,
        expected: kes(29_000),
        counted: kes(29_000),
        variance: kes(0),
    });
    agent.record(LogEvent::CashSessionOpened {
        session: 3,
        float: kes(20_000),
    });
    agent.upload(1..=6).unwrap();

    let (status, floats) = app.hq_as(Role::Finance, "GET", "/v1/hq/floats", None);
    assert_eq!(status, 200, "{floats}");
    let floats = floats.as_array().unwrap();
    assert_eq!(floats.len(), 1, "{floats:?}");
    let f = &floats[0];
    let minor = |k: &str| f[k]["minor"].as_i64().unwrap();
    assert_eq!(f["device"], agent.enrolment.device.as_str());
    assert_eq!(
        (f["sessions"].as_i64(), f["open_sessions"].as_i64()),
        (Some(3), Some(1))
    );
    // The open session holds its float; 25.00 left the box undelivered;
    // the ledger holds that, the 10.00 the second close left, and the open
    // float: all explained, but the second close disagrees.
    assert_eq!(
        [
            "holds",
            "disputed",
            "variance",
            "ledger",
            "explained",
            "unexplained"
        ]
        .map(minor),
        [20_000, 2_500, -500, 2_500 + 1_000 + 20_000, 23_500, 0],
        "{f}"
    );
    assert_eq!(f["reconciled"], false, "{f}");
    let mismatched = f["mismatched_closes"].as_array().unwrap();
    assert_eq!(mismatched.len(), 1, "{f}");
    assert_eq!(mismatched[0]["session"], 2);
    let first = f["latest"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session"] == 1)
        .unwrap();
    assert_eq!(
        ["payouts", "paid_minor", "disputed", "disputed_minor"].map(|k| first[k].as_i64()),
        [Some(0), Some(0), Some(1), Some(2_500)],
        "{first}"
    );
    let (status, refused) = app.hq_as(Role::Finance, "GET", "/v1/hq/floats?site=no%20site", None);
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("bad_site")),
        "{refused}"
    );
    let (status, none) = app.hq_as(Role::Finance, "GET", "/v1/hq/floats?site=site-2", None);
    assert_eq!((status, none), (200, serde_json::json!([])));

    // Finance reaches the page from the payments overview with a click.
    let browser = Browser::start(1280, 800, "en");
    sign_in(&browser, &app, Role::Finance);
    browser.open(&format!("{}/console/payments", app.base_url));
    browser.click("a[href='/console/payments/floats']");
    browser.wait_for("#floats");
    let text = browser.text();
    for needle in [
        "Field agents' floats",
        "Not reconciled",
        "KES 235.00",
        "KES 25.00",
        "Session 2 closed expecting KES 290.00, but its synced entries leave KES 300.00.",
        "3 (1 open)",
        "still open",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    shot(&browser, "floats");
    fits_800x480(&browser, "the floats page", Some("floats-800x480"));

    let french = Browser::start(1280, 800, "fr");
    sign_in_french(&french, &app, ("amani.fr", "Amani"), Role::Finance);
    french.open(&format!("{}/console/payments/floats", app.base_url));
    french.wait_for("#floats");
    let text = french.text();
    for needle in [
        "Fonds de caisse des agents de terrain",
        "Non rapproché",
        "235,00",
        "3 (1 ouverte)",
        "encore ouverte",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    shot(&french, "floats-fr");
    fits_800x480(
        &french,
        "the floats page in French",
        Some("floats-fr-800x480"),
    );
}
