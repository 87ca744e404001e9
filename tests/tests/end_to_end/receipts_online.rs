//! A receipt prints what is true when its paper comes out. With the server
//! there, `redeem --printer` has the redemption confirmed first, so the
//! paper says CONFIRMED; with the server stopped, or listening but never
//! answering, it prints ACCEPTED OFFLINE — PENDING within the terminal's
//! confirmation deadline, and the command's output says the same as the
//! paper. Real binaries over real sockets, the paper a device file.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lastmile_tests::{Backend, Mode, NewVoucher, Server, Terminal};

/// `ONLINE_CONFIRM_DEADLINE_MS` of the terminal, plus room for a slow machine.
const DEADLINE_WITH_SLACK: Duration = Duration::from_millis(2_500 + 5_000);

/// An empty "printer" device file for one receipt.
fn paper(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, b"").expect("a device file");
    path
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// Redeems `qr` printing on `device`; returns the JSON receipt, the bytes
/// printed and how long the command took.
fn redeem_printed(
    terminal: &Terminal,
    qr: &str,
    device: &Path,
) -> (serde_json::Value, Vec<u8>, Duration) {
    let started = Instant::now();
    let printer = format!("file:{}", device.display());
    let answer = terminal
        .json(&["redeem", "--qr", qr, "--printer", &printer])
        .expect_code(0)
        .json();
    let took = started.elapsed();
    let printed = std::fs::read(device).expect("the device file");
    (answer["receipt"].clone(), printed, took)
}

#[test]
fn an_online_sale_prints_confirmed_and_an_offline_one_pending() {
    let mut server = Server::new(Backend::Sqlite);
    server.init();
    server.start();
    let terminal = Terminal::new();
    terminal.enroll(&server, "shop-1", "site-1");
    terminal.operator("amina", "4711");
    let rows: Vec<String> = (1..=3).map(|n| format!("B-{n}")).collect();
    let issued = server.issue(
        &rows
            .iter()
            .map(|b| NewVoucher {
                beneficiary: b,
                amount: "100.00",
                mode: Mode::SingleUse,
            })
            .collect::<Vec<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();

    let (receipt, printed, took) = redeem_printed(
        &terminal,
        &issued.vouchers[0].qr,
        &paper(dir.path(), "online"),
    );
    assert_eq!(receipt["status"], "confirmed", "{receipt}");
    assert!(holds(&printed, "CONFIRMED"));
    assert!(!holds(&printed, "PENDING"));
    eprintln!("online: confirmed and printed in {took:?}");

    // The server stopped: the port refuses at once.
    server.stop();
    let (receipt, printed, took) = redeem_printed(
        &terminal,
        &issued.vouchers[1].qr,
        &paper(dir.path(), "stopped"),
    );
    assert_eq!(receipt["status"], "accepted_offline_pending", "{receipt}");
    assert!(holds(&printed, "PENDING"));
    assert!(!holds(&printed, "CONFIRMED"));
    assert!(took < DEADLINE_WITH_SLACK, "{took:?}");
    eprintln!("server stopped: pending, printed in {took:?}");

    // Something listens on the server's port but never answers: the
    // deadline, not the sync's minute-long timeout, decides.
    let hung = TcpListener::bind(server.url().trim_start_matches("http://")).unwrap();
    let (receipt, printed, took) = redeem_printed(
        &terminal,
        &issued.vouchers[2].qr,
        &paper(dir.path(), "hung"),
    );
    assert_eq!(receipt["status"], "accepted_offline_pending", "{receipt}");
    assert!(holds(&printed, "PENDING"));
    assert!(took >= Duration::from_millis(2_500), "it waited: {took:?}");
    assert!(took < DEADLINE_WITH_SLACK, "{took:?}");
    eprintln!("server not answering: pending, printed in {took:?}");
    drop(hung);

    // Back online, the next sync confirms both; the papers stay as they
    // were, and a reprint (a copy) says what is true now.
    server.start();
    terminal.sync_ok();
    let copy = paper(dir.path(), "copy");
    let printer = format!("file:{}", copy.display());
    let reprint = terminal
        .json(&["receipt", "reprint", "2", "--printer", &printer])
        .expect_code(0)
        .json();
    assert_eq!(reprint["receipt"]["status"], "confirmed");
    assert_eq!(reprint["receipt"]["reprint"], true);
    let printed = std::fs::read(&copy).unwrap();
    assert!(holds(&printed, "*** COPY"));
    assert!(holds(&printed, "CONFIRMED"));
}
