//! A damaged QR is not a dead end: the voucher code printed under it is
//! redeemed offline from the voucher book the terminal synced, under the
//! same rules as a scan, against the real server and terminal binaries.

use lastmile_tests::{Backend, Mode, NewVoucher, Server, Terminal, on_both_backends};
use serde_json::json;

on_both_backends!(typed_codes_redeem_offline_from_the_synced_voucher_book);

const MERCHANT: &str = "shop-12";
const SITE: &str = "nairobi-3";

fn typed_codes_redeem_offline_from_the_synced_voucher_book(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    // Issued before any terminal of the site exists: its book is built on
    // the first request.
    let before = server.issue(&[
        NewVoucher {
            beneficiary: "B-001",
            amount: "500",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-002",
            amount: "800",
            mode: Mode::Partial,
        },
    ]);
    server.start();
    let counter = Terminal::new();
    counter.enroll(&server, MERCHANT, SITE);
    counter.operator("amina", "1234");
    // Issued after: the issuance reseals the site's book, the sync brings it.
    let after = server.issue(&[NewVoucher {
        beneficiary: "B-003",
        amount: "300",
        mode: Mode::Partial,
    }]);
    let report = counter.sync_ok();
    assert!(
        report["updated"].to_string().contains("voucher book"),
        "{report}"
    );
    assert!(
        report["refused"].as_array().is_some_and(Vec::is_empty),
        "{report}"
    );

    server.stop();
    let single = &before.vouchers[0];
    // --check finds the voucher and changes nothing.
    let check = counter
        .json(&["redeem", "--code", &after.vouchers[0].code, "--check"])
        .expect_code(0)
        .json();
    assert_eq!(
        check["claims"]["id"],
        after.vouchers[0].id.as_str(),
        "{check}"
    );
    // Typed as people type: lower case, spaces instead of hyphens.
    let typed = single.code.to_lowercase().replace('-', " ");
    let answer = counter
        .json(&["redeem", "--code", &typed])
        .expect_code(0)
        .json();
    let receipt = &answer["receipt"];
    assert_eq!(receipt["item"]["voucher"], single.id.as_str(), "{answer}");
    assert_eq!(receipt["status"], "accepted_offline_pending");
    assert_eq!(receipt["seq"], 1);
    // The same rules as a scan: a single-use voucher is spent.
    let again = counter.json(&["redeem", "--code", &single.code]);
    again.expect_code(3);
    assert_eq!(again.json()["code"], "already_redeemed");
    let scanned = counter.redeem(&single.qr, None);
    scanned.expect_code(3);
    assert_eq!(scanned.json()["code"], "already_redeemed");
    // Typos are caught before any lookup; the printed reference is refused.
    let mut chars: Vec<char> = before.vouchers[1].code.chars().collect();
    chars.swap(0, 1);
    if chars[0] != chars[1] {
        let swapped: String = chars.into_iter().collect();
        let typo = counter.json(&["redeem", "--code", &swapped]);
        typo.expect_code(2);
        assert_eq!(typo.json()["code"], "code_mistyped");
    }
    let reference = counter.json(&["redeem", "--code", &single.id]);
    reference.expect_code(2);
    assert_eq!(reference.json()["code"], "code_is_reference");
    assert!(
        reference.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("Type the 12-character code")),
        "{}",
        reference.json()
    );
    let partial = counter
        .json(&[
            "redeem",
            "--code",
            &before.vouchers[1].code,
            "--amount",
            "100",
        ])
        .expect_code(0)
        .json();
    assert_eq!(
        partial["receipt"]["item"]["remaining"],
        json!({"minor": 70_000, "currency": "KES"})
    );

    server.start();
    let report = counter.sync_ok();
    assert_eq!(report["acknowledged_seq"], 2, "{report}");
    assert_eq!(server.voucher(&single.id)["status"], "redeemed");
    assert_eq!(
        server.voucher(&before.vouchers[1].id)["redeemed_minor"],
        10_000
    );
}
