//! The payment pipeline end to end, over HTTP against a real server, with
//! the real bank simulator (`lastmile-server bank-simulator`) reading the
//! pain.001 files the server wrote and answering with pain.002 and
//! camt.054 files: batches prepared by finance and approved by an
//! approver, sent once by the server's own worker, answers matched by key
//! and amount (a duplicate, a contradiction and an unknown message each
//! change nothing), rejections in the exception queue rerouted to cash,
//! retried with the same key, cancelled or marked paid — each approved by
//! someone else — and the ledger balancing to the cent.

use std::path::Path;
use std::time::Duration;

use crate::common;
use crate::ledger::ok;

use common::{Backend, TestApp, eventually, spawn_app};
use lastmile_server::people::Role;
use lastmile_tests::Bank;

lastmile_tests::on_both_backends!(a_cycle_is_paid_once_through_a_bank_and_its_exceptions,);

const OFFICER: Role = Role::ProgrammeOfficer;
const FINANCE: Role = Role::Finance;
const APPROVER: Role = Role::Approver;
/// Bank beneficiaries (with cash as their fallback), cash and voucher ones.
const BANK: usize = 40;
const CASH: usize = 5;
const VOUCHER: usize = 5;
/// What each is owed, in cents.
const AMOUNT_MINOR: i64 = 100_000;

fn beneficiaries() -> String {
    let mut file = String::from("ID,name,national_id,site,bank_code,account_number,channels\n");
    for i in 0..BANK {
        file.push_str(&format!(
            "B-{i:03},Bank Person {i},{},site-1,KCB,{},bank;cash\n",
            20_000_000 + i,
            1_000_000 + i
        ));
    }
    for i in 0..CASH {
        file.push_str(&format!(
            "C-{i:03},Cash Person {i},{},site-1,,,cash\n",
            30_000_000 + i
        ));
    }
    for i in 0..VOUCHER {
        file.push_str(&format!(
            "V-{i:03},Voucher Person {i},{},,,,voucher\n",
            40_000_000 + i
        ));
    }
    file
}

/// A programme `programme` at site `site-1` paying by `channels`, its
/// people imported from `people` (CSV) by the officer, funded by finance
/// with 100 000.00 KES, this January's cycle of `amount` each generated,
/// approved by the approver and released: vouchers and the cash list go
/// out, bank entitlements wait for the pipeline. Returns the cycle and what
/// its release said.
pub(crate) fn released_cycle(
    app: &TestApp,
    programme: &str,
    channels: &[&str],
    people: &str,
    amount: &str,
) -> (i64, serde_json::Value) {
    ok(
        app,
        OFFICER,
        "POST",
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    ok(
        app,
        OFFICER,
        "POST",
        "/v1/hq/programmes",
        serde_json::json!({
            "programme": programme, "name": programme, "currency": "KES",
            "issuer": "lastmile-test", "channels": channels, "budget": "100000.00",
            "starts_on": "2027-01-01", "target": "individual",
        }),
    );
    let (status, imported) = app.hq_upload(
        OFFICER,
        &format!("/v1/hq/programmes/{programme}/imports"),
        people.as_bytes(),
    );
    assert_eq!(status, 201, "{imported}");
    ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/programmes/{programme}/state"),
        serde_json::json!({ "transition": "activate" }),
    );
    ok(
        app,
        FINANCE,
        "POST",
        &format!("/v1/hq/programmes/{programme}/funding"),
        serde_json::json!({ "source": "treasury", "amount": "100000.00", "reference": "T-1" }),
    );
    let cycle = ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/programmes/{programme}/cycles"),
        serde_json::json!({ "period": "2027-01", "rule": "flat", "amount": amount }),
    )["id"]
        .as_i64()
        .unwrap();
    let proposal = ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{cycle}/submit"),
        serde_json::json!({ "reason": "January" }),
    );
    approve(app, &proposal);
    let released = ok(
        app,
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{cycle}/release"),
        serde_json::json!({}),
    );
    (cycle, released)
}

/// An admin sets up the bank rail `kcb`: pain.001.001.09 files of at
/// most `file_payments_max` into `bank`'s folders.
pub(crate) fn add_bank_rail(app: &TestApp, bank: &Bank, file_payments_max: usize) {
    ok(
        app,
        Role::Admin,
        "POST",
        "/v1/hq/rails",
        serde_json::json!({
            "rail": "kcb", "currency": "KES",
            "config": {
                "format": "pain.001.001.09", "debtor_name": "Ministry of Social Protection",
                "debtor_account": "0100200300", "debtor_bic": "KCBLKENX",
                "outbox": bank.outbox, "inbox": bank.inbox,
                "batch_payments_max": file_payments_max, "answer_deadline_hours": 48,
            },
        }),
    );
}

/// Finance prepares the cycle's batches for rail `kcb`: what the API
/// answered, and the batches' ids.
pub(crate) fn prepare_batches(app: &TestApp, cycle: i64) -> (serde_json::Value, Vec<i64>) {
    let prepared = ok(
        app,
        FINANCE,
        "POST",
        "/v1/hq/payment-batches",
        serde_json::json!({ "cycle": cycle, "rail": "kcb" }),
    );
    let batches = prepared
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect();
    (prepared, batches)
}

pub(crate) fn approve(app: &TestApp, proposal: &serde_json::Value) -> serde_json::Value {
    ok(
        app,
        APPROVER,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
        serde_json::json!({ "decision": "approve", "note": "checked" }),
    )
}

/// The answer files the simulator wrote for `batch_file`, read.
fn answer(inbox: &Path, batch_file: &str, kind: &str) -> (String, Vec<u8>) {
    let stem = batch_file.trim_end_matches(".xml");
    let name = format!("{stem}.{kind}.xml");
    let bytes = std::fs::read(inbox.join(&name)).unwrap();
    (name, bytes)
}

fn upload(app: &TestApp, name: &str, bytes: &[u8]) -> (u16, serde_json::Value) {
    app.hq_upload(
        FINANCE,
        &format!("/v1/hq/rails/kcb/answers?name={name}"),
        bytes,
    )
}

fn payments(app: &TestApp, query: &str) -> Vec<serde_json::Value> {
    let (status, list) = app.hq_as(
        FINANCE,
        "GET",
        &format!("/v1/hq/payments?limit=500&{query}"),
        None,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

fn count_state(app: &TestApp, cycle: i64, state: &str) -> usize {
    payments(app, &format!("cycle={cycle}&state={state}")).len()
}

fn ledger_line(app: &TestApp, account: &str) -> serde_json::Value {
    let (_, lines) = app.hq_as(
        FINANCE,
        "GET",
        "/v1/hq/ledger/accounts?programme=P-pay&limit=500",
        None,
    );
    lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["account"] == account)
        .cloned()
        .unwrap_or_else(|| panic!("no account {account} in {lines}"))
}

fn a_cycle_is_paid_once_through_a_bank_and_its_exceptions(backend: Backend) {
    let app = spawn_app(backend);
    let bank = Bank::new();
    let (outbox, inbox) = (&bank.outbox, &bank.inbox);
    let (cycle_id, released) = released_cycle(
        &app,
        "P-pay",
        &["bank", "cash", "voucher"],
        &beneficiaries(),
        "1000.00",
    );
    assert_eq!(released["awaiting_payment"], BANK as u64, "{released}");
    assert_eq!(
        count_state(&app, cycle_id, "sent"),
        CASH,
        "cash on the roster is a payment sent"
    );

    // An admin sets up the bank; finance prepares files of at most 25.
    add_bank_rail(&app, &bank, 25);
    let (status, refused) = app.hq_as(
        APPROVER,
        "POST",
        "/v1/hq/payment-batches",
        Some(serde_json::json!({ "cycle": cycle_id, "rail": "kcb" })),
    );
    assert_eq!(status, 403, "an approver prepares nothing: {refused}");
    let (prepared, batches) = prepare_batches(&app, cycle_id);
    assert_eq!(batches.len(), 2, "{prepared}");
    assert_eq!(prepared[0]["payments"], 25);
    assert_eq!(prepared[1]["payments"], (BANK - 25) as u64);
    let (status, again) = app.hq_as(
        FINANCE,
        "POST",
        "/v1/hq/payment-batches",
        Some(serde_json::json!({ "cycle": cycle_id, "rail": "kcb" })),
    );
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("nothing_to_pay")),
        "batched once: {again}"
    );

    for &batch in &batches {
        let proposal = ok(
            &app,
            FINANCE,
            "POST",
            &format!("/v1/hq/payment-batches/{batch}/submission"),
            serde_json::json!({ "reason": "January transfers" }),
        );
        assert!(
            proposal["reason"]
                .as_str()
                .unwrap()
                .contains("left to reserve"),
            "{proposal}"
        );
        let (status, own) = app.hq_as(
            FINANCE,
            "POST",
            &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
            Some(serde_json::json!({ "decision": "approve", "note": "mine" })),
        );
        assert_eq!(status, 403, "the preparer approves nothing: {own}");
        approve(&app, &proposal);
    }
    // Approved: reserved in the ledger before anything is sent.
    let obligations = ledger_line(&app, "obligations/P-pay/2027-01/KES");
    assert_eq!(
        obligations["debits_pending"],
        BANK as i64 * AMOUNT_MINOR,
        "{obligations}"
    );

    // The server's worker writes each batch's file once.
    assert!(
        eventually(Duration::from_secs(30), || batches.iter().all(|b| {
            app.hq_as(FINANCE, "GET", &format!("/v1/hq/payment-batches/{b}"), None)
                .1["state"]
                == "sent"
        })),
        "both batches are sent"
    );
    let mut files = Vec::new();
    for &batch in &batches {
        let (_, shown) = app.hq_as(
            FINANCE,
            "GET",
            &format!("/v1/hq/payment-batches/{batch}"),
            None,
        );
        let file = &shown["files"][0];
        assert_eq!(file["direction"], "out");
        let name = file["name"].as_str().unwrap().to_owned();
        let bytes = std::fs::read(outbox.join(&name)).unwrap();
        assert_eq!(
            file["sha256"],
            lastmile_server::payments::transport::sha256(&bytes)
        );
        // What the pipeline sends is what ISO's schema allows.
        if let Some(xsd) = common::xsd_dir() {
            common::assert_valid_xml(&xsd, "pain.001.001.09.xsd", &outbox.join(&name));
        }
        files.push((
            batch,
            name,
            shown["message_id"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(count_state(&app, cycle_id, "sent"), CASH + BANK);

    // The bank answers; each status report is uploaded by finance.
    bank.answer_once(150, "AC04,AC01", 7);
    let mut rejected = 0;
    for (_, name, _) in &files {
        let (report_name, report) = answer(inbox, name, "pain002");
        let rejections = String::from_utf8_lossy(&report)
            .matches("<TxSts>RJCT</TxSts>")
            .count();
        let (status, applied) = upload(&app, &report_name, &report);
        assert_eq!(status, 201, "{applied}");
        assert_eq!(applied["rejected"], rejections as u64, "{applied}");
        rejected += rejections;
        // The same file again changes nothing and says why.
        let (status, duplicate) = upload(&app, "again.xml", &report);
        assert_eq!(
            (status, duplicate["code"].as_str()),
            (409, Some("duplicate_file")),
            "{duplicate}"
        );
    }
    assert!(
        rejected >= 3,
        "the simulator rejects about 15 %: {rejected}"
    );
    // The bookings arrive in the folder the server reads by itself.
    assert!(
        eventually(Duration::from_secs(40), || count_state(
            &app, cycle_id, "paid"
        ) == BANK - rejected),
        "every accepted payment is paid from the camt.054: {} paid",
        count_state(&app, cycle_id, "paid")
    );
    let queue = payments(&app, &format!("cycle={cycle_id}&exceptions=true"));
    assert_eq!(queue.len(), rejected);
    assert!(queue.iter().all(
        |p| p["state"] == "failed" && ["AC04", "AC01"].contains(&p["reason"].as_str().unwrap())
    ));

    // A file that contradicts what is known changes nothing.
    let paid = payments(&app, &format!("cycle={cycle_id}&state=paid"));
    let victim = paid[0]["payment"].as_str().unwrap();
    let batch_of_victim = paid[0]["batch"].as_i64().unwrap();
    let message = &files.iter().find(|f| f.0 == batch_of_victim).unwrap().2;
    let contradiction = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\"><CstmrPmtStsRpt>\
         <GrpHdr><MsgId>LATE-1</MsgId><CreDtTm>2027-01-06T10:00:00</CreDtTm></GrpHdr>\
         <OrgnlGrpInfAndSts><OrgnlMsgId>{message}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\
         <OrgnlPmtInfAndSts><OrgnlPmtInfId>{message}</OrgnlPmtInfId><TxInfAndSts><OrgnlEndToEndId>{victim}</OrgnlEndToEndId>\
         <TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf></TxInfAndSts></OrgnlPmtInfAndSts>\
         </CstmrPmtStsRpt></Document>"
    );
    let (status, refused) = upload(&app, "late.xml", contradiction.as_bytes());
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("contradicts")),
        "{refused}"
    );
    let unknown = contradiction.replace(message.as_str(), "LMB-NOT-OURS");
    let (status, refused) = upload(&app, "unknown.xml", unknown.as_bytes());
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("unknown_message")),
        "{refused}"
    );
    assert_eq!(
        count_state(&app, cycle_id, "paid"),
        BANK - rejected,
        "nothing changed"
    );

    // Remedies: each proposed by finance and approved by someone else.
    let key = |i: usize| queue[i]["payment"].as_str().unwrap().to_owned();
    let remedy = |key: &str, action: &str, reason: &str| {
        let proposal = ok(
            &app,
            FINANCE,
            "POST",
            &format!("/v1/hq/payments/{key}/remedy"),
            serde_json::json!({ "action": action, "reason": reason }),
        );
        approve(&app, &proposal)
    };
    // Rerouted to the person's next channel: cash at their site.
    remedy(&key(0), "reroute", "account closed: pay cash at Kibera");
    let rerouted = ok(
        &app,
        FINANCE,
        "GET",
        &format!("/v1/hq/payments/{}", key(0)),
        serde_json::json!({}),
    );
    assert_eq!(rerouted["state"], "rerouted");
    assert!(
        rerouted["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "rerouted")
    );
    let released = ok(
        &app,
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{cycle_id}/release"),
        serde_json::json!({}),
    );
    assert_eq!(
        released["cash"], 1,
        "the rerouted entitlement is on the cash list: {released}"
    );
    assert_eq!(count_state(&app, cycle_id, "sent"), CASH + 1);
    // Cancelled: the committed amount goes back to the budget.
    remedy(&key(1), "cancel", "beneficiary moved away");
    // Retried with the same key: the bank refuses it again (its account is
    // still closed), and it is back in the queue.
    remedy(&key(2), "retry", "account reopened, says the bank");
    assert!(eventually(Duration::from_secs(30), || {
        std::fs::read_dir(outbox)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".xml")
            })
            .count()
            == 3
    }));
    let retried = ok(
        &app,
        FINANCE,
        "GET",
        &format!("/v1/hq/payments/{}", key(2)),
        serde_json::json!({}),
    );
    assert_eq!(
        (retried["state"].as_str(), retried["attempts"].as_i64()),
        (Some("sent"), Some(2)),
        "{retried}"
    );
    bank.answer_once(150, "AC04,AC01", 7);
    let retry_batch = retried["batch"].as_i64().unwrap();
    let (_, shown) = app.hq_as(
        FINANCE,
        "GET",
        &format!("/v1/hq/payment-batches/{retry_batch}"),
        None,
    );
    let retry_file = shown["files"][0]["name"].as_str().unwrap().to_owned();
    let retry_bytes = std::fs::read(outbox.join(&retry_file)).unwrap();
    assert!(
        String::from_utf8_lossy(&retry_bytes)
            .contains(&format!("<EndToEndId>{}</EndToEndId>", key(2))),
        "the same key"
    );
    let (name, report) = answer(inbox, &retry_file, "pain002");
    let (status, applied) = upload(&app, &name, &report);
    assert_eq!(
        (status, applied["rejected"].as_u64()),
        (201, Some(1)),
        "{applied}"
    );
    // Marked paid with evidence (paid over the counter).
    remedy(
        &key(2),
        "mark_paid",
        "paid at the branch, receipt KCB-778812",
    );

    let paid_total = count_state(&app, cycle_id, "paid") as i64 * AMOUNT_MINOR;
    assert_eq!(count_state(&app, cycle_id, "paid"), BANK - rejected + 1);
    let delivered = ledger_line(&app, "delivered/P-pay/KES");
    assert_eq!(delivered["credits_posted"], paid_total, "{delivered}");
    assert_eq!(delivered["credits_pending"], 0, "nothing in flight");
    let obligations = ledger_line(&app, "obligations/P-pay/2027-01/KES");
    assert_eq!(obligations["debits_pending"], 0);
    let budget = ledger_line(&app, "budget/P-pay/KES");
    let committed = (BANK + CASH + VOUCHER) as i64 * AMOUNT_MINOR;
    assert_eq!(
        budget["balance"],
        10_000_000 - committed + AMOUNT_MINOR,
        "the cancelled amount is back: {budget}"
    );
    let (_, verification) = app.hq_as(FINANCE, "GET", "/v1/hq/ledger/verification", None);
    assert_eq!(verification["problem_count"], 0, "{verification}");
}
