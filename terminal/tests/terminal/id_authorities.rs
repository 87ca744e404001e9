//! End to end: ID cards made by an independent Claim 169 encoder
//! (`scripts/claim169-fixtures.py`: cbor2, cryptography, zlib and base45 by
//! hand, not `claim169-core`) on a real terminal driven through its command
//! line, against the real server. HQ registers the card's authority over
//! the HQ API (an officer proposes, an approver approves); after a sync the
//! card verifies and pays the person's cash entitlement. A card by an
//! unregistered authority, or a forged one, is refused with its reason, and
//! once HQ retires the authority (with approval again) its cards are
//! refused as retired.

use lastmile_server::clock::{Clock, SystemClock};
use lastmile_server::keys::KeyDir;
use lastmile_server::people::tokens;
use lastmile_server::storage::Storage;
use lastmile_tests::Terminal;
use serde_json::{Value, json};

use crate::registry::{self, CASH_PERSON_ID, Serving};

const KID: &str = "ke-nrb-2027";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../shared/tests/fixtures/claim169/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hq_post(url: &str, token: &str, path: &str, body: Value) -> Value {
    let mut response = ureq::post(&format!("{url}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let text = response.body_mut().read_to_string().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
}

fn approve(url: &str, approver: &str, proposal: &Value) {
    let id = proposal["id"].as_i64().expect("a proposal id");
    let decided = hq_post(
        url,
        approver,
        &format!("/v1/hq/proposals/{id}/decision"),
        json!({ "decision": "approve", "note": "checked with the registry" }),
    );
    assert_eq!(decided["state"], "approved", "{decided}");
}

/// `id-redeem --id CARD` refused: its code and sentence.
fn refused(agent: &Terminal, card: &str) -> (String, String) {
    let answer = agent
        .json(&["id-redeem", "--id", card, "--scanned"])
        .expect_code(3)
        .json();
    (
        answer["code"].as_str().unwrap_or_default().to_owned(),
        answer["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn an_independently_encoded_id_card_pays_only_while_its_authority_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("server")).unwrap();
    let config = registry::config(dir.path());
    let now = SystemClock.now();
    let (hq, approver) = {
        let storage = Storage::open(&config.database).unwrap();
        let hq = registry::set_up_hq(&storage, &KeyDir::new(&config.data_dir), &config, now);
        let operator = lastmile_server::audit::Actor::Operator("e2e".to_owned());
        let approver = tokens::create(&storage, &operator, "e2e.approver", "e2e", now)
            .unwrap()
            .token;
        (hq, approver)
    };
    let server = Serving::start(config);
    let url = server.url.as_str();

    let agent = Terminal::new();
    agent.enroll_at(url, &hq.agent_code, &[]);
    agent.operator("wanjiku", "5678");
    let card = fixture("registered.txt");

    // Nobody registered its authority yet.
    let (code, message) = refused(&agent, &card);
    assert_eq!(code, "id_card_unknown_authority", "{message}");
    assert!(message.contains(&format!("kid={KID}")), "{message}");

    // The officer proposes the authority; an approver approves it.
    let authorities: Vec<Value> = serde_json::from_str(&fixture("authorities.json")).unwrap();
    let proposed = hq_post(
        url,
        &hq.token,
        "/v1/hq/id-authorities",
        json!({ "authority": authorities[0], "reason": "the national registry" }),
    );
    assert_eq!(proposed["authority"]["state"], "proposed", "{proposed}");
    agent.sync_ok();
    assert_eq!(refused(&agent, &card).0, "id_card_unknown_authority");
    approve(url, &approver, &proposed["proposal"]);
    agent.sync_ok();

    // The card verifies: the terminal finds the person and pays them.
    let identified = agent
        .json(&["id-redeem", "--id", &card, "--scanned"])
        .expect_code(0)
        .json();
    assert_eq!(identified["identity"], "signed_id_card", "{identified}");
    assert_eq!(identified["card_name"], "Baraka Mwangi", "{identified}");
    agent
        .json(&["cash", "open", "--float", "500"])
        .expect_code(0);
    let paid = agent
        .json(&[
            "cash",
            "pay",
            "--id",
            &card,
            "--entitlement",
            &hq.cash_entitlement,
        ])
        .expect_code(0)
        .json();
    assert_eq!(
        paid["receipt"]["status"], "accepted_offline_pending",
        "{paid}"
    );

    // A card by an authority HQ never registered, and a forged one.
    let (code, message) = refused(&agent, &fixture("unregistered.txt"));
    assert_eq!(code, "id_card_unknown_authority", "{message}");
    assert!(message.contains("kid=xx-rogue-1"), "{message}");
    let (code, message) = refused(&agent, &fixture("forged.txt"));
    assert_eq!(code, "id_card_bad_signature", "{message}");
    assert!(
        message.contains("Kenya National Registration Bureau"),
        "{message}"
    );

    // HQ retires the authority, with approval; after a sync its cards are
    // refused as retired.
    let retire = hq_post(
        url,
        &hq.token,
        &format!("/v1/hq/id-authorities/{KID}/retire"),
        json!({ "reason": "the registry reported the key lost" }),
    );
    approve(url, &approver, &retire);
    agent.sync_ok();
    let (code, message) = refused(&agent, &card);
    assert_eq!(code, "id_card_retired_authority", "{message}");
    assert!(message.contains("retired"), "{message}");
    assert!(message.contains(KID), "{message}");
    // The person's own number still finds them (the operator checks by hand).
    agent
        .json(&["id-redeem", "--id", CASH_PERSON_ID])
        .expect_code(0);
}
