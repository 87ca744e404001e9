//! End to end across crates: the real `lastmile-server` (CLI, `serve`, HQ
//! API) and real `lastmile-terminal` processes (CLI only) over real sockets,
//! on SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};

use lastmile_tests::{Backend, Mode, NewVoucher, Server, Terminal, TlsFiles, on_both_backends};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{Value, json};

on_both_backends!(
    demo_offline_redemption_syncs_and_a_second_spend_opens_a_case,
    revoked_or_spent_vouchers_are_refused_after_the_next_sync,
    revoked_terminal_is_refused_and_changes_nothing,
    retried_uploads_count_once_and_partial_balance_is_kept,
    one_entitlement_paid_by_two_offline_agents_opens_a_case_and_is_refused_after_sync,
    a_suspended_merchant_stops_redeeming_after_its_next_sync,
    a_terminal_asleep_through_two_root_rotations_follows_them,
);

const MERCHANT: &str = "shop-12";
const SITE: &str = "nairobi-3";

fn kes(minor: i64) -> Value {
    json!({ "minor": minor, "currency": "KES" })
}

/// Issue 7's demo: issue, enrol, redeem with the server down, sync, then a
/// second terminal spends the same voucher and HQ gets a case.
fn demo_offline_redemption_syncs_and_a_second_spend_opens_a_case(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issuance = server.issue(&[
        NewVoucher {
            beneficiary: "B-001",
            amount: "1250.50",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-002",
            amount: "800",
            mode: Mode::Partial,
        },
    ]);
    let amounts: Vec<&str> = issuance
        .vouchers
        .iter()
        .map(|v| v.amount.as_str())
        .collect();
    assert_eq!(amounts, ["1250.50", "800.00"]);
    let pdf = std::fs::read(issuance.out.join("vouchers.pdf")).expect("the PDF sheet");
    assert!(pdf.starts_with(b"%PDF-"), "vouchers.pdf is not a PDF");
    let pngs = std::fs::read_dir(issuance.out.join("qr"))
        .expect("OUT/qr")
        .count();
    assert_eq!(pngs, 2, "one QR picture per voucher");
    for voucher in &issuance.vouchers {
        let png = std::fs::read(issuance.out.join("qr").join(format!("{}.png", voucher.id)))
            .expect("the voucher's QR picture");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is no PNG",
            voucher.id
        );
        assert!(voucher.qr.starts_with("LM1:"), "{}", voucher.qr);
    }
    let voucher = &issuance.vouchers[0];

    server.start();
    let state = server.voucher(&voucher.id);
    assert_eq!(
        (&state["status"], &state["value"], &state["redeemed_minor"]),
        (&json!("issued"), &kes(125_050), &json!(0))
    );
    let counter = Terminal::new();
    let first = counter.enroll(&server, MERCHANT, SITE);
    counter.operator("amina", "1234");
    let other = Terminal::new();
    let second = other.enroll(&server, MERCHANT, SITE);
    other.operator("baraka", "5678");
    assert_ne!(first, second);

    // The network is gone: the server is not running at all.
    server.stop();
    let receipt = counter.redeem_ok(&voucher.qr, None);
    assert_eq!(receipt["device"], first.as_str());
    assert_eq!(receipt["seq"], 1);
    assert_eq!(receipt["item"]["voucher"], voucher.id.as_str());
    assert_eq!(receipt["item"]["amount"], kes(125_050));
    assert_eq!(receipt["item"]["remaining"], kes(0));
    let status = counter.status();
    assert_eq!(status["pending_count"], 1);
    assert_eq!(status["pending_value"], json!([kes(125_050)]));
    assert_eq!(status["acknowledged_seq"], 0);
    let offline = counter.sync();
    offline.expect_code(5);
    assert_eq!(offline.json()["code"], "sync_failed");
    assert_eq!(counter.status()["pending_count"], 1);
    // The other terminal, just as offline, takes the same voucher.
    let receipt = other.redeem_ok(&voucher.qr, None);
    assert_eq!(receipt["device"], second.as_str());

    server.start();
    let report = counter.sync_ok();
    assert_eq!(
        (
            &report["uploaded"],
            &report["acknowledged_seq"],
            &report["newly_confirmed"],
            &report["double_spends"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!([]))
    );
    let state = server.voucher(&voucher.id);
    assert_eq!(state["status"], "redeemed");
    assert_eq!(state["redeemed_minor"], 125_050);
    assert_eq!(state["winner"], json!([first, 1]));
    let status = counter.status();
    assert_eq!(status["pending_count"], 0);
    assert_eq!(status["pending_value"], json!([]));
    assert_eq!(status["acknowledged_seq"], 1);
    let reprint = counter.json(&["receipt", "reprint", "1"]);
    assert_eq!(
        reprint.expect_code(0).json()["receipt"]["status"],
        "confirmed"
    );
    assert_eq!(server.terminal_row(&first)["head_seq"], 1);

    let report = other.sync_ok();
    assert_eq!(report["uploaded"], 1);
    assert_eq!(report["acknowledged_seq"], 1);
    let cases = server.cases();
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = &cases[0];
    assert_eq!(report["double_spends"], json!([[1, case["id"]]]));
    assert_eq!(case["voucher"], voucher.id.as_str());
    assert_eq!(case["reason"], "already_redeemed");
    assert_eq!(
        (&case["first_device"], &case["first_seq"]),
        (&json!(first), &json!(1))
    );
    assert_eq!(
        (&case["second_device"], &case["second_seq"]),
        (&json!(second), &json!(1))
    );
    assert_eq!(case["amount"], kes(125_050));
    assert_eq!(case["redeemed_before_minor"], 125_050);
    assert_eq!(case["status"], "open");
    // The second spend is held as evidence, not counted.
    let state = server.voucher(&voucher.id);
    assert_eq!(state["redeemed_minor"], 125_050);
    assert_eq!(state["winner"], json!([first, 1]));
    let listed = server.cli(&["cases", "list"]);
    let listed = listed.expect_code(0).json_lines();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], case["id"]);
    assert_eq!(listed[0]["second_device"], second.as_str());
    // The losing terminal shows its entry under review, never confirmed.
    let reprint = other.json(&["receipt", "reprint", "1"]);
    assert_eq!(
        reprint.expect_code(0).json()["receipt"]["status"],
        json!({"under_review": {"case": case["id"]}})
    );
    let status = other.status();
    assert_eq!(
        status["under_review"],
        json!([{"seq": 1, "case": case["id"]}])
    );
    // HQ closes the case once the money is back.
    let resolved = server.cli_ok(&[
        "cases",
        "resolve",
        &case["id"].to_string(),
        "--outcome",
        "recovered",
        "--note",
        "second shop refunded the amount",
    ]);
    assert!(resolved.contains("resolved: recovered"), "{resolved}");
    assert_eq!(server.cases()[0]["status"], "resolved");
    // The outcome reaches the terminal at its next sync, and its receipt.
    let report = other.sync_ok();
    assert_eq!(report["cases_closed"], json!([[case["id"], "recovered"]]));
    let reprint = other.json(&["receipt", "reprint", "1"]);
    assert_eq!(
        reprint.expect_code(0).json()["receipt"]["status"],
        json!({"case_closed": {"case": case["id"], "resolution": "recovered"}})
    );
    let status = other.status();
    assert_eq!(status["under_review"], json!([]));
    assert_eq!(
        status["cases_closed"],
        json!([{"seq": 1, "case": case["id"], "resolution": "recovered"}])
    );
    // Told once: the next sync asks about no case.
    assert_eq!(other.sync_ok()["cases_closed"], json!([]));
    for terminal in [&counter, &other] {
        let verified = terminal.json(&["log", "verify"]);
        assert_eq!(verified.expect_code(0).json()["log"]["entries"], 1);
    }
}

/// A terminal learns at its next sync that a voucher was revoked at HQ or
/// spent on another terminal, and refuses it with exit code 3.
fn revoked_or_spent_vouchers_are_refused_after_the_next_sync(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issuance = server.issue(&[
        NewVoucher {
            beneficiary: "B-REVOKED",
            amount: "500",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-SPENT",
            amount: "700",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-PART",
            amount: "1000",
            mode: Mode::Partial,
        },
    ]);
    let [revoked, spent, part] = &issuance.vouchers[..] else {
        panic!("three vouchers issued");
    };
    server.start();
    let a = Terminal::new();
    a.enroll(&server, MERCHANT, SITE);
    a.operator("amina", "1234");
    let b = Terminal::new();
    let device_b = b.enroll(&server, MERCHANT, SITE);
    b.operator("baraka", "5678");

    let printed = server.cli_ok(&["vouchers", "revoke", &revoked.id]);
    assert!(
        printed.contains(&format!("voucher {} revoked", revoked.id)),
        "{printed}"
    );
    assert_eq!(server.voucher(&revoked.id)["status"], "revoked");
    a.redeem_ok(&spent.qr, None);
    a.redeem_ok(&part.qr, Some("600"));
    let report = a.sync_ok();
    assert_eq!(
        (&report["uploaded"], &report["acknowledged_seq"]),
        (&json!(2), &json!(2))
    );

    // Before its sync, B still takes both vouchers for good.
    for voucher in [revoked, spent] {
        let check = b.json(&["redeem", "--check", "--qr", &voucher.qr]);
        assert!(
            check.expect_code(0).json()["full_redemption"]["Ok"].is_object(),
            "{}",
            check.stdout
        );
    }

    let report = b.sync_ok();
    assert!(
        report["updated"]
            .as_array()
            .unwrap()
            .contains(&json!("revocation list")),
        "{report}"
    );
    assert_eq!(
        report["balances"], 2,
        "the spent and the part-spent voucher"
    );
    for (voucher, amount, code) in [
        (revoked, None, "revoked"),
        (spent, None, "already_redeemed"),
        (part, Some("400.01"), "amount_over_balance"),
    ] {
        let refused = b.redeem(&voucher.qr, amount);
        let answer = refused.expect_code(3).json();
        assert_eq!(answer["ok"], false);
        assert_eq!(answer["category"], "refused");
        assert_eq!(answer["code"], code, "{}", voucher.id);
    }
    let status = b.status();
    assert_eq!(status["log_entries"], 0, "refusals log nothing");
    assert_eq!(status["pending_count"], 0);

    // What is left of the partial voucher can still be taken, exactly.
    let receipt = b.redeem_ok(&part.qr, Some("400"));
    assert_eq!(receipt["item"]["remaining"], kes(0));
    let report = b.sync_ok();
    assert_eq!(report["double_spends"], json!([]));
    let state = server.voucher(&part.id);
    assert_eq!(state["redeemed_minor"], 100_000);
    assert_eq!(state["status"], "redeemed");
    assert_eq!(state["winner"], json!([device_b, 1]));
    assert_eq!(server.voucher(&revoked.id)["redeemed_minor"], 0);
    assert_eq!(server.voucher(&spent.id)["redeemed_minor"], 70_000);
    assert_eq!(server.cases(), Vec::<Value>::new());
}

/// HQ replaces its root key twice while a terminal is offline. At its next
/// sync the terminal follows both handovers, takes the documents resealed
/// with the newest root (a voucher revoked after the rotations is refused),
/// and a fresh process still opens its store (documents re-verified at
/// start). A terminal enrolled afterwards starts on the newest root.
fn a_terminal_asleep_through_two_root_rotations_follows_them(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let roster = server.dir().join("roster.csv");
    std::fs::write(
        &roster,
        "beneficiary_id,name,id_numbers,entitlement_id,programme,amount,currency,valid_from,valid_until,mode,delivery\n\
         B-ANNE,Anne Mutua,ID-300,E-ANNE,relief,1000,KES,2020-01-01,2099-12-31,single_use,cash\n",
    )
    .expect("writing the roster CSV");
    server.cli_ok(&[
        "rosters",
        "publish",
        "--csv",
        &roster.display().to_string(),
        "--site",
        SITE,
    ]);
    let issuance = server.issue(&[
        NewVoucher {
            beneficiary: "B-KEEP",
            amount: "100",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-LATE",
            amount: "100",
            mode: Mode::SingleUse,
        },
    ]);
    let [keep, late] = &issuance.vouchers[..] else {
        panic!("two vouchers issued");
    };
    server.start();
    let sleeper = Terminal::new();
    sleeper.enroll(&server, MERCHANT, SITE);
    sleeper.operator("amina", "1234");
    server.stop();

    for _ in 0..2 {
        let printed = server.cli_ok(&["keys", "rotate-root"]);
        assert!(
            printed.contains("terminals follow at their next sync"),
            "{printed}"
        );
    }
    server.cli_ok(&["vouchers", "revoke", &late.id]);
    server.start();

    let report = sleeper.sync_ok();
    let updated = report["updated"].as_array().unwrap();
    for what in [
        "root key",
        "trust list",
        "revocation list",
        "roster",
        "terminal policy",
    ] {
        assert!(
            updated.contains(&json!(what)),
            "{what} missing from {report}"
        );
    }
    assert_eq!(report["refused"], json!([]));
    let refused = sleeper.redeem(&late.qr, None);
    assert_eq!(refused.expect_code(3).json()["code"], "revoked");
    sleeper.redeem_ok(&keep.qr, None);
    let listed = sleeper.json(&["cash", "list"]).expect_code(0).json();
    assert!(listed.to_string().contains("E-ANNE"), "{listed}");
    let report = sleeper.sync_ok();
    assert_eq!(report["acknowledged_seq"], 1);
    assert_eq!(server.voucher(&keep.id)["status"], "redeemed");

    let newcomer = Terminal::new();
    newcomer.enroll(&server, MERCHANT, SITE);
    newcomer.operator("baraka", "5678");
    let refused = newcomer.redeem(&late.qr, None);
    assert_eq!(refused.expect_code(3).json()["code"], "revoked");
}

/// A merchant suspended at HQ: its terminal refuses every voucher after its
/// next sync (exit 3, `merchant_revoked`); another shop's terminal is not
/// affected.
fn a_suspended_merchant_stops_redeeming_after_its_next_sync(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issuance = server.issue(&[NewVoucher {
        beneficiary: "B-SHOP",
        amount: "300",
        mode: Mode::Partial,
    }]);
    let voucher = &issuance.vouchers[0];
    server.start();
    let suspended = Terminal::new();
    suspended.enroll(&server, MERCHANT, SITE);
    suspended.operator("amina", "1234");
    let other = Terminal::new();
    other.enroll(&server, "shop-99", SITE);
    other.operator("baraka", "5678");
    suspended.redeem_ok(&voucher.qr, Some("100"));

    let printed = server.cli_ok(&[
        "merchants",
        "revoke",
        MERCHANT,
        "--reason",
        "inspection found vouchers bought for cash",
    ]);
    assert!(
        printed.contains(&format!("merchant {MERCHANT} suspended")),
        "{printed}"
    );
    let again = server.cli(&["merchants", "revoke", MERCHANT, "--reason", "again"]);
    again.expect_code(1);

    // The redemption made before the suspension still reaches HQ.
    let report = suspended.sync_ok();
    assert_eq!(report["uploaded"], 1);
    let refused = suspended.redeem(&voucher.qr, Some("100"));
    assert_eq!(refused.expect_code(3).json()["code"], "merchant_revoked");
    assert_eq!(
        suspended.status()["log_entries"],
        1,
        "the refusal logs nothing"
    );

    other.sync_ok();
    let receipt = other.redeem_ok(&voucher.qr, Some("100"));
    assert_eq!(receipt["item"]["remaining"], kes(10_000));
}

/// A terminal revoked at HQ is refused on its next sync with exit code 5
/// and a message saying so; the server stores nothing from it.
fn revoked_terminal_is_refused_and_changes_nothing(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issuance = server.issue(&[
        NewVoucher {
            beneficiary: "B-X",
            amount: "300",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-Y",
            amount: "400",
            mode: Mode::SingleUse,
        },
    ]);
    let [x, y] = &issuance.vouchers[..] else {
        panic!("two vouchers issued");
    };
    server.start();
    let revoked = Terminal::new();
    let device = revoked.enroll(&server, MERCHANT, SITE);
    revoked.operator("amina", "1234");
    let good = Terminal::new();
    let good_device = good.enroll(&server, MERCHANT, SITE);
    good.operator("baraka", "5678");
    revoked.redeem_ok(&x.qr, None);
    assert_eq!(revoked.sync_ok()["acknowledged_seq"], 1);

    let printed = server.cli_ok(&["terminals", "revoke", &device]);
    assert!(
        printed.contains(&format!("terminal {device} revoked")),
        "{printed}"
    );
    let row = server.terminal_row(&device);
    assert!(row["revoked_at"].is_i64(), "{row}");
    assert_eq!(row["head_seq"], 1);

    // Offline, the terminal does not know yet.
    revoked.redeem_ok(&y.qr, None);
    let terminals = server.hq_get("/v1/hq/terminals");
    let y_before = server.voucher(&y.id);
    let alarms = server.hq_get("/v1/hq/alarms");
    // Let the clock move on, so that even a touched `last_seen_at` shows.
    std::thread::sleep(std::time::Duration::from_millis(1_100));

    let refused = revoked.sync();
    let answer = refused.expect_code(5).json();
    assert_eq!(answer["code"], "sync_failed");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("device_revoked") && message.contains("revoked by HQ"),
        "{message}"
    );
    let text = revoked.cli(&["sync"]);
    text.expect_code(5);
    assert!(
        text.stderr.contains("this terminal was revoked by HQ"),
        "{}",
        text.stderr
    );
    let status = revoked.status();
    assert_eq!(status["pending_count"], 1);
    assert_eq!(status["acknowledged_seq"], 1);
    assert!(
        status["last_sync_error"]
            .as_str()
            .is_some_and(|e| e.contains("device_revoked")),
        "{status}"
    );
    // The refusal carried the signed revocation list naming it: from now
    // on the terminal refuses to redeem, network or not, and logs nothing.
    let refused = revoked.redeem(&y.qr, None);
    assert_eq!(refused.expect_code(3).json()["code"], "device_revoked");
    assert_eq!(revoked.status()["log_entries"], 2);

    assert_eq!(server.hq_get("/v1/hq/terminals"), terminals);
    assert_eq!(server.voucher(&y.id), y_before);
    assert_eq!(y_before["redeemed_minor"], 0);
    assert_eq!(server.hq_get("/v1/hq/alarms"), alarms);
    assert_eq!(server.cases(), Vec::<Value>::new());
    let listed = server.cli(&["terminals", "list"]);
    let listed = listed.expect_code(0).json_lines();
    let row = listed
        .iter()
        .find(|t| t["device"] == device.as_str())
        .unwrap();
    assert_eq!(row["head_seq"], 1);

    // The refused redemption never reached HQ: another terminal takes the
    // voucher with no case.
    good.redeem_ok(&y.qr, None);
    assert_eq!(good.sync_ok()["double_spends"], json!([]));
    let state = server.voucher(&y.id);
    assert_eq!(state["redeemed_minor"], 40_000);
    assert_eq!(state["winner"], json!([good_device, 1]));
    assert_eq!(server.cases(), Vec::<Value>::new());
}

/// Syncing again, and re-uploading the same entries from a restored copy of
/// the terminal (an answer lost on the way back), counts nothing twice; two
/// partial redemptions leave the exact balance at HQ.
fn retried_uploads_count_once_and_partial_balance_is_kept(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issuance = server.issue(&[
        NewVoucher {
            beneficiary: "B-1",
            amount: "150",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-2",
            amount: "250.50",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-3",
            amount: "99.99",
            mode: Mode::SingleUse,
        },
        NewVoucher {
            beneficiary: "B-4",
            amount: "1000",
            mode: Mode::Partial,
        },
    ]);
    let vouchers = &issuance.vouchers;
    let single_minor = [15_000, 25_050, 9_999];
    let partial = &vouchers[3];
    server.start();
    let terminal = Terminal::new();
    let device = terminal.enroll(&server, MERCHANT, SITE);
    terminal.operator("amina", "1234");

    let qr_file = server.dir().join("scanned.txt");
    let lines: Vec<&str> = vouchers[..3].iter().map(|v| v.qr.as_str()).collect();
    std::fs::write(&qr_file, lines.join("\n")).unwrap();
    let batch = terminal.json(&["redeem", "--qr-file", qr_file.to_str().unwrap()]);
    let results = batch.expect_code(0).json_lines();
    assert_eq!(results.len(), 3, "{}", batch.stdout);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["line"], i + 1);
        assert_eq!(result["receipt"]["seq"], i + 1);
        assert_eq!(
            result["receipt"]["item"]["voucher"],
            vouchers[i].id.as_str()
        );
        assert_eq!(result["receipt"]["item"]["amount"], kes(single_minor[i]));
    }
    let receipt = terminal.redeem_ok(&partial.qr, Some("400"));
    assert_eq!(receipt["item"]["remaining"], kes(60_000));
    let receipt = terminal.redeem_ok(&partial.qr, Some("250.25"));
    assert_eq!(receipt["seq"], 5);
    assert_eq!(receipt["item"]["amount"], kes(25_025));
    assert_eq!(receipt["item"]["remaining"], kes(34_975));
    let status = terminal.status();
    assert_eq!(status["pending_count"], 5);
    assert_eq!(status["pending_value"], json!([kes(115_074)]));
    let restored = terminal.copy();

    let report = terminal.sync_ok();
    assert_eq!(
        (
            &report["uploaded"],
            &report["acknowledged_seq"],
            &report["newly_confirmed"]
        ),
        (&json!(5), &json!(5), &json!(5))
    );
    let report = terminal.sync_ok();
    assert_eq!(
        (
            &report["uploaded"],
            &report["acknowledged_seq"],
            &report["newly_confirmed"]
        ),
        (&json!(0), &json!(5), &json!(0))
    );
    // Everything but the time the terminal was last seen, which a retry
    // rightly moves.
    let snapshot = |server: &Server| {
        let mut states: Vec<Value> = vouchers.iter().map(|v| server.voucher(&v.id)).collect();
        let mut row = server.terminal_row(&device);
        row.as_object_mut().unwrap().remove("last_seen_at");
        states.push(row);
        states
    };
    let before = snapshot(&server);

    // The same five entries again, as a terminal restored from a backup
    // taken before the first sync would send them.
    assert_eq!(restored.status()["pending_count"], 5);
    let report = restored.sync_ok();
    assert_eq!(
        (
            &report["uploaded"],
            &report["acknowledged_seq"],
            &report["newly_confirmed"],
            &report["double_spends"]
        ),
        (&json!(5), &json!(5), &json!(5), &json!([]))
    );
    assert_eq!(restored.status()["pending_count"], 0);
    assert_eq!(snapshot(&server), before);

    for (voucher, minor) in vouchers.iter().zip(single_minor) {
        let state = server.voucher(&voucher.id);
        assert_eq!(state["status"], "redeemed", "{}", voucher.id);
        assert_eq!(state["redeemed_minor"], minor, "{}", voucher.id);
    }
    let state = server.voucher(&partial.id);
    assert_eq!(state["status"], "partly_redeemed");
    assert_eq!(state["value"], kes(100_000));
    assert_eq!(state["redeemed_minor"], 65_025, "34975 of 100000 left");
    assert_eq!(state["winner"], json!([device, 5]));
    let shown = server.cli(&["vouchers", "show", &partial.id]);
    assert_eq!(shown.expect_code(0).json()["redeemed_minor"], 65_025);
    let row = server.terminal_row(&device);
    assert_eq!(row["head_seq"], 5);
    assert_eq!(server.cases(), Vec::<Value>::new());
    assert_eq!(server.hq_get("/v1/hq/alarms"), json!([]));

    let check = terminal.json(&["redeem", "--check", "--qr", &partial.qr]);
    let check = check.expect_code(0).json();
    assert_eq!(check["remaining"], kes(34_975));
    assert_eq!(check["redeemed"], kes(65_025));
    let verified = terminal.json(&["log", "verify"]);
    assert_eq!(verified.expect_code(0).json()["log"]["entries"], 5);
}

/// Two field agents at one site, both offline, pay Mary her KES 2,500: HQ
/// gets a case naming the entitlement and both devices, and a third agent
/// refuses to pay her again after its next sync (exit 3).
fn one_entitlement_paid_by_two_offline_agents_opens_a_case_and_is_refused_after_sync(
    backend: Backend,
) {
    let mut server = Server::new(backend);
    server.init();
    let roster = server.dir().join("roster.csv");
    std::fs::write(
        &roster,
        "beneficiary_id,name,id_numbers,entitlement_id,programme,amount,currency,valid_from,valid_until,mode,delivery\n\
         B-MARY,Mary Wanjiru,ID-100,E-MARY,relief,2500,KES,2020-01-01,2099-12-31,single_use,cash\n\
         B-JOHN,John Otieno,ID-200,E-JOHN,relief,1500,KES,2020-01-01,2099-12-31,single_use,cash\n",
    )
    .expect("writing the roster CSV");
    server.cli_ok(&[
        "rosters",
        "publish",
        "--csv",
        &roster.display().to_string(),
        "--site",
        SITE,
    ]);
    server.start();
    let agents: Vec<(Terminal, String)> = ["wanjiku", "kamau", "njeri"]
        .iter()
        .map(|name| {
            let agent = Terminal::new();
            let device = agent.enroll(&server, "field-team", SITE);
            agent.operator(name, "1234");
            agent
                .json(&["cash", "open", "--float", "5000"])
                .expect_code(0);
            (agent, device)
        })
        .collect();
    let [(a, device_a), (b, device_b), (c, _)] = &agents[..] else {
        panic!("three agents enrolled");
    };
    let pay = |agent: &Terminal, id: &str, entitlement: &str| {
        agent.json(&["cash", "pay", "--id", id, "--entitlement", entitlement])
    };

    // No network: both agents pay Mary.
    server.stop();
    for agent in [a, b] {
        let receipt = pay(agent, "ID-100", "E-MARY").expect_code(0).json();
        assert_eq!(
            receipt["receipt"]["status"], "accepted_offline_pending",
            "{receipt}"
        );
    }
    server.start();
    assert_eq!(a.sync_ok()["double_spends"], json!([]));
    let report = b.sync_ok();
    let cases = server.cases();
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = &cases[0];
    assert_eq!(report["double_spends"], json!([[2, case["id"]]]));
    assert_eq!(case["entitlement"], "E-MARY");
    assert_eq!(case["voucher"], Value::Null);
    assert_eq!(case["reason"], "already_redeemed");
    assert_eq!(
        (&case["first_device"], &case["second_device"]),
        (&json!(device_a), &json!(device_b))
    );
    assert_eq!(case["amount"], kes(250_000));
    assert!(case["first_entry"].is_string() && case["second_entry"].is_string());

    // The third agent learns at its next sync that Mary was paid.
    c.sync_ok();
    let refused = pay(c, "ID-100", "E-MARY");
    refused.expect_code(3);
    assert_eq!(refused.json()["code"], "already_paid_out");
    let list = c.json(&["cash", "list"]).expect_code(0).json();
    let paid: Vec<(&str, bool)> = list
        .as_array()
        .expect("the distribution list is a JSON array")
        .iter()
        .map(|l| {
            (
                l["entitlement"]["entitlement"]["id"].as_str().unwrap_or(""),
                l["paid"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(paid, [("E-JOHN", false), ("E-MARY", true)]);
    // John was paid nowhere: he still can be.
    pay(c, "ID-200", "E-JOHN").expect_code(0);
}

/// A private CA generated for one test: its certificate in `DIR/NAME.pem`
/// and the issuer that signs server certificates.
fn private_ca(dir: &Path, name: &str) -> (PathBuf, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Lastmile e2e {name}"));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("a CA key");
    let certificate = params.self_signed(&key).expect("a self-signed CA");
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, certificate.pem()).expect("writing the CA certificate");
    (path, Issuer::new(params, key))
}

/// A programme running HQ behind its own CA: a terminal enrolled with
/// `--ca-cert` pins it and syncs over TLS; without it, or with another CA,
/// enrolment fails on the certificate (exit 5) before anything reaches the
/// server, so the same code still works. SQLite only: TLS sits in front of
/// the HTTP server, below the storage backends.
#[test]
fn tls_with_a_private_ca_pinned_at_enrolment() {
    let mut server = Server::new(Backend::Sqlite);
    server.init();
    let voucher = server.issue(&[NewVoucher {
        beneficiary: "B-TLS",
        amount: "300",
        mode: Mode::SingleUse,
    }]);
    let voucher = &voucher.vouchers[0];
    let dir = server.dir().to_owned();
    let (ca, issuer) = private_ca(&dir, "programme-ca");
    let (other_ca, _) = private_ca(&dir, "other-ca");
    let params = CertificateParams::new(["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server certificate parameters");
    let key = KeyPair::generate().expect("a server key");
    let certificate = params
        .signed_by(&key, &issuer)
        .expect("a server certificate");
    let files = TlsFiles {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        ca: ca.clone(),
    };
    std::fs::write(&files.cert, certificate.pem()).expect("writing the certificate");
    std::fs::write(&files.key, key.serialize_pem()).expect("writing the key");
    server.use_tls(files.clone());
    let url = server.start().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let code = server.enrolment_code(MERCHANT, SITE);
    let terminal = Terminal::new();
    let enroll = |extra: &[&str]| {
        let mut args = vec!["enroll", "--server", &url, "--code", &code];
        args.extend_from_slice(extra);
        terminal.json(&args)
    };
    let ca_arg = |path: &Path| path.display().to_string();
    for extra in [vec![], vec!["--ca-cert".to_owned(), ca_arg(&other_ca)]] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let refused = enroll(&extra);
        let answer = refused.expect_code(5).json();
        assert_eq!(answer["code"], "enrolment_failed", "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("TLS") && message.contains("certificate"),
            "{extra:?}: {message}"
        );
    }
    // A file that is no CA certificate is a usage error, caught before
    // anything is created.
    let not_a_certificate = dir.join("notes.pem");
    std::fs::write(&not_a_certificate, "HQ is at 127.0.0.1\n").expect("writing a file");
    for (file, reason) in [
        (&not_a_certificate, "holds no certificate"),
        (&files.key, "holds a private key"),
    ] {
        let run = enroll(&["--ca-cert", &ca_arg(file)]);
        assert!(run.expect_code(2).stderr.contains(reason), "{}", run.stderr);
    }
    assert_eq!(server.hq_get("/v1/hq/terminals"), json!([]));
    assert_eq!(
        terminal.sync().expect_code(4).json()["code"],
        "not_enrolled"
    );

    // The same code, now with the programme's CA.
    let device = terminal.enroll_with_code(&server, &code, &["--ca-cert", &ca_arg(&ca)]);
    terminal.operator("amina", "1234");
    terminal.redeem_ok(&voucher.qr, None);
    let report = terminal.sync_ok();
    assert_eq!(
        (&report["uploaded"], &report["acknowledged_seq"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(server.voucher(&voucher.id)["winner"], json!([device, 1]));
    assert_eq!(server.terminal_row(&device)["head_seq"], 1);
    let terminals = server.hq_get("/v1/hq/terminals");
    assert_eq!(terminals.as_array().map(Vec::len), Some(1), "{terminals}");
}
