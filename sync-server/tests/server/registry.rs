//! The programme registry over HTTP: a beneficiary file with errors imports
//! nothing and names every error; fixed, it imports; again, it changes
//! nothing; an update changes only what differs, audited. A cycle is
//! generated once, approved only by someone else, within its budget unless
//! approved over it; fraud signals are listed for review.

use crate::common;

use common::{Backend, TestApp, spawn_app};
use lastmile_server::people::Role;
use lastmile_shared::device_log::{IdentityCheck, LogEvent};
use lastmile_shared::id::{BeneficiaryId, EntitlementId, ProgrammeId, VoucherId};
use lastmile_shared::money::Money;

lastmile_tests::on_both_backends!(
    a_beneficiary_file_is_checked_imported_reimported_and_updated,
    a_cycle_is_generated_once_and_approved_only_by_someone_else,
    shared_phones_and_accounts_are_signalled_for_review,
    an_approved_cycle_is_released_once_and_closed_by_what_terminals_sync,
    a_cycle_pays_the_amounts_of_its_file_and_a_bad_file_applies_nothing,
);

const OFFICER: Role = Role::ProgrammeOfficer;

fn post(app: &TestApp, path: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, answer) = app.hq_as(OFFICER, "POST", path, Some(body));
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}

fn programme(app: &TestApp, id: &str, target: &str, budget: &str) {
    post(
        app,
        "/v1/hq/programmes",
        serde_json::json!({
            "programme": id,
            "name": format!("Programme {id}"),
            "currency": "KES",
            "issuer": "lastmile-test",
            "channels": ["mobile", "bank", "cash"],
            "budget": budget,
            "starts_on": "2027-01-01",
            "ends_on": "2027-12-31",
            "target": target,
            "household_max": 4,
            "id_pattern": "99999999",
        }),
    );
}

fn upload(app: &TestApp, programme: &str, query: &str, file: &str) -> (u16, serde_json::Value) {
    app.hq_upload(
        OFFICER,
        &format!("/v1/hq/programmes/{programme}/imports?{query}"),
        file.as_bytes(),
    )
}

fn beneficiaries(app: &TestApp, programme: &str) -> Vec<serde_json::Value> {
    let (status, list) = app.hq_as(
        OFFICER,
        "GET",
        &format!("/v1/hq/programmes/{programme}/beneficiaries?limit=500"),
        None,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

const HEADER: &str = "ID,Full name,National ID,Phone,Site,IBAN,Operator,Channels\n";

fn good_file() -> String {
    format!(
        "{HEADER}\
         B-001,Amina Wanjiru,12345678,+254 712 345 678,site-1,,mpesa,mobile;cash\n\
         B-002,Otieno Odhiambo,23456789,+254712000002,site-1,DE89370400440532013000,,bank\n\
         B-003,Neema Atieno,34567890,,site-1,,,\n"
    )
}

fn a_beneficiary_file_is_checked_imported_reimported_and_updated(backend: Backend) {
    let app = spawn_app(backend);
    post(
        &app,
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    programme(&app, "P-cash", "individual", "100000.00");

    // Every kind of error, each named with its line and column; nothing in.
    let bad = format!(
        "{HEADER}\
         B-001,Amina Wanjiru,1234567,+254712345678,site-1,,mpesa,\n\
         B-002,,23456789,+254712000002,site-1,,,\n\
         B-003,Neema Atieno,34567890,0712345678,site-1,,,\n\
         B-004,Baraka Mwangi,45678901,,site-1,DE89370400440532013001,,bank\n\
         B-005,Zawadi Njeri,56789012,,site-9,,,\n\
         B-006,Juma Hassan,67890123,,site-1,,,\n\
         B-006,Juma Hassan,78901234,,site-1,,,\n\
         B-008,Halima Ali,67890123,,site-1,,,\n"
    );
    let (status, refused) = upload(&app, "P-cash", "", &bad);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "rows_have_errors");
    let errors = refused["report"]["errors"].as_array().unwrap();
    let at = |line: u64| -> (String, String) {
        let e = errors
            .iter()
            .find(|e| e["line"] == line)
            .unwrap_or_else(|| panic!("no error on line {line}: {refused}"));
        (
            e["column"].as_str().unwrap_or("").to_owned(),
            e["reason"].as_str().unwrap().to_owned(),
        )
    };
    let (column, reason) = at(2);
    assert_eq!(column, "National ID");
    assert!(reason.contains("format 99999999"), "{reason}");
    assert_eq!(at(3).0, "Full name");
    assert!(at(3).1.contains("required"), "{:?}", at(3));
    let (column, reason) = at(4);
    assert_eq!(column, "Phone");
    assert!(reason.contains("country code"), "{reason}");
    assert_eq!(at(5).0, "IBAN");
    assert_eq!(at(6).0, "Site");
    assert!(at(6).1.contains("unknown site site-9"), "{:?}", at(6));
    let (column, reason) = at(8);
    assert_eq!(column, "ID");
    assert!(reason.contains("also on line 7"), "{reason}");
    let (column, reason) = at(9);
    assert_eq!(column, "National ID");
    assert!(reason.contains("also on line 7"), "{reason}");
    assert_eq!(refused["report"]["errors_total"], 7, "{refused}");
    assert_eq!(refused["report"]["rejected"], 7);
    assert!(beneficiaries(&app, "P-cash").is_empty());

    // Checked only: what would happen, and nothing happens.
    let (status, checked) = upload(&app, "P-cash", "check_only=true", &good_file());
    assert_eq!(status, 200, "{checked}");
    assert_eq!(
        (checked["created"].as_u64(), checked["import"].is_null()),
        (Some(3), true),
        "{checked}"
    );
    assert_eq!(checked["mapping"]["national_id"], "National ID");
    assert!(beneficiaries(&app, "P-cash").is_empty());

    // Imported.
    let (status, imported) = upload(&app, "P-cash", "file_name=roll.csv", &good_file());
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["created"], 3, "{imported}");
    let listed = beneficiaries(&app, "P-cash");
    assert_eq!(listed.len(), 3);
    let amina = &listed[0];
    assert_eq!(amina["phone"], "+254712345678");
    assert_eq!(amina["channels"], "mobile:mpesa:+254712345678 cash:site-1");
    assert_eq!(amina["channel_kind"], "mobile");
    assert_eq!(listed[1]["channel"], "iban:DE89370400440532013000");
    assert_eq!(listed[2]["channels"], "cash:site-1");

    // Again: nothing changes, nothing is recorded.
    let audit_before = app
        .hq_get("/v1/hq/audit?limit=500")
        .1
        .as_array()
        .unwrap()
        .len();
    let (status, again) = upload(&app, "P-cash", "", &good_file());
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (
            again["unchanged"].as_u64(),
            again["created"].as_u64(),
            again["updated"].as_u64()
        ),
        (Some(3), Some(0), Some(0)),
        "{again}"
    );
    assert!(again["import"].is_null());
    let audit_after = app
        .hq_get("/v1/hq/audit?limit=500")
        .1
        .as_array()
        .unwrap()
        .len();
    assert_eq!(audit_before, audit_after);

    // An update: one phone differs; only that row changes, audited by field.
    let update = good_file().replace("+254712000002", "+254712000099");
    let (status, updated) = upload(&app, "P-cash", "", &update);
    assert_eq!(status, 201, "{updated}");
    assert_eq!(
        (updated["updated"].as_u64(), updated["unchanged"].as_u64()),
        (Some(1), Some(2))
    );
    let (_, trail) = app.hq_get("/v1/hq/audit?object=beneficiary:P-cash/B-002");
    assert_eq!(trail[0]["action"], "beneficiary.updated", "{trail}");
    assert!(
        trail[0]["detail"].as_str().unwrap().contains("\"phone\""),
        "{trail}"
    );

    // A national ID someone else holds, and good rows only.
    let mixed = format!(
        "{HEADER}\
         B-010,Imani Kariuki,12345678,,site-1,,,\n\
         B-011,Wanjiku Kamau,11111111,,site-1,,,\n"
    );
    let (status, refused) = upload(&app, "P-cash", "", &mixed);
    assert_eq!(status, 422, "{refused}");
    let reason = refused["report"]["errors"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("already belongs to beneficiary B-001"),
        "{reason}"
    );
    let (status, partial) = upload(&app, "P-cash", "good_rows=true", &mixed);
    assert_eq!(status, 201, "{partial}");
    assert_eq!(
        (partial["created"].as_u64(), partial["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(beneficiaries(&app, "P-cash").len(), 4);

    // A mapping that names a header the file lacks is refused as a whole.
    let (status, problem) = upload(
        &app,
        "P-cash",
        "mapping=%7B%22name%22%3A%22Nom%22%7D",
        &good_file(),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("no_such_header")),
        "{problem}"
    );

    // Personal data only for those who need it.
    let (status, _) = app.hq_as(
        Role::Finance,
        "GET",
        "/v1/hq/programmes/P-cash/beneficiaries",
        None,
    );
    assert_eq!(status, 403);
    let (status, shown) = app.hq_as(Role::Finance, "GET", "/v1/hq/programmes/P-cash", None);
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["beneficiaries"], 4);
}

fn households_file() -> String {
    "household,role,ID,name,national_id,site,channels\n\
     H-1,head,B-1,Amina Wanjiru,10000001,site-1,cash\n\
     H-1,member,B-2,Baraka Wanjiru,10000002,site-1,cash\n\
     H-1,member,B-3,Chiku Wanjiru,10000003,site-1,cash\n\
     H-2,head,B-4,Dalia Otieno,10000004,site-1,cash\n\
     ,,B-5,Eli Mwangi,10000005,site-1,cash\n"
        .to_owned()
}

fn amounts(app: &TestApp, programme: &str, period: &str, file: &str) -> (u16, serde_json::Value) {
    app.hq_upload(
        OFFICER,
        &format!("/v1/hq/programmes/{programme}/cycles/{period}/amounts"),
        file.as_bytes(),
    )
}

fn a_cycle_pays_the_amounts_of_its_file_and_a_bad_file_applies_nothing(backend: Backend) {
    let app = spawn_app(backend);
    post(
        &app,
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    programme(&app, "P-hh", "household", "60.00");
    let (status, imported) = upload(&app, "P-hh", "", &households_file());
    assert_eq!(status, 201, "{imported}");
    post(
        &app,
        "/v1/hq/programmes/P-hh/state",
        serde_json::json!({ "transition": "activate" }),
    );
    let rule = serde_json::json!({ "period": "2027-02", "rule": "file" });
    // No file yet: the file rule has nothing to pay.
    let (status, refused) = app.hq_as(
        OFFICER,
        "POST",
        "/v1/hq/programmes/P-hh/cycles",
        Some(rule.clone()),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("no_amounts_file")),
        "{refused}"
    );

    // Every bad row is named, and nothing is applied.
    let bad = "beneficiary_id,national_id,amount,currency\n\
               B-1,,12.50,KES\n\
               B-9,,10.00,\n\
               ,99999999,10.00,\n\
               B-4,,12.345,\n\
               B-5,,ten,\n\
               B-5,,5.00,USD\n\
               B-2,,5.00,\n\
               ,10000001,1.00,\n\
               B-4,,0,\n";
    let (status, answer) = amounts(&app, "P-hh", "2027-02", bad);
    assert_eq!(status, 422, "{answer}");
    let errors: Vec<(u64, String, String)> = answer["report"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_str().unwrap_or("-").to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let lines: Vec<(u64, &str)> = errors.iter().map(|(l, c, _)| (*l, c.as_str())).collect();
    assert_eq!(
        lines,
        [
            (3, "beneficiary_id"),
            (4, "national_id"),
            (5, "amount"),
            (6, "amount"),
            (7, "currency"),
            (8, "beneficiary_id"),
            (9, "national_id"),
            (10, "amount"),
        ],
        "{errors:?}"
    );
    let reason = |line: u64| &errors.iter().find(|e| e.0 == line).unwrap().2;
    assert!(reason(3).contains("no beneficiary B-9"), "{}", reason(3));
    assert!(reason(4).contains("national ID 99999999"), "{}", reason(4));
    assert!(reason(5).contains("more decimal places"), "{}", reason(5));
    assert!(reason(7).contains("USD"), "{}", reason(7));
    assert!(reason(8).contains("household"), "{}", reason(8));
    assert!(reason(9).contains("also on line 2"), "{}", reason(9));
    assert!(reason(10).contains("above zero"), "{}", reason(10));
    let (status, none) = app.hq_as(
        OFFICER,
        "GET",
        "/v1/hq/programmes/P-hh/cycles/2027-02/amounts",
        None,
    );
    assert_eq!(status, 404, "{none}");

    // Fixed (a head by national ID, amounts exact in minor units): applied.
    let good = "beneficiary_id,national_id,amount\n\
                B-1,,12.50\n\
                ,10000004,7\n\
                B-5,10000005,0.05\n";
    let (status, applied) = amounts(&app, "P-hh", "2027-02", good);
    assert_eq!(status, 201, "{applied}");
    assert_eq!(
        (
            applied["accepted"].as_u64(),
            applied["total_minor"].as_i64()
        ),
        (Some(3), Some(1250 + 700 + 5)),
        "{applied}"
    );
    // The same file again changes nothing (and audits nothing).
    let audited = |app: &TestApp| {
        let (_, audit) = app.hq_as(Role::Auditor, "GET", "/v1/hq/audit?limit=500", None);
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "cycle_amounts.uploaded")
            .count()
    };
    assert_eq!(audited(&app), 1);
    let (status, again) = amounts(&app, "P-hh", "2027-02", good);
    assert_eq!(
        (status, again["unchanged"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(audited(&app), 1);

    // Generating pays those amounts, by each one's channel; again, nothing more.
    let cycle = post(&app, "/v1/hq/programmes/P-hh/cycles", rule.clone());
    let id = cycle["id"].as_i64().unwrap();
    assert_eq!(
        (
            cycle["entitlements"].as_i64(),
            cycle["total_minor"].as_i64()
        ),
        (Some(3), Some(1955)),
        "{cycle}"
    );
    assert!(
        cycle["rule"].as_str().unwrap().starts_with("file:"),
        "{cycle}"
    );
    let (_, list) = app.hq_as(
        OFFICER,
        "GET",
        &format!("/v1/hq/cycles/{id}/entitlements"),
        None,
    );
    let paid: Vec<(String, i64, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["beneficiary"].as_str().unwrap().to_owned(),
                e["amount_minor"].as_i64().unwrap(),
                e["members"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        paid,
        [
            ("B-1".to_owned(), 1250, 3),
            ("B-4".to_owned(), 700, 1),
            ("B-5".to_owned(), 5, 1)
        ]
    );
    let again = post(&app, "/v1/hq/programmes/P-hh/cycles", rule.clone());
    assert_eq!(
        (again["id"].as_i64(), again["entitlements"].as_i64()),
        (Some(id), Some(3))
    );
    // Once generated, another file for the period is refused; the same one is not.
    let (status, late) = amounts(
        &app,
        "P-hh",
        "2027-02",
        "beneficiary_id,amount\nB-1,99.00\n",
    );
    assert_eq!(
        (status, late["code"].as_str()),
        (409, Some("cycle_generated")),
        "{late}"
    );
    let (status, _) = amounts(&app, "P-hh", "2027-02", good);
    assert_eq!(status, 200);
    // A cycle of another rule for the period with a file: refused as another rule.
    let (status, other) = app.hq_as(
        OFFICER,
        "POST",
        "/v1/hq/programmes/P-hh/cycles",
        Some(serde_json::json!({ "period": "2027-02", "rule": "flat", "amount": "1.00" })),
    );
    assert_eq!(
        (status, other["code"].as_str()),
        (409, Some("other_rule")),
        "{other}"
    );
}

fn a_cycle_is_generated_once_and_approved_only_by_someone_else(backend: Backend) {
    let app = spawn_app(backend);
    post(
        &app,
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    programme(&app, "P-hh", "household", "60.00");
    let (status, imported) = upload(&app, "P-hh", "", &households_file());
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["created"], 5, "{imported}");

    // A draft programme generates nothing.
    let rule = serde_json::json!({ "period": "2027-01", "rule": "per_member", "amount": "10.00", "cap": "25.00" });
    let (status, refused) = app.hq_as(
        OFFICER,
        "POST",
        "/v1/hq/programmes/P-hh/cycles",
        Some(rule.clone()),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("programme_state")),
        "{refused}"
    );
    post(
        &app,
        "/v1/hq/programmes/P-hh/state",
        serde_json::json!({ "transition": "activate" }),
    );

    // Heads only, 10.00 a member, at most 25.00 a household.
    let cycle = post(&app, "/v1/hq/programmes/P-hh/cycles", rule.clone());
    let id = cycle["id"].as_i64().unwrap();
    assert_eq!(cycle["entitlements"], 3, "{cycle}");
    assert_eq!(cycle["total_minor"], 2500 + 1000 + 1000, "{cycle}");
    let (_, list) = app.hq_as(
        OFFICER,
        "GET",
        &format!("/v1/hq/cycles/{id}/entitlements"),
        None,
    );
    let amounts: Vec<(String, i64, i64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["beneficiary"].as_str().unwrap().to_owned(),
                e["amount_minor"].as_i64().unwrap(),
                e["members"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        amounts,
        [
            ("B-1".to_owned(), 2500, 3),
            ("B-4".to_owned(), 1000, 1),
            ("B-5".to_owned(), 1000, 1)
        ]
    );
    // Generating again adds nothing; another rule for the period is refused.
    let again = post(&app, "/v1/hq/programmes/P-hh/cycles", rule.clone());
    assert_eq!(
        (again["id"].as_i64(), again["entitlements"].as_i64()),
        (Some(id), Some(3))
    );
    let (status, other) = app.hq_as(
        OFFICER,
        "POST",
        "/v1/hq/programmes/P-hh/cycles",
        Some(serde_json::json!({ "period": "2027-01", "rule": "flat", "amount": "5.00" })),
    );
    assert_eq!(
        (status, other["code"].as_str()),
        (409, Some("other_rule")),
        "{other}"
    );

    // Over the budget of 60.00? No: 45.00. Exclude one, then submit.
    post(
        &app,
        &format!("/v1/hq/cycles/{id}/entitlements/B-5/exclusion"),
        serde_json::json!({ "excluded": true, "note": "moved away" }),
    );
    let proposal = post(
        &app,
        &format!("/v1/hq/cycles/{id}/submit"),
        serde_json::json!({ "reason": "January" }),
    );
    let proposal_id = proposal["id"].as_i64().unwrap();
    let reason = proposal["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "2 entitlements, KES 35.00 in all, within the budget of KES 60.00; 1 excluded"
        ),
        "{reason}"
    );
    // Submitted: it cannot change until decided.
    let (status, refused) = app.hq_as(OFFICER, "POST", "/v1/hq/programmes/P-hh/cycles", Some(rule));
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("cycle_state")),
        "{refused}"
    );
    // Nobody approves their own; the approver does.
    let (status, _) = app.hq_as(
        OFFICER,
        "POST",
        &format!("/v1/hq/proposals/{proposal_id}/decision"),
        Some(serde_json::json!({ "decision": "approve", "note": "mine" })),
    );
    assert_eq!(status, 403);
    let (status, decided) = app.hq_as(
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{proposal_id}/decision"),
        Some(serde_json::json!({ "decision": "approve", "note": "totals checked" })),
    );
    assert_eq!(status, 200, "{decided}");
    let (_, cycle) = app.hq_get(&format!("/v1/hq/cycles/{id}"));
    assert_eq!(cycle["state"], "approved", "{cycle}");
    assert_eq!(
        cycle["approved_by"],
        format!("user:{}", common::username(Role::Approver))
    );
    let states: Vec<(String, String)> = cycle["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["state"].as_str().unwrap().to_owned(),
                b["channel"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("approved".to_owned(), "cash".to_owned()),
            ("cancelled".to_owned(), "cash".to_owned())
        ]
    );

    // Over budget: refused unless asked for, then said in the proposal; a
    // rejection makes it a draft again.
    let cycle = post(
        &app,
        "/v1/hq/programmes/P-hh/cycles",
        serde_json::json!({ "period": "2027-02", "rule": "flat", "amount": "30.00" }),
    );
    let id = cycle["id"].as_i64().unwrap();
    assert_eq!(cycle["over_budget"], true, "{cycle}");
    let (status, refused) = app.hq_as(
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{id}/submit"),
        Some(serde_json::json!({ "reason": "February" })),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("over_budget")),
        "{refused}"
    );
    let proposal = post(
        &app,
        &format!("/v1/hq/cycles/{id}/submit"),
        serde_json::json!({ "reason": "February, with arrears", "over_budget_approval": true }),
    );
    assert!(
        proposal["reason"]
            .as_str()
            .unwrap()
            .contains("OVER the budget of KES 60.00"),
        "{proposal}"
    );
    let (status, _) = app.hq_as(
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
        Some(serde_json::json!({ "decision": "reject", "note": "too much" })),
    );
    assert_eq!(status, 200);
    let (_, cycle) = app.hq_get(&format!("/v1/hq/cycles/{id}"));
    assert_eq!(cycle["state"], "draft", "{cycle}");
}

fn shared_phones_and_accounts_are_signalled_for_review(backend: Backend) {
    let app = spawn_app(backend);
    post(
        &app,
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    programme(&app, "P-a", "individual", "1000.00");
    programme(&app, "P-b", "household", "1000.00");
    let file_a = format!(
        "{HEADER}\
         A-1,Amina Wanjiru,12345678,+254712345678,site-1,GB82WEST12345698765432,,bank\n\
         A-2,Baraka Mwangi,23456789,+254712345678,site-1,GB82WEST12345698765432,,bank\n"
    );
    let (status, imported) = upload(&app, "P-a", "", &file_a);
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["signals_open"], 2, "{imported}");
    // The same national ID in another programme, and a household of five.
    let file_b = "household,role,ID,name,national_id,site\n\
                  H-9,head,C-1,Chiku Otieno,12345678,site-1\n\
                  H-9,member,C-2,Dalia Otieno,10000002,site-1\n\
                  H-9,member,C-3,Eli Otieno,10000003,site-1\n\
                  H-9,member,C-4,Fatma Otieno,10000004,site-1\n\
                  H-9,member,C-5,Gift Otieno,10000005,site-1\n";
    let (status, imported) = upload(&app, "P-b", "", file_b);
    assert_eq!(status, 201, "{imported}");
    let (status, listed) = app.hq_as(OFFICER, "GET", "/v1/hq/signals?open=true", None);
    assert_eq!(status, 200, "{listed}");
    let mut kinds: Vec<(String, Option<String>)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_owned(),
                s["programme"].as_str().map(str::to_owned),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("household_too_large".to_owned(), Some("P-b".to_owned())),
            ("same_account".to_owned(), Some("P-a".to_owned())),
            ("same_national_id".to_owned(), None),
            ("same_phone".to_owned(), Some("P-a".to_owned())),
        ],
        "{listed}"
    );
    // Nobody was dropped for it.
    assert_eq!(beneficiaries(&app, "P-a").len(), 2);
    // Reviewed, it leaves the open list; found again unchanged, it stays reviewed.
    let phone = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "same_phone")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    post(
        &app,
        &format!("/v1/hq/signals/{phone}/review"),
        serde_json::json!({ "note": "a married couple sharing a phone" }),
    );
    let (status, refused) = app.hq_as(
        OFFICER,
        "POST",
        &format!("/v1/hq/signals/{phone}/review"),
        Some(serde_json::json!({ "note": "again" })),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (404, Some("unknown_signal")),
        "{refused}"
    );
    let (status, imported) = upload(
        &app,
        "P-a",
        "good_rows=true",
        &file_a.replace("Baraka Mwangi", "Baraka M. Mwangi"),
    );
    assert_eq!(status, 201, "{imported}");
    let (_, open) = app.hq_as(
        OFFICER,
        "GET",
        "/v1/hq/signals?open=true&programme=P-a",
        None,
    );
    assert!(
        open.as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] != "same_phone"),
        "{open}"
    );
    // Finance sees none of it.
    let (status, _) = app.hq_as(Role::Finance, "GET", "/v1/hq/signals", None);
    assert_eq!(status, 403);
}

/// Submits a cycle and has the approver approve it.
fn approve(app: &TestApp, cycle: i64) {
    let proposal = post(
        app,
        &format!("/v1/hq/cycles/{cycle}/submit"),
        serde_json::json!({ "reason": "monthly" }),
    );
    let (status, decided) = app.hq_as(
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{}/decision", proposal["id"]),
        Some(serde_json::json!({ "decision": "approve", "note": "checked" })),
    );
    assert_eq!(status, 200, "{decided}");
}

fn states(app: &TestApp, cycle: i64) -> Vec<(String, String, Option<String>)> {
    let (status, list) = app.hq_as(
        OFFICER,
        "GET",
        &format!("/v1/hq/cycles/{cycle}/entitlements"),
        None,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["beneficiary"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
                e["reference"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn an_approved_cycle_is_released_once_and_closed_by_what_terminals_sync(backend: Backend) {
    let app = spawn_app(backend);
    post(
        &app,
        "/v1/hq/sites",
        serde_json::json!({ "site": "site-1", "name": "Kibera" }),
    );
    post(
        &app,
        "/v1/hq/programmes",
        serde_json::json!({
            "programme": "P-mix", "name": "Mixed", "currency": "KES", "issuer": "lastmile-test",
            "channels": ["cash", "voucher", "mobile"], "budget": "1000.00",
            "starts_on": "2027-01-01", "target": "individual",
        }),
    );
    let file = "ID,name,national_id,site,phone,operator,channels\n\
                B-1,Amina Wanjiru,10000001,,,,voucher\n\
                B-2,Baraka Mwangi,10000002,site-1,,,cash\n\
                B-3,Chiku Otieno,10000003,site-1,,,\n\
                B-4,Dalia Njeri,10000004,,+254712345678,mpesa,mobile\n";
    let (status, imported) = upload(&app, "P-mix", "", file);
    assert_eq!(status, 201, "{imported}");
    post(
        &app,
        "/v1/hq/programmes/P-mix/state",
        serde_json::json!({ "transition": "activate" }),
    );
    let cycle = post(
        &app,
        "/v1/hq/programmes/P-mix/cycles",
        serde_json::json!({ "period": "2027-01", "rule": "flat", "amount": "20.00" }),
    );
    let id = cycle["id"].as_i64().unwrap();
    // Not approved: nothing is released.
    let (status, refused) = app.hq_as(
        OFFICER,
        "POST",
        &format!("/v1/hq/cycles/{id}/release"),
        None,
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("cycle_state")),
        "{refused}"
    );
    approve(&app, id);

    let released = post(
        &app,
        &format!("/v1/hq/cycles/{id}/release"),
        serde_json::json!({}),
    );
    assert_eq!(
        released["vouchers"].as_array().map(Vec::len),
        Some(1),
        "{released}"
    );
    assert_eq!(released["cash"], 2, "{released}");
    assert_eq!(released["rosters"][0][0], "site-1", "{released}");
    assert_eq!(released["awaiting_payment"], 1, "{released}");
    // Again: nothing new, nothing twice.
    let again = post(
        &app,
        &format!("/v1/hq/cycles/{id}/release"),
        serde_json::json!({}),
    );
    assert_eq!(
        (
            again["vouchers"].as_array().map(Vec::len),
            again["cash"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );
    let before = states(&app, id);
    let kinds: Vec<(&str, &str)> = before
        .iter()
        .map(|(b, s, _)| (b.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("B-1", "issued"),
            ("B-2", "issued"),
            ("B-3", "issued"),
            ("B-4", "approved")
        ]
    );
    let voucher = VoucherId::parse(before[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(
        Some(voucher.to_string()),
        released["vouchers"][0].as_str().map(str::to_owned)
    );
    let stored = app
        .storage
        .transaction(|tx| tx.voucher(&voucher))
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.minor, 2000);

    // A shop redeems the voucher; a field agent pays B-2 in cash; both sync.
    let mut shop = app.terminal("shop-1", "site-1");
    shop.redeem(&stored.credential, 2000);
    shop.upload(1..=1).unwrap();
    let mut agent = app.terminal("agent-1", "site-1");
    agent.record(LogEvent::CashPaidOut {
        session: 1,
        entitlement: EntitlementId::parse(before[1].2.as_deref().unwrap()).unwrap(),
        beneficiary: BeneficiaryId::parse("B-2").unwrap(),
        programme: ProgrammeId::parse("P-mix").unwrap(),
        amount: Money::new(2000, common::kes()),
        identity: IdentityCheck::Manual,
    });
    agent.upload(1..=1).unwrap();
    let after = states(&app, id);
    let kinds: Vec<(&str, &str)> = after
        .iter()
        .map(|(b, s, _)| (b.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("B-1", "redeemed"),
            ("B-2", "paid"),
            ("B-3", "issued"),
            ("B-4", "approved")
        ]
    );
}

mod any_file {
    //! Files made of plausible and hostile pieces, straight into the
    //! importer: a report or a specific refusal, never a panic; a refused
    //! or checked file changes nothing, a good-rows import takes exactly
    //! the rows it says it created.

    use proptest::prelude::*;

    use super::common;
    use lastmile_server::registry::import::{self, ImportError, Mapping, Options};
    use lastmile_server::registry::programmes::{self, NewProgramme, Target};
    use lastmile_server::registry::sites;
    use lastmile_server::storage::registry as table;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("12345678".to_owned()),
            Just("+254712345678".to_owned()),
            Just("0712345678".to_owned()),
            Just("DE89370400440532013000".to_owned()),
            Just("DE89370400440532013001".to_owned()),
            Just("site-1".to_owned()),
            Just("site-404".to_owned()),
            Just("mpesa".to_owned()),
            Just("head".to_owned()),
            Just("member".to_owned()),
            Just("mobile;cash".to_owned()),
            Just("bank".to_owned()),
            Just("\"quoted, \"\"comma\"\"\"".to_owned()),
            Just("=HYPERLINK(\"x\")".to_owned()),
            Just("\u{202e}evil".to_owned()),
            "[0-9]{1,9}",
            "B-[0-9]{1,3}",
            "H-[0-9]",
            "\\PC{0,12}",
        ]
    }

    fn file() -> impl Strategy<Value = String> {
        let header = "beneficiary_id,name,national_id,phone,household,household_role,site,iban,mobile_operator,channels";
        prop::collection::vec(prop::collection::vec(cell(), 0..12), 0..24).prop_map(move |rows| {
            let mut text = format!("{header}\n");
            for row in rows {
                text.push_str(&row.join(","));
                text.push('\n');
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn any_file_is_a_report_or_a_refusal_and_changes_only_what_it_says(text in file()) {
            let app = common::spawn_app(common::Backend::Sqlite);
            let actor = common::operator();
            let now = common::now();
            sites::create(&app.storage, &actor, "site-1", "Site", now).unwrap();
            programmes::create(&app.storage, &actor, &NewProgramme {
                programme: "P-any".to_owned(), name: "Any".to_owned(), currency: "KES".to_owned(),
                issuer: "lastmile-test".to_owned(),
                channels: vec!["mobile".to_owned(), "bank".to_owned(), "cash".to_owned()],
                budget: "100.00".to_owned(), starts_on: "2027-01-01".to_owned(), ends_on: None,
                target: Target::Household, household_max: Some(3), id_pattern: Some("99999999".to_owned()),
            }, now).unwrap();
            let count = || app.storage.transaction(|tx| table::beneficiary_counts(tx.sql(), "P-any")).unwrap().0;
            let mapping = Mapping::guess(&import::headers(text.as_bytes()).unwrap());
            let run = |options| import::import(&app.storage, &actor, "P-any", "any.csv", text.as_bytes(), &mapping, options, now);
            // Checked: nothing changes, whatever the answer.
            let checked = run(Options { good_rows: false, check_only: true });
            prop_assert_eq!(count(), 0);
            // Imported: all or nothing.
            match run(Options::default()) {
                Ok(report) => {
                    prop_assert_eq!(report.errors_total, 0);
                    prop_assert_eq!(count() as u64, report.created);
                    if let Ok(checked) = &checked {
                        prop_assert_eq!(checked.created, report.created);
                    }
                }
                Err(ImportError::Rows(report)) => {
                    prop_assert!(report.errors_total > 0);
                    prop_assert!(report.errors.iter().all(|e| e.line >= 2 && !e.reason.is_empty()));
                    prop_assert_eq!(count(), 0);
                    // The good rows only: exactly those it says it created.
                    let partial = run(Options { good_rows: true, check_only: false }).unwrap();
                    prop_assert_eq!(count() as u64, partial.created);
                    prop_assert_eq!(partial.rows_read, partial.created + partial.rejected);
                }
                Err(ImportError::Empty) => prop_assert_eq!(count(), 0),
                Err(other) => prop_assert!(false, "unexpected refusal: {other}"),
            }
        }
    }
}
