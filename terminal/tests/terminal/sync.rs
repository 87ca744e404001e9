//! The sync client against a small in-process stand-in for the server that
//! speaks the real wire protocol (CBOR bodies, RFC 9421 signatures checked
//! with the shared crate) over a real socket. The end-to-end test against
//! the real server lives in the workspace's `tests/`.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;
use ed25519_dalek::VerifyingKey;
use lastmile_shared::device_log::{ChainHead, verify_chain};
use lastmile_shared::http_signature::{self, SignatureHeaders};
use lastmile_shared::id::{DeviceId, VoucherId};
use lastmile_shared::rules::RejectReason;
use lastmile_shared::sync::{
    self, EnrollRequest, EnrollResponse, EntryOutcome, PullRequest, PullResponse, UploadRequest,
    UploadResponse, VoucherBalance,
};
use lastmile_shared::trust_list::RootSigned;
use lastmile_shared::voucher::RedemptionMode;
use lastmile_terminal::receipt::ReceiptStatus;
use lastmile_terminal::redemption::VoucherRequest;
use lastmile_terminal::{Error, ManualClock, Terminal};
use serde_bytes::ByteBuf;

#[derive(Default)]
struct Server {
    device_key: Option<VerifyingKey>,
    stored: Vec<Vec<u8>>,
    balances: Vec<VoucherBalance>,
    policy_version: u64,
    pulls: Vec<PullRequest>,
    /// Sequence numbers this server calls double spends, with their case.
    double_spends: Vec<(u64, u64)>,
}

fn respond(stream: &mut std::net::TcpStream, status: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/cbor\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

fn handle(state: &Mutex<Server>, mut stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line.split_whitespace().nth(1).unwrap().to_owned();
    let mut headers = std::collections::HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers["content-length"].parse().unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut server = state.lock().unwrap();
    let (root_kid, root_key) = root();
    if path == "/v1/terminal/enroll" {
        let request: EnrollRequest = sync::from_cbor(&body).unwrap();
        assert_eq!(request.code, "ONE-TIME-42");
        server.device_key = Some(
            VerifyingKey::from_bytes(request.device_public_key.as_slice().try_into().unwrap())
                .unwrap(),
        );
        let answer = EnrollResponse {
            device: DeviceId::parse(DEVICE).unwrap(),
            device_kid: kid("term-0001-k1"),
            merchant: Some(lastmile_shared::id::MerchantId::parse(MERCHANT).unwrap()),
            site: Some(lastmile_shared::id::SiteId::parse(SITE).unwrap()),
            root_kid: root_kid.clone(),
            root_public_key: ByteBuf::from(root_key.verifying_key().to_bytes().to_vec()),
            server_time: T0,
        };
        return respond(&mut stream, "200 OK", &sync::to_cbor(&answer));
    }
    let signature = SignatureHeaders {
        content_digest: headers["content-digest"].clone(),
        signature_input: headers["signature-input"].clone(),
        signature: headers["signature"].clone(),
    };
    let device_key = server.device_key.unwrap();
    http_signature::verify("POST", &path, &body, &signature, |_| Some(device_key), T0)
        .expect("a validly signed request");
    match path.as_str() {
        "/v1/terminal/upload" => {
            let request: UploadRequest = sync::from_cbor(&body).unwrap();
            let head_seq = server.stored.len() as u64;
            let fresh: Vec<&[u8]> = request
                .entries
                .iter()
                .map(|e| e.as_slice())
                .skip_while(|bytes| server.stored.iter().any(|s| s.as_slice() == *bytes))
                .collect();
            let device = DeviceId::parse(DEVICE).unwrap();
            let device_kid = kid("term-0001-k1");
            let head = verify_chain(
                server.stored.iter().map(Vec::as_slice),
                &device,
                &device_kid,
                &device_key,
                ChainHead::GENESIS,
            )
            .unwrap();
            verify_chain(
                fresh.iter().copied(),
                &device,
                &device_kid,
                &device_key,
                head,
            )
            .expect("the upload continues the chain");
            let outcomes = fresh
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    let seq = head_seq + 1 + i as u64;
                    match server.double_spends.iter().find(|(s, _)| *s == seq) {
                        Some(&(seq, case)) => EntryOutcome::DoubleSpend { seq, case },
                        None => EntryOutcome::Applied { seq },
                    }
                })
                .collect();
            server.stored.extend(fresh.iter().map(|b| b.to_vec()));
            let answer = UploadResponse {
                acknowledged_seq: server.stored.len() as u64,
                outcomes,
            };
            respond(&mut stream, "200 OK", &sync::to_cbor(&answer));
        }
        "/v1/terminal/pull" => {
            let request: PullRequest = sync::from_cbor(&body).unwrap();
            let cursor = request.cursor;
            server.pulls.push(request);
            let newer_policy = (cursor.policy < server.policy_version).then(|| {
                ByteBuf::from(
                    policy(T0, server.policy_version, vec![limits()]).seal(&root_kid, &root_key),
                )
            });
            let answer = PullResponse {
                server_time: T0,
                root_handovers: Vec::new(),
                trust_list: (cursor.trust_list == 0)
                    .then(|| ByteBuf::from(trust_list(T0).seal(&root_kid, &root_key))),
                revocations: None,
                roster: (cursor.roster == 0)
                    .then(|| ByteBuf::from(roster(T0).seal(&root_kid, &root_key))),
                policy: newer_policy,
                balances: if cursor.balances == 0 {
                    server.balances.clone()
                } else {
                    vec![]
                },
                entitlement_balances: vec![],
                balances_cursor: 1,
                balances_more: false,
                acknowledged_seq: server.stored.len() as u64,
                case_outcomes: vec![],
            };
            respond(&mut stream, "200 OK", &sync::to_cbor(&answer));
        }
        "/v1/terminal/voucher-book" => {
            // This stand-in issues no typed codes: version 0, no book.
            let none = lastmile_shared::voucher_book::VoucherBookChunk {
                version: 0,
                total_bytes: 0,
                offset: 0,
                bytes: ByteBuf::new(),
            };
            respond(&mut stream, "200 OK", &sync::to_cbor(&none));
        }
        other => panic!("unexpected route {other}"),
    }
}

fn start(state: Arc<Mutex<Server>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            handle(&state, stream.unwrap());
        }
    });
    url
}

#[test]
fn enrol_redeem_sync_confirm_and_apply_updates() {
    let state = Arc::new(Mutex::new(Server {
        policy_version: 1,
        balances: vec![VoucherBalance {
            voucher: VoucherId::parse("V-SPENT-ELSEWHERE").unwrap(),
            redeemed: ksh(10_000),
        }],
        ..Default::default()
    }));
    let url = start(state.clone());
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut terminal = Terminal::open(dir.path(), Arc::new(clock.clone())).unwrap();
    let report = terminal.enroll(&url, "ONE-TIME-42", "counter 1").unwrap();
    assert_eq!(report.updated, ["trust list", "roster", "terminal policy"]);
    assert_eq!(report.balances, 1);
    terminal.add_operator(&operator(), "Amina", PIN).unwrap();
    terminal.login(&operator(), PIN).unwrap();

    let spent = voucher("V-SPENT-ELSEWHERE", 10_000, RedemptionMode::SingleUse, T0);
    let refused = terminal.redeem_voucher(&VoucherRequest {
        qr: &spent,
        amount: None,
        id_card: None,
    });
    assert!(matches!(
        refused,
        Err(Error::Rejected(RejectReason::AlreadyRedeemed))
    ));

    let mut receipts = Vec::new();
    for i in 0..3 {
        let qr = voucher(&format!("V-SYNC-{i}"), 1_000, RedemptionMode::SingleUse, T0);
        receipts.push(
            terminal
                .redeem_voucher(&VoucherRequest {
                    qr: &qr,
                    amount: None,
                    id_card: None,
                })
                .unwrap(),
        );
    }
    assert_eq!(terminal.status().unwrap().pending_count, 3);
    state.lock().unwrap().policy_version = 2;
    clock.advance(60);
    let report = terminal.sync().unwrap();
    assert_eq!(report.uploaded, 3);
    assert_eq!(report.acknowledged_seq, 3);
    assert_eq!(report.newly_confirmed, 3);
    assert_eq!(report.updated, ["terminal policy"]);
    assert_eq!(terminal.policy().unwrap().version, 2);
    let status = terminal.status().unwrap();
    assert_eq!(status.pending_count, 0);
    // The last sync is dated by the server's answer (this stand-in's clock
    // says T0), not by the terminal's own clock.
    assert_eq!(status.last_sync_at, Some(T0));
    assert_eq!(
        terminal.receipt(Some(receipts[1].seq)).unwrap().status,
        ReceiptStatus::Confirmed
    );
    assert_eq!(
        state.lock().unwrap().pulls.last().unwrap().cursor.balances,
        1
    );

    // A second round sends nothing new; the server's copy verifies as a chain.
    let report = terminal.sync().unwrap();
    assert_eq!(report.uploaded, 0);
    assert_eq!(state.lock().unwrap().stored.len(), 3);
    // Reopening keeps the confirmation and the new policy.
    drop(terminal);
    let terminal = Terminal::open(dir.path(), Arc::new(clock)).unwrap();
    assert_eq!(terminal.policy().unwrap().version, 2);
    assert_eq!(terminal.status().unwrap().acknowledged_seq, 3);
}

#[test]
fn an_entry_the_server_calls_a_double_spend_is_under_review_never_confirmed() {
    let state = Arc::new(Mutex::new(Server {
        policy_version: 1,
        double_spends: vec![(2, 17)],
        ..Default::default()
    }));
    let url = start(state.clone());
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut terminal = Terminal::open(dir.path(), Arc::new(clock.clone())).unwrap();
    terminal.enroll(&url, "ONE-TIME-42", "counter 1").unwrap();
    terminal.add_operator(&operator(), "Amina", PIN).unwrap();
    terminal.login(&operator(), PIN).unwrap();
    for i in 0..3 {
        let qr = voucher(&format!("V-CASE-{i}"), 1_000, RedemptionMode::SingleUse, T0);
        terminal
            .redeem_voucher(&VoucherRequest {
                qr: &qr,
                amount: None,
                id_card: None,
            })
            .unwrap();
    }
    clock.advance(60);
    let report = terminal.sync().unwrap();
    assert_eq!(report.double_spends, [(2, 17)]);
    assert_eq!(report.acknowledged_seq, 3);
    let statuses: Vec<ReceiptStatus> = (1..=3)
        .map(|seq| terminal.receipt(Some(seq)).unwrap().status)
        .collect();
    assert_eq!(
        statuses,
        [
            ReceiptStatus::Confirmed,
            ReceiptStatus::UnderReview { case: 17 },
            ReceiptStatus::Confirmed
        ]
    );
    let under_review = terminal.status().unwrap().under_review;
    assert_eq!(
        under_review
            .iter()
            .map(|r| (r.seq, r.case))
            .collect::<Vec<_>>(),
        [(2, 17)]
    );
    let paper = terminal.receipt(Some(2)).unwrap().render_text(32);
    assert!(paper.contains("UNDER REVIEW AT HQ — CASE 17"), "{paper}");
    assert!(!paper.contains("CONFIRMED"), "{paper}");
    // It survives a restart and a later round.
    drop(terminal);
    let mut terminal = Terminal::open(dir.path(), Arc::new(clock)).unwrap();
    terminal.sync().unwrap();
    assert_eq!(
        terminal.receipt(Some(2)).unwrap().status,
        ReceiptStatus::UnderReview { case: 17 }
    );
}
