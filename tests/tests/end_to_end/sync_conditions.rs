//! Sync where real deployments break it (issue 12), end to end through the
//! real binaries: a server restored from an older backup, terminals whose
//! clocks are wrong or were set back, and a 2G link.

use std::time::{Duration, Instant};

use lastmile_tests::link::Link;
use lastmile_tests::{Backend, Mode, NewVoucher, Server, Terminal, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    a_restored_server_gets_every_entry_back_with_an_alarm,
    a_terminal_the_server_lost_is_readmitted_and_sends_its_whole_log,
    terminals_with_wrong_clocks_sync,
    a_clock_set_back_blocks_redemption_until_a_sync_corrects_it,
);

const MERCHANT: &str = "shop-12";
const SITE: &str = "nairobi-3";

/// Vouchers issued per `vouchers issue` run, so each finishes well within
/// the harness's command time limit.
const ISSUE_CHUNK: usize = 200;

/// `count` single-use vouchers of `amount` each.
fn vouchers(server: &Server, count: usize, amount: &str) -> Vec<lastmile_tests::IssuedVoucher> {
    let names: Vec<String> = (0..count).map(|n| format!("B-{n:05}")).collect();
    let rows: Vec<NewVoucher<'_>> = names
        .iter()
        .map(|beneficiary| NewVoucher {
            beneficiary,
            amount,
            mode: Mode::SingleUse,
        })
        .collect();
    rows.chunks(ISSUE_CHUNK)
        .flat_map(|chunk| server.issue(chunk).vouchers)
        .collect()
}

fn alarms_of(server: &Server, kind: &str) -> Vec<Value> {
    let alarms = server.hq_get("/v1/hq/alarms");
    alarms
        .as_array()
        .expect("a list of alarms")
        .iter()
        .filter(|a| a["kind"] == kind)
        .cloned()
        .collect()
}

/// HQ restores last night's backup: the redemptions acknowledged since are
/// missing at the server, and the terminal sends them again from its log.
fn a_restored_server_gets_every_entry_back_with_an_alarm(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issued = vouchers(&server, 6, "100");
    server.start();
    let terminal = Terminal::new();
    let device = terminal.enroll(&server, MERCHANT, SITE);
    terminal.operator("amina", "1234");
    for voucher in &issued[..2] {
        terminal.redeem_ok(&voucher.qr, None);
    }
    assert_eq!(terminal.sync_ok()["acknowledged_seq"], 2);
    server.stop();
    let backup = server.backup();
    server.start();
    for voucher in &issued[2..5] {
        terminal.redeem_ok(&voucher.qr, None);
    }
    assert_eq!(terminal.sync_ok()["acknowledged_seq"], 5);
    assert_eq!(server.terminal_row(&device)["head_seq"], 5);

    server.stop();
    server.restore(&backup);
    server.start();
    assert_eq!(
        server.terminal_row(&device)["head_seq"],
        2,
        "the backup is older"
    );
    for voucher in &issued[2..] {
        assert_eq!(server.voucher(&voucher.id)["redeemed_minor"], 0);
    }
    assert_eq!(alarms_of(&server, "log_recovered"), Vec::<Value>::new());
    // One more redemption is pending: its upload meets the restored head.
    terminal.redeem_ok(&issued[5].qr, None);

    let report = terminal.sync_ok();
    assert_eq!(report["resent_from"], 3, "{report}");
    assert_eq!(report["acknowledged_seq"], 6, "{report}");
    assert_eq!(report["uploaded"], 5, "entry 6, then 3 to 6: {report}");
    assert_eq!(server.terminal_row(&device)["head_seq"], 6);
    for voucher in &issued {
        let state = server.voucher(&voucher.id);
        assert_eq!(state["redeemed_minor"], 10_000, "{}: {state}", voucher.id);
    }
    let recovered = alarms_of(&server, "log_recovered");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0]["device"], device.as_str());
    assert_eq!(recovered[0]["seq"], 3);
    let detail = recovered[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("entries 3 to 5"), "{detail}");
    let status = terminal.status();
    assert_eq!(status["pending_count"], 0, "{status}");
    // Nothing is re-sent, and no alarm raised, once the server is whole.
    let report = terminal.sync_ok();
    assert_eq!(
        (&report["uploaded"], &report["resent_from"]),
        (&json!(0), &json!(null))
    );
    assert_eq!(alarms_of(&server, "log_recovered").len(), 1);
}

/// The backup HQ restores predates the terminal's enrolment: the server
/// does not know it at all until HQ readmits it, explicitly, under its own
/// id and key; then its whole log comes back.
fn a_terminal_the_server_lost_is_readmitted_and_sends_its_whole_log(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issued = vouchers(&server, 2, "100");
    let backup = server.backup();
    server.start();
    let terminal = Terminal::new();
    let device = terminal.enroll(&server, MERCHANT, SITE);
    terminal.operator("amina", "1234");
    for voucher in &issued {
        terminal.redeem_ok(&voucher.qr, None);
    }
    assert_eq!(terminal.sync_ok()["acknowledged_seq"], 2);

    server.stop();
    server.restore(&backup);
    server.start();
    let refused = terminal.sync();
    assert_eq!(refused.expect_code(5).json()["code"], "sync_failed");
    assert!(
        refused.stdout.contains("unknown_device"),
        "{}",
        refused.stdout
    );

    let status = terminal.status();
    let key = status["device_public_key"]
        .as_str()
        .expect("the device key");
    let readmitted = server.cli(&[
        "terminals",
        "readmit",
        &device,
        "--public-key",
        key,
        "--merchant",
        MERCHANT,
        "--site",
        SITE,
    ]);
    let row = &readmitted.expect_code(0).json_lines()[0];
    assert_eq!(
        (&row["device"], &row["head_seq"]),
        (&json!(device), &json!(0))
    );
    let again = server.cli(&[
        "terminals",
        "readmit",
        &device,
        "--public-key",
        key,
        "--site",
        SITE,
    ]);
    assert_ne!(
        again.code,
        Some(0),
        "a known terminal is not readmitted twice"
    );

    let report = terminal.sync_ok();
    assert_eq!(
        (&report["resent_from"], &report["acknowledged_seq"]),
        (&json!(1), &json!(2)),
        "{report}"
    );
    for voucher in &issued {
        assert_eq!(server.voucher(&voucher.id)["redeemed_minor"], 10_000);
    }
    let recovered = alarms_of(&server, "log_recovered");
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert!(
        recovered[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("entries 1 to 2"),
        "{recovered:?}"
    );
}

/// Boards whose clocks drifted after enrolment still sync: the first
/// request is refused as stale, and its answer's time corrects the clock.
fn terminals_with_wrong_clocks_sync(backend: Backend) {
    const MINUTE: i64 = 60;
    const HOUR: i64 = 3_600;
    const DAY: i64 = 86_400;
    let skews = [6 * MINUTE, -6 * MINUTE, HOUR, -HOUR, -DAY];
    let mut server = Server::new(backend);
    server.init();
    let issued = vouchers(&server, skews.len(), "50");
    server.start();
    for (skew, voucher) in skews.into_iter().zip(&issued) {
        let terminal = Terminal::new();
        terminal.enroll(&server, MERCHANT, SITE);
        terminal.operator("amina", "1234");
        terminal.set_clock_skew(skew);
        if skew < 0 {
            // Behind the time it already saw: nothing is recorded until a
            // sync corrects the clock.
            let refused = terminal.redeem(&voucher.qr, None);
            assert_eq!(refused.expect_code(3).json()["code"], "clock_behind");
        } else {
            terminal.redeem_ok(&voucher.qr, None);
        }
        let report = terminal.sync_ok();
        let offset = report["clock_offset_s"].as_i64().expect("an offset");
        assert!(
            (offset + skew).abs() <= 5,
            "skew {skew}: offset {offset} does not undo it"
        );
        if skew < 0 {
            terminal.redeem_ok(&voucher.qr, None);
            assert_eq!(terminal.sync_ok()["acknowledged_seq"], 1, "skew {skew}");
        } else {
            assert_eq!(report["acknowledged_seq"], 1, "skew {skew}: {report}");
        }
        let state = server.voucher(&voucher.id);
        assert_eq!(state["redeemed_minor"], 5_000, "skew {skew}: {state}");
    }
    assert_eq!(alarms_of(&server, "clock_set_back"), Vec::<Value>::new());
}

/// Someone sets the clock back an hour to stretch the offline window: the
/// terminal refuses to redeem, saying why, until a sync sets it right.
fn a_clock_set_back_blocks_redemption_until_a_sync_corrects_it(backend: Backend) {
    let mut server = Server::new(backend);
    server.init();
    let issued = vouchers(&server, 2, "20");
    server.start();
    let terminal = Terminal::new();
    terminal.enroll(&server, MERCHANT, SITE);
    terminal.operator("amina", "1234");
    let first = terminal.redeem_ok(&issued[0].qr, None);
    server.stop();

    terminal.set_clock_skew(-3_600);
    let refused = terminal.redeem(&issued[1].qr, None);
    let answer = refused.expect_code(3).json();
    assert_eq!(answer["code"], "clock_behind", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains("clock is behind"), "{answer}");
    let status = terminal.status();
    assert_eq!(status["log_entries"], 1, "nothing was recorded: {status}");
    let text = terminal.cli(&["redeem", "--qr", &issued[1].qr]);
    assert!(
        text.stderr.contains("Set the clock or sync"),
        "the message says what to do: {}",
        text.stderr
    );

    server.start();
    terminal.sync_ok();
    let second = terminal.redeem_ok(&issued[1].qr, None);
    let (at_first, at_second) = (first["at"].as_i64(), second["at"].as_i64());
    assert!(at_second >= at_first, "{first} then {second}");
    assert_eq!(terminal.sync_ok()["acknowledged_seq"], 2);
    assert_eq!(alarms_of(&server, "clock_set_back"), Vec::<Value>::new());
}

/// Entries waiting behind a 2G link (8 KB/s each way).
const SLOW_LINK_ENTRIES_DEFAULT: usize = 1_000;
/// The link's rate in bytes per second.
const SLOW_LINK_BYTES_PER_SECOND: u64 = 8 * 1024;

/// A backlog syncs over a 2G link: batches sized to the link, each kept.
/// `LASTMILE_SLOW_LINK_ENTRIES` (default 1 000) sets the backlog; issue 12
/// asks for 5 000, about seven minutes at this rate.
#[test]
fn a_backlog_syncs_over_a_2g_link() {
    let entries: usize = std::env::var("LASTMILE_SLOW_LINK_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SLOW_LINK_ENTRIES_DEFAULT);
    let mut server = Server::new(Backend::Sqlite);
    server.init();
    server.cli_ok(&[
        "limits",
        "set",
        "--currency",
        lastmile_tests::CURRENCY,
        "--credential-max",
        "5000",
        "--unsynced-value-max",
        "10000000",
        "--unsynced-count-max",
        "100000",
        "--offline-hours-max",
        "72",
    ]);
    let issued = vouchers(&server, entries, "10");
    let url = server.start().to_owned();
    let link = Link::start(url.trim_start_matches("http://"));
    let terminal = Terminal::new();
    let code = server.enrolment_code(MERCHANT, SITE);
    terminal.enroll_at(&link.url(), &code, &[]);
    terminal.operator("amina", "1234");
    for voucher in &issued {
        terminal.redeem(&voucher.qr, None).expect_code(0);
    }
    assert_eq!(terminal.status()["pending_count"], entries);

    link.set_rate(SLOW_LINK_BYTES_PER_SECOND);
    let (up_before, _) = link.bytes();
    let started = Instant::now();
    // Each entry is under 700 bytes on the wire; the process is given that
    // at the link's rate, with a minute for the pull and the round trips.
    let limit = Duration::from_secs(entries as u64 * 700 / SLOW_LINK_BYTES_PER_SECOND + 60);
    let sync = terminal.cli_within(&["--json", "sync"], limit);
    let took = started.elapsed();
    let report = sync.expect_code(0).json()["sync"].clone();
    assert_eq!(report["acknowledged_seq"], entries, "{report}");
    assert_eq!(
        report["uploaded"], entries,
        "each entry sent once: {report}"
    );
    let (up_after, _) = link.bytes();
    let sent = up_after - up_before;
    // Bounded by the bytes actually sent at the link's rate, plus a minute.
    let bound = Duration::from_secs(sent / SLOW_LINK_BYTES_PER_SECOND + 60);
    assert!(
        took <= bound,
        "{entries} entries took {took:?} (bound {bound:?})"
    );
    let progress = sync
        .stderr
        .lines()
        .filter(|l| l.starts_with("upload: "))
        .count();
    assert!(progress >= 2, "progress for each batch: {}", sync.stderr);
    eprintln!(
        "{entries} entries, {sent} bytes up ({} per entry) in {took:.1?} at {SLOW_LINK_BYTES_PER_SECOND} B/s, {progress} batches",
        sent / entries as u64
    );
    assert_eq!(terminal.status()["pending_count"], 0);
}
