//! The ledger's console pages in a real headless Chromium against a real
//! server: finance records a funding (a bad amount refused, nothing
//! changed; the same reference twice is one funding), a cycle approved
//! over HTTP commits part of it, and the statement, the trial balance
//! (debits = credits, the verification holds) and the budget's history
//! show it to the cent; both CSV downloads have exactly the expected
//! content, and the HTTP API serves the same files. An officer sees the
//! statement without the funding form; support may not open the ledger.
//! The pages in French. Screenshots when `LASTMILE_CONSOLE_SCREENSHOTS`
//! names a directory.

use lastmile_server::people::Role;
use lastmile_tests::browser::Browser;

use crate::common::{Backend, TestApp, spawn_app};
use crate::console::{shot, sign_in, sign_in_french};
use crate::console_registry::{fits_800x480, status_of};
use crate::ledger::ok;

const PROGRAMME: &str = "cash-2027";
const FILE: &str = "ID,Full name,National ID,Phone,Site\n\
B-001,Amina Wanjiru,12345678,+254712345678,site-1\n\
B-002,Otieno Odhiambo,23456789,+254712000002,site-1\n\
B-003,Neema Atieno,34567890,+254712000003,site-1\n";

/// An active programme of three people with a generated 2027-01 cycle of
/// KES 2,000.00 each; returns the cycle's id.
fn programme_with_a_cycle(app: &TestApp) -> i64 {
    let officer = Role::ProgrammeOfficer;
    ok(
        app,
        officer,
        "POST",
        "/v1/hq/sites",
        serde_json::json!({"site": "site-1", "name": "Kibera"}),
    );
    ok(
        app,
        officer,
        "POST",
        "/v1/hq/programmes",
        serde_json::json!({
            "programme": PROGRAMME, "name": "Cash for families 2027", "currency": "KES",
            "issuer": "lastmile-test", "channels": ["cash"], "budget": "10000.00",
            "starts_on": "2027-01-01", "target": "individual",
        }),
    );
    let (status, report) = app.hq_upload(
        officer,
        &format!("/v1/hq/programmes/{PROGRAMME}/imports?file_name=families.csv"),
        FILE.as_bytes(),
    );
    assert_eq!(status, 201, "{report}");
    ok(
        app,
        officer,
        "POST",
        &format!("/v1/hq/programmes/{PROGRAMME}/state"),
        serde_json::json!({"transition": "activate"}),
    );
    let cycle = ok(
        app,
        officer,
        "POST",
        &format!("/v1/hq/programmes/{PROGRAMME}/cycles"),
        serde_json::json!({"period": "2027-01", "rule": "flat", "amount": "2000"}),
    );
    cycle["id"].as_i64().unwrap()
}

fn approve(app: &TestApp, cycle: i64) {
    let proposal = ok(
        app,
        Role::ProgrammeOfficer,
        "POST",
        &format!("/v1/hq/cycles/{cycle}/submit"),
        serde_json::json!({"reason": "January payment"}),
    );
    ok(
        app,
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
        serde_json::json!({"decision": "approve", "note": "checked"}),
    );
}

/// `(content type, body)` of a GET with the browser's session.
fn download(browser: &Browser, path: &str) -> (String, String) {
    let got = browser.script(&format!(
        "var x = new XMLHttpRequest(); x.open('GET', {}, false); x.send();
         return [x.status, x.getResponseHeader('content-type'),
                 x.getResponseHeader('content-disposition'), x.responseText];",
        serde_json::Value::from(path)
    ));
    assert_eq!(got[0], 200, "{path}: {got}");
    assert!(
        got[2]
            .as_str()
            .unwrap()
            .starts_with("attachment; filename="),
        "{got}"
    );
    (
        got[1].as_str().unwrap().to_owned(),
        got[3].as_str().unwrap().to_owned(),
    )
}

/// The same file over the HTTP API, with an auditor's token.
fn api_file(app: &TestApp, path: &str) -> String {
    let mut response = ureq::get(&format!("{}{path}", app.base_url))
        .header(
            "authorization",
            format!("Bearer {}", app.token(Role::Auditor)),
        )
        .call()
        .unwrap();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/csv; charset=utf-8"
    );
    response.body_mut().read_to_string().unwrap()
}

/// The history CSV with each `at_utc` cell (the third) checked to be a
/// UTC time and replaced by `<at>`.
fn without_times(csv: &str) -> String {
    csv.lines()
        .enumerate()
        .map(|(i, line)| {
            let mut cells: Vec<&str> = line.split(',').collect();
            if i > 0 {
                let at = cells[2];
                assert!(
                    at.len() == 20 && at.as_bytes()[10] == b'T' && at.ends_with('Z'),
                    "{line}"
                );
                cells[2] = "<at>";
            }
            cells.join(",") + "\n"
        })
        .collect()
}

const TRIAL_BALANCE: &str = "\
account,kind,programme,currency,debits_pending,debits_posted,credits_pending,credits_posted,balance
budget/cash-2027/KES,budget,cash-2027,KES,0.00,6000.00,0.00,25000.00,19000.00
funding/treasury/KES,funding,,KES,0.00,25000.00,0.00,0.00,-25000.00
obligations/cash-2027/2027-01/KES,obligations,cash-2027,KES,0.00,0.00,0.00,6000.00,6000.00
";

const BUDGET_HISTORY: &str = "\
seq,transfer,at_utc,code,phase,state,side,counter_account,amount,currency,cause_kind,cause_id,actor,pending_transfer
2,commit/cycle/1/KES,<at>,commit,single,,debit,obligations/cash-2027/2027-01/KES,6000.00,KES,cycle,1,user:amina.approver,
1,fund/cash-2027/TR-2027-001,<at>,fund,single,,credit,funding/treasury/KES,25000.00,KES,programme,cash-2027,user:fatuma.finance,
";

#[test]
fn the_ledger_in_the_console() {
    let app = spawn_app(Backend::Sqlite);
    let cycle = programme_with_a_cycle(&app);
    let browser = Browser::start(1280, 800, "en");

    // Finance follows the programme to its statement: nothing yet.
    sign_in(&browser, &app, Role::Finance);
    browser.click("nav a[href='/console/ledger']");
    browser.wait_for_text("The ledger holds no account yet.");
    browser.open(&format!("{}/console/programmes/{PROGRAMME}", app.base_url));
    browser.click(&format!(
        "a[href='/console/programmes/{PROGRAMME}/statement']"
    ));
    browser.wait_for_text("Nothing funded or committed yet.");

    // A bad amount: the specific refusal, the form kept, nothing recorded.
    browser.type_into("#source", "treasury");
    browser.type_into("#amount", "25000.005");
    browser.type_into("#reference", "TR-2027-001");
    browser.click("#funding button[type=submit]");
    browser.wait_for_text("more decimal places than the currency has");
    browser.wait_for_text("Nothing funded or committed yet.");
    assert_eq!(
        browser.script("return document.querySelector('#reference').value;"),
        "TR-2027-001"
    );
    shot(&browser, "statement-refused");

    // The funding, then the same reference again: one funding.
    browser.type_into("#amount", "25000.00");
    browser.click("#funding button[type=submit]");
    browser.wait_for_text("Funding recorded: the budget is credited.");
    let cell = |css: &str| browser.text_of(&browser.wait_for(css));
    assert_eq!(cell("#statement [data-field=funded]"), "KES 25,000.00");
    browser.type_into("#source", "treasury");
    browser.type_into("#amount", "25000.00");
    browser.type_into("#reference", "TR-2027-001");
    browser.click("#funding button[type=submit]");
    browser.wait_for_text("This reference was recorded before; nothing changed.");
    assert_eq!(cell("#statement [data-field=funded]"), "KES 25,000.00");

    // The cycle's approval commits 3 × KES 2,000.00 of it.
    approve(&app, cycle);
    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/statement",
        app.base_url
    ));
    browser.wait_for("#cycle-statement");
    for (field, shown) in [
        ("funded", "KES 25,000.00"),
        ("committed", "KES 6,000.00"),
        ("delivered", "KES 0.00"),
        ("in_flight", "KES 0.00"),
        ("outstanding", "KES 6,000.00"),
        ("available", "KES 19,000.00"),
    ] {
        assert_eq!(
            cell(&format!("#statement [data-field={field}]")),
            shown,
            "{field}"
        );
    }
    assert_eq!(
        cell("#cycle-statement tr[data-period='2027-01'] [data-field=outstanding]"),
        "KES 6,000.00"
    );
    browser.wait_for(&format!(
        "#cycle-statement a[href='/console/cycles/{cycle}']"
    ));
    shot(&browser, "statement");
    fits_800x480(&browser, "the statement", None);

    // The trial balance: debits = credits, the accounts by kind, and the
    // whole ledger verified.
    browser.click(&format!("a[href='/console/ledger?programme={PROGRAMME}']"));
    browser.wait_for("#accounts");
    browser.wait_for_text("debits need not equal credits");
    browser.click("nav a[href='/console/ledger']");
    browser.wait_for("#totals");
    assert_eq!(
        cell("#totals tr[data-currency=KES] td:nth-child(3)"),
        "KES 31,000.00"
    );
    assert_eq!(
        cell("#totals tr[data-currency=KES] td:nth-child(4)"),
        "KES 31,000.00"
    );
    browser.wait_for_text("debits = credits");
    let kinds = browser.script(
        "return Array.from(document.querySelectorAll('#accounts tbody')).map(function (b) { return b.getAttribute('data-kind'); });",
    );
    assert_eq!(
        kinds,
        serde_json::json!(["budget", "funding", "obligations"])
    );
    assert_eq!(
        cell("[data-balance='funding/treasury/KES']"),
        "KES -25,000.00"
    );
    browser.click("button[name=verify]");
    browser.wait_for("#verification");
    browser.wait_for_text("The ledger holds");
    browser.wait_for_text("(3 accounts, 2 transfers checked.)");
    shot(&browser, "ledger");
    fits_800x480(&browser, "the trial balance", Some("ledger-800x480"));

    // The budget's history, newest first, each transfer's other account a
    // link to it.
    browser.click("a[href='/console/ledger/accounts/budget%2Fcash-2027%2FKES']");
    browser.wait_for("#history");
    assert_eq!(cell("#balance"), "KES 19,000.00");
    let rows = browser.script(
        "return Array.from(document.querySelectorAll('#history tbody tr')).map(function (r) {
           return Array.from(r.cells).slice(0, 8).map(function (c) { return c.textContent.trim(); }); });",
    );
    assert_eq!(
        rows,
        serde_json::json!([
            [
                "2",
                "Commitmentcommit/cycle/1/KES",
                "obligations/cash-2027/2027-01/KES",
                "KES 6,000.00",
                "",
                "posted",
                "cycle 1",
                "user:amina.approver"
            ],
            [
                "1",
                "Fundingfund/cash-2027/TR-2027-001",
                "funding/treasury/KES",
                "",
                "KES 25,000.00",
                "posted",
                "programme cash-2027",
                "user:fatuma.finance"
            ],
        ])
    );
    shot(&browser, "ledger-account");
    fits_800x480(&browser, "an account's history", None);

    // Both downloads, exactly; the HTTP API serves the same files.
    let history_csv =
        browser.script("return document.querySelector('#history-csv').getAttribute('href');");
    let (kind, history) = download(&browser, history_csv.as_str().unwrap());
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert_eq!(without_times(&history), BUDGET_HISTORY);
    browser.click("a[href='/console/ledger/accounts/funding%2Ftreasury%2FKES']");
    browser.wait_for_text("KES -25,000.00");
    browser.open(&format!("{}/console/ledger", app.base_url));
    let trial_csv =
        browser.script("return document.querySelector('#trial-balance-csv').getAttribute('href');");
    let (_, trial) = download(&browser, trial_csv.as_str().unwrap());
    assert_eq!(trial, TRIAL_BALANCE);
    assert_eq!(api_file(&app, "/v1/hq/ledger/accounts.csv"), trial);
    assert_eq!(
        api_file(
            &app,
            "/v1/hq/ledger/accounts/budget%2Fcash-2027%2FKES/transfers.csv"
        ),
        history
    );

    // An officer sees the statement, and no funding form.
    sign_in(&browser, &app, Role::ProgrammeOfficer);
    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/statement",
        app.base_url
    ));
    browser.wait_for("#statement");
    assert!(browser.find("#funding").is_none());
    let fund = format!("/console/programmes/{PROGRAMME}/funding");
    let refused = browser.script(&format!(
        "var x = new XMLHttpRequest(); x.open('POST', {}, false);
         x.setRequestHeader('content-type', 'application/x-www-form-urlencoded');
         x.send('csrf=' + encodeURIComponent(document.querySelector('input[name=csrf]').value)
                + '&source=treasury&amount=1.00&reference=TR-X'); return x.status;",
        serde_json::Value::from(fund)
    ));
    assert_eq!(refused, 403);

    // Support may not open the ledger at all.
    sign_in(&browser, &app, Role::Support);
    assert!(browser.find("nav a[href='/console/ledger']").is_none());
    for path in [
        "/console/ledger".to_owned(),
        "/console/ledger?verify=1".to_owned(),
        "/console/ledger/trial-balance.csv".to_owned(),
        "/console/ledger/accounts/budget%2Fcash-2027%2FKES".to_owned(),
        "/console/ledger/accounts/budget%2Fcash-2027%2FKES/transfers.csv".to_owned(),
        format!("/console/programmes/{PROGRAMME}/statement"),
    ] {
        assert_eq!(status_of(&browser, &path), 403, "{path}");
    }
    let (_, statement) = app.hq_get(&format!("/v1/hq/programmes/{PROGRAMME}/statement"));
    assert_eq!(
        statement["currencies"][0]["funded"], 2_500_000,
        "{statement}"
    );
}

#[test]
fn the_ledger_in_french() {
    let app = spawn_app(Backend::Postgres);
    let cycle = programme_with_a_cycle(&app);
    ok(
        &app,
        Role::Finance,
        "POST",
        &format!("/v1/hq/programmes/{PROGRAMME}/funding"),
        serde_json::json!({"source": "treasury", "amount": "25000.00", "reference": "TR-2027-001"}),
    );
    approve(&app, cycle);
    let browser = Browser::start(1280, 800, "fr");
    sign_in_french(&browser, &app, ("fanta.finance", "Fanta"), Role::Finance);

    browser.open(&format!(
        "{}/console/programmes/{PROGRAMME}/statement",
        app.base_url
    ));
    browser.wait_for_text("Enregistrer un financement");
    assert_eq!(
        browser.text_of(&browser.wait_for("#statement [data-field=available]")),
        "KES 19\u{202f}000,00"
    );
    shot(&browser, "statement-fr");
    fits_800x480(&browser, "the statement", Some("statement-fr-800x480"));
    browser.click("nav a[href='/console/ledger']");
    browser.wait_for_text("Balance des comptes");
    browser.click("button[name=verify]");
    browser.wait_for_text("Le grand livre est juste");
    browser.wait_for_text("débits = crédits");
    shot(&browser, "ledger-fr");
    browser.open(&format!(
        "{}/console/ledger/accounts/obligations%2Fcash-2027%2F2027-01%2FKES",
        app.base_url
    ));
    browser.wait_for_text("ne remet jamais plus que ce qu'il a reçu");
    browser.wait_for_text("Engagement");
    shot(&browser, "ledger-account-fr");
}
