//! The payment pipeline's console pages in a real headless Chromium
//! against a real server. A programme pays three people by bank through a
//! rail with its own folders: finance prepares the cycle's batch and submits
//! it; the approver sees it on the approvals page (count, total, a link to
//! the batch) and approves; the server's worker sends it, and the overview
//! finance left open shows it sent without a reload; the batch shows its
//! file, a payment its timeline. A file that is no answer is refused,
//! changing nothing; an admin marks the rail down and up; an auditor sees
//! every page and no form, and a form they post anyway is forbidden.
//!
//! Then a bank's status report rejecting one payment, uploaded through the
//! rails page, moves it into the exception queue with its reason in words;
//! finance proposes cancelling it, the approver approves on the approvals
//! page and it is cancelled; the same file again is refused. Screenshots
//! when `LASTMILE_CONSOLE_SCREENSHOTS` names a directory.

use std::time::Duration;

use lastmile_server::people::Role;
use lastmile_tests::browser::Browser;

use crate::common::{TestApp, eventually, spawn_app};
use crate::console::{shot, sign_in, sign_in_french};
use crate::console_registry::{fits_800x480, status_of};
use crate::ledger::ok;

const PROGRAMME: &str = "bank-2027";
const RAIL: &str = "kcb";
const FILE: &str = "ID,Full name,National ID,Phone,Site,Bank code,Account number,Channels\n\
B-001,Amina Wanjiru,12345678,+254712345678,site-1,KCB,0123456789,bank;cash\n\
B-002,Otieno Odhiambo,23456789,+254712000002,site-1,KCB,0123456790,bank;cash\n\
B-003,Neema Atieno,34567890,+254712000003,site-1,KCB,0123456791,bank;cash\n";

/// The send job runs on the server's worker: long enough for a slow machine.
const SENT_WITHIN: Duration = Duration::from_secs(30);

/// An active programme paying three people by bank, funded, with an
/// approved 2027-01 cycle of KES 2,000.00 each, and a bank rail whose
/// folders are in the test's directory; returns the cycle's id.
fn approved_cycle_and_rail(app: &TestApp) -> i64 {
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
            "programme": PROGRAMME, "name": "Bank transfers 2027", "currency": "KES",
            "issuer": "lastmile-test", "channels": ["bank", "cash"], "budget": "10000.00",
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
    )["id"]
        .as_i64()
        .unwrap();
    ok(
        app,
        Role::Finance,
        "POST",
        &format!("/v1/hq/programmes/{PROGRAMME}/funding"),
        serde_json::json!({"source": "treasury", "amount": "25000.00", "reference": "TR-2027-001"}),
    );
    let proposal = ok(
        app,
        officer,
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
    let folders = app.dir.path().join("kcb");
    for folder in ["outbox", "inbox"] {
        std::fs::create_dir_all(folders.join(folder)).unwrap();
    }
    ok(
        app,
        Role::Admin,
        "POST",
        "/v1/hq/rails",
        serde_json::json!({
            "rail": RAIL, "currency": "KES",
            "config": {
                "format": "pain.001.001.09",
                "debtor_name": "Ministry of Social Protection",
                "debtor_account": "1100223344",
                "debtor_bic": "KCBLKENX",
                "outbox": folders.join("outbox"),
                "inbox": folders.join("inbox"),
                "batch_payments_max": 1000,
                "answer_deadline_hours": 48,
            },
        }),
    );
    cycle
}

/// The batch's state over the HTTP API.
fn batch_state(app: &TestApp, batch: i64) -> String {
    let (status, found) = app.hq_get(&format!("/v1/hq/payment-batches/{batch}"));
    assert_eq!(status, 200, "{found}");
    found["state"].as_str().unwrap().to_owned()
}

fn wait_until_sent(app: &TestApp, batch: i64) {
    assert!(
        eventually(SENT_WITHIN, || batch_state(app, batch) == "sent"),
        "batch {batch} was never sent: {}",
        batch_state(app, batch)
    );
}

/// A cycle's batch prepared and submitted by finance and approved by the
/// approver over the HTTP API, then sent: its id, message id and keys.
fn sent_batch(app: &TestApp, cycle: i64) -> (i64, String, Vec<String>) {
    let made = ok(
        app,
        Role::Finance,
        "POST",
        "/v1/hq/payment-batches",
        serde_json::json!({"cycle": cycle, "rail": RAIL}),
    );
    let batch = made[0]["id"].as_i64().unwrap();
    let message_id = made[0]["message_id"].as_str().unwrap().to_owned();
    let proposal = ok(
        app,
        Role::Finance,
        "POST",
        &format!("/v1/hq/payment-batches/{batch}/submission"),
        serde_json::json!({"reason": "January transfers"}),
    );
    ok(
        app,
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
        serde_json::json!({"decision": "approve", "note": "totals checked"}),
    );
    wait_until_sent(app, batch);
    (batch, message_id, keys(app, batch))
}

/// The keys of a batch's payments, in key order.
fn keys(app: &TestApp, batch: i64) -> Vec<String> {
    let (status, list) = app.hq_get(&format!("/v1/hq/payments?batch={batch}"));
    assert_eq!(status, 200, "{list}");
    let mut keys: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["payment"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

/// A bank's pain.002 status report rejecting payment `key` of the batch
/// with reason AC04 (account closed).
fn rejection(message_id: &str, key: &str) -> String {
    format!(
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"><CstmrPmtStsRpt>\
         <GrpHdr><MsgId>KCB-STS-0001</MsgId><CreDtTm>2027-01-05T10:00:00</CreDtTm></GrpHdr>\
         <OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId>\
         <OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\
         <OrgnlPmtInfAndSts><OrgnlPmtInfId>{message_id}</OrgnlPmtInfId><TxInfAndSts>\
         <OrgnlEndToEndId>{key}</OrgnlEndToEndId><TxSts>RJCT</TxSts>\
         <StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf></TxInfAndSts></OrgnlPmtInfAndSts>\
         </CstmrPmtStsRpt></Document>"
    )
}

/// Uploads `contents` as `name` through the rail's answer form.
fn upload_answer(browser: &Browser, app: &TestApp, name: &str, contents: &str) {
    let path = app.dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    browser.open(&format!("{}/console/payments/rails", app.base_url));
    browser.type_into(&format!("#file-{RAIL}"), path.to_str().unwrap());
    browser.click(&format!(
        "section[data-rail={RAIL}] form[enctype='multipart/form-data'] button[type=submit]"
    ));
}

/// The text of every row's cells of a table.
fn rows(browser: &Browser, css: &str) -> serde_json::Value {
    browser.script(&format!(
        "return Array.from(document.querySelectorAll({})).map(function (r) {{
           return Array.from(r.cells).map(function (c) {{ return c.textContent.trim(); }}); }});",
        serde_json::Value::from(css)
    ))
}

/// A form posted with the page's CSRF token: its status.
fn post_status(browser: &Browser, path: &str, body: &str) -> u64 {
    browser
        .script(&format!(
            "var x = new XMLHttpRequest(); x.open('POST', {}, false);
             x.setRequestHeader('content-type', 'application/x-www-form-urlencoded');
             x.send('csrf=' + encodeURIComponent(document.querySelector('input[name=csrf]').value)
                    + '&' + {}); return x.status;",
            serde_json::Value::from(path),
            serde_json::Value::from(body)
        ))
        .as_u64()
        .unwrap()
}

#[test]
fn payments_in_the_console() {
    let app = spawn_app(crate::common::Backend::Sqlite);
    let cycle = approved_cycle_and_rail(&app);
    let browser = Browser::start(1280, 800, "en");

    // Finance prepares the cycle's batch from the overview: a draft of
    // three payments, KES 6,000.00, which the cycle can cover.
    sign_in(&browser, &app, Role::Finance);
    browser.click("nav a[href='/console/payments']");
    browser.wait_for_text("No payment yet.");
    browser.type_into("#cycle", &cycle.to_string());
    browser.click("#prepare button[type=submit]");
    browser.wait_for_text("Prepared: check the batch");
    let cell = |css: &str| browser.text_of(&browser.wait_for(css));
    assert_eq!(cell("#batch [data-field=state]"), "draft");
    assert_eq!(cell("#batch [data-field=payments]"), "3");
    assert_eq!(cell("#batch [data-field=total]"), "KES 6,000.00");
    assert_eq!(cell("#batch [data-field=reservable]"), "KES 6,000.00");
    assert_eq!(
        cell("#totals tr[data-state=batched] [data-field=payments]"),
        "3"
    );
    let batch: i64 = browser
        .url()
        .split("/batches/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    shot(&browser, "payment-batch-draft");

    // Submitted with a reason: it waits for a second person.
    browser.type_into(
        "#reason",
        "January transfers, list checked with the officer",
    );
    browser.click("#submit button[type=submit]");
    browser.wait_for_text("Submitted for approval.");
    assert_eq!(cell("#batch [data-field=state]"), "submitted");
    assert!(browser.find("#submit").is_none());

    // Finance keeps the overview open while the approver decides.
    browser.click("a[href='/console/payments']");
    browser.wait_for("#batches");
    assert_eq!(
        cell(&format!(
            "#batches tr[data-batch='{batch}'] td:nth-child(5)"
        )),
        "submitted"
    );

    // The approver sees the batch's proposal in words, its totals in the
    // reason and a link to the batch, and approves it there.
    let approver = Browser::start(1280, 800, "en");
    sign_in(&approver, &app, Role::Approver);
    approver.open(&format!("{}/console/proposals?state=pending", app.base_url));
    approver.wait_for_text("Approve a payment batch");
    approver.wait_for_text("3 payments, KES 6000.00 (the cycle has KES 6000.00 left to reserve)");
    approver.wait_for(&format!(
        "tr[data-kind='batch.approve'] a[href='/console/payments/batches/{batch}']"
    ));
    shot(&approver, "proposals-batch");
    approver.type_into(
        "tr[data-kind='batch.approve'] input[name=note]",
        "totals checked",
    );
    approver.click("tr[data-kind='batch.approve'] button[value=approve]");
    approver.wait_for_text("Done.");
    wait_until_sent(&app, batch);

    // The overview left open shows the payments sent, without a reload.
    browser.wait_for("#totals tr[data-state=sent]");
    assert_eq!(
        cell("#totals tr[data-state=sent] [data-field=payments]"),
        "3"
    );
    assert_eq!(
        cell("#totals tr[data-state=sent] [data-field=amount]"),
        "KES 6,000.00"
    );
    browser.wait_for("#events tr[data-kind=sent]");
    assert!(browser.find("#totals tr[data-state=batched]").is_none());
    browser.wait_for(&format!(
        "#batches tr[data-batch='{batch}'] [data-state=sent]"
    ));
    shot(&browser, "payments");
    fits_800x480(&browser, "the payments overview", None);

    // The batch: approved by the approver, its one file recorded by name,
    // format, SHA-256 and size.
    browser.click(&format!(
        "#batches a[href='/console/payments/batches/{batch}']"
    ));
    browser.wait_for("#files");
    assert_eq!(cell("#batch [data-field=state]"), "sent");
    assert!(cell("#batch [data-field=approved_by]").starts_with("user:amina.approver"));
    let message_id = cell("#batch [data-field=message_id]");
    let files = rows(&browser, "#files tbody tr");
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0][0], format!("{message_id}.xml"));
    assert_eq!(files[0][1], "sent to the rail");
    assert_eq!(files[0][2], "pain.001.001.09");
    let sha256 = files[0][3].as_str().unwrap();
    assert!(
        sha256.len() == 64 && sha256.chars().all(|c| c.is_ascii_hexdigit()),
        "{sha256}"
    );
    assert_eq!(files[0][5], "delivered");
    let payments = rows(&browser, "#payments tbody tr");
    assert_eq!(payments.as_array().unwrap().len(), 3, "{payments}");
    shot(&browser, "payment-batch");
    fits_800x480(&browser, "a batch", None);

    // A payment's timeline: prepared, approved, sent; no remedy offered
    // while it is not in the exception queue.
    let key = keys(&app, batch).remove(0);
    browser.click(&format!("#payments a[href='/console/payments/{key}']"));
    browser.wait_for("#events");
    let timeline = rows(&browser, "#events tbody tr");
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "prepared in a batch",
            "approved, money reserved",
            "sent to the rail"
        ]
    );
    assert_eq!(cell("#payment [data-field=amount]"), "KES 2,000.00");
    assert!(browser.find("#remedy").is_none());
    shot(&browser, "payment");

    // A remedy posted for it anyway: the domain's refusal, said plainly on
    // the payment's page, the reason kept; nothing proposed.
    browser.script(&format!(
        "var f = document.createElement('form'); f.method = 'post';
         f.action = '/console/payments/{key}/remedy';
         [['csrf', document.querySelector('input[name=csrf]').value],
          ['action', 'cancel'], ['reason', 'a guess']].forEach(function (p) {{
           var i = document.createElement('input'); i.name = p[0]; i.value = p[1]; f.appendChild(i); }});
         document.body.appendChild(f); f.submit(); return true;"
    ));
    browser.wait_for_text("only a payment in the exception queue is resolved by hand");
    browser.wait_for("#events");
    let (_, pending) = app.hq_get("/v1/hq/proposals?state=pending");
    assert_eq!(pending, serde_json::json!([]), "{pending}");

    // A file that is no answer: refused, saying so, nothing changed.
    upload_answer(
        &browser,
        &app,
        "notes.xml",
        "<Document>not a status report</Document>",
    );
    browser.wait_for("#refused");
    browser.wait_for_text("Nothing was changed.");
    shot(&browser, "rails-refused");
    assert_eq!(batch_state(&app, batch), "sent");
    let (_, totals) = app.hq_get(&format!("/v1/hq/payment-totals?batch={batch}"));
    assert_eq!(totals[0]["state"], "sent", "{totals}");
    assert_eq!(totals[0]["payments"], 3, "{totals}");

    // The exception queue is empty.
    browser.click("a[href='/console/payments/exceptions']");
    browser.wait_for("#queue-empty");

    // An admin sees the rail's settings and marks it down, then up; no
    // upload form (that is finance's).
    sign_in(&browser, &app, Role::Admin);
    browser.open(&format!("{}/console/payments/rails", app.base_url));
    browser.wait_for_text("Ministry of Social Protection");
    assert!(
        browser
            .find("form[enctype='multipart/form-data']")
            .is_none()
    );
    browser.click(&format!("section[data-rail={RAIL}] button.danger"));
    browser.wait_for_text("The rail is down: nothing new is sent through it.");
    let (_, rails) = app.hq_get("/v1/hq/rails");
    assert_eq!(rails[0]["state"], "down", "{rails}");
    shot(&browser, "rails-down");
    browser.click(&format!("section[data-rail={RAIL}] button[type=submit]"));
    browser.wait_for_text("The rail is up again.");

    // An auditor sees every page and no form; a form posted anyway is
    // the forbidden page.
    sign_in(&browser, &app, Role::Auditor);
    for path in [
        "/console/payments".to_owned(),
        format!("/console/payments/batches/{batch}"),
        format!("/console/payments/{key}"),
        "/console/payments/exceptions".to_owned(),
        "/console/payments/rails".to_owned(),
    ] {
        browser.open(&format!("{}{path}", app.base_url));
        browser.wait_for("main h1");
        assert!(
            browser.find("main form[method=post]").is_none(),
            "{path} shows a form to an auditor"
        );
        assert_eq!(status_of(&browser, &path), 200, "{path}");
    }
    assert_eq!(
        post_status(
            &browser,
            "/console/payments/batches",
            &format!("cycle={cycle}&rail={RAIL}")
        ),
        403
    );
    assert_eq!(
        post_status(
            &browser,
            &format!("/console/payments/{key}/remedy"),
            "action=cancel&reason=no"
        ),
        403
    );
    assert_eq!(
        post_status(
            &browser,
            &format!("/console/payments/rails/{RAIL}/state"),
            "down=1"
        ),
        403
    );
    browser.open(&format!("{}/console/payments/{key}", app.base_url));
    browser.script(&format!(
        "var f = document.createElement('form'); f.method = 'post';
         f.action = '/console/payments/batches/{batch}/cancel';
         var c = document.createElement('input'); c.name = 'csrf';
         c.value = document.querySelector('input[name=csrf]').value; f.appendChild(c);
         document.body.appendChild(f); f.submit(); return true;"
    ));
    browser.wait_for_text("Your role may not open this page.");
    assert_eq!(batch_state(&app, batch), "sent");

    // The pages in French.
    let french = Browser::start(1280, 800, "fr");
    sign_in_french(&french, &app, ("fanta.finance", "Fanta"), Role::Finance);
    french.open(&format!("{}/console/payments", app.base_url));
    french.wait_for_text("Totaux par état");
    french.wait_for_text("envoyé");
    assert_eq!(
        french.text_of(&french.wait_for("#totals tr[data-state=sent] [data-field=amount]")),
        "KES 6\u{202f}000,00"
    );
    shot(&french, "payments-fr");
    french.open(&format!("{}/console/payments/rails", app.base_url));
    french.wait_for_text("Téléverser un fichier de réponse");
}

/// Needs the pain.002 reader (`rails::iso20022::status`).
#[test]
fn an_answer_file_through_the_console() {
    let app = spawn_app(crate::common::Backend::Sqlite);
    let cycle = approved_cycle_and_rail(&app);
    let (batch, message_id, keys) = sent_batch(&app, cycle);
    let rejected = keys[0].clone();
    let report = rejection(&message_id, &rejected);
    let browser = Browser::start(1280, 800, "en");

    // Finance uploads the bank's status report: one payment rejected.
    sign_in(&browser, &app, Role::Finance);
    upload_answer(&browser, &app, "kcb-status-0001.xml", &report);
    browser.wait_for("#report");
    let cell = |css: &str| browser.text_of(&browser.wait_for(css));
    assert_eq!(cell("[data-report=rejected]"), "1");
    assert_eq!(cell("[data-report=paid]"), "0");
    shot(&browser, "rails-report");

    // The batch lists the answer beside the file it answers; the payment
    // failed, with the bank's reason in words.
    browser.open(&format!(
        "{}/console/payments/batches/{batch}",
        app.base_url
    ));
    browser.wait_for("#files tr[data-direction=in]");
    assert_eq!(
        cell("#totals tr[data-state=failed] [data-field=exceptions]"),
        "1"
    );
    assert_eq!(
        cell("#totals tr[data-state=sent] [data-field=payments]"),
        "2"
    );

    // The exception queue holds it, its reason in words.
    browser.click("a[href='/console/payments/exceptions']");
    browser.wait_for(&format!("#payments tr[data-payment='{rejected}']"));
    assert_eq!(
        cell(&format!(
            "#payments tr[data-payment='{rejected}'] [data-field=reason]"
        )),
        "The account is closed. (AC04)"
    );
    assert_eq!(
        rows(&browser, "#payments tbody tr")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    shot(&browser, "payments-exceptions");

    // Finance proposes cancelling it.
    browser.click(&format!("a[href='/console/payments/{rejected}']"));
    browser.wait_for("#remedy");
    assert_eq!(cell("#payment [data-field=state]"), "failed");
    shot(&browser, "payment-exception");
    browser.type_into("#reason", "The account is closed and the family moved away");
    browser.click("#remedy button[value=cancel]");
    browser.wait_for_text("Proposed: it waits for another person's approval.");

    // The approver sees the proposal in words, linked to the payment, and
    // approves it: the payment is cancelled, out of the queue.
    sign_in(&browser, &app, Role::Approver);
    browser.open(&format!("{}/console/proposals?state=pending", app.base_url));
    browser.wait_for_text("Cancel a payment");
    browser.wait_for(&format!(
        "tr[data-kind='payment.cancel'] a[href='/console/payments/{rejected}']"
    ));
    browser.wait_for_text("The account is closed and the family moved away");
    browser.type_into("tr[data-kind='payment.cancel'] input[name=note]", "agreed");
    browser.click("tr[data-kind='payment.cancel'] button[value=approve]");
    browser.wait_for_text("Done.");
    browser.open(&format!("{}/console/payments/{rejected}", app.base_url));
    assert_eq!(cell("#payment [data-field=state]"), "cancelled");
    browser.wait_for("#events tr[data-kind=cancelled]");
    browser.open(&format!("{}/console/payments/exceptions", app.base_url));
    browser.wait_for("#queue-empty");

    // The same file again changes nothing: refused as read before.
    sign_in(&browser, &app, Role::Finance);
    upload_answer(&browser, &app, "kcb-status-0001-again.xml", &report);
    browser.wait_for("#refused");
    browser.wait_for_text("was already read on");
}
