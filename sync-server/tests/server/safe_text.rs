//! Safe text in and out: every error answer is a documented problem (405
//! and 431 included), text people write is refused with a specific error
//! when it holds control characters or bidirectional overrides, and the
//! CSV the server writes never runs as a spreadsheet formula.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{Backend, spawn_app};
use lastmile_server::issuance::{self, IssueOptions};
use lastmile_server::people::Role;
use lastmile_shared::sync::{self, EnrollRequest, Problem};
use serde_bytes::ByteBuf;

lastmile_tests::on_both_backends!(text_with_controls_or_bidi_overrides_is_refused);

/// One request over a fresh connection: status, head, body.
fn raw(base_url: &str, request: &str) -> (u16, String, Vec<u8>) {
    let addr = base_url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, answer[split + 4..].to_vec())
}

fn json_problem(head: &str, body: &[u8]) -> serde_json::Value {
    assert!(
        head.contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap();
    for field in ["code", "title", "detail"] {
        assert!(problem[field].is_string(), "{problem}");
    }
    problem
}

#[test]
fn every_error_answer_is_a_problem() {
    let app = spawn_app(Backend::Sqlite);
    let url = &app.base_url;

    // 405 on a terminal route: a CBOR problem, with Allow.
    let (status, head, body) = raw(
        url,
        "GET /v1/terminal/upload HTTP/1.1\r\nHost: hq\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert!(head.contains("allow: post"), "{head}");
    assert!(head.contains("content-type: application/cbor"), "{head}");
    let problem: Problem = sync::from_cbor(&body).unwrap();
    assert_eq!(problem.code, "method_not_allowed");

    // 405 on an HQ route: JSON.
    let (status, head, body) = raw(
        url,
        &format!(
            "DELETE /v1/hq/cases HTTP/1.1\r\nHost: hq\r\nAuthorization: Bearer {}\r\n\
             Connection: close\r\n\r\n",
            app.token(Role::Admin)
        ),
    );
    assert_eq!(status, 405);
    assert_eq!(json_problem(&head, &body)["code"], "method_not_allowed");

    // 431: too many header fields, and a head too large.
    let many: String = (0..70).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    let (status, head, body) = raw(
        url,
        &format!("GET /health HTTP/1.1\r\nHost: hq\r\n{many}Connection: close\r\n\r\n"),
    );
    assert_eq!(status, 431);
    assert_eq!(json_problem(&head, &body)["code"], "too_many_headers");
    let (status, head, body) = raw(
        url,
        &format!(
            "POST /v1/terminal/pull HTTP/1.1\r\nHost: hq\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(20 * 1024)
        ),
    );
    assert_eq!(status, 431);
    let problem: Problem = sync::from_cbor(&body).unwrap();
    assert_eq!(problem.code, "headers_too_large", "{head}");

    // 404, and an HQ body over its limit.
    let (status, head, body) = raw(
        url,
        "GET /nowhere HTTP/1.1\r\nHost: hq\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 404);
    assert_eq!(json_problem(&head, &body)["code"], "not_found");
    // One byte over the HQ body limit of 64 KiB.
    let big = "x".repeat(64 * 1024 + 1);
    let (status, head, body) = raw(
        url,
        &format!(
            "POST /v1/hq/enrolment-codes HTTP/1.1\r\nHost: hq\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
            app.token(Role::Admin),
            big.len()
        ),
    );
    assert_eq!(status, 413);
    assert_eq!(json_problem(&head, &body)["code"], "body_too_large");
}

fn text_with_controls_or_bidi_overrides_is_refused(backend: Backend) {
    let app = spawn_app(backend);
    let code = app.code("shop-1", "site-1");
    let enrol = |label: &str| {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let request = EnrollRequest {
            code: code.clone(),
            device_public_key: ByteBuf::from(key.verifying_key().to_bytes().to_vec()),
            label: label.to_owned(),
        };
        common::post(
            &app.base_url,
            "/v1/terminal/enroll",
            &sync::to_cbor(&request),
            &[],
        )
    };
    for (label, says) in [
        ("Shop 12\ncounter", "line break"),
        ("Shop\u{0}12", "U+0000"),
        ("Shop \u{202E}21", "bidirectional override"),
    ] {
        let refused = enrol(label).unwrap_err();
        assert_eq!(
            (refused.status, refused.problem.code.as_str()),
            (400, "bad_label")
        );
        assert!(
            refused.problem.detail.contains(says),
            "{label:?}: {}",
            refused.problem.detail
        );
    }
    // The code was not used by the refusals.
    assert!(enrol("Shop 12 counter").is_ok());

    let (status, body) = app.hq_post(
        "/v1/hq/merchants/shop-1/revoke",
        serde_json::json!({"reason": "fraud\u{0}"}),
    );
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_reason")));
    let (status, body) = app.hq_post(
        "/v1/hq/cases/1/resolve",
        serde_json::json!({"resolution": "dismissed", "note": "ok\n\u{2067}done"}),
    );
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_note")));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("bidirectional override")
    );
}

#[test]
fn issued_voucher_lists_never_run_as_formulas() {
    let app = spawn_app(Backend::Sqlite);
    let csv = app.dir.path().join("formulas.csv");
    let names = [
        "=HYPERLINK(\"http://evil\",\"click\")",
        "+254700000000",
        "-Ann",
        "@SUM(A1)",
        "Amina Wanjiru",
    ];
    let mut text =
        String::from("beneficiary_id,name,amount,currency,programme,valid_from,valid_until\n");
    for (i, name) in names.iter().enumerate() {
        text.push_str(&format!(
            "B-{i},\"{}\",10.00,KES,food,2020-01-01,2099-12-31\n",
            name.replace('"', "\"\"")
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let out = app.dir.path().join("out");
    let report = issuance::issue(
        &app.storage,
        &app.keys,
        &IssueOptions {
            csv: csv.clone(),
            out: out.clone(),
            allow_partial_errors: false,
            bind_beneficiary: false,
        },
        common::now(),
    )
    .unwrap();
    assert_eq!(report.issued.len(), names.len());
    let mut reader = csv::Reader::from_path(out.join("vouchers.csv")).unwrap();
    let written: Vec<String> = reader
        .records()
        .map(|r| r.unwrap().get(2).unwrap().to_owned())
        .collect();
    assert_eq!(
        written,
        [
            "'=HYPERLINK(\"http://evil\",\"click\")",
            "'+254700000000",
            "'-Ann",
            "'@SUM(A1)",
            "Amina Wanjiru",
        ]
    );
    // The name itself is kept as written.
    assert_eq!(report.issued[0].name, names[0]);

    // A name with a tab in it is refused, naming the line and the character.
    std::fs::write(
        &csv,
        "beneficiary_id,name,amount,currency,programme,valid_from,valid_until\n\
         B-9,\"Tab\there\",10.00,KES,food,2020-01-01,2099-12-31\n",
    )
    .unwrap();
    let refused = issuance::issue(
        &app.storage,
        &app.keys,
        &IssueOptions {
            csv,
            out: app.dir.path().join("out-2"),
            allow_partial_errors: false,
            bind_beneficiary: false,
        },
        common::now(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("line 2") && refused.contains("U+0009"),
        "{refused}"
    );
}
