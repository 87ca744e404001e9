//! Two `lastmile-server` processes over one PostgreSQL database, fed
//! concurrently by several terminals, each batch sent to both at once: no
//! entry lost, none applied twice, voucher totals exact.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::{Backend, TestTerminal};
use lastmile_server::issuance::{self, IssueOptions};
use lastmile_server::keys::KeyDir;
use lastmile_server::storage::{DatabaseUrl, Storage};
use lastmile_shared::sync::EntryOutcome;

const DEVICES: usize = 4;
const ENTRIES_PER_DEVICE: u64 = 200;
const BATCH_ENTRIES: u64 = 25;
const VOUCHERS: usize = 5;

/// A server process, killed when dropped.
struct Process {
    child: Child,
    base_url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path, url: &str) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-server"))
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["--database", url, "serve", "--listen", "127.0.0.1:0"])
        .env("LASTMILE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting lastmile-server");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Process { child, base_url }
}

#[test]
fn two_server_processes_over_one_postgres_apply_every_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = common::fresh_database(Backend::Postgres, dir.path());
    let DatabaseUrl::Postgres(url) = &database else {
        unreachable!()
    };
    let storage = Storage::open(&database).unwrap();
    let keys = KeyDir::new(dir.path());
    common::prepare(&storage, &keys);
    let csv = dir.path().join("vouchers.csv");
    let mut text =
        String::from("beneficiary_id,name,amount,currency,programme,valid_from,valid_until,mode\n");
    for i in 0..VOUCHERS {
        text.push_str(&format!(
            "B-{i},Person {i},1000000.00,KES,food,2020-01-01,2099-12-31,partial\n"
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let vouchers = issuance::issue(
        &storage,
        &keys,
        &IssueOptions {
            csv,
            out: dir.path().join("out"),
            allow_partial_errors: false,
            bind_beneficiary: false,
        },
        common::now(),
    )
    .unwrap()
    .issued;

    let servers = [start(dir.path(), url), start(dir.path(), url)];
    let mut terminals = Vec::new();
    for i in 0..DEVICES {
        let code = terminals_code(&storage);
        let mut terminal = TestTerminal::enroll(&servers[i % 2].base_url, &code).unwrap();
        for n in 0..ENTRIES_PER_DEVICE {
            terminal.redeem(&vouchers[(n as usize + i) % VOUCHERS].qr_text, 1);
        }
        terminals.push(Arc::new(terminal));
    }
    let urls: Vec<String> = servers.iter().map(|s| s.base_url.clone()).collect();
    let workers: Vec<_> = terminals
        .iter()
        .map(|terminal| {
            let terminal = terminal.clone();
            let urls = urls.clone();
            std::thread::spawn(move || {
                let mut applied = 0;
                let mut start = 1;
                while start <= ENTRIES_PER_DEVICE {
                    let end = (start + BATCH_ENTRIES - 1).min(ENTRIES_PER_DEVICE);
                    // The same batch to both servers at once.
                    let answers: Vec<_> = urls
                        .iter()
                        .map(|url| {
                            let mut copy = TestTerminal {
                                base_url: url.clone(),
                                key: terminal.key.clone(),
                                enrolment: terminal.enrolment.clone(),
                                log: terminal.log.clone(),
                                cursor: terminal.cursor,
                            };
                            copy.log.retain(|e| (start..=end).contains(&e.entry.seq));
                            std::thread::spawn(move || copy.upload(start..=end))
                        })
                        .collect::<Vec<_>>()
                        .into_iter()
                        .map(|h| h.join().unwrap().expect("upload refused"))
                        .collect();
                    for answer in answers {
                        assert_eq!(answer.acknowledged_seq, end);
                        applied += answer
                            .outcomes
                            .iter()
                            .filter(|o| matches!(o, EntryOutcome::Applied { .. }))
                            .count() as u64;
                        assert!(
                            !answer
                                .outcomes
                                .iter()
                                .any(|o| matches!(o, EntryOutcome::DoubleSpend { .. }))
                        );
                    }
                    start = end + 1;
                }
                applied
            })
        })
        .collect();
    let applied: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let total = DEVICES as u64 * ENTRIES_PER_DEVICE;
    assert_eq!(applied, total, "each entry reported applied exactly once");
    assert_eq!(storage.transaction(|tx| tx.entry_count()).unwrap(), total);
    let devices = storage.transaction(|tx| tx.devices()).unwrap();
    assert!(devices.iter().all(|d| d.head_seq == ENTRIES_PER_DEVICE));
    let redeemed: i64 = vouchers
        .iter()
        .map(|v| {
            storage
                .transaction(|tx| tx.voucher(&v.voucher))
                .unwrap()
                .unwrap()
                .redeemed_minor
        })
        .sum();
    assert_eq!(redeemed, total as i64);
    assert!(storage.transaction(|tx| tx.cases()).unwrap().is_empty());
    assert!(storage.transaction(|tx| tx.alarms()).unwrap().is_empty());
}

fn terminals_code(storage: &Storage) -> String {
    lastmile_server::terminals::create_code(
        storage,
        &common::operator(),
        Some(lastmile_shared::id::MerchantId::parse("shop-1").unwrap()),
        None,
        3600,
        common::now(),
    )
    .unwrap()
    .code
}
