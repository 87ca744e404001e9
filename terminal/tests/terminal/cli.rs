//! The command line, through the real binary: exit codes, JSON output,
//! redemption without a network, concurrent processes, cash, log, receipts.

use crate::common;
use crate::pty;

use std::io::BufRead;
use std::process::{Command, Stdio};

use common::*;
use lastmile_shared::voucher::RedemptionMode;
use lastmile_terminal::i18n::{self, Language};

fn json(output: &std::process::Output) -> serde_json::Value {
    let text = stdout(output);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text:?} / {output:?}"))
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    cli_setup(dir.path());
    let data = dir.path().join("data");
    (dir, data)
}

#[test]
fn help_documents_subcommands_and_exit_codes() {
    let output = cli(std::path::Path::new("/nonexistent"), &["--help"]);
    let text = stdout(&output);
    for needle in [
        "enroll",
        "redeem",
        "id-redeem",
        "cash",
        "sync",
        "status",
        "log",
        "receipt",
        "Exit status",
        "3  refused",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from --help:\n{text}"
        );
    }
    assert_eq!(
        cli(std::path::Path::new("/nonexistent"), &["redeem"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn redeem_with_json_refusals_and_languages() {
    let (_dir, data) = setup();
    let now = wall_clock();
    let qr = voucher("V-CLI-1", 10_000, RedemptionMode::Partial, now);
    let output = cli(
        &data,
        &["--json", "redeem", "--qr", &qr, "--amount", "40.50"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let value = json(&output);
    assert_eq!(value["receipt"]["status"], "accepted_offline_pending");
    assert_eq!(value["receipt"]["item"]["amount"]["minor"], 4_050);
    assert_eq!(value["receipt"]["item"]["remaining"]["minor"], 5_950);

    let output = cli(&data, &["--json", "redeem", "--qr", &qr, "--amount", "60"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(json(&output)["code"], "amount_over_balance");
    let output = cli(
        &data,
        &["--lang", "fr", "redeem", "--qr", &qr, "--amount", "60"],
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Il ne reste que 59,50\u{a0}KES"),
        "{output:?}"
    );
    let output = cli(&data, &["redeem", "--qr", &qr, "--amount", "1.234"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a malformed amount is a usage error"
    );
    let output = cli(&data, &["--json", "redeem", "--qr", "LM1:garbage"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(json(&output)["code"], "bad_base45");

    let output = cli(&data, &["redeem", "--qr", &qr, "--check"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("remaining KES 59.50"));
    let output = cli(&data, &["redeem", "--qr", &qr]);
    assert!(
        stdout(&output).contains("ACCEPTED OFFLINE — PENDING"),
        "{output:?}"
    );
}

#[test]
fn not_provisioned_and_not_logged_in_have_their_own_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let qr = voucher("V-NP", 100, RedemptionMode::SingleUse, wall_clock());
    let output = cli(dir.path(), &["--json", "redeem", "--qr", &qr]);
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    assert_eq!(json(&output)["code"], "not_enrolled");

    let (_dir, data) = setup();
    assert!(cli(&data, &["operator", "logout"]).status.success());
    let output = cli(&data, &["redeem", "--qr", &qr]);
    assert_eq!(output.status.code(), Some(6));
    let output = cli(
        &data,
        &["operator", "login", "--id", OPERATOR, "--pin", "0000"],
    );
    assert_eq!(output.status.code(), Some(6));
    // PIN from stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
        .env("LASTMILE_TERMINAL_DIR", &data)
        .args(["operator", "login", "--id", OPERATOR])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{PIN}").unwrap();
    assert!(child.wait().unwrap().success());
    assert!(cli(&data, &["redeem", "--qr", &qr]).status.success());
}

#[test]
fn redeems_with_the_server_unreachable_and_reports_pending() {
    let (_dir, data) = setup();
    // Point the terminal at a server that does not answer.
    let conn = rusqlite::Connection::open(data.join("terminal.sqlite3")).unwrap();
    conn.execute("UPDATE enrolment SET server_url = 'http://127.0.0.1:9'", [])
        .unwrap();
    drop(conn);
    let qr = voucher("V-OFFLINE", 25_000, RedemptionMode::SingleUse, wall_clock());
    assert!(cli(&data, &["redeem", "--qr", &qr]).status.success());
    let output = cli(&data, &["--json", "sync"]);
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    assert_eq!(json(&output)["code"], "sync_failed");
    let status = json(&cli(&data, &["--json", "status"]));
    assert_eq!(status["pending_count"], 1);
    assert_eq!(status["pending_value"][0]["minor"], 25_000);
    assert!(
        status["last_sync_error"]
            .as_str()
            .unwrap()
            .contains("could not reach")
    );
    assert_eq!(status["operator"]["operator"], OPERATOR);
    let receipt = json(&cli(&data, &["--json", "receipt", "reprint"]));
    assert_eq!(receipt["receipt"]["status"], "accepted_offline_pending");
}

#[test]
fn two_processes_cannot_both_redeem_one_voucher() {
    let (_dir, data) = setup();
    let now = wall_clock();
    for round in 0..6 {
        let qr = voucher(
            &format!("V-RACE-{round}"),
            5_000,
            RedemptionMode::SingleUse,
            now,
        );
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
                    .env("LASTMILE_TERMINAL_DIR", &data)
                    .args(["--json", "redeem", "--qr", &qr])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut codes: Vec<i32> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code().unwrap())
            .collect();
        codes.sort();
        assert_eq!(codes, vec![0, 3], "round {round}");
    }
    let verify = cli(&data, &["log", "verify"]);
    assert!(stdout(&verify).contains("6 entries"), "{verify:?}");
}

#[test]
fn id_redeem_cash_flow_log_and_receipts() {
    let (dir, data) = setup();
    let output = cli(&data, &["--json", "id-redeem", "--id", PERSON_ID]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        json(&output)["entitlements"][0]["entitlement"]["id"],
        "ENT-FOOD-1"
    );
    let card = id_card(PERSON_ID, &id_authority(), wall_clock());
    let output = cli(
        &data,
        &[
            "--json",
            "id-redeem",
            "--id",
            &card,
            "--scanned",
            "--entitlement",
            "ENT-FOOD-1",
            "--amount",
            "1000",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        json(&output)["receipt"]["item"]["remaining"]["minor"],
        400_000
    );

    assert_eq!(
        cli(
            &data,
            &[
                "cash",
                "pay",
                "--id",
                PERSON_ID,
                "--entitlement",
                "ENT-CASH-1"
            ]
        )
        .status
        .code(),
        Some(3)
    );
    assert!(
        cli(&data, &["cash", "open", "--float", "5000"])
            .status
            .success()
    );
    let list = stdout(&cli(&data, &["cash", "list"]));
    assert!(
        list.contains("Baraka Otieno") && list.contains("[    ]"),
        "{list}"
    );
    let check = stdout(&cli(&data, &["cash", "check", "--id", "KE-87654321"]));
    assert!(
        check.contains("Baraka Otieno") && check.contains("Photo on file: yes"),
        "{check}"
    );
    assert!(
        cli(
            &data,
            &[
                "cash",
                "pay",
                "--id",
                PERSON_ID,
                "--entitlement",
                "ENT-CASH-1"
            ]
        )
        .status
        .success()
    );
    let twice = cli(
        &data,
        &[
            "--json",
            "cash",
            "pay",
            "--id",
            PERSON_ID,
            "--entitlement",
            "ENT-CASH-1",
        ],
    );
    assert_eq!(twice.status.code(), Some(3));
    assert_eq!(json(&twice)["code"], "already_paid_out");
    let close = cli(&data, &["--json", "cash", "close", "--counted", "2000.00"]);
    assert!(close.status.success(), "{close:?}");
    let report = json(&close);
    assert_eq!(report["variance"]["minor"], 0);
    assert_eq!(report["payouts"][0]["entitlement"], "ENT-CASH-1");
    assert!(stdout(&cli(&data, &["cash", "report", "1"])).contains("END-OF-DAY CASH REPORT"));

    let verify = cli(&data, &["--json", "log", "verify"]);
    assert_eq!(json(&verify)["log"]["entries"], 4);
    let export = stdout(&cli(&data, &["log", "export"]));
    let kinds: Vec<String> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "entitlement_redeemed",
            "cash_session_opened",
            "cash_paid_out",
            "cash_session_closed"
        ]
    );
    let file = dir.path().join("log.jsonl");
    assert!(
        cli(
            &data,
            &["log", "export", "--output", file.to_str().unwrap()]
        )
        .status
        .success()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), export);
    // Never printed yet: the first paper is the original, later ones copies.
    let device = dir.path().join("lp0");
    std::fs::write(&device, b"").unwrap();
    let target = format!("file:{}", device.display());
    let first = stdout(&cli(
        &data,
        &["receipt", "reprint", "3", "--printer", &target],
    ));
    assert!(
        !first.contains("COPY") && first.contains("CASH PAYOUT"),
        "{first}"
    );
    assert!(first.contains("Received by Amina Wanjiru"), "{first}");
    let reprint = stdout(&cli(&data, &["receipt", "reprint", "3"]));
    assert!(
        reprint.contains("*** COPY — REPRINT ***") && reprint.contains("CASH PAYOUT"),
        "{reprint}"
    );
    assert_eq!(
        cli(&data, &["receipt", "reprint", "99"]).status.code(),
        Some(2)
    );
}

#[test]
fn batch_redemption_prints_one_line_per_voucher() {
    let (dir, data) = setup();
    let now = wall_clock();
    let file = dir.path().join("batch.txt");
    let lines = [
        voucher("V-B1", 100, RedemptionMode::SingleUse, now),
        "not a voucher".to_owned(),
        voucher("V-B1", 100, RedemptionMode::SingleUse, now),
        voucher("V-B2", 100, RedemptionMode::SingleUse, now),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let output = cli(
        &data,
        &["--json", "redeem", "--qr-file", file.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(3));
    let results: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let oks: Vec<bool> = results.iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [true, false, false, true]);
    assert_eq!(results[2]["code"], "already_redeemed");
}

#[test]
fn receipt_reprint_prints_esc_pos_to_a_device_file() {
    let (dir, data) = setup();
    let qr = voucher("V-PRINT", 1_000, RedemptionMode::SingleUse, wall_clock());
    assert!(cli(&data, &["redeem", "--qr", &qr]).status.success());
    let device = dir.path().join("lp0");
    std::fs::write(&device, b"").unwrap();
    let target = format!("file:{}", device.display());
    let output = cli(
        &data,
        &[
            "receipt",
            "reprint",
            "1",
            "--printer",
            &target,
            "--paper",
            "80",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let job = std::fs::read(&device).unwrap();
    assert!(job.starts_with(&[0x1B, b'@']), "ESC @ first");
    assert!(job.windows(7).any(|w| w == b"V-PRINT"));
    assert!(
        !job.windows(4).any(|w| w == b"COPY"),
        "the first paper of a receipt is the original"
    );
}

#[test]
fn scan_images_prints_one_line_per_file_even_when_unreadable() {
    use lastmile_hardware::escpos::{PaperWidth, QrMode, Receipt};
    let dir = tempfile::tempdir().unwrap();
    let job = Receipt::new(PaperWidth::Mm58)
        .qr("LM1:SCAN-ME", QrMode::Raster)
        .finish()
        .unwrap();
    let paper = lastmile_hardware::emulator::render(&job, PaperWidth::Mm58).unwrap();
    let code = dir.path().join("code.png");
    std::fs::write(&code, paper.to_png()).unwrap();
    let blank = dir.path().join("blank.png");
    let empty = lastmile_hardware::emulator::render(b"", PaperWidth::Mm58).unwrap();
    std::fs::write(&blank, empty.to_png()).unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let missing = dir.path().join("missing.png");
    let paths = [&code, &blank, &text, &missing].map(|p| p.to_str().unwrap().to_owned());
    let mut args = vec!["scan", "--image"];
    args.extend(paths.iter().map(String::as_str));
    let output = cli(dir.path(), &args);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let expected: Vec<String> = paths
        .iter()
        .zip(["LM1:SCAN-ME", "", "", ""])
        .map(|(path, text)| format!("{path}\t{text}"))
        .collect();
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), expected);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for unreadable in [&paths[2], &paths[3]] {
        assert!(
            stderr.contains(&format!("{unreadable}: not scanned: cannot read image")),
            "{stderr}"
        );
    }
    assert!(
        !stderr.contains(&paths[1]),
        "a blank picture is no error: {stderr}"
    );
}

#[test]
fn redeem_reads_the_voucher_from_a_serial_scanner() {
    let Some(pair) = pty::PtyPair::start("redeem-scanner") else {
        return;
    };
    let (_dir, data) = setup();
    let qr = voucher("V-SCANNED", 2_500, RedemptionMode::SingleUse, wall_clock());
    let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
        .env("LASTMILE_TERMINAL_DIR", &data)
        .args([
            "--json",
            "redeem",
            "--scanner",
            &pair.device(),
            "--baud",
            "9600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Scan only once the port is open, as a person would after the till is ready.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("scanner connected") {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "no connect message"
        );
    }
    pair.write(format!("{qr}\r\n").as_bytes());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let value = json(&output);
    assert_eq!(value["receipt"]["status"], "accepted_offline_pending");
    assert_eq!(value["receipt"]["item"]["amount"]["minor"], 2_500);
    // Exactly as --qr: the voucher is spent now.
    let again = cli(&data, &["--json", "redeem", "--qr", &qr]);
    assert_eq!(json(&again)["code"], "already_redeemed");

    let output = cli(
        &data,
        &["redeem", "--scanner", &pair.device(), "--scan-timeout", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no code from the scanner") && stderr.contains("within 1 s"),
        "{stderr}"
    );
    assert_eq!(
        cli(
            &data,
            &["redeem", "--scanner", &pair.device(), "--scan-timeout", "0"]
        )
        .status
        .code(),
        Some(2),
        "a timeout of 0 is a usage error"
    );
}

#[test]
fn log_verify_recomputes_balances_and_names_every_difference() {
    let (_dir, data) = setup();
    let now = wall_clock();
    let partial = voucher("V-BAL-1", 10_000, RedemptionMode::Partial, now);
    let single = voucher("V-BAL-2", 2_500, RedemptionMode::SingleUse, now);
    for args in [
        vec!["redeem", "--qr", &partial, "--amount", "40.00"],
        vec!["redeem", "--qr", &partial, "--amount", "10.00"],
        vec!["redeem", "--qr", &single],
    ] {
        assert!(cli(&data, &args).status.success(), "{args:?}");
    }
    let output = cli(&data, &["--json", "log", "verify"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let check = &json(&output)["log"];
    assert_eq!(check["entries"], 3);
    assert_eq!(check["pending_count"], 3);
    assert_eq!(check["pending_value"][0]["minor"], 7_500);

    let database = data.join("terminal.sqlite3");
    let sql = |statement: &str| {
        let conn = rusqlite::Connection::open(&database).unwrap();
        conn.execute(statement, []).unwrap();
    };
    // One voucher's pending balance lowered, as if a redemption had been forgotten.
    sql("UPDATE credentials SET local_pending_minor = 4000 WHERE credential = 'voucher:V-BAL-1'");
    // And the running total the offline limits read, lowered too.
    sql("UPDATE pending_totals SET minor = 6500 WHERE currency = 'KES'");
    let output = cli(&data, &["--json", "log", "verify"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let value = json(&output);
    assert_eq!(value["code"], "balances_differ");
    let message = value["message"].as_str().unwrap();
    for needle in [
        "voucher:V-BAL-1: pending KES 50.00 in the log, KES 40.00 stored",
        "pending value: KES 75.00 in the log, KES 65.00 stored",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
    assert!(!message.contains("V-BAL-2"), "{message}");

    // A balance row gone, and a confirmed amount nobody redeemed here.
    sql("DELETE FROM credentials WHERE credential = 'voucher:V-BAL-2'");
    sql(
        "INSERT INTO credentials (credential, currency, local_confirmed_minor)
         VALUES ('entitlement:ENT-GHOST', 'KES', 999)",
    );
    let output = cli(&data, &["log", "verify"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "entitlement:ENT-GHOST: confirmed KES 0.00 in the log, KES 9.99 stored",
        "voucher:V-BAL-2: pending KES 25.00 in the log, KES 0.00 stored",
        "pending value: KES 75.00 in the log, KES 65.00 stored",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from {stderr}");
    }

    // The server's acknowledgement moved past the end of the log.
    sql("UPDATE sync_state SET acknowledged_seq = 7 WHERE id = 1");
    let stderr = String::from_utf8_lossy(&cli(&data, &["log", "verify"]).stderr).into_owned();
    assert!(
        stderr.contains("the server's acknowledgement (7) is beyond the last entry (3)"),
        "{stderr}"
    );

    // The indexed amount of an entry no longer says what the signed entry says.
    sql("UPDATE log_entries SET amount_minor = 1 WHERE seq = 2");
    let output = cli(&data, &["--json", "log", "verify"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let value = json(&output);
    assert_eq!(value["code"], "log_damaged");
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("sequence 2: the stored credential and amount do not match"),
        "{value}"
    );
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn paying_twice_is_said_of_the_person_not_a_voucher() {
    let (_dir, data) = setup();
    assert!(
        cli(&data, &["cash", "open", "--float", "5000"])
            .status
            .success()
    );
    let pay = [
        "cash",
        "pay",
        "--id",
        PERSON_ID,
        "--entitlement",
        "ENT-CASH-1",
    ];
    assert!(cli(&data, &pay).status.success());
    let twice = cli(&data, &pay);
    assert_eq!(twice.status.code(), Some(3));
    assert!(
        stderr(&twice).contains("This person has already been paid. Do not pay twice."),
        "{twice:?}"
    );
    let mut french = vec!["--lang", "fr"];
    french.extend(pay);
    let twice = cli(&data, &french);
    assert!(
        stderr(&twice).contains("Cette personne a déjà été payée."),
        "{twice:?}"
    );
    assert!(!stderr(&twice).contains("bon"), "{twice:?}");

    let redeem = [
        "id-redeem",
        "--id",
        PERSON_ID,
        "--entitlement",
        "ENT-FOOD-1",
    ];
    assert!(cli(&data, &redeem).status.success());
    let mut again = vec!["--json"];
    again.extend(redeem);
    let again = cli(&data, &again);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(json(&again)["code"], "entitlement_used");
    assert_eq!(
        json(&again)["message"],
        "This person has already received this entitlement in full."
    );
}

#[test]
fn check_of_a_refused_voucher_says_why_and_exits_refused() {
    let (_dir, data) = setup();
    let qr = voucher("V-CHECK", 250_000, RedemptionMode::SingleUse, wall_clock());
    let good = cli(&data, &["redeem", "--check", "--qr", &qr]);
    assert_eq!(good.status.code(), Some(0));
    assert!(
        stdout(&good).contains("Can redeem up to KES 2,500.00."),
        "{good:?}"
    );
    assert!(cli(&data, &["redeem", "--qr", &qr]).status.success());
    let refused = cli(&data, &["--lang", "sw", "redeem", "--check", "--qr", &qr]);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let text = stdout(&refused);
    assert!(text.contains("Vocha hii imeshatumika yote."), "{text}");
    assert!(!text.contains("already_redeemed"), "{text}");
    let refused = cli(&data, &["--json", "redeem", "--check", "--qr", &qr]);
    assert_eq!(refused.status.code(), Some(3));
    assert_eq!(json(&refused)["full_redemption"]["Err"], "already_redeemed");
}

#[test]
fn enrolment_failures_say_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli(
        dir.path(),
        &[
            "--json",
            "enroll",
            "--server",
            "http://127.0.0.1:9",
            "--code",
            "AAAA-BBBB-CCCC",
        ],
    );
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    assert_eq!(json(&output)["code"], "enrolment_failed");
    let message = json(&output)["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("Enrolment failed: could not reach"),
        "{message}"
    );

    let (_dir, data) = setup();
    let again = cli(
        &data,
        &["enroll", "--server", "http://127.0.0.1:9", "--code", "X"],
    );
    assert_eq!(
        again.status.code(),
        Some(3),
        "already enrolled is a refusal"
    );
    assert!(
        stderr(&again).contains("This terminal is already enrolled."),
        "{again:?}"
    );
    let help = stdout(&cli(&data, &["--help"]));
    assert!(
        help.contains("`enroll` on a\n     terminal that is already enrolled"),
        "{help}"
    );
}

#[test]
fn printer_errors_name_the_target_and_the_reason_once() {
    let (dir, data) = setup();
    let qr = voucher(
        "V-NOPRINTER",
        1_000,
        RedemptionMode::SingleUse,
        wall_clock(),
    );
    assert!(cli(&data, &["redeem", "--qr", &qr]).status.success());
    let missing = dir.path().join("no-such-dir/lp0");
    let target = format!("file:{}", missing.display());
    let output = cli(&data, &["receipt", "reprint", "--printer", &target]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "cannot reach the printer at device file {}",
            missing.display()
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("No such file or directory").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("DeviceFile"), "{text}");
}

#[test]
fn receipts_reports_and_lists_follow_the_language_and_one_amount_format() {
    let (dir, data) = setup();
    let qr = voucher("V-LANG", 250_000, RedemptionMode::SingleUse, wall_clock());
    let receipt = stdout(&cli(&data, &["--lang", "fr", "redeem", "--qr", &qr]));
    assert!(receipt.contains("ENCAISSEMENT D'UN BON"), "{receipt}");
    assert!(receipt.contains("2\u{a0}500,00\u{a0}KES"), "{receipt}");
    let device = dir.path().join("lp0");
    std::fs::write(&device, b"").unwrap();
    let target = format!("file:{}", device.display());
    assert!(
        cli(&data, &["receipt", "reprint", "--printer", &target])
            .status
            .success()
    );
    let reprint = stdout(&cli(&data, &["--lang", "fr", "receipt", "reprint"]));
    assert!(reprint.contains("ENCAISSEMENT D'UN BON"), "{reprint}");
    assert!(
        reprint.contains("*** COPIE — RÉIMPRESSION ***"),
        "{reprint}"
    );

    assert!(
        cli(&data, &["cash", "open", "--float", "10000"])
            .status
            .success()
    );
    let status = stdout(&cli(&data, &["status"]));
    assert!(status.contains("float KES 10,000.00"), "{status}");
    assert!(!status.contains("expected"), "a blind count: {status}");
    let list = stdout(&cli(&data, &["cash", "list"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    assert!(widths.iter().all(|w| *w == widths[0]), "aligned:\n{list}");
    assert!(list.contains("KES 3,000.00"), "{list}");
    assert!(
        cli(
            &data,
            &[
                "cash",
                "pay",
                "--id",
                PERSON_ID,
                "--entitlement",
                "ENT-CASH-1"
            ]
        )
        .status
        .success()
    );
    let report = stdout(&cli(
        &data,
        &["--lang", "fr", "cash", "close", "--counted", "7000"],
    ));
    assert!(report.contains("RAPPORT DE CAISSE"), "{report}");
    assert!(report.contains("Versé (1)"), "{report}");
    assert!(report.contains("7\u{a0}000,00\u{a0}KES"), "{report}");
    assert!(!report.contains("Variance"), "{report}");
}

/// A server that enrols any code, then answers every other request with 503.
fn enrols_then_fails() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            while reader.read_line(&mut head).unwrap() > 0 && !head.ends_with("\r\n\r\n") {
                if let Some(value) = head.lines().last().and_then(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                }) {
                    length = value.parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let (status, body) = if head.starts_with("POST /v1/terminal/enroll ") {
                let (root_kid, root_key) = root();
                let answer = lastmile_shared::sync::EnrollResponse {
                    device: lastmile_shared::id::DeviceId::parse(DEVICE).unwrap(),
                    device_kid: kid("term-0001-k1"),
                    merchant: None,
                    site: None,
                    root_kid,
                    root_public_key: serde_bytes::ByteBuf::from(
                        root_key.verifying_key().to_bytes().to_vec(),
                    ),
                    server_time: wall_clock(),
                };
                ("200 OK", lastmile_shared::sync::to_cbor(&answer))
            } else {
                ("503 Service Unavailable", Vec::new())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/cbor\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    url
}

#[test]
fn a_failed_first_sync_says_the_terminal_is_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let url = enrols_then_fails();
    let output = cli(
        dir.path(),
        &[
            "--json",
            "enroll",
            "--server",
            &url,
            "--code",
            "ONE-TIME-42",
        ],
    );
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    let value = json(&output);
    assert_eq!(value["code"], "first_sync_failed");
    let message = value["message"].as_str().unwrap();
    assert!(
        message.starts_with("The terminal is enrolled, but its first sync failed:")
            && message.ends_with("Run sync to finish."),
        "{message}"
    );
    let status = json(&cli(dir.path(), &["--json", "status"]));
    assert_eq!(status["device"], DEVICE);
}

#[test]
fn status_labels_follow_the_language_and_an_unknown_language_is_refused() {
    let (_dir, data) = setup();
    assert!(
        cli(&data, &["cash", "open", "--float", "10000"])
            .status
            .success()
    );
    // Each line of `status`, in order, begins with its label from the catalogue.
    let labels = [
        "Device: {value}",
        "Merchant: {value}",
        "Site: {value}",
        "Operator: {value}",
        "Pending: {n} entries, {value}",
        "Log: {n} entries, confirmed up to {seq}",
        "Last sync: {value}",
        "Limits left ({currency}): {value} value, {n} entries, {h} h {m} min offline; per voucher {max}",
        "Cash session {n} open since {since}: float {float}, {payouts} payout(s)",
    ];
    for language in Language::ALL {
        let status = stdout(&cli(&data, &["--lang", language.code(), "status"]));
        let lines: Vec<&str> = status.lines().collect();
        assert_eq!(lines.len(), labels.len(), "{}:\n{status}", language.code());
        for (line, msgid) in lines.iter().zip(labels) {
            let template = i18n::translate(language, msgid);
            let label = &template[..template.find('{').unwrap_or(template.len())];
            assert!(
                line.starts_with(label),
                "{}: {line:?} does not start with {label:?}",
                language.code()
            );
        }
    }

    for unknown in ["xx", "english", "de_DE.UTF-8"] {
        let refused = cli(&data, &["--lang", unknown, "status"]);
        assert_eq!(refused.status.code(), Some(2), "{unknown}");
        assert!(
            stderr(&refused).contains(&format!("unknown language {unknown:?}")),
            "{unknown}: {}",
            stderr(&refused)
        );
    }
}

/// The store's bytes with everything committed in the main file: the WAL
/// is checkpointed and truncated first, so that two snapshots compare what
/// is stored, not where SQLite happens to hold it.
fn database_bytes(data: &std::path::Path) -> Vec<u8> {
    let path = data.join("terminal.sqlite3");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint could not complete");
    drop(conn);
    let wal = data.join("terminal.sqlite3-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL still holds frames"
    );
    std::fs::read(&path).unwrap()
}

/// Runs `run` (a `redeem --check`) and asserts the database is byte for
/// byte what it was before; returns its output.
fn check_changes_nothing(
    data: &std::path::Path,
    run: impl FnOnce() -> std::process::Output,
) -> std::process::Output {
    let before = database_bytes(data);
    let output = run();
    // Compared with `assert!`: a failing `assert_eq!` would print megabytes.
    assert!(
        database_bytes(data) == before,
        "redeem --check changed the database: {output:?}"
    );
    output
}

/// Redeems all of `qr` for real: whatever the checks did, nothing was spent.
fn still_unspent(data: &std::path::Path, qr: &str, extra: &[&str], minor: i64) {
    let output = cli(
        data,
        &[&["--json", "redeem", "--qr", qr][..], extra].concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(json(&output)["receipt"]["item"]["amount"]["minor"], minor);
}

#[test]
fn check_from_qr_changes_nothing_and_honours_the_amount() {
    let (_dir, data) = setup();
    let qr = voucher("V-CHK-QR", 10_000, RedemptionMode::Partial, wall_clock());
    let output = check_changes_nothing(&data, || {
        cli(
            &data,
            &[
                "--json", "redeem", "--check", "--qr", &qr, "--amount", "40.50",
            ],
        )
    });
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(json(&output)["full_redemption"]["Ok"]["minor"], 4_050);
    let output = check_changes_nothing(&data, || {
        cli(
            &data,
            &["redeem", "--check", "--qr", &qr, "--amount", "100.01"],
        )
    });
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        stdout(&output).contains("Only KES 100.00 is left"),
        "{output:?}"
    );
    still_unspent(&data, &qr, &[], 10_000);
}

#[test]
fn check_from_a_qr_file_changes_nothing() {
    let (dir, data) = setup();
    let now = wall_clock();
    let good = voucher("V-CHK-F1", 2_000, RedemptionMode::SingleUse, now);
    let file = dir.path().join("batch.txt");
    std::fs::write(
        &file,
        [good.as_str(), "", "not a voucher", &good].join("\n"),
    )
    .unwrap();
    let output = check_changes_nothing(&data, || {
        cli(
            &data,
            &[
                "--json",
                "redeem",
                "--check",
                "--qr-file",
                file.to_str().unwrap(),
            ],
        )
    });
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let results: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let oks: Vec<bool> = results.iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    // The same voucher twice is redeemable twice: the first check spent nothing.
    assert_eq!(oks, [true, false, true], "{results:?}");
    assert_eq!(results[0]["check"]["full_redemption"]["Ok"]["minor"], 2_000);
    assert_eq!(results[1]["code"], "not_a_voucher");
    still_unspent(&data, &good, &[], 2_000);
}

#[test]
fn check_from_stdin_changes_nothing() {
    let (_dir, data) = setup();
    let qr = voucher("V-CHK-STDIN", 3_000, RedemptionMode::Partial, wall_clock());
    let output = check_changes_nothing(&data, || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
            .env("LASTMILE_TERMINAL_DIR", &data)
            .args(["redeem", "--check", "--qr-file", "-", "--amount", "10"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{qr}").unwrap();
        child.wait_with_output().unwrap()
    });
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        stdout(&output).trim(),
        "line 1: checked: Can redeem KES 10.00."
    );
    still_unspent(&data, &qr, &[], 3_000);
}

#[test]
fn check_from_a_serial_scanner_changes_nothing() {
    let Some(pair) = pty::PtyPair::start("check-scanner") else {
        return;
    };
    let (_dir, data) = setup();
    let qr = voucher("V-CHK-SCAN", 2_500, RedemptionMode::SingleUse, wall_clock());
    let output = check_changes_nothing(&data, || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
            .env("LASTMILE_TERMINAL_DIR", &data)
            .args(["--json", "redeem", "--check", "--scanner", &pair.device()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("scanner connected") {
            line.clear();
            assert_ne!(
                stderr.read_line(&mut line).unwrap(),
                0,
                "no connect message"
            );
        }
        pair.write(format!("{qr}\r\n").as_bytes());
        child.wait_with_output().unwrap()
    });
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(json(&output)["full_redemption"]["Ok"]["minor"], 2_500);
    still_unspent(&data, &qr, &[], 2_500);
}

#[test]
fn check_with_an_id_changes_nothing_and_checks_the_person() {
    let (_dir, data) = setup();
    let now = wall_clock();
    let qr = bound_voucher("V-CHK-ID", now);
    let someone_else = check_changes_nothing(&data, || {
        cli(
            &data,
            &[
                "--json",
                "redeem",
                "--check",
                "--qr",
                &qr,
                "--id",
                "KE-87654321",
            ],
        )
    });
    assert_eq!(someone_else.status.code(), Some(3), "{someone_else:?}");
    assert_eq!(
        json(&someone_else)["full_redemption"]["Err"],
        "wrong_beneficiary"
    );
    let holder = check_changes_nothing(&data, || {
        cli(
            &data,
            &[
                "--json", "redeem", "--check", "--qr", &qr, "--id", PERSON_ID,
            ],
        )
    });
    assert_eq!(holder.status.code(), Some(0), "{holder:?}");
    assert_eq!(json(&holder)["full_redemption"]["Ok"]["minor"], 10_000);
    still_unspent(&data, &qr, &["--id", PERSON_ID], 10_000);
}
