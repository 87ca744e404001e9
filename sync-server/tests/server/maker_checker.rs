//! Maker–checker over HTTP: a voucher revocation and a case write-off are
//! proposed by one person and carried out only when an approver (someone
//! else) approves; a rejection changes nothing; a decided proposal stays
//! decided.

use crate::common;

use common::{Backend, TestApp, spawn_app};
use lastmile_server::people::{self, Language, NewUser, Role, tokens};
use lastmile_server::proposals::{self, Action, Decision, ProposalError};
use lastmile_server::storage::proposals::{self as table, NewProposal};

lastmile_tests::on_both_backends!(
    a_revocation_is_carried_out_only_by_an_approval,
    a_write_off_closes_the_case_only_when_approved,
    an_approval_that_cannot_be_carried_out_changes_nothing,
    nobody_decides_their_own_proposal,
    a_key_rotation_waits_for_an_approver,
    a_disabled_persons_proposal_can_only_be_rejected,
    an_account_that_approves_waits_for_another_approver,
);

fn decide(app: &TestApp, role: Role, id: i64, decision: &str) -> (u16, serde_json::Value) {
    app.hq_as(
        role,
        "POST",
        &format!("/v1/hq/proposals/{id}/decision"),
        Some(serde_json::json!({ "decision": decision, "note": "checked the file" })),
    )
}

fn voucher_status(app: &TestApp, voucher: &str) -> String {
    let (status, body) = app.hq_get(&format!("/v1/hq/vouchers/{voucher}"));
    assert_eq!(status, 200, "{body}");
    body["status"].as_str().unwrap().to_owned()
}

fn proposal(app: &TestApp, id: i64) -> serde_json::Value {
    let (status, body) = app.hq_get(&format!("/v1/hq/proposals/{id}"));
    assert_eq!(status, 200, "{body}");
    body
}

fn code(answer: &(u16, serde_json::Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["code"].as_str())
}

fn a_revocation_is_carried_out_only_by_an_approval(backend: Backend) {
    let app = spawn_app(backend);
    let voucher = app.issue(1, "25.00", "single_use").remove(0);
    let v = voucher.voucher.as_str();
    let revoke = format!("/v1/hq/vouchers/{v}/revoke");
    let reason = serde_json::json!({ "reason": "card reported stolen" });

    // The officer proposes: nothing is revoked yet.
    let (status, first) = app.hq_as(
        Role::ProgrammeOfficer,
        "POST",
        &revoke,
        Some(reason.clone()),
    );
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["state"], "pending");
    assert_eq!(first["kind"], "voucher.revoke");
    assert_eq!(first["object"], format!("voucher:{v}"));
    assert_eq!(
        first["proposed_by_name"],
        common::username(Role::ProgrammeOfficer)
    );
    assert_eq!(first["reason"], "card reported stolen");
    assert_eq!(first["decided_by_name"], serde_json::Value::Null);
    let first_id = first["id"].as_i64().unwrap();
    assert_eq!(voucher_status(&app, v), "issued");

    // A second proposal for the same thing waits for the first, whoever makes it.
    for role in [Role::ProgrammeOfficer, Role::Admin] {
        let answer = app.hq_as(role, "POST", &revoke, Some(reason.clone()));
        assert_eq!(
            code(&answer),
            (409, Some("proposal_pending")),
            "{role:?}: {}",
            answer.1
        );
    }
    // The officer may not decide, nor may an approver propose.
    let answer = decide(&app, Role::ProgrammeOfficer, first_id, "approve");
    assert_eq!(code(&answer), (403, Some("forbidden")), "{}", answer.1);
    let answer = app.hq_as(Role::Approver, "POST", &revoke, Some(reason.clone()));
    assert_eq!(code(&answer), (403, Some("forbidden")), "{}", answer.1);
    // Nor may they at the domain level, whatever the HTTP layer does.
    let officer = people::caller(&app.storage, common::username(Role::ProgrammeOfficer)).unwrap();
    let approver = people::caller(&app.storage, common::username(Role::Approver)).unwrap();
    let refused = proposals::decide(
        &app.storage,
        &app.keys,
        &officer,
        first_id,
        Decision::Approve,
        "mine",
        common::now(),
    );
    assert!(
        matches!(refused, Err(ProposalError::NotAnApprover)),
        "{refused:?}"
    );
    let refused = proposals::propose(
        &app.storage,
        &approver,
        &Action::RevokeVoucher(voucher.voucher.clone()),
        "approver proposing",
        common::now(),
    );
    assert!(
        matches!(refused, Err(ProposalError::NotAllowed)),
        "{refused:?}"
    );
    assert_eq!(proposal(&app, first_id)["state"], "pending");
    assert_eq!(voucher_status(&app, v), "issued");

    // Rejected: the voucher stays valid, and the proposal stays rejected.
    let (status, rejected) = decide(&app, Role::Approver, first_id, "reject");
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(
        rejected["decided_by_name"],
        common::username(Role::Approver)
    );
    assert_eq!(rejected["decision_note"], "checked the file");
    assert_eq!(voucher_status(&app, v), "issued");
    for decision in ["approve", "reject"] {
        let answer = decide(&app, Role::Approver, first_id, decision);
        assert_eq!(
            code(&answer),
            (409, Some("proposal_decided")),
            "{}",
            answer.1
        );
    }
    assert_eq!(voucher_status(&app, v), "issued");
    assert_eq!(proposal(&app, first_id)["state"], "rejected");

    // Proposed again and approved: revoked, by the approval.
    let (status, second) = app.hq_as(Role::Admin, "POST", &revoke, Some(reason.clone()));
    assert_eq!(status, 202, "{second}");
    let second_id = second["id"].as_i64().unwrap();
    assert_ne!(second_id, first_id);
    let (status, pending) = app.hq_get("/v1/hq/proposals?state=pending");
    assert_eq!(status, 200);
    let pending_ids: Vec<i64> = pending
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(pending_ids, [second_id]);
    let (status, approved) = decide(&app, Role::Approver, second_id, "approve");
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    assert_eq!(approved["proposed_by_name"], common::username(Role::Admin));
    assert_eq!(
        approved["decided_by_name"],
        common::username(Role::Approver)
    );
    assert!(approved["decided_at"].as_i64().is_some());
    assert_eq!(voucher_status(&app, v), "revoked");
    let answer = decide(&app, Role::Approver, second_id, "approve");
    assert_eq!(
        code(&answer),
        (409, Some("proposal_decided")),
        "{}",
        answer.1
    );
    let answer = decide(&app, Role::Approver, second_id, "reject");
    assert_eq!(
        code(&answer),
        (409, Some("proposal_decided")),
        "{}",
        answer.1
    );
    assert_eq!(proposal(&app, second_id)["state"], "approved");
    // Nothing is left to propose about a revoked voucher.
    let answer = app.hq_as(Role::ProgrammeOfficer, "POST", &revoke, Some(reason));
    assert_eq!(
        code(&answer),
        (409, Some("voucher_revoked")),
        "{}",
        answer.1
    );

    // Lists by state, newest first.
    let (_, all) = app.hq_get("/v1/hq/proposals");
    let states: Vec<(i64, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(second_id, "approved"), (first_id, "rejected")]);
    let (_, rejected) = app.hq_get("/v1/hq/proposals?state=rejected");
    assert_eq!(rejected.as_array().unwrap().len(), 1);
    assert_eq!(rejected[0]["id"], first_id);
    let answer = app.hq_get("/v1/hq/proposals?state=maybe");
    assert_eq!(code(&answer), (400, Some("bad_state")));

    // Unknown things.
    let answer = decide(&app, Role::Approver, 987_654, "approve");
    assert_eq!(
        code(&answer),
        (404, Some("unknown_proposal")),
        "{}",
        answer.1
    );
    let answer = app.hq_get("/v1/hq/proposals/987654");
    assert_eq!(code(&answer), (404, Some("unknown_proposal")));
    let answer = app.hq_as(
        Role::ProgrammeOfficer,
        "POST",
        "/v1/hq/vouchers/V-not-issued/revoke",
        Some(serde_json::json!({ "reason": "x" })),
    );
    assert_eq!(
        code(&answer),
        (404, Some("unknown_voucher")),
        "{}",
        answer.1
    );
}

/// Two offline terminals redeem the same single-use voucher: the second
/// upload opens a case. Returns its id.
fn double_spend(app: &TestApp, shop: &str) -> u64 {
    let voucher = app.issue(1, "15.00", "single_use").remove(0);
    let mut a = app.terminal(&format!("{shop}-a"), "site-1");
    let mut b = app.terminal(&format!("{shop}-b"), "site-1");
    a.redeem(&voucher.qr_text, 1500);
    b.redeem(&voucher.qr_text, 1500);
    a.upload(1..=1).unwrap();
    b.upload(1..=1).unwrap();
    let (status, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(status, 200);
    cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["voucher"] == voucher.voucher.as_str())
        .unwrap_or_else(|| panic!("no case for {}: {cases}", voucher.voucher))["id"]
        .as_u64()
        .unwrap()
}

fn case(app: &TestApp, id: u64) -> serde_json::Value {
    let (_, cases) = app.hq_get("/v1/hq/cases");
    cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap()
}

fn a_write_off_closes_the_case_only_when_approved(backend: Backend) {
    let app = spawn_app(backend);
    let id = double_spend(&app, "shop");
    let write_off = format!("/v1/hq/cases/{id}/write-off");
    let reason = || serde_json::json!({ "reason": "merchant closed; KES 15 unrecoverable" });

    // A write-off is never a direct resolution.
    let answer = app.hq_as(
        Role::Finance,
        "POST",
        &format!("/v1/hq/cases/{id}/resolve"),
        Some(serde_json::json!({ "resolution": "written_off", "note": "gone" })),
    );
    assert_eq!(code(&answer), (400, Some("needs_approval")), "{}", answer.1);
    // Only finance proposes it.
    for role in [
        Role::Admin,
        Role::Support,
        Role::ProgrammeOfficer,
        Role::Approver,
    ] {
        let answer = app.hq_as(role, "POST", &write_off, Some(reason()));
        assert_eq!(code(&answer), (403, Some("forbidden")), "{role:?}");
    }
    let (status, proposed) = app.hq_as(Role::Finance, "POST", &write_off, Some(reason()));
    assert_eq!(status, 202, "{proposed}");
    assert_eq!(proposed["kind"], "case.write_off");
    assert_eq!(proposed["object"], format!("case:{id}"));
    let proposal_id = proposed["id"].as_i64().unwrap();
    let answer = app.hq_as(Role::Finance, "POST", &write_off, Some(reason()));
    assert_eq!(
        code(&answer),
        (409, Some("proposal_pending")),
        "{}",
        answer.1
    );
    assert_eq!(case(&app, id)["status"], "open");

    // Rejected: still open; proposed again and approved: written off.
    let (status, _) = decide(&app, Role::Approver, proposal_id, "reject");
    assert_eq!(status, 200);
    assert_eq!(case(&app, id)["status"], "open");
    assert_eq!(case(&app, id)["resolution"], serde_json::Value::Null);
    let (status, again) = app.hq_as(Role::Finance, "POST", &write_off, Some(reason()));
    assert_eq!(status, 202, "{again}");
    let (status, approved) = decide(
        &app,
        Role::Approver,
        again["id"].as_i64().unwrap(),
        "approve",
    );
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    let closed = case(&app, id);
    assert_eq!(closed["status"], "resolved", "{closed}");
    assert_eq!(closed["resolution"], "written_off");
    let note = closed["resolution_note"].as_str().unwrap();
    assert!(note.contains("KES 15 unrecoverable"), "{note}");
    // A closed case takes no further write-off.
    let answer = app.hq_as(Role::Finance, "POST", &write_off, Some(reason()));
    assert_eq!(code(&answer), (409, Some("case_resolved")), "{}", answer.1);
    let answer = app.hq_as(
        Role::Finance,
        "POST",
        "/v1/hq/cases/987654/write-off",
        Some(reason()),
    );
    assert_eq!(code(&answer), (404, Some("unknown_case")), "{}", answer.1);
}

fn an_approval_that_cannot_be_carried_out_changes_nothing(backend: Backend) {
    let app = spawn_app(backend);
    let id = double_spend(&app, "shop");
    let (status, proposed) = app.hq_as(
        Role::Finance,
        "POST",
        &format!("/v1/hq/cases/{id}/write-off"),
        Some(serde_json::json!({ "reason": "looks unrecoverable" })),
    );
    assert_eq!(status, 202, "{proposed}");
    let proposal_id = proposed["id"].as_i64().unwrap();
    // Meanwhile support recovers the money and closes the case.
    let (status, body) = app.hq_as(
        Role::Support,
        "POST",
        &format!("/v1/hq/cases/{id}/resolve"),
        Some(serde_json::json!({ "resolution": "recovered", "note": "merchant refunded" })),
    );
    assert_eq!(status, 200, "{body}");
    let audit_before = audit_count(&app);

    // The approval cannot close it again: it is refused as a whole, so the
    // proposal is not marked approved and nothing is audited.
    let answer = decide(&app, Role::Approver, proposal_id, "approve");
    assert_eq!(code(&answer), (409, Some("case_resolved")), "{}", answer.1);
    assert_eq!(proposal(&app, proposal_id)["state"], "pending");
    assert_eq!(
        proposal(&app, proposal_id)["decided_by_name"],
        serde_json::Value::Null
    );
    assert_eq!(case(&app, id)["resolution"], "recovered");
    assert_eq!(audit_count(&app), audit_before);
    // It can still be rejected.
    let (status, rejected) = decide(&app, Role::Approver, proposal_id, "reject");
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["state"], "rejected");
}

fn audit_count(app: &TestApp) -> u64 {
    match lastmile_server::audit::verify(&app.storage).unwrap() {
        lastmile_server::audit::Verification::Intact { entries, .. } => entries,
        broken => panic!("{broken:?}"),
    }
}

fn nobody_decides_their_own_proposal(backend: Backend) {
    let app = spawn_app(backend);
    let voucher = app.issue(1, "40.00", "single_use").remove(0);
    let v = voucher.voucher.as_str();
    let approver = people::caller(&app.storage, common::username(Role::Approver)).unwrap();
    // No role both proposes and decides, so the only way an approver's own
    // proposal exists is in the table: say a person's role changed after
    // they proposed. Insert it as `proposals::propose` would.
    let id = app
        .storage
        .transaction(|tx| {
            let id = i64::try_from(tx.next_counter("proposals")?).unwrap();
            let object = format!("voucher:{v}");
            assert!(table::insert(
                tx.sql(),
                &NewProposal {
                    id,
                    kind: "voucher.revoke",
                    object: &object,
                    payload: "{}",
                    reason: "my own idea",
                    proposed_by: approver.id,
                    proposed_at: common::now(),
                },
            )?);
            Ok::<_, lastmile_server::storage::StorageError>(id)
        })
        .unwrap();
    let refused = proposals::decide(
        &app.storage,
        &app.keys,
        &approver,
        id,
        Decision::Approve,
        "fine by me",
        common::now(),
    );
    assert!(
        matches!(refused, Err(ProposalError::OwnProposal)),
        "{refused:?}"
    );
    let refused = proposals::decide(
        &app.storage,
        &app.keys,
        &approver,
        id,
        Decision::Reject,
        "no",
        common::now(),
    );
    assert!(
        matches!(refused, Err(ProposalError::OwnProposal)),
        "{refused:?}"
    );
    // Over HTTP the same, with its own code.
    let answer = decide(&app, Role::Approver, id, "approve");
    assert_eq!(code(&answer), (403, Some("own_proposal")), "{}", answer.1);
    assert_eq!(proposal(&app, id)["state"], "pending");
    assert_eq!(voucher_status(&app, v), "issued");

    // A second approver may.
    people::create_user(
        &app.storage,
        &common::operator(),
        &NewUser {
            username: "bahati.approver",
            display_name: "Bahati",
            role: Role::Approver,
            language: Language::Fr,
            password: common::PASSWORD,
        },
        common::now(),
    )
    .unwrap();
    let token = tokens::create(
        &app.storage,
        &common::operator(),
        "bahati.approver",
        "tests",
        common::now(),
    )
    .unwrap();
    let (status, approved) = common::hq_request(
        &app.base_url,
        "POST",
        &format!("/v1/hq/proposals/{id}/decision"),
        Some(serde_json::json!({ "decision": "approve", "note": "second pair of eyes" })),
        Some(&token.token),
    );
    assert_eq!(status, 200, "{approved}");
    assert_eq!(
        approved["proposed_by_name"],
        common::username(Role::Approver)
    );
    assert_eq!(approved["decided_by_name"], "bahati.approver");
    assert_eq!(voucher_status(&app, v), "revoked");
}

/// The keys as `(role, status)` pairs, from `GET /v1/hq/keys`.
fn key_states(app: &TestApp) -> Vec<(String, String, String)> {
    let (status, body) = app.hq_get("/v1/hq/keys");
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["role"].as_str().unwrap().to_owned(),
                k["status"].to_string(),
            )
        })
        .collect()
}

fn a_key_rotation_waits_for_an_approver(backend: Backend) {
    let app = spawn_app(backend);
    let before = key_states(&app);
    for path in ["/v1/hq/keys/issuer/rotate", "/v1/hq/keys/root/rotate"] {
        let unchanged = key_states(&app);
        // Only an admin proposes; the proposal alone changes no key.
        let refused = app.hq_as(
            Role::Approver,
            "POST",
            path,
            Some(serde_json::json!({ "reason": "yearly rotation" })),
        );
        assert_eq!(code(&refused), (403, Some("forbidden")));
        let (status, proposed) = app.hq_as(
            Role::Admin,
            "POST",
            path,
            Some(serde_json::json!({ "reason": "yearly rotation" })),
        );
        assert_eq!(status, 202, "{proposed}");
        assert_eq!(
            key_states(&app),
            unchanged,
            "{path} changed keys before approval"
        );
        let again = app.hq_as(
            Role::Admin,
            "POST",
            path,
            Some(serde_json::json!({ "reason": "yearly rotation" })),
        );
        assert_eq!(code(&again), (409, Some("proposal_pending")));
        let id = proposed["id"].as_i64().unwrap();
        let (status, decided) = decide(&app, Role::Approver, id, "approve");
        assert_eq!(
            (status, decided["state"].as_str()),
            (200, Some("approved")),
            "{decided}"
        );
    }
    let after = key_states(&app);
    let roots: Vec<_> = after.iter().filter(|(_, role, _)| role == "root").collect();
    let issuers: Vec<_> = after
        .iter()
        .filter(|(_, role, _)| role == "issuer")
        .collect();
    assert_eq!(roots.len(), 1, "{after:?}");
    assert_ne!(
        roots[0].0,
        before.iter().find(|(_, role, _)| role == "root").unwrap().0,
        "a new root key"
    );
    assert_eq!(issuers.len(), 2, "{after:?}");
    assert_eq!(
        issuers
            .iter()
            .filter(|(_, _, status)| status.contains("active"))
            .count(),
        1,
        "one active issuer key: {after:?}"
    );
    // The approval, not the proposal, is what the audit trail shows rotating them.
    let (_, audit) = app.hq_as(
        Role::Auditor,
        "GET",
        "/v1/hq/audit?action=keys.root_rotated",
        None,
    );
    assert_eq!(audit[0]["actor"], "user:amina.approver", "{audit}");
}

fn a_disabled_persons_proposal_can_only_be_rejected(backend: Backend) {
    let app = spawn_app(backend);
    let voucher = app
        .issue(1, "12.00", "single_use")
        .remove(0)
        .voucher
        .to_string();
    let (status, proposed) = app.hq_as(
        Role::ProgrammeOfficer,
        "POST",
        &format!("/v1/hq/vouchers/{voucher}/revoke"),
        Some(serde_json::json!({ "reason": "reported lost" })),
    );
    assert_eq!(status, 202, "{proposed}");
    let id = proposed["id"].as_i64().unwrap();
    let officer = common::username(Role::ProgrammeOfficer);
    let (status, body) = app.hq_post(
        &format!("/v1/hq/users/{officer}/disable"),
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{body}");
    let refused = decide(&app, Role::Approver, id, "approve");
    assert_eq!(
        code(&refused),
        (409, Some("proposer_disabled")),
        "{}",
        refused.1
    );
    assert_eq!(voucher_status(&app, &voucher), "issued");
    let (status, rejected) = decide(&app, Role::Approver, id, "reject");
    assert_eq!(
        (status, rejected["state"].as_str()),
        (200, Some("rejected")),
        "{rejected}"
    );
    assert_eq!(voucher_status(&app, &voucher), "issued");
}

fn new_user(app: &TestApp, username: &str, role: &str) -> (u16, serde_json::Value) {
    app.hq_as(
        Role::Admin,
        "POST",
        "/v1/hq/users",
        Some(serde_json::json!({
            "username": username,
            "display_name": "New Person",
            "role": role,
            "password": common::PASSWORD,
        })),
    )
}

fn sign_in(app: &TestApp, username: &str) -> Result<people::Caller, people::PeopleError> {
    people::authenticate(&app.storage, username, common::PASSWORD, common::now())
}

/// An admin could otherwise make a second account with the approver role
/// and approve their own proposals with it: an account that approves (or
/// creates people) is created disabled, with a proposal another approver
/// decides.
fn an_account_that_approves_waits_for_another_approver(backend: Backend) {
    let app = spawn_app(backend);
    // A role that approves nothing is created at once.
    let (status, plain) = new_user(&app, "saida.support", "support");
    assert_eq!(status, 201, "{plain}");
    assert!(plain["disabled_at"].is_null(), "{plain}");
    sign_in(&app, "saida.support").unwrap();

    // An approver is created held, with a proposal.
    let (status, held) = new_user(&app, "second.approver", "approver");
    assert_eq!(status, 202, "{held}");
    assert!(held["user"]["disabled_at"].is_i64(), "{held}");
    assert_eq!(held["proposal"]["kind"], "user.activate");
    assert_eq!(held["proposal"]["object"], "user:second.approver");
    let id = held["proposal"]["id"].as_i64().unwrap();
    // It cannot sign in, nor be used: it is disabled until approved.
    assert!(
        matches!(
            sign_in(&app, "second.approver"),
            Err(people::PeopleError::Disabled)
        ),
        "a held account signs in"
    );
    // The admin who made it cannot decide (not an approver); the approver
    // can, and then it signs in.
    let refused = decide(&app, Role::Admin, id, "approve");
    assert_eq!(code(&refused), (403, Some("forbidden")), "{}", refused.1);
    assert!(sign_in(&app, "second.approver").is_err());
    let (status, approved) = decide(&app, Role::Approver, id, "approve");
    assert_eq!(
        (status, approved["state"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    let caller = sign_in(&app, "second.approver").unwrap();
    assert_eq!(caller.role, Role::Approver);
    let (status, entries) = app.hq_get("/v1/hq/audit?object=user:second.approver");
    assert_eq!(status, 200, "{entries}");
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first: the two refused sign-ins while held, the approval's
    // enabling, and the sign-in that then worked.
    assert_eq!(
        actions,
        [
            "login.succeeded",
            "user.enabled",
            "login.refused",
            "login.refused",
            "user.created"
        ],
        "{entries}"
    );
    // Approved once: approving again changes nothing.
    let again = decide(&app, Role::Approver, id, "approve");
    assert_eq!(code(&again), (409, Some("proposal_decided")), "{}", again.1);

    // An admin account too; rejected, it stays disabled.
    let (status, held) = new_user(&app, "other.admin", "admin");
    assert_eq!(status, 202, "{held}");
    let id = held["proposal"]["id"].as_i64().unwrap();
    let (status, rejected) = decide(&app, Role::Approver, id, "reject");
    assert_eq!(
        (status, rejected["state"].as_str()),
        (200, Some("rejected")),
        "{rejected}"
    );
    assert!(matches!(
        sign_in(&app, "other.admin"),
        Err(people::PeopleError::Disabled)
    ));
    // A taken username is refused before any proposal is made.
    let (status, taken) = new_user(&app, "other.admin", "approver");
    assert_eq!(
        (status, taken["code"].as_str()),
        (409, Some("username_taken")),
        "{taken}"
    );
    let (status, pending) = app.hq_get("/v1/hq/proposals?state=pending");
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending.as_array().map(Vec::len), Some(0), "{pending}");
}
