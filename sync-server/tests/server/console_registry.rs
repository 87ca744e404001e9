//! The programme registry's console pages in a real headless Chromium
//! against a real server: an officer registers a site and a programme,
//! uploads a beneficiary file with errors (every error named on screen,
//! nothing imported), fixes the column mapping, uploads the fixed file and
//! imports it, imports it again (nothing changes), finds a beneficiary,
//! reviews a fraud signal, generates a cycle over the budget, excludes
//! someone and submits it; an approver follows the approval to the cycle
//! and approves it. The auditor sees beneficiaries and changes nothing;
//! finance may not open them. Screenshots of every page when
//! `LASTMILE_CONSOLE_SCREENSHOTS` names a directory.

use lastmile_server::people::Role;
use lastmile_tests::browser::Browser;

use crate::common::{Backend, TestApp, spawn_app};
use crate::console::{shot, sign_in, sign_in_french};

const PROGRAMME: &str = "cash-2027";

/// A file with an unusual header for the national ID (the mapping must be
/// fixed by hand) and five bad rows, one error each.
const BAD_FILE: &str = "ID,Full name,Gov ID,Phone,Site,IBAN,Operator,Channels\n\
B-001,Amina Wanjiru,12345678,+254712345678,site-1,DE89370400440532013000,mpesa,mobile;bank;cash\n\
B-002,Otieno Odhiambo,1234567,+254712000002,site-1,,,cash\n\
B-003,Neema Atieno,34567890,+254712000003,site-1,DE89370400440532013001,,bank\n\
B-004,Baraka Mwangi,45678901,+254712000004,site-9,,,cash\n\
B-001,Amina W.,56789012,,site-1,,,cash\n\
B-006,Zawadi Kamau,67890123,12345,site-1,,,cash\n";

/// Where each error of [`BAD_FILE`] is: (line, column).
const BAD_ERRORS: [(&str, &str); 5] = [
    ("3", "Gov ID"),
    ("4", "IBAN"),
    ("5", "Site"),
    ("6", "ID"),
    ("7", "Phone"),
];

/// The fixed file: four people, two sharing a phone (a fraud signal).
const GOOD_FILE: &str = "ID,Full name,National ID,Phone,Site,IBAN,Operator,Channels\n\
B-001,Amina Wanjiru,12345678,+254712345678,site-1,DE89370400440532013000,mpesa,mobile;bank;cash\n\
B-002,Otieno Odhiambo,23456789,+254712000002,site-1,,,cash\n\
B-003,Neema Atieno,34567890,+254712000002,site-1,,,cash\n\
B-004,Baraka Mwangi,45678901,+254712000004,site-1,,,cash\n";

/// Asserts the page does not scroll sideways at 800x480 (the smallest
/// field tablet), taking a screenshot there when `name` is given.
pub(crate) fn fits_800x480(browser: &Browser, what: &str, name: Option<&str>) {
    browser.resize(800, 480);
    let overflow = browser.script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
    );
    assert_eq!(
        overflow.as_bool(),
        Some(false),
        "{what} scrolls sideways at 800x480"
    );
    if let Some(name) = name {
        shot(browser, name);
    }
    browser.resize(1280, 800);
}

fn count(browser: &Browser, css: &str) -> u64 {
    browser
        .script(&format!(
            "return document.querySelectorAll({}).length;",
            serde_json::Value::from(css)
        ))
        .as_u64()
        .unwrap()
}

/// The status a GET of `path` gets with the browser's session.
pub(crate) fn status_of(browser: &Browser, path: &str) -> u64 {
    browser
        .script(&format!(
            "var x = new XMLHttpRequest(); x.open('GET', {}, false); x.send(); return x.status;",
            serde_json::Value::from(path)
        ))
        .as_u64()
        .unwrap()
}

fn upload(browser: &Browser, app: &TestApp, dir: &std::path::Path, name: &str, file: &str) {
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/import",
        app.base_url
    ));
    browser.type_into("#file", path.to_str().unwrap());
    browser.click("form[enctype='multipart/form-data'] button[type=submit]");
    browser.wait_for("#headers");
}

fn beneficiary_count(app: &TestApp) -> usize {
    let (status, list) = app.hq_as(
        Role::ProgrammeOfficer,
        "GET",
        &format!("/v1/hq/programmes/{PROGRAMME}/beneficiaries?limit=500"),
        None,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().len()
}

#[test]
fn the_registry_in_the_console() {
    let app = spawn_app(Backend::Sqlite);
    let files = tempfile::tempdir().unwrap();
    let browser = Browser::start(1280, 800, "en");
    sign_in(&browser, &app, Role::ProgrammeOfficer);

    // A site, then a programme, from the programmes page.
    browser.click("nav a[href='/console/programmes']");
    browser.type_into("#site", "site-1");
    browser.type_into("#site-name", "Kibera community hall");
    browser.click("form[action='/console/sites'] button");
    browser.wait_for_text("Site registered.");
    browser.type_into("#programme", PROGRAMME);
    browser.type_into("#name", "Cash for families 2027");
    browser.type_into("#currency", "KES");
    browser.type_into("#channels", "mobile, bank, cash");
    browser.type_into("#budget", "10000.00");
    browser.type_into("#starts_on", "2027-01-01");
    browser.type_into("#ends_on", "2027-12-31");
    browser.type_into("#household_max", "4");
    browser.type_into("#id_pattern", "99999999");
    browser.click("form[action='/console/programmes'] button[type=submit]");
    browser.wait_for_text("Programme created, as a draft");
    browser.open(&format!("{}/console/programmes", app.base_url));
    browser.wait_for_text("KES 10,000.00");
    browser.wait_for_text("mobile money, bank transfer, cash at a site");
    shot(&browser, "programmes");
    fits_800x480(&browser, "the programmes page", None);

    // A file whose national-ID column is not recognised: the check says
    // so; mapped by hand, every bad row is named by line and column.
    browser.click(&format!("a[href='/console/programmes/{PROGRAMME}']"));
    browser.click(&format!("a[href='/console/programmes/{PROGRAMME}/import']"));
    browser.wait_for("#file");
    shot(&browser, "import");
    upload(&browser, &app, files.path(), "families.csv", BAD_FILE);
    browser.wait_for_text("the field national_id is required but no column is mapped to it");
    shot(&browser, "import-mapping");
    browser.click("#map-national_id option[value='Gov ID']");
    browser.click("button[value=check]");
    browser.wait_for("#row-errors");
    let shown = browser.script(
        "return Array.from(document.querySelectorAll('#row-errors tbody tr')).map(function (r) {
           return Array.from(r.cells).map(function (c) { return c.textContent.trim(); }); });",
    );
    let shown = shown.as_array().unwrap();
    assert_eq!(shown.len(), BAD_ERRORS.len(), "{shown:?}");
    for ((line, column), row) in BAD_ERRORS.iter().zip(shown) {
        assert_eq!(row[0], *line, "{row}");
        assert_eq!(row[1], *column, "{row}");
        assert!(!row[2].as_str().unwrap().is_empty(), "{row}");
    }
    let text = browser.text();
    for reason in [
        "does not have the programme's format",
        "unknown site site-9",
        "the beneficiary B-001 is also on line 2",
    ] {
        assert!(text.contains(reason), "the check does not say {reason:?}");
    }
    assert_eq!(
        browser.text_of(&browser.wait_for("[data-report=rejected]")),
        "5"
    );
    assert!(browser.find("button[value=good_rows]").is_some());
    shot(&browser, "import-check");
    fits_800x480(&browser, "the check", Some("import-check-800x480"));
    // Importing it anyway: refused by the domain, every error still listed,
    // nothing imported.
    browser.click("button[value=import]");
    browser.wait_for_text("5 row(s) have errors; nothing was imported");
    assert_eq!(count(&browser, "#row-errors tbody tr"), 5);
    assert_eq!(beneficiary_count(&app), 0);

    // A forged upload is refused before its file is read.
    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/import",
        app.base_url
    ));
    let path = files.path().join("forged.csv");
    std::fs::write(&path, GOOD_FILE).unwrap();
    browser.type_into("#file", path.to_str().unwrap());
    browser.script(
        "document.querySelector(\"form[enctype] input[name=csrf]\").value = 'forged';
         document.querySelector('form[enctype]').submit();",
    );
    browser.wait_for_text("This form expired or came from another site.");
    assert_eq!(beneficiary_count(&app), 0);

    // The fixed file: its headers are recognised, the check is clean (no
    // "good rows" button), and it imports.
    upload(
        &browser,
        &app,
        files.path(),
        "families-fixed.csv",
        GOOD_FILE,
    );
    browser.wait_for_text("No row has an error");
    assert!(browser.find("button[value=good_rows]").is_none());
    assert_eq!(
        browser.text_of(&browser.wait_for("[data-report=created]")),
        "4"
    );
    browser.click("button[value=import]");
    browser.wait_for("#imported");
    assert_eq!(
        browser.text_of(&browser.wait_for("[data-report=created]")),
        "4"
    );
    shot(&browser, "import-done");
    assert_eq!(beneficiary_count(&app), 4);
    // The same file again: nothing changes.
    upload(
        &browser,
        &app,
        files.path(),
        "families-fixed.csv",
        GOOD_FILE,
    );
    browser.wait_for_text("No row has an error");
    browser.click("button[value=import]");
    browser.wait_for("#nothing-changed");
    assert_eq!(
        browser.text_of(&browser.wait_for("[data-report=unchanged]")),
        "4"
    );
    shot(&browser, "import-nothing-changed");

    // The programme: its counts and its import; activated.
    browser.click("a[href='/console/programmes/cash-2027']");
    browser.wait_for("button[value=activate]");
    browser.click("button[value=activate]");
    browser.wait_for_text("Programme activated");
    browser.wait_for_text("families-fixed.csv");

    // Beneficiaries: by national ID, then one person's channels in order.
    browser.click("a[href='/console/programmes/cash-2027/beneficiaries']");
    browser.wait_for("#beneficiaries");
    assert_eq!(count(&browser, "#beneficiaries tbody tr"), 4);
    browser.type_into("#q", "23456789");
    browser.click("form[role=search] button");
    browser.wait_for_text("Otieno Odhiambo");
    assert_eq!(count(&browser, "#beneficiaries tbody tr"), 1);
    browser.type_into("#q", "");
    browser.type_into("#name", "Ami");
    browser.click("form[role=search] button");
    browser.wait_for_text("Amina Wanjiru");
    assert_eq!(count(&browser, "#beneficiaries tbody tr"), 1);
    shot(&browser, "beneficiaries");
    fits_800x480(&browser, "the beneficiaries", None);
    browser.click("a[href='/console/programmes/cash-2027/beneficiaries/B-001']");
    browser.wait_for("#channels");
    let channels = browser.script(
        "return Array.from(document.querySelectorAll('#channels li')).map(function (li) { return li.textContent.trim(); });",
    );
    let channels: Vec<&str> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(channels.len(), 3, "{channels:?}");
    assert!(
        channels[0].starts_with("mobile money: mpesa +254712345678")
            && channels[0].contains("used for payments"),
        "{channels:?}"
    );
    assert!(
        channels[1].contains("DE89 3704 0044 0532 0130 00"),
        "{channels:?}"
    );
    assert!(channels[2].contains("site-1"), "{channels:?}");
    shot(&browser, "beneficiary");

    // The shared phone is a signal to review.
    browser.open(&format!(
        "{}/console/signals?programme={PROGRAMME}",
        app.base_url
    ));
    browser.wait_for_text("The same phone number on several people");
    browser.wait_for("a[href='/console/programmes/cash-2027/beneficiaries/B-003']");
    shot(&browser, "signals");
    fits_800x480(&browser, "the signals", None);
    browser.type_into("#signals input[name=note]", "two sisters share one phone");
    browser.click("#signals button[type=submit]");
    browser.wait_for_text("Signal marked reviewed.");
    browser.wait_for_text("two sisters share one phone");

    // A cycle over the budget: flagged, and submitting it without asking
    // for approval over budget is refused; one exclusion brings it within.
    browser.open(&format!("{}/console/programmes/{PROGRAMME}", app.base_url));
    browser.type_into("#period", "2027-01");
    browser.type_into("#amount", "3000");
    browser.click("form[action$='/cycles'] button[type=submit]");
    browser.wait_for_text("Cycle generated, as a draft");
    browser.wait_for_text("This cycle totals more than the programme's budget");
    assert_eq!(
        browser.text_of(&browser.wait_for("#cycle-total")),
        "KES 12,000.00"
    );
    assert!(browser.find("#over_budget").is_some());
    let cycle_url = browser.url();
    let cycle = cycle_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    shot(&browser, "cycle-over-budget");
    browser.type_into("#reason", "January payment");
    browser.click("form[action$='/submit'] button[type=submit]");
    browser.wait_for_text("over the programme's budget");
    browser.type_into(
        "form[action$='/B-004/exclusion'] input[name=note]",
        "moved away in December",
    );
    browser.click("form[action$='/B-004/exclusion'] button");
    browser.wait_for_text("Entitlement excluded.");
    assert_eq!(
        browser.text_of(&browser.wait_for("#cycle-total")),
        "KES 9,000.00"
    );
    assert!(browser.find("#over_budget").is_none());
    browser.wait_for_text("moved away in December");
    shot(&browser, "cycle");
    fits_800x480(&browser, "the cycle", Some("cycle-800x480"));
    browser.type_into("#reason", "January payment, checked with the field team");
    browser.click("form[action$='/submit'] button[type=submit]");
    browser.wait_for_text("Submitted: an approver decides it");
    assert!(browser.find("form[action$='/exclusion']").is_none());

    // The approver opens the approval, follows it to the cycle's totals,
    // and approves it.
    sign_in(&browser, &app, Role::Approver);
    browser.open(&format!("{}/console/proposals?state=pending", app.base_url));
    browser.wait_for_text("cycle.approve");
    browser.wait_for_text("3 entitlements, KES 9,000.00 in all");
    shot(&browser, "proposals-cycle");
    browser.click(&format!("td a[href='/console/cycles/{cycle}']"));
    browser.wait_for("#cycle-total");
    assert_eq!(
        browser.text_of(&browser.wait_for("#cycle-total")),
        "KES 9,000.00"
    );
    browser.wait_for_text("submitted for approval");
    browser.click("a[href='/console/proposals?state=pending']");
    browser.type_into("input[name=note]", "totals match the field list");
    browser.click("button[value=approve]");
    browser.wait_for_text("Done.");
    browser.open(&format!("{}/console/cycles/{cycle}", app.base_url));
    browser.wait_for_text("Approved by");
    browser.wait_for(".status-approved");
    shot(&browser, "cycle-approved");
    let (_, shown) = app.hq_get(&format!("/v1/hq/cycles/{cycle}"));
    assert_eq!(shown["state"], "approved", "{shown}");
    // The approver may not release it; the officer does, from its page.
    assert!(browser.find("form[action$='/release']").is_none());
    sign_in(&browser, &app, Role::ProgrammeOfficer);
    browser.open(&format!("{}/console/cycles/{cycle}", app.base_url));
    browser.click("form[action$='/release'] button[type=submit]");
    browser.wait_for_text("Released.");
    browser.wait_for(".status-issued");
    shot(&browser, "cycle-released");
    let (_, list) = app.hq_as(
        Role::ProgrammeOfficer,
        "GET",
        &format!("/v1/hq/cycles/{cycle}/entitlements"),
        None,
    );
    let states: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["channel_kind"].as_str().unwrap(),
                e["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        states.iter().all(|(kind, state)| match *kind {
            "cash" => *state == "issued" || *state == "cancelled",
            _ => *state == "approved",
        }),
        "{list}"
    );
    assert!(states.contains(&("cash", "issued")), "{list}");
}

/// The state the role checks look at, made over the HTTP API.
fn registry_with_a_cycle(app: &TestApp) -> i64 {
    let officer = |method: &str, path: &str, body: serde_json::Value| {
        let (status, answer) = app.hq_as(Role::ProgrammeOfficer, method, path, Some(body));
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    };
    officer(
        "POST",
        "/v1/hq/sites",
        serde_json::json!({"site": "site-1", "name": "Kibera community hall"}),
    );
    officer(
        "POST",
        "/v1/hq/programmes",
        serde_json::json!({
            "programme": PROGRAMME, "name": "Cash for families 2027", "currency": "KES",
            "issuer": "lastmile-test", "channels": ["mobile", "bank", "cash"], "budget": "10000.00",
            "starts_on": "2027-01-01", "target": "individual", "id_pattern": "99999999",
        }),
    );
    let (status, report) = app.hq_upload(
        Role::ProgrammeOfficer,
        &format!("/v1/hq/programmes/{PROGRAMME}/imports?file_name=families.csv"),
        GOOD_FILE.as_bytes(),
    );
    assert_eq!(status, 201, "{report}");
    officer(
        "POST",
        &format!("/v1/hq/programmes/{PROGRAMME}/state"),
        serde_json::json!({"transition": "activate"}),
    );
    let cycle = officer(
        "POST",
        &format!("/v1/hq/programmes/{PROGRAMME}/cycles"),
        serde_json::json!({"period": "2027-01", "rule": "flat", "amount": "2000"}),
    );
    cycle["id"].as_i64().unwrap()
}

#[test]
fn the_registry_by_role_in_french_and_at_800x480() {
    let app = spawn_app(Backend::Postgres);
    let cycle = registry_with_a_cycle(&app);
    let browser = Browser::start(1280, 800, "fr");

    // The auditor (in French) sees programmes, beneficiaries, signals and
    // entitlements, and no form that changes anything.
    sign_in_french(&browser, &app, ("claire.audit", "Claire"), Role::Auditor);
    browser.click("nav a[href='/console/programmes']");
    browser.wait_for_text("KES 10\u{202f}000,00");
    shot(&browser, "programmes-fr");
    assert_eq!(count(&browser, "form[method=post]"), 1, "only sign-out");
    browser.open(&format!("{}/console/programmes/{PROGRAMME}", app.base_url));
    browser.wait_for_text("Bénéficiaires actifs");
    shot(&browser, "programme-fr");
    assert_eq!(count(&browser, "form[method=post]"), 1, "only sign-out");
    fits_800x480(&browser, "the programme page", Some("programme-fr-800x480"));
    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/beneficiaries",
        app.base_url
    ));
    browser.wait_for("#beneficiaries");
    assert_eq!(count(&browser, "#beneficiaries tbody tr"), 4);
    fits_800x480(
        &browser,
        "the beneficiaries",
        Some("beneficiaries-fr-800x480"),
    );
    browser.open(&format!("{}/console/signals", app.base_url));
    browser.wait_for_text("Le même numéro de téléphone pour plusieurs personnes");
    assert_eq!(count(&browser, "form[method=post]"), 1, "only sign-out");
    browser.open(&format!("{}/console/cycles/{cycle}", app.base_url));
    browser.wait_for("#entitlements");
    assert_eq!(count(&browser, "#entitlements tbody tr"), 4);
    assert_eq!(count(&browser, "form[method=post]"), 1, "only sign-out");
    shot(&browser, "cycle-fr");
    fits_800x480(&browser, "the cycle", Some("cycle-fr-800x480"));
    let import = format!("/console/programmes/{PROGRAMME}/import");
    assert_eq!(status_of(&browser, &import), 403);

    // Finance: programmes and a cycle's totals, but no personal data.
    browser.clear_cookies();
    sign_in(&browser, &app, Role::Finance);
    assert!(browser.find("nav a[href='/console/signals']").is_none());
    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/beneficiaries",
        app.base_url
    ));
    browser.wait_for_text("Your role may not open this page.");
    for path in [
        format!("/console/programmes/{PROGRAMME}/beneficiaries"),
        format!("/console/programmes/{PROGRAMME}/beneficiaries/B-001"),
        "/console/signals".to_owned(),
    ] {
        assert_eq!(status_of(&browser, &path), 403, "{path}");
    }
    browser.open(&format!("{}/console/cycles/{cycle}", app.base_url));
    browser.wait_for_text("your role sees only the totals");
    assert!(browser.find("#entitlements").is_none());
    assert!(!browser.text().contains("B-001"));
    browser.open(&format!("{}/console/programmes/{PROGRAMME}", app.base_url));
    browser.wait_for("#main h1");
    assert!(
        browser
            .find("a[href='/console/programmes/cash-2027/beneficiaries']")
            .is_none()
    );
}
