//! Two `lastmile-server` processes over one PostgreSQL database, fed
//! concurrently by several terminals, each batch sent to both at once: no
//! entry lost, none applied twice, voucher totals exact. And one of them
//! SIGKILLed again and again while it writes payment batches into a bank's
//! outbox, before and after each file is renamed into place: every file
//! sent once, every payment in one file once, answered once.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestTerminal};
use lastmile_server::issuance::{self, IssueOptions};
use lastmile_server::keys::KeyDir;
use lastmile_server::payments::transport;
use lastmile_server::storage::{DatabaseUrl, Storage};
use lastmile_shared::sync::EntryOutcome;
use lastmile_tests::Bank;

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

fn start(data_dir: &Path, url: &str) -> Process {
    start_with(data_dir, url, &[])
}

/// A `serve` process with more environment variables.
fn start_with(data_dir: &Path, url: &str, env: &[(&str, &str)]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lastmile-server"))
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["--database", url, "serve", "--listen", "127.0.0.1:0"])
        .env("LASTMILE_LOG", "warn")
        .envs(env.iter().copied())
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

/// Payment batches sent while their sender is killed: how many, of how
/// many payments each (enough for a debug build to take a visible time
/// writing each file), and the short lease after which a killed
/// instance's claim is taken again.
const KILL_BATCHES: usize = 3;
const KILL_BATCH_PAYMENTS: usize = 2_000;
const KILL_LEASE_MS: u64 = 2_000;
/// SIGKILL.
const SIGKILL: i32 = 9;

/// What an outbox holds: the files a bank reads (`*.xml`), the temporary
/// `.NAME.<writer>.partial` of a file being written, and anything else.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Outbox {
    xml: BTreeSet<String>,
    partial: BTreeSet<String>,
    other: BTreeSet<String>,
}

fn outbox(dir: &Path) -> Outbox {
    let mut seen = Outbox::default();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".partial") {
            seen.partial.insert(name);
        } else if !name.starts_with('.') && name.ends_with(".xml") {
            seen.xml.insert(name);
        } else {
            seen.other.insert(name);
        }
    }
    seen
}

/// Where in its send the instance is killed. Its worker claims every
/// batch's send at once and runs them in one transaction, one file after
/// the other, so a file renamed into place stays uncommitted until the
/// last one is written and the transaction commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// Writing a file, after `renamed` others were renamed into place.
    Writing { renamed: usize },
    /// Every file renamed into place, the transaction not committed yet.
    AllRenamed,
}

impl Moment {
    /// Whether the outbox shows the moment. The next writer of the file
    /// the last killed instance left half-written removes that leftover
    /// before it writes its own, so a leftover never makes the counts
    /// match early.
    fn reached(self, seen: &Outbox) -> bool {
        match self {
            Moment::Writing { renamed } => seen.xml.len() == renamed && !seen.partial.is_empty(),
            Moment::AllRenamed => seen.xml.len() == KILL_BATCHES && seen.partial.is_empty(),
        }
    }
}

/// A programme of bank beneficiaries, its cycle approved and released, a
/// bank rail writing files of [`KILL_BATCH_PAYMENTS`] into `bank`'s
/// outbox, and the cycle's batches prepared and approved by two people:
/// their sends are queued. Returns the cycle and the batches.
fn approved_batches(app: &TestApp, bank: &Bank) -> (i64, Vec<i64>) {
    use crate::ledger::ok;
    use crate::payments::{add_bank_rail, approve, prepare_batches, released_cycle};
    use lastmile_server::people::Role::Finance;
    let people = KILL_BATCHES * KILL_BATCH_PAYMENTS;
    let mut file = String::from("ID,name,national_id,site,bank_code,account_number,channels\n");
    for i in 0..people {
        file.push_str(&format!(
            "B-{i:05},Bank Person {i},{},site-1,KCB,{},bank\n",
            20_000_000 + i,
            1_000_000 + i
        ));
    }
    let (cycle, released) = released_cycle(app, "P-kill", &["bank"], &file, "10.00");
    assert_eq!(released["awaiting_payment"], people as u64, "{released}");
    add_bank_rail(app, bank, KILL_BATCH_PAYMENTS);
    let (prepared, batches) = prepare_batches(app, cycle);
    assert_eq!(batches.len(), KILL_BATCHES, "{prepared}");
    for batch in &batches {
        approve(
            app,
            &ok(
                app,
                Finance,
                "POST",
                &format!("/v1/hq/payment-batches/{batch}/submission"),
                serde_json::json!({ "reason": "January transfers" }),
            ),
        );
    }
    (cycle, batches)
}

/// The state of each batch, and how many files it exchanged.
fn batch_states(app: &TestApp, batches: &[i64]) -> Vec<(String, usize)> {
    use lastmile_server::payments::batches as payment_batches;
    batches
        .iter()
        .map(|&b| {
            let state = payment_batches::get(&app.storage, b).unwrap().row.state;
            (
                state,
                payment_batches::files(&app.storage, b).unwrap().len(),
            )
        })
        .collect()
}

/// Every payment of the cycle, with its timeline's event kinds in order.
fn timelines(
    app: &TestApp,
    cycle: i64,
) -> Vec<(lastmile_server::storage::payments::PaymentRow, Vec<String>)> {
    use lastmile_server::payments::tracking;
    use lastmile_server::storage::payments::{self as table, PaymentFilter};
    use lastmile_server::storage::sql::Page;
    let filter = PaymentFilter {
        batch: None,
        cycle: Some(cycle),
        state: None,
        exceptions_only: false,
    };
    let mut payments = Vec::new();
    loop {
        let page = Page {
            limit: 500,
            offset: payments.len() as u64,
        };
        let rows = tracking::list(&app.storage, &filter, page).unwrap();
        if rows.is_empty() {
            break;
        }
        payments.extend(rows);
    }
    app.storage
        .transaction(|tx| {
            payments
                .into_iter()
                .map(|p| {
                    let events = table::events(tx.sql(), &p.payment, 1_000)?;
                    Ok((p, events.into_iter().map(|e| e.kind).collect()))
                })
                .collect::<Result<Vec<_>, lastmile_server::storage::StorageError>>()
        })
        .unwrap()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// Issue 16: a server instance killed mid-send, again and again, at a
/// different moment each time, then two instances finishing the job; the
/// bank answers once. Nothing is sent twice.
#[test]
fn an_instance_killed_mid_send_sends_each_batch_once() {
    let started = Instant::now();
    let app = common::spawn_api(Backend::Postgres);
    let DatabaseUrl::Postgres(url) = &app.database else {
        unreachable!()
    };
    let bank = Bank::new();
    let out = &bank.outbox;
    let (cycle, batches) = approved_batches(&app, &bank);
    let payments = KILL_BATCHES * KILL_BATCH_PAYMENTS;
    eprintln!("set up in {:?}", started.elapsed());
    let lease = KILL_LEASE_MS.to_string();
    let env = [("LASTMILE_JOB_LEASE_MS", lease.as_str())];
    let lease = Duration::from_millis(KILL_LEASE_MS);

    // Instance A alone, killed at each moment in turn; each new A takes the
    // dead one's claim once its lease expires and starts over.
    let mut moments: Vec<Moment> = (0..KILL_BATCHES)
        .map(|renamed| Moment::Writing { renamed })
        .collect();
    moments.push(Moment::AllRenamed);
    let mut cut_short = BTreeMap::new();
    for moment in moments {
        let mut a = start_with(app.dir.path(), url, &env);
        let since = Instant::now();
        let deadline = since + lease + Duration::from_secs(30);
        let seen = loop {
            let seen = outbox(out);
            if moment.reached(&seen) {
                break seen;
            }
            assert!(
                Instant::now() < deadline,
                "instance A never reached {moment:?}: {seen:?}"
            );
            std::thread::sleep(Duration::from_micros(500));
        };
        a.child.kill().unwrap();
        let status = a.child.wait().unwrap();
        eprintln!("killed at {moment:?} after {:?}: {seen:?}", since.elapsed());
        assert_eq!(
            status.signal(),
            Some(SIGKILL),
            "instance A ran until it was killed at {moment:?}: {status}"
        );
        let after = outbox(out);
        match moment {
            Moment::Writing { renamed } => {
                assert_eq!(after.xml.len(), renamed, "{moment:?}: {after:?}");
                assert_eq!(
                    after.partial.len(),
                    1,
                    "instance A died with a file half-written: {after:?}"
                );
                for name in &after.partial {
                    let bytes = std::fs::metadata(out.join(name)).unwrap().len();
                    // `.NAME.<writer>.partial`: each writer names its own.
                    let file = name
                        .strip_prefix('.')
                        .and_then(|n| n.rsplitn(3, '.').nth(2))
                        .unwrap_or_else(|| panic!("a partial file's name: {name}"));
                    cut_short.insert(file.to_owned(), bytes);
                }
            }
            Moment::AllRenamed => {
                assert_eq!(after, seen, "nothing moved after the kill");
            }
        }
        assert_eq!(
            batch_states(&app, &batches),
            vec![("approved".to_owned(), 0); KILL_BATCHES],
            "a claim's sends commit together: the kill at {moment:?} left no batch sent \
             and no file recorded, those renamed into place included"
        );
    }

    // Instance B and A again, together, take the dead claim and finish the
    // sends. They keep the default lease: reading the bank's answers for
    // all the payments takes several seconds in a debug build, and a claim
    // of several jobs that outlasts its lease is taken by the other
    // instance, which then waits for the first one's row locks and
    // outlasts its own lease in turn, until the jobs' attempts are used up.
    let b = start(app.dir.path(), url);
    let _a = start(app.dir.path(), url);
    let since = Instant::now();
    assert!(
        common::eventually(lease + Duration::from_secs(60), || batch_states(
            &app, &batches
        )
        .iter()
        .all(|(state, _)| state == "sent")),
        "every batch is sent: {:?}",
        batch_states(&app, &batches)
    );
    eprintln!("sent by B and A in {:?}", since.elapsed());

    let finance = app.token(lastmile_server::people::Role::Finance);
    let mut names = BTreeSet::new();
    let mut end_to_end: BTreeMap<String, usize> = BTreeMap::new();
    for batch in &batches {
        let (status, shown) = common::hq_request(
            &b.base_url,
            "GET",
            &format!("/v1/hq/payment-batches/{batch}"),
            None,
            Some(finance),
        );
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["state"], "sent", "{shown}");
        let files = shown["files"].as_array().unwrap();
        assert_eq!(files.len(), 1, "batch {batch} has one file: {shown}");
        let file = &files[0];
        assert_eq!(file["direction"], "out", "{file}");
        let name = file["name"].as_str().unwrap().to_owned();
        let bytes = std::fs::read(out.join(&name)).unwrap();
        assert_eq!(
            file["sha256"],
            transport::sha256(&bytes),
            "batch {batch}: the recorded hash is that of the bytes in the outbox"
        );
        assert_eq!(file["bytes"], bytes.len() as u64, "{file}");
        if let Some(&partial) = cut_short.get(&name) {
            assert!(
                partial < bytes.len() as u64,
                "the killed instance had written {partial} of {} bytes of {name}",
                bytes.len()
            );
        }
        if let Some(xsd) = common::xsd_dir() {
            common::assert_valid_xml(&xsd, "pain.001.001.09.xsd", &out.join(&name));
        }
        let text = String::from_utf8(bytes).unwrap();
        for id in text.split("<EndToEndId>").skip(1) {
            let (id, _) = id.split_once("</EndToEndId>").unwrap();
            *end_to_end.entry(id.to_owned()).or_default() += 1;
        }
        names.insert(name);
    }
    assert_eq!(
        cut_short.len(),
        KILL_BATCHES,
        "each file was once cut short by a kill: {cut_short:?}"
    );
    let left = outbox(out);
    assert_eq!(
        left,
        Outbox {
            xml: names,
            ..Outbox::default()
        },
        "the outbox holds one file per batch, and no temporary file: each \
         send writes its file again under the same temporary name"
    );

    let sent = timelines(&app, cycle);
    assert_eq!(sent.len(), payments);
    for (payment, kinds) in &sent {
        assert_eq!(
            count(kinds, "sent"),
            1,
            "{} was sent once: {kinds:?}",
            payment.payment
        );
        assert_eq!(payment.state, "sent", "{payment:?}");
        assert_eq!(
            end_to_end.get(&payment.payment),
            Some(&1),
            "{} is in one file once",
            payment.payment
        );
    }
    assert_eq!(
        end_to_end.len(),
        payments,
        "the files hold the cycle's payments and nothing else"
    );

    // The bank answers each file once; the instances read its answers.
    let printed = bank.answer_once(100, "AC01,AC04,AM04", 16);
    let answered = printed.lines().count();
    assert_eq!(answered, KILL_BATCHES, "the bank answered each file once");
    let since = Instant::now();
    let open = || -> i64 {
        lastmile_server::payments::tracking::totals(&app.storage, None, Some(cycle), None)
            .unwrap()
            .iter()
            .filter(|t| !["paid", "failed"].contains(&t.state.as_str()))
            .map(|t| t.payments)
            .sum()
    };
    assert!(
        common::eventually(Duration::from_secs(60), || open() == 0),
        "every payment is paid or failed: {} are not",
        open()
    );
    eprintln!("answers read in {:?}", since.elapsed());
    let answered = timelines(&app, cycle);
    let mut failed = 0;
    for (payment, kinds) in &answered {
        assert_eq!(count(kinds, "sent"), 1, "{}: {kinds:?}", payment.payment);
        assert_eq!(
            count(kinds, "paid") + count(kinds, "failed"),
            1,
            "{} was paid or failed once: {kinds:?}",
            payment.payment
        );
        failed += usize::from(payment.state == "failed");
    }
    assert!(
        0 < failed && failed < payments,
        "the bank paid some and refused some: {failed} failed"
    );
    let (status, verification) = common::hq_request(
        &b.base_url,
        "GET",
        "/v1/hq/ledger/verification",
        None,
        Some(finance),
    );
    assert_eq!(status, 200, "{verification}");
    assert_eq!(verification["problem_count"], 0, "{verification}");
    let (status, accounts) = common::hq_request(
        &b.base_url,
        "GET",
        "/v1/hq/ledger/accounts?programme=P-kill&limit=500",
        None,
        Some(finance),
    );
    assert_eq!(status, 200, "{accounts}");
    let account = |id: &str| {
        accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no account {id} in {accounts}"))
    };
    let delivered = account("delivered/P-kill/KES");
    assert_eq!(
        delivered["credits_posted"],
        (payments - failed) as i64 * 1_000,
        "each payment paid is delivered once: {delivered}"
    );
    assert_eq!(delivered["credits_pending"], 0, "{delivered}");
    let obligations = account("obligations/P-kill/2027-01/KES");
    assert_eq!(
        obligations["debits_pending"], 0,
        "nothing is still reserved: {obligations}"
    );
    eprintln!("done in {:?}", started.elapsed());
}
