//! ID authorities over HTTP, on both backends: a key is proposed by one
//! person and active only once an approver (someone else) approves; the
//! approval reseals the terminals' policies, which then carry it, and a
//! card made by an independent Claim 169 encoder verifies against it; a
//! retirement takes it out of the next policy, which names it as retired;
//! bad keys are refused with their reason and change nothing.

use crate::common;

use common::{Backend, TestApp, TestTerminal, spawn_app};
use lastmile_server::people::{self, Role};
use lastmile_server::proposals::{self, Decision, ProposalError};
use lastmile_server::storage::sql::Page;
use lastmile_shared::id_card::{self, IdCardError, IdSource};
use lastmile_shared::sync::TerminalPolicy;
use lastmile_shared::trust_list::RootSigned;
use serde_json::{Value, json};

lastmile_tests::on_both_backends!(
    an_approved_id_authority_travels_in_every_policy,
    a_retired_id_authority_leaves_the_next_policy_named_as_retired,
    bad_id_authorities_are_refused_with_their_reason_and_change_nothing,
    nobody_approves_their_own_id_authority,
);

const KID: &str = "ke-nrb-2027";

/// The keys `scripts/claim169-fixtures.py` made its cards with.
fn authorities() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture_path("authorities.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fixture_path(name: &str) -> String {
    format!(
        "{}/../shared/tests/fixtures/claim169/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn card(name: &str) -> String {
    std::fs::read_to_string(fixture_path(&format!("{name}.txt"))).unwrap()
}

fn propose(app: &TestApp, role: Role, authority: &Value) -> (u16, Value) {
    app.hq_as(
        role,
        "POST",
        "/v1/hq/id-authorities",
        Some(json!({ "authority": authority, "reason": "the national registry's 2027 key" })),
    )
}

fn decide(app: &TestApp, role: Role, proposal: i64, decision: &str) -> (u16, Value) {
    app.hq_as(
        role,
        "POST",
        &format!("/v1/hq/proposals/{proposal}/decision"),
        Some(json!({ "decision": decision, "note": "checked with the registry" })),
    )
}

fn code(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["code"].as_str())
}

fn state_of(app: &TestApp, kid: &str) -> String {
    let (status, body) = app.hq_get(&format!("/v1/hq/id-authorities/{kid}"));
    assert_eq!(status, 200, "{body}");
    body["state"].as_str().unwrap().to_owned()
}

/// The terminal's newest policy, opened with its root.
fn policy(terminal: &mut TestTerminal) -> TerminalPolicy {
    let answer = terminal.pull().unwrap();
    let bytes = answer.policy.expect("a newer policy");
    TerminalPolicy::open(&bytes, &terminal.root(), None).unwrap()
}

/// Proposed by the officer and approved by the approver; the proposal id.
fn register(app: &TestApp, authority: &Value) -> i64 {
    let (status, proposed) = propose(app, Role::ProgrammeOfficer, authority);
    assert_eq!(status, 202, "{proposed}");
    let id = proposed["proposal"]["id"].as_i64().unwrap();
    let (status, decided) = decide(app, Role::Approver, id, "approve");
    assert_eq!(status, 200, "{decided}");
    id
}

fn an_approved_id_authority_travels_in_every_policy(backend: Backend) {
    let app = spawn_app(backend);
    let mut terminal = app.terminal("shop-1", "site-1");
    assert!(policy(&mut terminal).id_authorities.is_empty());
    let authority = &authorities()[0];

    let (status, proposed) = propose(&app, Role::ProgrammeOfficer, authority);
    assert_eq!(status, 202, "{proposed}");
    assert_eq!(proposed["authority"]["state"], "proposed");
    assert_eq!(proposed["authority"]["algorithm"], "Ed25519");
    assert_eq!(
        proposed["authority"]["proposed_by"],
        format!("user:{}", common::username(Role::ProgrammeOfficer))
    );
    assert_eq!(proposed["proposal"]["kind"], "id_authority.add");
    assert_eq!(
        proposed["proposal"]["object"],
        format!("id_authority:{KID}")
    );
    let id = proposed["proposal"]["id"].as_i64().unwrap();

    // Not yet: the proposer may not decide, and nothing was resealed.
    let answer = decide(&app, Role::ProgrammeOfficer, id, "approve");
    assert_eq!(code(&answer), (403, Some("forbidden")), "{}", answer.1);
    assert_eq!(state_of(&app, KID), "proposed");
    assert!(terminal.pull().unwrap().policy.is_none());

    let (status, decided) = decide(&app, Role::Approver, id, "approve");
    assert_eq!(status, 200, "{decided}");
    let (_, row) = app.hq_get(&format!("/v1/hq/id-authorities/{KID}"));
    assert_eq!(row["state"], "active");
    assert_eq!(
        row["approved_by"],
        format!("user:{}", common::username(Role::Approver))
    );

    let policy = policy(&mut terminal);
    assert_eq!(policy.id_authorities.len(), 1);
    assert_eq!(policy.id_authorities[0].kid.as_str(), KID);
    let read = id_card::read(&card("registered"), policy.id_authorities(), common::now()).unwrap();
    assert_eq!(read.id_number, "20000002");
    assert_eq!(
        read.source,
        IdSource::SignedClaim169 {
            authority: "Kenya National Registration Bureau".into()
        }
    );
    assert_eq!(
        id_card::read(
            &card("unregistered"),
            policy.id_authorities(),
            common::now()
        ),
        Err(IdCardError::UnknownAuthority {
            kid: "xx-rogue-1".into()
        })
    );

    // Every step is in the audit trail.
    let (_, audit) = app.hq_get(&format!("/v1/hq/audit?object=id_authority:{KID}&limit=50"));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["id_authority.proposed", "id_authority.activated"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

fn a_retired_id_authority_leaves_the_next_policy_named_as_retired(backend: Backend) {
    let app = spawn_app(backend);
    let mut terminal = app.terminal("shop-1", "site-1");
    for authority in &authorities() {
        register(&app, authority);
    }
    assert_eq!(policy(&mut terminal).id_authorities.len(), 2);

    let retire = format!("/v1/hq/id-authorities/{KID}/retire");
    let (status, proposal) = app.hq_as(
        Role::Admin,
        "POST",
        &retire,
        Some(json!({ "reason": "the registry reported the key lost" })),
    );
    assert_eq!(status, 202, "{proposal}");
    assert_eq!(proposal["kind"], "id_authority.retire");
    // A second proposal waits for the first.
    let again = app.hq_as(
        Role::ProgrammeOfficer,
        "POST",
        &retire,
        Some(json!({ "reason": "again" })),
    );
    assert_eq!(code(&again), (409, Some("proposal_pending")), "{}", again.1);
    assert_eq!(state_of(&app, KID), "active");

    let (status, decided) = decide(
        &app,
        Role::Approver,
        proposal["id"].as_i64().unwrap(),
        "approve",
    );
    assert_eq!(status, 200, "{decided}");
    assert_eq!(state_of(&app, KID), "retired");

    let policy = policy(&mut terminal);
    let kids: Vec<&str> = policy
        .id_authorities
        .iter()
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(kids, ["ex-p256-1"]);
    assert_eq!(policy.id_authorities_retired.len(), 1);
    assert_eq!(policy.id_authorities_retired[0].kid.as_str(), KID);
    assert_eq!(
        id_card::read(&card("registered"), policy.id_authorities(), common::now()),
        Err(IdCardError::RetiredAuthority {
            name: "Kenya National Registration Bureau".into(),
            kid: KID.into()
        })
    );
    // The other authority's (ES256) cards still verify.
    let read = id_card::read(&card("es256"), policy.id_authorities(), common::now()).unwrap();
    assert_eq!(read.id_number, "20000003");

    // A retired key id stays retired: it cannot be proposed again or retired twice.
    let answer = propose(&app, Role::ProgrammeOfficer, &authorities()[0]);
    assert_eq!(
        code(&answer),
        (409, Some("id_authority_taken")),
        "{}",
        answer.1
    );
    let answer = app.hq_as(
        Role::Admin,
        "POST",
        &retire,
        Some(json!({ "reason": "again" })),
    );
    assert_eq!(
        code(&answer),
        (409, Some("id_authority_state")),
        "{}",
        answer.1
    );
}

fn bad_id_authorities_are_refused_with_their_reason_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend);
    let good = authorities()[0].clone();
    let with = |field: &str, value: Value| {
        let mut authority = good.clone();
        authority[field] = value;
        authority
    };
    let refusals = [
        (
            with("public_key", json!("not hex")),
            "bad_id_authority",
            "hexadecimal",
        ),
        (
            with("public_key", json!("abcd")),
            "bad_id_authority",
            "32 bytes",
        ),
        (
            with("algorithm", json!("RS256")),
            "bad_id_authority",
            "RS256",
        ),
        (
            with("kid", json!("has space")),
            "bad_id_authority",
            "key id",
        ),
        (with("name", json!("")), "bad_id_authority", "name"),
        (
            with("valid_until", json!("2026-02-30")),
            "bad_date",
            "valid_until",
        ),
        (
            with("valid_until", json!("2025-12-31")),
            "bad_id_authority",
            "before it starts",
        ),
        (
            with("algorithm", json!("ES256")),
            "bad_id_authority",
            "33 or 65",
        ),
    ];
    for (authority, wanted, says) in refusals {
        let answer = propose(&app, Role::ProgrammeOfficer, &authority);
        assert_eq!(
            code(&answer),
            (400, Some(wanted)),
            "{authority}: {}",
            answer.1
        );
        let detail = answer.1["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{authority}: {detail}");
    }
    let answer = app.hq_as(
        Role::ProgrammeOfficer,
        "POST",
        "/v1/hq/id-authorities",
        Some(json!({ "authority": good, "reason": "x", "extra": 1 })),
    );
    assert_eq!(code(&answer), (400, Some("bad_json")), "{}", answer.1);
    // An approver may not propose, and nobody may retire what is not active.
    let answer = propose(&app, Role::Approver, &good);
    assert_eq!(code(&answer), (403, Some("forbidden")), "{}", answer.1);
    let answer = app.hq_as(
        Role::Admin,
        "POST",
        "/v1/hq/id-authorities/nobody-1/retire",
        Some(json!({ "reason": "gone" })),
    );
    assert_eq!(
        code(&answer),
        (404, Some("unknown_id_authority")),
        "{}",
        answer.1
    );
    let (_, listed) = app.hq_get("/v1/hq/id-authorities");
    assert_eq!(listed, json!([]));
    let (_, proposals) = app.hq_get("/v1/hq/proposals?state=pending");
    assert_eq!(proposals, json!([]));

    // Proposed once; the same key id again waits; a proposed key is not retired.
    let (status, _) = propose(&app, Role::ProgrammeOfficer, &good);
    assert_eq!(status, 202);
    let answer = propose(&app, Role::Admin, &good);
    assert_eq!(
        code(&answer),
        (409, Some("id_authority_taken")),
        "{}",
        answer.1
    );
    let answer = app.hq_as(
        Role::Admin,
        "POST",
        &format!("/v1/hq/id-authorities/{KID}/retire"),
        Some(json!({ "reason": "gone" })),
    );
    assert_eq!(
        code(&answer),
        (409, Some("id_authority_state")),
        "{}",
        answer.1
    );
    let answer = app.hq_get("/v1/hq/id-authorities?state=lost");
    assert_eq!(code(&answer), (400, Some("bad_state")), "{}", answer.1);
}

fn nobody_approves_their_own_id_authority(backend: Backend) {
    let app = spawn_app(backend);
    let officer = common::username(Role::ProgrammeOfficer);
    let (status, proposed) = propose(&app, Role::ProgrammeOfficer, &authorities()[0]);
    assert_eq!(status, 202, "{proposed}");
    let id = proposed["proposal"]["id"].as_i64().unwrap();
    // No role both proposes and approves; say the officer became an approver
    // after proposing.
    app.storage
        .transaction(|tx| {
            tx.sql().execute(
                "UPDATE users SET role = 'approver' WHERE username = $1",
                &[officer.into()],
            )
        })
        .unwrap();
    let now_approver = people::caller(&app.storage, officer).unwrap();
    let refused = proposals::decide(
        &app.storage,
        &app.keys,
        &now_approver,
        id,
        Decision::Approve,
        "mine",
        common::now(),
    );
    assert!(
        matches!(refused, Err(ProposalError::OwnProposal)),
        "{refused:?}"
    );
    let answer = decide(&app, Role::ProgrammeOfficer, id, "approve");
    assert_eq!(code(&answer), (403, Some("own_proposal")), "{}", answer.1);
    assert_eq!(state_of(&app, KID), "proposed");

    // Rejected by a real approver: it stays out, and may be proposed again.
    let (status, _) = decide(&app, Role::Approver, id, "reject");
    assert_eq!(status, 200);
    assert_eq!(state_of(&app, KID), "rejected");
    let listed =
        lastmile_server::id_authorities::list(&app.storage, Some("active"), Page::first(10))
            .unwrap();
    assert!(listed.is_empty());
    let (status, again) = propose(&app, Role::Admin, &authorities()[0]);
    assert_eq!(status, 202, "{again}");
    assert_eq!(state_of(&app, KID), "proposed");
}
