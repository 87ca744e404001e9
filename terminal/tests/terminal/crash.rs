//! Crash test: SIGKILL the real binary at random moments during bursts of
//! redemptions, then check that every redemption it reported as done is in
//! the log exactly once and that the chain verifies.
//!
//! `LASTMILE_CRASH_RUNS` sets the number of runs (30 by default, as in CI;
//! `scripts/crash-test.sh` runs hundreds), `LASTMILE_CRASH_SEED` replays a
//! run. The seed is printed.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lastmile_shared::voucher::RedemptionMode;

/// Runs in CI.
const RUNS_DEFAULT: u32 = 30;
/// New vouchers per burst.
const BURST_NEW_VOUCHERS: usize = 200;
/// Vouchers from earlier bursts mixed into each burst (must be refused).
const BURST_OLD_VOUCHERS: usize = 30;
/// Longest wait before the kill.
const KILL_DELAY_MS_MAX: u64 = 800;

/// xorshift64*: small, seedable, good enough to pick delays and samples.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn acknowledged_redemptions_survive_sigkill() {
    let runs: u32 = std::env::var("LASTMILE_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS_DEFAULT);
    let seed: u64 = std::env::var("LASTMILE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("crash test: {runs} runs, seed {seed} (replay with LASTMILE_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    cli_setup(dir.path());
    let data = dir.path().join("data");
    let now = wall_clock();

    let mut issued: Vec<String> = Vec::new();
    let mut acknowledged: HashMap<String, u64> = HashMap::new();
    let mut kills = 0;
    let mut started = Instant::now();
    for run in 0..runs {
        let mut burst: Vec<String> = (0..BURST_NEW_VOUCHERS)
            .map(|i| format!("V-C{run}-{i}"))
            .collect();
        for _ in 0..BURST_OLD_VOUCHERS.min(issued.len()) {
            burst.push(issued[rng.below(issued.len() as u64) as usize].clone());
        }
        // Shuffle (Fisher-Yates).
        for i in (1..burst.len()).rev() {
            burst.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let file = dir.path().join("burst.txt");
        let texts: Vec<String> = burst
            .iter()
            .map(|id| voucher(id, 100, RedemptionMode::SingleUse, now))
            .collect();
        std::fs::write(&file, texts.join("\n")).unwrap();
        issued.extend((0..BURST_NEW_VOUCHERS).map(|i| format!("V-C{run}-{i}")));

        let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-terminal"))
            .env("LASTMILE_TERMINAL_DIR", &data)
            .args(["--json", "redeem", "--qr-file", file.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        std::thread::sleep(Duration::from_millis(rng.below(KILL_DELAY_MS_MAX)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let text = reader.join().unwrap();
        // Only complete lines count: a line cut by the kill was never seen.
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            if value["ok"] == true {
                let voucher = value["receipt"]["item"]["voucher"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let seq = value["receipt"]["seq"].as_u64().unwrap();
                assert!(
                    acknowledged.insert(voucher.clone(), seq).is_none(),
                    "{voucher} acknowledged twice (seed {seed})"
                );
            }
        }

        let conn = rusqlite::Connection::open(data.join("terminal.sqlite3")).unwrap();
        let mut statement = conn
            .prepare("SELECT seq, credential FROM log_entries WHERE kind = 'voucher_redeemed'")
            .unwrap();
        let logged: Vec<(u64, String)> = statement
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut seen = HashSet::new();
        for (seq, credential) in &logged {
            assert!(
                seen.insert(credential.clone()),
                "{credential} is in the log twice (entry {seq}, seed {seed})"
            );
        }
        let by_credential: HashMap<&str, u64> =
            logged.iter().map(|(s, c)| (c.as_str(), *s)).collect();
        for (voucher, seq) in &acknowledged {
            assert_eq!(
                by_credential.get(format!("voucher:{voucher}").as_str()),
                Some(seq),
                "{voucher} was acknowledged as entry {seq} but is not in the log (run {run}, seed {seed})"
            );
        }
        if run % 10 == 9 || run + 1 == runs {
            let verify = cli(&data, &["log", "verify"]);
            assert!(
                verify.status.success(),
                "log verify after run {run} (seed {seed}): {verify:?}"
            );
            println!(
                "after {} runs: {kills} kills, {} acknowledged, {} logged, {:?}",
                run + 1,
                acknowledged.len(),
                logged.len(),
                started.elapsed()
            );
            started = Instant::now();
        }
    }
    println!(
        "crash test done: {runs} runs, {kills} kills, {} acknowledged redemptions all in the log once; seed {seed}",
        acknowledged.len()
    );
    assert!(kills > 0, "no run was killed; the bursts end too fast");
}
