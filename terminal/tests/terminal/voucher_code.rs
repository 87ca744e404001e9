//! Typed voucher codes through the real binary, with no server at all: the
//! voucher book comes root-signed in the provisioning bundle, a code is
//! redeemed from it under the same rules as a scan, and a tampered book is
//! refused and changes nothing.

use crate::common;

use common::*;
use lastmile_shared::id::SiteId;
use lastmile_shared::trust_list::RootSigned;
use lastmile_shared::voucher::RedemptionMode;
use lastmile_shared::voucher_book::VoucherBook;
use lastmile_shared::voucher_code::VoucherCode;
use serde_bytes::ByteBuf;

fn json(output: &std::process::Output) -> serde_json::Value {
    let text = stdout(output);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text:?} / {output:?}"))
}

fn book_bytes(vouchers: &[String], now: i64) -> Vec<u8> {
    let (root_kid, root_key) = root();
    VoucherBook {
        version: 1,
        issued_at: now,
        site: Some(SiteId::parse(SITE).unwrap()),
        merchant: None,
        vouchers: vouchers.to_vec(),
    }
    .seal(&root_kid, &root_key)
}

/// Provisions `data` from a bundle carrying `book`; returns the CLI's answer.
fn provision(dir: &std::path::Path, book: Vec<u8>, now: i64) -> std::process::Output {
    let mut bundle = bundle(now, &[]);
    bundle.voucher_book = Some(ByteBuf::from(book));
    let path = dir.join("bundle.cbor");
    std::fs::write(&path, bundle.to_cbor()).unwrap();
    cli(
        &dir.join("data"),
        &["provision", "--bundle", path.to_str().unwrap()],
    )
}

#[test]
fn a_code_from_the_signed_book_redeems_offline_like_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let now = wall_clock();
    let vouchers = [
        voucher("V-CODE-1", 20_000, RedemptionMode::SingleUse, now),
        voucher("V-CODE-2", 50_000, RedemptionMode::Partial, now),
    ];
    let output = provision(dir.path(), book_bytes(&vouchers, now), now);
    assert!(output.status.success(), "{output:?}");
    let data = dir.path().join("data");
    for args in [
        vec![
            "operator", "add", "--id", OPERATOR, "--name", "Amina", "--pin", PIN,
        ],
        vec!["operator", "login", "--id", OPERATOR, "--pin", PIN],
    ] {
        assert!(cli(&data, &args).status.success(), "{args:?}");
    }
    let single = VoucherCode::of_voucher(&vouchers[0]).to_string();
    let partial = VoucherCode::of_voucher(&vouchers[1]).to_string();

    let check = cli(&data, &["--json", "redeem", "--code", &partial, "--check"]);
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    assert_eq!(json(&check)["claims"]["id"], "V-CODE-2");
    assert_eq!(json(&check)["remaining"]["minor"], 50_000);

    let output = cli(
        &data,
        &["--json", "redeem", "--code", &partial, "--amount", "120"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let receipt = &json(&output)["receipt"];
    assert_eq!(receipt["item"]["voucher"], "V-CODE-2");
    assert_eq!(receipt["item"]["remaining"]["minor"], 38_000);
    assert_eq!(receipt["status"], "accepted_offline_pending");
    // The same rules as a scan: no more than is left.
    let over = cli(
        &data,
        &["--json", "redeem", "--code", &partial, "--amount", "400"],
    );
    assert_eq!(over.status.code(), Some(3), "{over:?}");
    assert_eq!(json(&over)["code"], "amount_over_balance");

    let output = cli(&data, &["--json", "redeem", "--code", &single]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let again = cli(&data, &["--json", "redeem", "--code", &single]);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(json(&again)["code"], "already_redeemed");

    // A well-formed code that names no voucher of this terminal's book.
    let stranger = VoucherCode::of_voucher("LM1:SOMETHING ELSE").to_string();
    let unknown = cli(&data, &["--json", "redeem", "--code", &stranger]);
    assert_eq!(unknown.status.code(), Some(3));
    assert_eq!(json(&unknown)["code"], "code_not_found");
    let reference = cli(&data, &["--json", "redeem", "--code", "V-CODE-1"]);
    assert_eq!(reference.status.code(), Some(2));
    assert_eq!(json(&reference)["code"], "code_is_reference");
}

#[test]
fn a_tampered_book_is_refused_and_nothing_is_provisioned() {
    let dir = tempfile::tempdir().unwrap();
    let now = wall_clock();
    let vouchers = [voucher("V-CODE-9", 20_000, RedemptionMode::SingleUse, now)];
    let mut book = book_bytes(&vouchers, now);
    // One character of the voucher text inside the signed book.
    let at = book.windows(4).position(|w| w == b"LM1:").unwrap() + 10;
    book[at] = if book[at] == b'A' { b'B' } else { b'A' };
    let output = provision(dir.path(), book, now);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("voucher book"), "{stderr}");
    let status = cli(&dir.path().join("data"), &["--json", "status"]);
    assert_eq!(json(&status)["enrolled"], false, "{status:?}");
}
