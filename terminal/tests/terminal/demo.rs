//! `lastmile-terminal demo --headless`: the README's run command without a
//! display. Runs the real binary, which runs the embedded server, the
//! virtual printer and the guided tour (itself running the CLI).

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn demo(dir: &Path, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
        .args(["demo", "--headless", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(extra)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("LASTMILE_TERMINAL_DIR")
        .env_remove("LASTMILE_HQ_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run lastmile-terminal demo");
    assert!(
        output.status.success(),
        "demo failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// What the tour printed, its own and its commands' error output included.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `"name": value` line of the HQ view printed by the tour.
fn hq_field(stdout: &str, name: &str) -> String {
    let key = format!("\"{name}\": ");
    stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {name} in the HQ view:\n{stdout}"))
        .trim_end_matches(',')
        .to_owned()
}

fn device(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("Device: "))
        .unwrap_or_else(|| panic!("no device in the status output:\n{stdout}"))
        .to_owned()
}

/// The tour's commands are shown in full (the program's path, every
/// argument, the data directory it uses): pasted into a shell in the same
/// directory, the ones that change nothing or can be repeated run as shown.
fn every_command_shown_runs_when_pasted(tour: &str) {
    let commands: Vec<&str> = tour.lines().filter_map(|l| l.strip_prefix("$ ")).collect();
    assert!(commands.len() >= 7, "{tour}");
    for command in &commands {
        assert!(!command.contains('…'), "an abridged command: {command}");
    }
    for step in ["scan --image", "redeem --check", "operator login", "status"] {
        let command = commands
            .iter()
            .find(|c| c.ends_with(step) || c.contains(&format!(" {step} ")))
            .unwrap_or_else(|| panic!("no `{step}` step in the tour:\n{tour}"));
        // Nothing from this test's environment tells it where the terminal is.
        let output = Command::new("sh")
            .args(["-c", command])
            .env_remove("LASTMILE_TERMINAL_DIR")
            .env_remove("LASTMILE_PIN")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "pasted `{command}`: {output:?}");
    }
}

#[test]
fn the_headless_demo_redeems_syncs_and_shows_hq_then_reuses_and_resets() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("demo");

    let first = text(&demo(&dir, &[]));
    // Everything the README promises is on disk.
    assert!(dir.join("vouchers/vouchers.pdf").is_file());
    let pngs = std::fs::read_dir(dir.join("vouchers/qr")).unwrap().count();
    assert_eq!(
        pngs,
        include_str!("../../../assets/demo/vouchers.csv")
            .lines()
            .count()
            - 1,
        "one QR PNG per demo voucher"
    );
    assert!(dir.join("receipts/job-0001.png").is_file(), "{first}");
    // Half of Amina's KES 1,250.00 was redeemed and, HQ being there,
    // confirmed before its receipt printed: the paper says CONFIRMED.
    assert!(
        first.contains("Amount                KES 625.00"),
        "{first}"
    );
    assert!(first.contains("           CONFIRMED"), "{first}");
    assert!(
        !first.contains("\n   ACCEPTED OFFLINE — PENDING\n"),
        "{first}"
    );
    assert!(first.contains("Duka la Mama Amina"), "{first}");
    assert!(first.contains("confirmed up to 1 (0 newly)"), "{first}");
    assert!(first.contains("Pending: 0 entries"), "{first}");
    assert_eq!(hq_field(&first, "redeemed_minor"), "62500");
    assert_eq!(hq_field(&first, "status"), "\"partly_redeemed\"");
    // The revoked voucher is refused (exit status 3: refused, nothing changed).
    let refusal = first
        .split("A voucher revoked at HQ is refused")
        .nth(1)
        .unwrap_or_default();
    assert!(refusal.contains("(exit status 3;"), "{first}");
    // The console's address and a demo HQ login are printed; the login is
    // the one written to hq-login, and the revocation went through maker-checker.
    let login = std::fs::read_to_string(dir.join("hq-login")).unwrap();
    let password = login.split_whitespace().nth(1).unwrap();
    assert!(first.contains("/console"), "{first}");
    assert!(
        first.contains(&format!("hq.approver or hq.finance, password {password}")),
        "{first}"
    );
    assert_eq!(login.lines().count(), 4, "{login}");
    let enrolled = device(&first);
    every_command_shown_runs_when_pasted(&first);

    // A second run reuses everything: the same terminal, the next half.
    let second = text(&demo(&dir, &[]));
    assert!(second.contains("Reusing the demo"), "{second}");
    assert_eq!(device(&second), enrolled);
    assert!(
        second.contains("Amount                KES 312.50"),
        "{second}"
    );
    assert!(second.contains("confirmed up to 2 (0 newly)"), "{second}");
    assert_eq!(hq_field(&second, "redeemed_minor"), "93750");

    // --reset starts again: a new terminal, nothing redeemed before.
    let third = text(&demo(&dir, &["--reset"]));
    assert_ne!(device(&third), enrolled);
    assert_eq!(hq_field(&third, "redeemed_minor"), "62500");
}

#[test]
fn reset_refuses_a_directory_the_demo_did_not_make() {
    let base = tempfile::tempdir().unwrap();
    std::fs::write(base.path().join("thesis.tex"), "keep me").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
        .args(["demo", "--headless", "--listen", "127.0.0.1:0", "--dir"])
        .arg(base.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("which the demo did not make"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(base.path().join("thesis.tex")).unwrap(),
        "keep me"
    );
}
