//! End-to-end sync scenarios over real HTTP, each on SQLite and PostgreSQL.

use crate::common;

use std::io::Write;
use std::time::Duration;

use common::{Backend, SignOptions, TestTerminal, eventually, spawn_app};
use lastmile_shared::device_log::{EntryHash, IdentityCheck, LogEntry, LogEvent, SignedEntry};
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, KeyId, MerchantId, ProgrammeId, SiteId,
};
use lastmile_shared::money::Money;
use lastmile_shared::revocation::RevocationList;
use lastmile_shared::rules::{self, CredentialState, Decision, RejectReason, TerminalContext};
use lastmile_shared::sync::{self, EntryOutcome, UploadRequest};
use lastmile_shared::trust_list::{RootSigned, TrustList, TrustStore};
use lastmile_shared::voucher;
use serde_bytes::ByteBuf;

lastmile_tests::on_both_backends!(
    enrolment_codes_are_single_use_and_expire,
    uploads_are_idempotent_under_retries_duplicates_and_reordering,
    a_different_entry_with_a_held_sequence_is_refused_and_raised,
    a_connection_cut_after_the_request_loses_and_duplicates_nothing,
    the_same_voucher_on_two_offline_terminals_becomes_a_case,
    vouchers_spent_or_revoked_are_refused_elsewhere_after_sync,
    a_suspended_merchant_is_refused_at_its_terminals_after_sync,
    a_rotated_root_is_followed_by_enrolled_terminals_and_given_to_new_ones,
    forged_replayed_revoked_and_unknown_requests_change_nothing,
    pull_sends_only_what_is_newer_than_the_cursor,
    bad_entries_and_oversize_bodies_are_refused,
    the_same_cash_entitlement_paid_on_two_offline_terminals_becomes_a_case,
    a_partial_entitlement_redeemed_over_its_value_becomes_a_case,
    unknown_or_mismatched_entitlements_raise_alarms,
    pull_gives_entitlement_balances_to_terminals_of_the_roster_only,
    a_restored_server_answers_its_head_and_raises_the_range_recovered,
    a_voucher_text_other_than_the_one_held_is_refused_and_raised,
    entries_dated_before_the_one_they_follow_are_flagged,
    a_pull_tells_a_terminal_how_hq_closed_its_cases,
);

fn enrolment_codes_are_single_use_and_expire(backend: Backend) {
    let app = spawn_app(backend);
    let code = app.code("shop-1", "site-1");
    let terminal = TestTerminal::enroll(&app.base_url, &code).unwrap();
    assert_eq!(
        terminal.enrolment.merchant.as_ref().map(MerchantId::as_str),
        Some("shop-1")
    );
    assert_eq!(
        terminal.enrolment.site.as_ref().map(SiteId::as_str),
        Some("site-1")
    );
    let root = app
        .storage
        .transaction(|tx| tx.root_key())
        .unwrap()
        .unwrap();
    assert_eq!(terminal.enrolment.root_kid, root.kid);
    assert_eq!(
        terminal.enrolment.root_public_key.as_slice(),
        root.public_key
    );

    let again = TestTerminal::enroll(&app.base_url, &code).err().unwrap();
    assert_eq!(
        (again.status, again.problem.code.as_str()),
        (409, "code_used")
    );
    let unknown = TestTerminal::enroll(&app.base_url, "AAAA-BBBB-CCCC")
        .err()
        .unwrap();
    assert_eq!(
        (unknown.status, unknown.problem.code.as_str()),
        (404, "unknown_code")
    );

    let (status, body) = app.hq_post(
        "/v1/hq/enrolment-codes",
        serde_json::json!({"merchant": "shop-1", "ttl_seconds": 1}),
    );
    assert_eq!(status, 201, "{body}");
    std::thread::sleep(Duration::from_millis(2100));
    let expired = TestTerminal::enroll(&app.base_url, body["code"].as_str().unwrap())
        .err()
        .unwrap();
    assert_eq!(
        (expired.status, expired.problem.code.as_str()),
        (410, "code_expired")
    );

    let (status, terminals) = app.hq_get("/v1/hq/terminals");
    assert_eq!(status, 200);
    assert_eq!(terminals.as_array().unwrap().len(), 1);

    // Moving the terminal to another site keeps its merchant.
    let (status, row) = app.hq(
        "PUT",
        &format!("/v1/hq/terminals/{}/assignment", terminal.device()),
        Some(serde_json::json!({"site": "site-2"})),
    );
    assert_eq!(status, 200, "{row}");
    assert_eq!(
        (row["merchant"].as_str(), row["site"].as_str()),
        (Some("shop-1"), Some("site-2"))
    );
}

fn outcome_kinds(outcomes: &[EntryOutcome]) -> Vec<(char, u64)> {
    outcomes
        .iter()
        .map(|o| match o {
            EntryOutcome::Applied { seq } => ('A', *seq),
            EntryOutcome::Duplicate { seq } => ('D', *seq),
            EntryOutcome::DoubleSpend { seq, .. } => ('X', *seq),
        })
        .collect()
}

fn uploads_are_idempotent_under_retries_duplicates_and_reordering(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(8, "10.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    for v in &vouchers {
        terminal.redeem(&v.qr_text, 1000);
    }
    let first = terminal.upload(1..=5).unwrap();
    assert_eq!(first.acknowledged_seq, 5);
    assert_eq!(
        outcome_kinds(&first.outcomes),
        [('A', 1), ('A', 2), ('A', 3), ('A', 4), ('A', 5)]
    );

    // A retry of the same batch: all duplicates, nothing new.
    let retry = terminal.upload(1..=5).unwrap();
    assert_eq!(retry.acknowledged_seq, 5);
    assert!(
        retry
            .outcomes
            .iter()
            .all(|o| matches!(o, EntryOutcome::Duplicate { .. }))
    );

    // Overlapping and out of order inside the batch, with an entry twice.
    let mut shuffled = terminal.entries(4..=7);
    shuffled.reverse();
    shuffled.push(ByteBuf::from(terminal.log[5].bytes.clone()));
    let mixed = terminal.upload_entries(shuffled).unwrap();
    assert_eq!(mixed.acknowledged_seq, 7);
    assert_eq!(
        outcome_kinds(&mixed.outcomes),
        [('D', 4), ('D', 5), ('A', 6), ('D', 6), ('A', 7)]
    );

    // A batch that arrives before the one it follows is refused, not lost:
    // the terminal keeps it and sends it again.
    terminal.redeem(&vouchers[0].qr_text, 1000); // seq 9 after 8 below
    let early = terminal.upload(9..=9).unwrap_err();
    assert_eq!(
        (early.status, early.problem.code.as_str()),
        (409, "sequence_gap")
    );
    let rest = terminal.upload(8..=9).unwrap();
    assert_eq!(rest.acknowledged_seq, 9);
    // Entry 9 re-redeemed voucher 0 on the same terminal: a case, still stored.
    assert!(matches!(
        rest.outcomes[1],
        EntryOutcome::DoubleSpend { seq: 9, .. }
    ));
    assert_eq!(app.entry_count(), 9);

    let (_, terminals) = app.hq_get("/v1/hq/terminals");
    assert_eq!(terminals[0]["head_seq"], 9);
}

fn a_different_entry_with_a_held_sequence_is_refused_and_raised(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(2, "10.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    terminal.redeem(&vouchers[0].qr_text, 1000);
    terminal.upload(1..=1).unwrap();
    // The terminal's log is rewritten: a different entry 1.
    terminal.log.clear();
    terminal.redeem(&vouchers[1].qr_text, 1000);
    let refused = terminal.upload(1..=1).unwrap_err();
    assert_eq!(
        (refused.status, refused.problem.code.as_str()),
        (409, "sequence_conflict")
    );
    assert_eq!(app.entry_count(), 1);
    let (_, alarms) = app.hq_get("/v1/hq/alarms");
    let alarms = alarms.as_array().unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0]["kind"], "sequence_conflict");
    assert_eq!(alarms[0]["seq"], 1);
    // The second voucher was not counted.
    let (_, v) = app.hq_get(&format!("/v1/hq/vouchers/{}", vouchers[1].voucher));
    assert_eq!(v["status"], "issued");
}

/// Sends a signed upload over a raw socket, reads `read_bytes` of the
/// answer (0: none), and hangs up.
fn upload_and_hang_up(
    app: &common::TestApp,
    terminal: &TestTerminal,
    range: std::ops::RangeInclusive<u64>,
    read_bytes: usize,
) {
    let body = sync::to_cbor(&UploadRequest {
        entries: terminal.entries(range),
        acknowledged_seq: 0,
    });
    let headers = common::sign_headers(
        "/v1/terminal/upload",
        &body,
        &terminal.enrolment.device_kid,
        &terminal.key,
        &SignOptions::default(),
    );
    let addr = app.base_url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "POST /v1/terminal/upload HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/cbor\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    stream.flush().unwrap();
    let mut answer = vec![0u8; read_bytes];
    std::io::Read::read_exact(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with(&b"HTTP/1.1 200"[..read_bytes.min(12)]));
    stream.shutdown(std::net::Shutdown::Both).unwrap();
}

fn a_connection_cut_after_the_request_loses_and_duplicates_nothing(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(40, "5.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    for v in &vouchers {
        terminal.redeem(&v.qr_text, 500);
    }
    // Cut right after the request: the server may or may not have applied
    // it; either way the retry leaves exactly one copy of each entry.
    upload_and_hang_up(&app, &terminal, 1..=20, 0);
    std::thread::sleep(Duration::from_millis(300));
    let retry = terminal.upload(1..=20).unwrap();
    assert_eq!(retry.acknowledged_seq, 20);
    assert_eq!(retry.outcomes.len(), 20);
    assert_eq!(app.entry_count(), 20);
    // Cut in the middle of the answer: the server applied the upload, the
    // terminal never learnt it, and sends everything again.
    upload_and_hang_up(&app, &terminal, 21..=40, 12);
    assert!(eventually(Duration::from_secs(10), || app.entry_count() == 40));
    let retry = terminal.upload(21..=40).unwrap();
    assert_eq!(retry.acknowledged_seq, 40);
    assert!(
        retry
            .outcomes
            .iter()
            .all(|o| matches!(o, EntryOutcome::Duplicate { .. }))
    );
    assert_eq!(app.entry_count(), 40);
    let (_, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(cases.as_array().unwrap().len(), 0);
}

fn the_same_voucher_on_two_offline_terminals_becomes_a_case(backend: Backend) {
    let app = spawn_app(backend);
    let single = app.issue(1, "15.00", "single_use").remove(0);
    let partial = app.issue(1, "100.00", "partial").remove(0);
    let mut a = app.terminal("shop-1", "site-1");
    let mut b = app.terminal("shop-2", "site-1");
    let mut c = app.terminal("shop-3", "site-2");
    // All offline: each redeems what it sees as valid.
    a.redeem(&single.qr_text, 1500);
    b.redeem(&single.qr_text, 1500);
    a.redeem(&partial.qr_text, 6000);
    b.redeem(&partial.qr_text, 3000);
    c.redeem(&partial.qr_text, 2000);

    let first = a.upload(1..=2).unwrap();
    assert_eq!(outcome_kinds(&first.outcomes), [('A', 1), ('A', 2)]);
    let second = b.upload(1..=2).unwrap();
    // b's single-use redemption conflicts; its partial one still fits (60 + 30).
    assert_eq!(outcome_kinds(&second.outcomes), [('X', 1), ('A', 2)]);
    let third = c.upload(1..=1).unwrap();
    assert_eq!(outcome_kinds(&third.outcomes), [('X', 1)]);
    // b's answer was lost and it uploads again: the double spend is named
    // again (same case), nothing new is opened.
    let retried = b.upload(1..=2).unwrap();
    assert_eq!(
        retried.outcomes,
        [
            second.outcomes[0].clone(),
            EntryOutcome::Duplicate { seq: 2 }
        ]
    );

    let (status, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(status, 200);
    let cases = cases.as_array().unwrap().clone();
    assert_eq!(cases.len(), 2);
    let case = &cases[0];
    assert_eq!(case["voucher"], single.voucher.as_str());
    assert_eq!(case["reason"], "already_redeemed");
    assert_eq!(case["first_device"], a.device().as_str());
    assert_eq!(case["second_device"], b.device().as_str());
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(case["first_entry"].as_str().unwrap()).unwrap(),
        a.log[0].bytes
    );
    assert_eq!(
        b64.decode(case["second_entry"].as_str().unwrap()).unwrap(),
        b.log[0].bytes
    );
    assert_eq!(cases[1]["reason"], "over_value");
    assert_eq!(cases[1]["redeemed_before_minor"], 9000);
    assert_eq!(cases[1]["first_device"], b.device().as_str());
    let (_, v) = app.hq_get(&format!("/v1/hq/vouchers/{}", partial.voucher));
    assert_eq!(v["redeemed_minor"], 9000);
    assert_eq!(v["status"], "partly_redeemed");
    let (_, v) = app.hq_get(&format!("/v1/hq/vouchers/{}", single.voucher));
    assert_eq!(v["status"], "redeemed");

    // A person at HQ closes the first case; it cannot be closed twice.
    let id = cases[0]["id"].as_u64().unwrap();
    let resolve =
        |body: serde_json::Value| app.hq_post(&format!("/v1/hq/cases/{id}/resolve"), body);
    let (status, problem) = resolve(serde_json::json!({"resolution": "recovered", "note": " "}));
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("empty_note"))
    );
    let (status, body) = resolve(serde_json::json!({
        "resolution": "recovered",
        "note": "shop refunded KES 50 on 3 May",
    }));
    assert_eq!(status, 200, "{body}");
    let (status, problem) = resolve(serde_json::json!({"resolution": "dismissed", "note": "x"}));
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("case_resolved"))
    );
    let (status, problem) = app.hq_post(
        "/v1/hq/cases/999/resolve",
        serde_json::json!({"resolution": "dismissed", "note": "x"}),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("unknown_case"))
    );
    let (_, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(cases[0]["status"], "resolved");
    assert_eq!(cases[0]["resolution"], "recovered");
    assert_eq!(cases[0]["resolution_note"], "shop refunded KES 50 on 3 May");
    assert!(cases[0]["resolved_at"].as_i64().is_some());
    assert_eq!(cases[1]["status"], "open");
    assert_eq!(cases[1]["resolution"], serde_json::Value::Null);
}

/// What the terminal's redemption decision says about a voucher, given what
/// it learnt from its last pull.
fn decide_after_pull(
    terminal: &TestTerminal,
    pulls: &[lastmile_shared::sync::PullResponse],
    voucher_text: &str,
) -> Decision {
    let root = terminal.root();
    let trust_bytes = pulls
        .iter()
        .rev()
        .find_map(|p| p.trust_list.clone())
        .unwrap();
    let trust = TrustList::open(&trust_bytes, &root, None).unwrap();
    let store = TrustStore::new(&trust).unwrap();
    let revocations = pulls
        .iter()
        .rev()
        .find_map(|p| p.revocations.clone())
        .map(|b| RevocationList::open(&b, &root, None).unwrap())
        .unwrap_or_default();
    let now = common::now();
    let verified = voucher::verify(voucher_text, &store, now).unwrap();
    let redeemed_minor = pulls
        .iter()
        .flat_map(|p| p.balances.iter())
        .filter(|b| b.voucher == verified.claims.id)
        .map(|b| b.redeemed.minor)
        .next_back()
        .unwrap_or(0);
    let state = CredentialState {
        revoked: revocations.vouchers.contains(&verified.claims.id),
        redeemed_minor,
        redeemed_unsynced_minor: 0,
    };
    let limits = common::kes_limits();
    let ctx = TerminalContext {
        now,
        merchant: terminal.enrolment.merchant.as_ref(),
        site: terminal.enrolment.site.as_ref(),
        device_revoked: revocations.devices.contains(terminal.device()),
        merchant_revoked: terminal
            .enrolment
            .merchant
            .as_ref()
            .is_some_and(|m| revocations.merchants.contains(m)),
        limits: Some(&limits),
        unsynced_value_minor: 0,
        unsynced_count: 0,
        last_sync_at: now,
        presented_beneficiary: None,
    };
    rules::decide(&verified.claims.terms(), &state, &ctx, None)
}

fn vouchers_spent_or_revoked_are_refused_elsewhere_after_sync(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(3, "20.00", "single_use");
    let mut a = app.terminal("shop-1", "site-1");
    let mut b = app.terminal("shop-2", "site-1");
    let before = b.pull().unwrap();
    assert_eq!(
        decide_after_pull(&b, std::slice::from_ref(&before), &vouchers[0].qr_text),
        Decision::Accept {
            amount: Money::new(2000, common::kes()),
            remaining_after: Money::new(0, common::kes()),
        }
    );
    a.redeem(&vouchers[0].qr_text, 2000);
    a.upload(1..=1).unwrap();
    let decided = app.propose_and_approve(
        &format!("/v1/hq/vouchers/{}/revoke", vouchers[1].voucher),
        "card reported stolen",
    );
    assert_eq!(decided["state"], "approved");

    let after = b.pull().unwrap();
    assert_eq!(after.balances.len(), 1);
    assert_eq!(after.balances[0].voucher, vouchers[0].voucher);
    assert_eq!(after.balances[0].redeemed.minor, 2000);
    let pulls = [before, after];
    assert_eq!(
        decide_after_pull(&b, &pulls, &vouchers[0].qr_text),
        Decision::Reject(RejectReason::AlreadyRedeemed)
    );
    assert_eq!(
        decide_after_pull(&b, &pulls, &vouchers[1].qr_text),
        Decision::Reject(RejectReason::Revoked)
    );
    assert!(matches!(
        decide_after_pull(&b, &pulls, &vouchers[2].qr_text),
        Decision::Accept { .. }
    ));
}

fn a_suspended_merchant_is_refused_at_its_terminals_after_sync(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(1, "20.00", "single_use");
    let mut suspended = app.terminal("shop-1", "site-1");
    let mut other = app.terminal("shop-2", "site-1");
    let revoke = |merchant: &str, reason: &str| {
        app.hq_post(
            &format!("/v1/hq/merchants/{merchant}/revoke"),
            serde_json::json!({ "reason": reason }),
        )
    };
    let (status, problem) = revoke("shop-1", "  ");
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("bad_reason"))
    );
    let (status, body) = revoke("shop-1", "sold vouchers for cash, inspection 12 May");
    assert_eq!(status, 200, "{body}");
    let version = body["revocations_version"].as_u64().unwrap();
    let (status, problem) = revoke("shop-1", "again");
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("merchant_already_suspended"))
    );

    let pulled = suspended.pull().unwrap();
    let list = RevocationList::open(
        pulled.revocations.as_ref().unwrap(),
        &suspended.root(),
        None,
    )
    .unwrap();
    assert_eq!(
        list.version, version,
        "a refused second revoke publishes nothing"
    );
    assert_eq!(
        decide_after_pull(
            &suspended,
            std::slice::from_ref(&pulled),
            &vouchers[0].qr_text
        ),
        Decision::Reject(RejectReason::MerchantRevoked)
    );
    let pulled = other.pull().unwrap();
    assert!(matches!(
        decide_after_pull(&other, std::slice::from_ref(&pulled), &vouchers[0].qr_text),
        Decision::Accept { .. }
    ));
}

fn a_rotated_root_is_followed_by_enrolled_terminals_and_given_to_new_ones(backend: Backend) {
    use lastmile_server::keys;
    use lastmile_shared::trust_list::RootHandover;

    let app = spawn_app(backend);
    let mut old_terminal = app.terminal("shop-1", "site-1");
    let before = old_terminal.pull().unwrap();
    assert!(before.root_handovers.is_empty());
    let old_root = old_terminal.root();
    let held_trust_list = TrustList::open(before.trust_list.as_ref().unwrap(), &old_root, None)
        .unwrap()
        .version;

    let key_dir = keys::KeyDir::new(&common::data_path(&app));
    let rotated =
        keys::rotate_root(&app.storage, &key_dir, &common::operator(), common::now()).unwrap();
    assert_eq!(rotated.old_kid, old_root.kid);

    // The enrolled terminal follows the handover with the root it trusts,
    // then opens the resealed documents with the new root only.
    let after = old_terminal.pull().unwrap();
    assert_eq!(after.root_handovers.len(), 1);
    let new_root = RootHandover::follow(&after.root_handovers[0], &old_root).unwrap();
    assert_eq!(
        old_terminal.root().kid,
        new_root.kid,
        "the test terminal followed"
    );
    assert_eq!(new_root.kid, rotated.new_kid);
    let stored = app
        .storage
        .transaction(|tx| tx.root_key())
        .unwrap()
        .unwrap();
    assert_eq!(new_root.key.to_bytes(), stored.public_key);
    let trust_bytes = after.trust_list.as_ref().expect("a resealed trust list");
    assert!(TrustList::open(trust_bytes, &old_root, None).is_err());
    let trust = TrustList::open(trust_bytes, &new_root, Some(held_trust_list)).unwrap();
    assert!(trust.version > held_trust_list);
    assert!(RevocationList::open(after.revocations.as_ref().unwrap(), &new_root, None).is_ok());
    // A handover opened with any other root is refused.
    assert!(RootHandover::follow(&after.root_handovers[0], &new_root).is_err());

    // A terminal enrolled after the rotation gets the new root directly.
    let new_terminal = app.terminal("shop-2", "site-1");
    assert_eq!(new_terminal.root().kid, rotated.new_kid);
}

fn forged_replayed_revoked_and_unknown_requests_change_nothing(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(3, "20.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    let mut other = app.terminal("shop-1", "site-1");
    for v in &vouchers {
        terminal.redeem(&v.qr_text, 2000);
    }
    other.redeem(&vouchers[0].qr_text, 2000);
    let body = sync::to_cbor(&UploadRequest {
        entries: terminal.entries(1..=3),
        acknowledged_seq: 0,
    });
    let path = "/v1/terminal/upload";
    let expect = |result: Result<Vec<u8>, common::Refused>, status: u16, code: &str| {
        let refused = result.unwrap_err();
        assert_eq!(
            (refused.status, refused.problem.code.as_str()),
            (status, code)
        );
    };

    // Forged: signed by another key under this device's key id.
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let forged = SignOptions {
        key: Some(forger.clone()),
        ..SignOptions::default()
    };
    expect(
        terminal.signed_post(path, &body, &forged),
        401,
        "bad_request_signature",
    );
    // Unknown device.
    let unknown = SignOptions {
        key: Some(forger),
        kid: Some(KeyId::parse("T-000000000000").unwrap()),
        ..SignOptions::default()
    };
    expect(
        terminal.signed_post(path, &body, &unknown),
        401,
        "unknown_device",
    );
    // Stale.
    let stale = SignOptions {
        created: Some(common::now() - 3600),
        ..SignOptions::default()
    };
    expect(
        terminal.signed_post(path, &body, &stale),
        401,
        "stale_request",
    );
    // Unsigned, and a body that does not match its digest.
    expect(
        common::post(&app.base_url, path, &body, &[]),
        401,
        "unsigned_request",
    );
    let mut headers = common::sign_headers(
        path,
        &body,
        &terminal.enrolment.device_kid,
        &terminal.key,
        &SignOptions::default(),
    );
    let tampered = sync::to_cbor(&UploadRequest {
        entries: terminal.entries(1..=2),
        acknowledged_seq: 0,
    });
    expect(
        common::post(&app.base_url, path, &tampered, &headers),
        400,
        "digest_mismatch",
    );
    // Another device's entries under this device's signature.
    let foreign = sync::to_cbor(&UploadRequest {
        entries: other.entries(1..=1),
        acknowledged_seq: 0,
    });
    expect(
        terminal.signed_post(path, &foreign, &SignOptions::default()),
        422,
        "bad_entry",
    );
    assert_eq!(app.entry_count(), 0);

    // Replayed: the same signed request twice.
    let replay = SignOptions {
        nonce: Some("fixednonce123".to_owned()),
        ..SignOptions::default()
    };
    headers = common::sign_headers(
        path,
        &body,
        &terminal.enrolment.device_kid,
        &terminal.key,
        &replay,
    );
    assert!(common::post(&app.base_url, path, &body, &headers).is_ok());
    assert_eq!(app.entry_count(), 3);
    expect(
        common::post(&app.base_url, path, &body, &headers),
        401,
        "replayed_request",
    );

    // Revoked: the next request is refused, and nothing it sends is stored.
    let (status, _) = app.hq_post(
        &format!("/v1/hq/terminals/{}/revoke", other.device()),
        serde_json::json!({}),
    );
    assert_eq!(status, 200);
    expect(
        other.signed_post(
            path,
            &sync::to_cbor(&UploadRequest {
                entries: other.entries(1..=1),
                acknowledged_seq: 0,
            }),
            &SignOptions::default(),
        ),
        403,
        "device_revoked",
    );
    let refused = other.pull().unwrap_err();
    assert_eq!(refused.problem.code, "device_revoked");
    assert_eq!(app.entry_count(), 3);
    let (_, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(cases.as_array().unwrap().len(), 0);
    // The revocation list names the revoked terminal.
    let pulled = terminal.pull().unwrap();
    let list =
        RevocationList::open(pulled.revocations.as_ref().unwrap(), &terminal.root(), None).unwrap();
    assert!(list.devices.contains(other.device()));
    assert!(
        !list
            .devices
            .contains(&DeviceId::parse(terminal.device().as_str()).unwrap())
    );

    // The HQ API needs its token.
    let (status, body) = common::hq_request(&app.base_url, "GET", "/v1/hq/cases", None, None);
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = common::hq_request(
        &app.base_url,
        "GET",
        "/v1/hq/cases",
        None,
        Some("wrong-token-wrong-token"),
    );
    assert_eq!(status, 401);
}

fn pull_sends_only_what_is_newer_than_the_cursor(backend: Backend) {
    let app = spawn_app(backend);
    let mut terminal = app.terminal("shop-1", "site-1");
    let first = terminal.pull().unwrap();
    assert!(first.trust_list.is_some());
    assert!(first.revocations.is_some());
    assert!(first.policy.is_some());
    assert!(first.roster.is_none());
    let policy = lastmile_shared::sync::TerminalPolicy::open(
        first.policy.as_ref().unwrap(),
        &terminal.root(),
        None,
    )
    .unwrap();
    assert_eq!(&policy.device, terminal.device());
    assert_eq!(policy.limits, vec![common::kes_limits()]);
    let second = terminal.pull().unwrap();
    assert!(second.trust_list.is_none() && second.revocations.is_none() && second.policy.is_none());

    // A roster for the terminal's site, a new issuer key, new limits.
    let csv = app.dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        "beneficiary_id,name,id_numbers,entitlement_id,programme,amount,currency,valid_from,valid_until,mode,delivery\n\
         B-1,Amina,ID-123;CARD 9,E-1,food,25.00,KES,2026-01-01,2099-12-31,partial,merchant\n\
         B-1,Amina,ID-123,E-2,cash,40.00,KES,2026-01-01,2099-12-31,single_use,cash\n\
         B-2,Otieno,ID-456,E-3,cash,40.00,KES,2026-01-01,2099-12-31,single_use,cash\n",
    )
    .unwrap();
    lastmile_server::rosters::publish(
        &app.storage,
        &app.keys,
        &csv,
        Some(&SiteId::parse("site-1").unwrap()),
        None,
        common::now(),
    )
    .unwrap();
    lastmile_server::keys::rotate(
        &app.storage,
        &app.keys,
        &common::operator(),
        &lastmile_shared::id::IssuerId::parse("lastmile-test").unwrap(),
        common::now(),
    )
    .unwrap();
    let mut limits = common::kes_limits();
    limits.unsynced_count_max = 5;
    let (status, _) = app.hq(
        "PUT",
        "/v1/hq/limits",
        Some(serde_json::to_value(&limits).unwrap()),
    );
    assert_eq!(status, 200);
    let third = terminal.pull().unwrap();
    let roster = lastmile_shared::roster::Roster::open(
        third.roster.as_ref().unwrap(),
        &terminal.root(),
        None,
    )
    .unwrap();
    assert_eq!(roster.people.len(), 2);
    assert_eq!(roster.find("card9").unwrap().entitlements.len(), 2);
    let trust =
        TrustList::open(third.trust_list.as_ref().unwrap(), &terminal.root(), None).unwrap();
    assert_eq!(trust.keys.len(), 2);
    let policy = lastmile_shared::sync::TerminalPolicy::open(
        third.policy.as_ref().unwrap(),
        &terminal.root(),
        None,
    )
    .unwrap();
    assert_eq!(policy.limits[0].unsynced_count_max, 5);
    assert!(third.revocations.is_none());
    // A terminal at another site does not get that roster.
    let mut elsewhere = app.terminal("shop-1", "site-9");
    assert!(elsewhere.pull().unwrap().roster.is_none());
}

fn bad_entries_and_oversize_bodies_are_refused(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(2, "20.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    terminal.redeem(&vouchers[0].qr_text, 2000);
    terminal.redeem(&vouchers[1].qr_text, 2000);
    // A flipped byte in the signature of entry 2.
    let mut entries = terminal.entries(1..=2);
    let last = entries[1].len() - 1;
    entries[1][last] ^= 1;
    let refused = terminal.upload_entries(entries).unwrap_err();
    assert_eq!(
        (refused.status, refused.problem.code.as_str()),
        (422, "bad_entry_signature")
    );
    // Not CBOR at all.
    let refused = terminal
        .signed_post("/v1/terminal/upload", b"not cbor", &SignOptions::default())
        .unwrap_err();
    assert_eq!(
        (refused.status, refused.problem.code.as_str()),
        (400, "bad_body")
    );
    // An entry that does not link to the one before it.
    terminal.upload(1..=1).unwrap();
    let unlinked = LogEntry {
        prev: EntryHash([7; 32]),
        ..terminal.log[1].entry.clone()
    };
    let signed = SignedEntry::sign(unlinked, &terminal.enrolment.device_kid, &terminal.key);
    let refused = terminal
        .upload_entries(vec![ByteBuf::from(signed.bytes)])
        .unwrap_err();
    assert_eq!(
        (refused.status, refused.problem.code.as_str()),
        (409, "chain_broken")
    );
    assert_eq!(app.entry_count(), 1);
    // Oversize body.
    let huge = vec![0u8; lastmile_shared::sync::REQUEST_BODY_BYTES_MAX + 1];
    let refused = terminal
        .signed_post("/v1/terminal/upload", &huge, &SignOptions::default())
        .unwrap_err();
    assert_eq!(
        (refused.status, refused.problem.code.as_str()),
        (413, "body_too_large")
    );
    assert_eq!(terminal.upload(2..=2).unwrap().acknowledged_seq, 2);
}

/// Publishes a roster for `site` (CSV rows after the header).
fn publish_roster(app: &common::TestApp, site: &str, rows: &str) {
    let csv = app.dir.path().join(format!("roster-{site}.csv"));
    std::fs::write(
        &csv,
        format!(
            "beneficiary_id,name,id_numbers,entitlement_id,programme,amount,currency,valid_from,valid_until,mode,delivery\n{rows}"
        ),
    )
    .unwrap();
    lastmile_server::rosters::publish(
        &app.storage,
        &app.keys,
        &csv,
        Some(&SiteId::parse(site).unwrap()),
        None,
        common::now(),
    )
    .unwrap();
}

const MARY_ROSTER: &str = "B-MARY,Mary,ID-100,E-CASH,relief,2500.00,KES,2020-01-01,2099-12-31,single_use,cash\n\
     B-MARY,Mary,ID-100,E-SHOP,food,25.00,KES,2020-01-01,2099-12-31,partial,merchant\n";

/// Records a cash payout of `minor` KES of an entitlement to a beneficiary.
fn pay_cash(terminal: &mut TestTerminal, entitlement: &str, beneficiary: &str, minor: i64) -> u64 {
    terminal
        .record(LogEvent::CashPaidOut {
            session: 1,
            entitlement: EntitlementId::parse(entitlement).unwrap(),
            beneficiary: BeneficiaryId::parse(beneficiary).unwrap(),
            programme: ProgrammeId::parse("relief").unwrap(),
            amount: Money::new(minor, common::kes()),
            identity: IdentityCheck::Manual,
        })
        .entry
        .seq
}

/// Records a redemption by ID of `minor` KES of Mary's shop entitlement.
fn redeem_entitlement(terminal: &mut TestTerminal, minor: i64) -> u64 {
    terminal
        .record(LogEvent::EntitlementRedeemed {
            entitlement: EntitlementId::parse("E-SHOP").unwrap(),
            beneficiary: BeneficiaryId::parse("B-MARY").unwrap(),
            programme: ProgrammeId::parse("food").unwrap(),
            amount: Money::new(minor, common::kes()),
            remaining_after: Money::new(2500 - minor, common::kes()),
            identity: IdentityCheck::IdBarcode,
        })
        .entry
        .seq
}

fn the_same_cash_entitlement_paid_on_two_offline_terminals_becomes_a_case(backend: Backend) {
    let app = spawn_app(backend);
    publish_roster(&app, "site-1", MARY_ROSTER);
    let mut a = app.terminal("agent-1", "site-1");
    let mut b = app.terminal("agent-2", "site-1");
    // Both agents offline: each pays Mary her KES 2,500.
    pay_cash(&mut a, "E-CASH", "B-MARY", 250_000);
    pay_cash(&mut b, "E-CASH", "B-MARY", 250_000);
    assert_eq!(
        outcome_kinds(&a.upload(1..=1).unwrap().outcomes),
        [('A', 1)]
    );
    let second = b.upload(1..=1).unwrap();
    assert_eq!(outcome_kinds(&second.outcomes), [('X', 1)]);
    let EntryOutcome::DoubleSpend { case: case_id, .. } = second.outcomes[0] else {
        unreachable!()
    };

    let (status, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(status, 200);
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 1);
    let case = &cases[0];
    assert_eq!(case["id"], case_id);
    assert_eq!(case["entitlement"], "E-CASH");
    assert_eq!(case["voucher"], serde_json::Value::Null);
    assert_eq!(case["reason"], "already_redeemed");
    assert_eq!(case["first_device"], a.device().as_str());
    assert_eq!(case["second_device"], b.device().as_str());
    assert_eq!(case["redeemed_before_minor"], 250_000);
    assert_eq!(case["value_minor"], 250_000);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(case["first_entry"].as_str().unwrap()).unwrap(),
        a.log[0].bytes
    );
    assert_eq!(
        b64.decode(case["second_entry"].as_str().unwrap()).unwrap(),
        b.log[0].bytes
    );
    // A retry of b's upload names the same case again and opens no second one.
    let retry = b.upload(1..=1).unwrap();
    assert_eq!(outcome_kinds(&retry.outcomes), [('X', 1)]);
    let (_, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(cases.as_array().unwrap().len(), 1);
    let (_, alarms) = app.hq_get("/v1/hq/alarms");
    assert_eq!(alarms.as_array().unwrap().len(), 0);
}

fn a_partial_entitlement_redeemed_over_its_value_becomes_a_case(backend: Backend) {
    let app = spawn_app(backend);
    publish_roster(&app, "site-1", MARY_ROSTER);
    let mut a = app.terminal("shop-1", "site-1");
    let mut b = app.terminal("shop-2", "site-1");
    redeem_entitlement(&mut a, 2000);
    redeem_entitlement(&mut b, 500);
    redeem_entitlement(&mut b, 1000);
    assert_eq!(
        outcome_kinds(&a.upload(1..=1).unwrap().outcomes),
        [('A', 1)]
    );
    // 20 + 5 fits the 25.00; the next 10 does not.
    let second = b.upload(1..=2).unwrap();
    assert_eq!(outcome_kinds(&second.outcomes), [('A', 1), ('X', 2)]);
    let (_, cases) = app.hq_get("/v1/hq/cases");
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["entitlement"], "E-SHOP");
    assert_eq!(cases[0]["reason"], "over_value");
    assert_eq!(cases[0]["redeemed_before_minor"], 2500);
    assert_eq!(cases[0]["value_minor"], 2500);
    assert_eq!(cases[0]["amount"]["minor"], 1000);
    assert_eq!(cases[0]["first_device"], b.device().as_str());
    assert_eq!(cases[0]["first_seq"], 1);
    assert_eq!(cases[0]["second_seq"], 2);
}

fn unknown_or_mismatched_entitlements_raise_alarms(backend: Backend) {
    let app = spawn_app(backend);
    publish_roster(&app, "site-1", MARY_ROSTER);
    let mut a = app.terminal("agent-1", "site-1");
    pay_cash(&mut a, "E-NOBODY", "B-MARY", 1000);
    // Mary's entitlement paid to someone else.
    pay_cash(&mut a, "E-CASH", "B-OTHER", 250_000);
    let answer = a.upload(1..=2).unwrap();
    assert_eq!(outcome_kinds(&answer.outcomes), [('A', 1), ('A', 2)]);
    let (_, alarms) = app.hq_get("/v1/hq/alarms");
    let alarms = alarms.as_array().unwrap();
    assert_eq!(alarms.len(), 2, "{alarms:?}");
    assert_eq!(alarms[0]["kind"], "unknown_entitlement");
    assert_eq!(alarms[0]["seq"], 1);
    assert_eq!(alarms[0]["device"], a.device().as_str());
    assert!(alarms[0]["detail"].as_str().unwrap().contains("E-NOBODY"));
    assert_eq!(alarms[1]["kind"], "entitlement_mismatch");
    assert_eq!(alarms[1]["seq"], 2);
    let (_, cases) = app.hq_get("/v1/hq/cases");
    assert_eq!(cases.as_array().unwrap().len(), 0);
}

fn pull_gives_entitlement_balances_to_terminals_of_the_roster_only(backend: Backend) {
    let app = spawn_app(backend);
    publish_roster(&app, "site-1", MARY_ROSTER);
    publish_roster(
        &app,
        "site-2",
        "B-JOHN,John,ID-200,E-JOHN,relief,100.00,KES,2020-01-01,2099-12-31,single_use,cash\n",
    );
    let mut a = app.terminal("agent-1", "site-1");
    let mut same_site = app.terminal("agent-3", "site-1");
    let mut other_site = app.terminal("agent-9", "site-2");
    assert!(same_site.pull().unwrap().entitlement_balances.is_empty());
    assert!(other_site.pull().unwrap().entitlement_balances.is_empty());
    pay_cash(&mut a, "E-CASH", "B-MARY", 250_000);
    a.upload(1..=1).unwrap();

    let pulled = same_site.pull().unwrap();
    assert_eq!(pulled.entitlement_balances.len(), 1);
    assert_eq!(
        pulled.entitlement_balances[0].entitlement.as_str(),
        "E-CASH"
    );
    assert_eq!(
        pulled.entitlement_balances[0].redeemed,
        Money::new(250_000, common::kes())
    );
    assert!(pulled.balances.is_empty());
    // Nothing new after the cursor.
    assert!(same_site.pull().unwrap().entitlement_balances.is_empty());
    assert!(other_site.pull().unwrap().entitlement_balances.is_empty());

    // Its own entitlement's balance reaches it, and not site-1.
    let mut agent = app.terminal("agent-8", "site-2");
    pay_cash(&mut agent, "E-JOHN", "B-JOHN", 10_000);
    agent.upload(1..=1).unwrap();
    let theirs = other_site.pull().unwrap();
    assert_eq!(theirs.entitlement_balances.len(), 1);
    assert_eq!(
        theirs.entitlement_balances[0].entitlement.as_str(),
        "E-JOHN"
    );
    assert!(same_site.pull().unwrap().entitlement_balances.is_empty());
}

/// Uploads `range` telling the server it had acknowledged up to `claimed`.
fn upload_claiming(
    terminal: &TestTerminal,
    range: std::ops::RangeInclusive<u64>,
    claimed: u64,
) -> Result<lastmile_shared::sync::UploadResponse, common::Refused> {
    let body = sync::to_cbor(&UploadRequest {
        entries: terminal.entries(range),
        acknowledged_seq: claimed,
    });
    terminal
        .signed_post("/v1/terminal/upload", &body, &SignOptions::default())
        .map(|bytes| sync::from_cbor(&bytes).unwrap())
}

fn alarms_of(app: &common::TestApp, kind: &str) -> Vec<serde_json::Value> {
    let (_, alarms) = app.hq_get("/v1/hq/alarms");
    alarms
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == kind)
        .cloned()
        .collect()
}

/// A terminal that was told more was held than the server holds (a restored
/// backup) gets the server's head as the answer, not `sequence_gap`, and
/// re-sending from there raises an alarm naming the range recovered.
fn a_restored_server_answers_its_head_and_raises_the_range_recovered(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(4, "10.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    for voucher in &vouchers {
        terminal.redeem(&voucher.qr_text, 1000);
    }
    terminal.upload(1..=1).unwrap();
    // As after a restore: the terminal believes 4 are held, sends from 5...
    terminal.redeem(&vouchers[0].qr_text, 1000);
    let answer = upload_claiming(&terminal, 5..=5, 4).unwrap();
    assert_eq!((answer.acknowledged_seq, answer.outcomes.len()), (1, 0));
    assert_eq!(app.entry_count(), 1);
    // ...a terminal that claims nothing more still gets the gap.
    let refused = upload_claiming(&terminal, 5..=5, 1).unwrap_err();
    assert_eq!(refused.problem.code, "sequence_gap");
    assert!(alarms_of(&app, "log_recovered").is_empty());
    // It re-sends from the head, in two batches.
    let answer = upload_claiming(&terminal, 2..=3, 4).unwrap();
    assert_eq!(answer.acknowledged_seq, 3);
    let answer = upload_claiming(&terminal, 4..=5, 4).unwrap();
    assert_eq!(answer.acknowledged_seq, 5);
    let recovered = alarms_of(&app, "log_recovered");
    let ranges: Vec<(u64, bool)> = recovered
        .iter()
        .map(|a| {
            let detail = a["detail"].as_str().unwrap();
            (
                a["seq"].as_u64().unwrap(),
                detail.contains(terminal.device().as_str()),
            )
        })
        .collect();
    assert_eq!(ranges, [(2, true), (4, true)], "{recovered:?}");
    assert!(
        recovered[0]["detail"]
            .as_str()
            .unwrap()
            .contains("entries 2 to 3")
    );
    assert!(
        recovered[1]["detail"]
            .as_str()
            .unwrap()
            .contains("entries 4 to 4")
    );
}

/// A voucher has one valid text: an entry carrying any other (re-encoded,
/// altered) is refused whole, raised as an alarm, and nothing is stored.
fn a_voucher_text_other_than_the_one_held_is_refused_and_raised(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(2, "10.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    terminal.redeem(&vouchers[0].qr_text, 1000);
    // The same voucher under a text that differs from the issued one.
    terminal.redeem(&vouchers[1].qr_text, 1000);
    let mut event = terminal.log.pop().unwrap().entry.event;
    if let LogEvent::VoucherRedeemed { credential, .. } = &mut event {
        *credential = credential.replacen("LM1:", "lm1:", 1);
    }
    terminal.record(event);
    let refused = terminal.upload(1..=2).unwrap_err();
    assert_eq!(
        (refused.status, refused.problem.code.as_str()),
        (409, "credential_mismatch")
    );
    assert_eq!(app.entry_count(), 0, "refused whole");
    for voucher in &vouchers {
        let (_, v) = app.hq_get(&format!("/v1/hq/vouchers/{}", voucher.voucher));
        assert_eq!(v["redeemed_minor"], 0);
    }
    let raised = alarms_of(&app, "credential_mismatch");
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0]["seq"], 2);
    assert_eq!(raised[0]["device"], terminal.device().as_str());
}

/// An entry dated before the entry it follows (a clock set back) is stored
/// and counted, and flagged at HQ.
fn entries_dated_before_the_one_they_follow_are_flagged(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(3, "10.00", "single_use");
    let mut terminal = app.terminal("shop-1", "site-1");
    terminal.redeem(&vouchers[0].qr_text, 1000);
    terminal.upload(1..=1).unwrap();
    let event = |voucher: &lastmile_server::issuance::IssuedVoucher| {
        let mut scratch = app.terminal("shop-9", "site-9");
        scratch.redeem(&voucher.qr_text, 1000);
        scratch.log.remove(0).entry.event
    };
    let at = common::now() - 3_600;
    terminal.record_at(event(&vouchers[1]), at);
    terminal.record_at(event(&vouchers[2]), at + 10);
    let answer = terminal.upload(2..=3).unwrap();
    assert_eq!(answer.acknowledged_seq, 3);
    let flagged = alarms_of(&app, "clock_set_back");
    assert_eq!(flagged.len(), 1, "only the step back: {flagged:?}");
    assert_eq!(flagged[0]["seq"], 2);
}

/// A terminal asks about the cases it shows under review; the pull says
/// which HQ closed and how, and nothing about other terminals' cases.
fn a_pull_tells_a_terminal_how_hq_closed_its_cases(backend: Backend) {
    let app = spawn_app(backend);
    let vouchers = app.issue(2, "15.00", "single_use");
    let mut a = app.terminal("shop-1", "site-1");
    let mut b = app.terminal("shop-2", "site-1");
    for voucher in &vouchers {
        a.redeem(&voucher.qr_text, 1500);
        b.redeem(&voucher.qr_text, 1500);
    }
    a.upload(1..=2).unwrap();
    let answer = b.upload(1..=2).unwrap();
    let cases: Vec<u64> = answer
        .outcomes
        .iter()
        .filter_map(|o| match o {
            EntryOutcome::DoubleSpend { case, .. } => Some(*case),
            _ => None,
        })
        .collect();
    assert_eq!(cases.len(), 2);
    assert!(
        b.pull_with(None, cases.clone())
            .unwrap()
            .case_outcomes
            .is_empty()
    );
    let (status, body) = app.hq_post(
        &format!("/v1/hq/cases/{}/resolve", cases[0]),
        serde_json::json!({"resolution": "written_off", "note": "shop closed"}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("needs_approval"))
    );
    app.propose_and_approve(
        &format!("/v1/hq/cases/{}/write-off", cases[0]),
        "shop closed",
    );
    let outcomes = b.pull_with(None, cases.clone()).unwrap().case_outcomes;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].case, cases[0]);
    assert_eq!(
        outcomes[0].resolution,
        lastmile_shared::sync::CaseResolution::WrittenOff
    );
    // Terminal a won both: these cases are not about its entries.
    assert!(
        a.pull_with(None, cases.clone())
            .unwrap()
            .case_outcomes
            .is_empty()
    );
    let too_many = vec![1; lastmile_shared::sync::OPEN_CASES_MAX + 1];
    let refused = b.pull_with(None, too_many).unwrap_err();
    assert_eq!(refused.problem.code, "too_many_cases");
}
