//! The console in a real headless Chromium against a real server: signing
//! in, a wrong password, lockout, CSRF, a terminal appearing after it
//! syncs (live, without reloading), a case closed, a proposal approved by a
//! second person and refused to its author, a page a role may not open,
//! French, and screenshots of every page when `LASTMILE_CONSOLE_SCREENSHOTS`
//! names a directory (`scripts/console-screenshots.sh`).

use std::path::PathBuf;

use lastmile_server::people::Role;
use lastmile_tests::browser::Browser;

use crate::common::{self, Backend, PASSWORD, TestApp, spawn_app};

pub(crate) fn shots() -> Option<PathBuf> {
    std::env::var_os("LASTMILE_CONSOLE_SCREENSHOTS").map(PathBuf::from)
}

/// Saves the page as `NAME.png` when screenshots are asked for.
pub(crate) fn shot(browser: &Browser, name: &str) {
    if let Some(dir) = shots() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), browser.full_screenshot()).unwrap();
    }
}

/// Adds a French-speaking user of `role` and signs the (French) browser in
/// as them.
pub(crate) fn sign_in_french(
    browser: &Browser,
    app: &TestApp,
    (username, display_name): (&str, &str),
    role: Role,
) {
    lastmile_server::people::create_user(
        &app.storage,
        &common::operator(),
        &lastmile_server::people::NewUser {
            username,
            display_name,
            role,
            language: lastmile_server::people::Language::Fr,
            password: PASSWORD,
        },
        common::now(),
    )
    .unwrap();
    browser.clear_cookies();
    browser.open(&format!("{}/console/login", app.base_url));
    browser.wait_for_text("Se connecter");
    browser.type_into("#username", username);
    browser.type_into("#password", PASSWORD);
    browser.click("button[type=submit]");
    browser.wait_for_text("Connecté en tant que");
}

pub(crate) fn sign_in(browser: &Browser, app: &TestApp, role: Role) {
    browser.clear_cookies();
    browser.open(&format!("{}/console/login", app.base_url));
    browser.type_into("#username", common::username(role));
    browser.type_into("#password", PASSWORD);
    browser.click("button[type=submit]");
    browser.wait_for("nav[aria-label] a[aria-current=page]");
}

/// Two terminals redeem one single-use voucher offline: case 1 opens.
fn double_spend(app: &TestApp) -> (u64, String) {
    let voucher = app.issue(1, "15.00", "single_use").remove(0);
    let mut a = app.terminal("shop-1", "site-1");
    let mut b = app.terminal("shop-2", "site-1");
    a.redeem(&voucher.qr_text, 1500);
    b.redeem(&voucher.qr_text, 1500);
    a.upload(1..=1).unwrap();
    b.upload(1..=1).unwrap();
    let (_, cases) = app.hq_get("/v1/hq/cases");
    (
        cases[0]["id"].as_u64().unwrap(),
        voucher.voucher.to_string(),
    )
}

#[test]
fn the_console_in_a_real_browser() {
    let app = spawn_app(Backend::Sqlite);
    let browser = Browser::start(1280, 800, "en");

    // Not signed in: every page leads to the login page.
    browser.open(&format!("{}/console/terminals", app.base_url));
    browser.wait_for("#username");
    assert!(
        browser.url().ends_with("/console/login"),
        "{}",
        browser.url()
    );
    shot(&browser, "login");

    // A wrong password: said plainly, nothing else revealed.
    browser.type_into("#username", common::username(Role::Admin));
    browser.type_into("#password", "not the password at all");
    browser.click("button[type=submit]");
    browser.wait_for_text("The username or the password is wrong.");
    shot(&browser, "login-wrong-password");

    // Lockout: five failures lock the support account, and then even the
    // right password is refused.
    for _ in 0..5 {
        browser.open(&format!("{}/console/login", app.base_url));
        browser.type_into("#username", common::username(Role::Support));
        browser.type_into("#password", "wrong wrong wrong");
        browser.click("button[type=submit]");
        browser.wait_for(".error");
    }
    browser.open(&format!("{}/console/login", app.base_url));
    browser.type_into("#username", common::username(Role::Support));
    browser.type_into("#password", PASSWORD);
    browser.click("button[type=submit]");
    browser.wait_for_text("this account is locked");
    shot(&browser, "login-locked");

    // The admin signs in and sees the dashboard; a terminal that syncs now
    // appears without a reload (server-sent events).
    sign_in(&browser, &app, Role::Admin);
    let tile = "[data-count=terminals]";
    let before: u64 = browser.text_of(&browser.wait_for(tile)).parse().unwrap();
    let mut terminal = app.terminal("shop-9", "site-9");
    let voucher = app.issue(1, "20.00", "single_use").remove(0);
    terminal.redeem(&voucher.qr_text, 2000);
    terminal.upload(1..=1).unwrap();
    let started = std::time::Instant::now();
    loop {
        let now: u64 = browser.text_of(&browser.wait_for(tile)).parse().unwrap();
        if now == before + 1 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the dashboard never showed the new terminal"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    shot(&browser, "dashboard");
    // The smallest screen a shop or field tablet has: the navigation wraps,
    // nothing is cut off sideways.
    browser.resize(800, 480);
    let overflow = browser.script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
    );
    assert_eq!(
        overflow.as_bool(),
        Some(false),
        "the dashboard scrolls sideways at 800x480"
    );
    shot(&browser, "dashboard-800x480");
    browser.resize(1280, 800);
    browser.open(&format!("{}/console/terminals", app.base_url));
    browser.wait_for_text(terminal.device().as_str());
    // An enrolment code, with its QR code.
    browser.type_into("#merchant", "shop-10");
    browser.type_into("#site", "site-10");
    browser.click("form[action='/console/terminals/code'] button");
    browser.wait_for(".code");
    assert!(
        browser.find("svg").is_some(),
        "no QR code for the enrolment code"
    );
    shot(&browser, "terminals");

    // CSRF: a form whose token is not the session's is refused and changes
    // nothing; so is a POST with the session cookie from anywhere else.
    browser.script(
        "document.querySelector(\"form[action='/console/terminals/code'] input[name=csrf]\").value = 'forged';
         document.querySelector('#merchant').value = 'shop-forged';
         document.querySelector(\"form[action='/console/terminals/code']\").submit();",
    );
    browser.wait_for_text("This form expired or came from another site.");
    let (_, audit) = app.hq_as(
        Role::Auditor,
        "GET",
        "/v1/hq/audit?action=enrolment_code.created&actor=user:ada.admin",
        None,
    );
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");

    // Users and tokens: a token is shown once.
    browser.open(&format!("{}/console/users", app.base_url));
    browser.type_into("#token-label", "nightly export");
    browser.click("form[action='/console/tokens'] button");
    let token = browser.text_of(&browser.wait_for("#new-token"));
    assert!(token.starts_with("lmt_"), "{token}");
    let (status, me) = common::hq_request(&app.base_url, "GET", "/v1/hq/me", None, Some(&token));
    assert_eq!(
        (status, me["username"].as_str()),
        (200, Some(common::username(Role::Admin)))
    );
    shot(&browser, "users");

    // Limits typed in major units reach the terminals' policies; a key
    // rotation is only proposed.
    browser.open(&format!("{}/console/limits", app.base_url));
    browser.type_into("#currency", "USD");
    browser.type_into("#credential_max", "150.50");
    browser.type_into("#unsynced_value_max", "2000");
    browser.type_into("#unsynced_count_max", "300");
    browser.type_into("#offline_hours_max", "48");
    browser.click("form[action='/console/limits'] button");
    browser.wait_for_text("USD 150.50");
    let (_, limits) = app.hq_get("/v1/hq/limits");
    let usd = limits
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["currency"] == "USD")
        .cloned()
        .unwrap();
    assert_eq!(usd["credential_value_max_minor"], 15050);
    assert_eq!(usd["offline_seconds_max"], 48 * 3600);
    browser.open(&format!("{}/console/keys", app.base_url));
    browser.type_into("#reason-issuer", "yearly rotation");
    browser.click("form[action='/console/keys/issuer/rotate'] button");
    browser.wait_for_text("Proposed: a person with the approver role must now approve it.");
    shot(&browser, "keys");

    // Finance closes a case with both terminals' signed entries in view.
    let (case, spent) = double_spend(&app);
    sign_in(&browser, &app, Role::Finance);
    browser.open(&format!("{}/console/cases", app.base_url));
    browser.wait_for_text(&spent);
    shot(&browser, "cases");
    browser.open(&format!("{}/console/cases/{case}", app.base_url));
    browser.wait_for_text("Signature verified with the terminal's key");
    assert_eq!(
        browser.text().matches("Signature verified").count(),
        2,
        "both sides' signatures are checked"
    );
    shot(&browser, "case");
    browser.resize(800, 480);
    let overflow = browser.script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
    );
    assert_eq!(
        overflow.as_bool(),
        Some(false),
        "the case scrolls sideways at 800x480"
    );
    shot(&browser, "case-800x480");
    browser.resize(1280, 800);
    browser.click("input[value=recovered]");
    browser.type_into("#note", "the shop paid it back on Monday");
    browser.click("form[action$='/resolve'] button");
    browser.wait_for_text("Done.");
    let (_, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(cases[0]["resolution"], "recovered");

    // An officer proposes revoking a voucher; the officer may not decide it,
    // the approver approves it, and the voucher is revoked.
    let target = app
        .issue(1, "30.00", "single_use")
        .remove(0)
        .voucher
        .to_string();
    sign_in(&browser, &app, Role::ProgrammeOfficer);
    browser.open(&format!("{}/console/vouchers", app.base_url));
    browser.type_into("#q", &target);
    browser.click("form[role=search] button");
    browser.wait_for("#reason");
    shot(&browser, "voucher");
    browser.type_into("#reason", "beneficiary reported the card stolen");
    browser.click("form[action$='/revoke'] button");
    browser.wait_for_text("Proposed: a person with the approver role must now approve it.");
    browser.open(&format!("{}/console/proposals", app.base_url));
    browser.wait_for_text("voucher.revoke");
    assert!(
        browser.find("button[value=approve]").is_none(),
        "the author was offered to approve their own proposal"
    );
    // Forcing it anyway: refused, by role, before anything changes.
    let officer_csrf = browser.script("return document.querySelector('input[name=csrf]').value;");
    let officer_csrf = officer_csrf.as_str().unwrap().to_owned();
    browser.script(&format!(
        "var f = document.createElement('form'); f.method = 'post';
         f.action = '/console/proposals/2/decision';
         [['csrf', '{officer_csrf}'], ['decision', 'approve'], ['note', 'mine']].forEach(function (p) {{
           var i = document.createElement('input'); i.name = p[0]; i.value = p[1]; f.appendChild(i); }});
         document.body.appendChild(f); f.submit();"
    ));
    browser.wait_for_text("Your role may not open this page.");
    let (_, v) = app.hq_get(&format!("/v1/hq/vouchers/{target}"));
    assert_eq!(v["status"], "issued");

    sign_in(&browser, &app, Role::Approver);
    browser.open(&format!("{}/console/proposals?state=pending", app.base_url));
    browser.wait_for("button[value=approve]");
    shot(&browser, "proposals");
    browser.type_into("input[name=note]", "confirmed with the programme");
    browser.click("button[value=approve]");
    browser.wait_for_text("Done.");
    let (_, v) = app.hq_get(&format!("/v1/hq/vouchers/{target}"));
    assert_eq!(v["status"], "revoked");

    // The audit trail names each person.
    browser.open(&format!("{}/console/audit", app.base_url));
    browser.wait_for_text("Hash chain intact");
    let text = browser.text();
    for needle in [
        "user:amina.approver",
        "proposal.approved",
        "user:otieno.officer",
        "proposal.created",
        "login.failed",
    ] {
        assert!(text.contains(needle), "the audit page lacks {needle}");
    }
    shot(&browser, "audit");
    for (page, name) in [
        ("alarms", "alarms"),
        ("limits", "limits"),
        ("vouchers", "vouchers"),
        ("jobs", "jobs"),
    ] {
        browser.open(&format!("{}/console/{page}", app.base_url));
        browser.wait_for("main h1");
        shot(&browser, name);
    }

    // A role that may not open a page is told so, and the section is not
    // in its navigation.
    browser.clear_cookies();
    sign_in_unlocked_support(&app, &browser);
    assert!(browser.find("a[href='/console/audit']").is_none());
    browser.open(&format!("{}/console/audit", app.base_url));
    browser.wait_for_text("Your role may not open this page.");
    shot(&browser, "forbidden");

    // Logging out ends the session: the old cookie opens nothing.
    browser.click("form[action='/console/logout'] button");
    browser.wait_for("#username");
    browser.open(&format!("{}/console", app.base_url));
    browser.wait_for("#username");
}

/// The support account was locked above; an admin resets its password
/// (which lifts the lock), then support signs in.
fn sign_in_unlocked_support(app: &TestApp, browser: &Browser) {
    lastmile_server::people::set_password(
        &app.storage,
        &common::operator(),
        common::username(Role::Support),
        PASSWORD,
        common::now(),
    )
    .unwrap();
    sign_in(browser, app, Role::Support);
}

#[test]
fn french_at_1280x800_and_800x480() {
    let app = spawn_app(Backend::Postgres);
    let browser = Browser::start(1280, 800, "fr");
    sign_in_french(&browser, &app, ("claire.audit", "Claire"), Role::Auditor);
    browser.wait_for_text("Tableau de bord");
    browser.wait_for_text("Connecté en tant que");
    shot(&browser, "dashboard-fr");
    browser.open(&format!("{}/console/audit", app.base_url));
    browser.wait_for_text("Chaîne de hachage intacte");
    shot(&browser, "audit-fr");
    browser.resize(800, 480);
    let overflow = browser.script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
    );
    assert_eq!(
        overflow.as_bool(),
        Some(false),
        "the audit page scrolls sideways at 800x480"
    );
    shot(&browser, "audit-fr-800x480");
    // The auditor changes nothing: no form but filters and sign-out.
    let forms = browser.script("return document.querySelectorAll('form[method=post]').length;");
    assert_eq!(forms.as_u64(), Some(1), "only the sign-out form");
}

/// An officer proposes an ID authority and its retirement on the console's
/// ID authorities page; each takes effect only once an approver approves.
#[test]
fn id_authorities_are_proposed_and_retired_through_approvals_in_the_console() {
    let app = spawn_app(Backend::Sqlite);
    let browser = Browser::start(1280, 800, "en");
    let approve = |proposal: i64| {
        let (status, body) = app.hq_as(
            Role::Approver,
            "POST",
            &format!("/v1/hq/proposals/{proposal}/decision"),
            Some(serde_json::json!({ "decision": "approve", "note": "checked" })),
        );
        assert_eq!(status, 200, "{body}");
    };
    let pending = || {
        let (_, pending) = app.hq_get("/v1/hq/proposals?state=pending");
        pending[0]["id"].as_i64().expect("a pending proposal")
    };
    let state = || {
        let (_, row) = app.hq_get("/v1/hq/id-authorities/ke-nrb-2027");
        row["state"].as_str().unwrap_or_default().to_owned()
    };
    sign_in(&browser, &app, Role::ProgrammeOfficer);
    browser.open(&format!("{}/console/id-authorities", app.base_url));
    browser.type_into("#name", "Kenya National Registration Bureau");
    browser.type_into("#kid", "ke-nrb-2027");
    browser.type_into(
        "#public_key",
        "ecd31a96aab0f0340b4342480b5cb8da21d9dc1a9d91bd07dab02b545d0124a8",
    );
    browser.type_into("#reason", "the national registry's 2027 key");
    browser.click("form[action='/console/id-authorities'] button");
    browser.wait_for_text("Proposed: a person with the approver role must now approve it.");
    assert_eq!(state(), "proposed");
    approve(pending());
    browser.open(&format!("{}/console/id-authorities", app.base_url));
    browser.wait_for_text("user:amina.approver");
    assert_eq!(state(), "active");
    shot(&browser, "id-authorities");

    browser.type_into("#retire-ke-nrb-2027", "the registry reported the key lost");
    browser.click("form[action='/console/id-authorities/ke-nrb-2027/retire'] button");
    browser.wait_for_text("Proposed: a person with the approver role must now approve it.");
    assert_eq!(state(), "active");
    approve(pending());
    assert_eq!(state(), "retired");
    browser.open(&format!("{}/console/id-authorities", app.base_url));
    browser.wait_for_text("retired");
}
