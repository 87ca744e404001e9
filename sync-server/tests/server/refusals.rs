//! A refused request changes nothing: every refusal path of the terminal
//! routes (authentication, revocation, limits, malformed bodies, sequence
//! errors, enrolment) leaves every table exactly as it was, on SQLite and
//! PostgreSQL. The one documented exception is a sequence conflict, which
//! adds its alarm and nothing else.

use crate::common;

use common::{Backend, SignOptions, TestApp, TestTerminal, spawn_app};
use lastmile_server::keys;
use lastmile_server::storage::DatabaseUrl;
use lastmile_shared::device_log::{EntryHash, LogEntry, LogEvent, SignedEntry};
use lastmile_shared::id::{IssuerId, KeyId, ProgrammeId, VoucherId};
use lastmile_shared::money::Money;
use lastmile_shared::sync::{self, UploadRequest};
use lastmile_shared::voucher::{self, RedemptionMode, VoucherClaims};
use serde_bytes::ByteBuf;

lastmile_tests::on_both_backends!(every_refused_request_leaves_the_database_unchanged);

/// Every row of every table, as text, sorted: `(table, rows)`.
type Dump = Vec<(String, Vec<String>)>;

/// The dump without `jobs`: the server's background worker enqueues and
/// runs its periodic jobs on its own schedule, whatever the requests do.
fn dump(database: &DatabaseUrl) -> Dump {
    let mut dump = dump_all(database);
    dump.retain(|(table, _)| table != "jobs");
    dump
}

fn dump_all(database: &DatabaseUrl) -> Dump {
    match database {
        DatabaseUrl::Sqlite(path) => {
            let db = rusqlite::Connection::open(path).unwrap();
            let tables: Vec<String> = db
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            tables
                .into_iter()
                .map(|table| {
                    let columns: Vec<String> = db
                        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                        .unwrap()
                        .query_map([], |row| row.get(0))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let row_text = columns
                        .iter()
                        .map(|c| format!("quote(\"{c}\")"))
                        .collect::<Vec<_>>()
                        .join(" || ',' || ");
                    let mut rows: Vec<String> = db
                        .prepare(&format!("SELECT {row_text} FROM \"{table}\""))
                        .unwrap()
                        .query_map([], |row| row.get(0))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    rows.sort();
                    (table, rows)
                })
                .collect()
        }
        DatabaseUrl::Postgres(url) => {
            let mut db = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
            let tables: Vec<String> = db
                .query(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                     ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            tables
                .into_iter()
                .map(|table| {
                    let mut rows: Vec<String> = db
                        .query(&format!("SELECT t::text FROM \"{table}\" t"), &[])
                        .unwrap()
                        .iter()
                        .map(|row| row.get(0))
                        .collect();
                    rows.sort();
                    (table, rows)
                })
                .collect()
        }
    }
}

/// The dump without `table`, nor its row in SQLite's AUTOINCREMENT counters.
fn without(dump: &Dump, table: &str) -> Dump {
    dump.iter()
        .filter(|(t, _)| t != table)
        .map(|(t, rows)| {
            let rows = rows
                .iter()
                .filter(|row| !(t == "sqlite_sequence" && row.starts_with(&format!("'{table}',"))))
                .cloned()
                .collect();
            (t.clone(), rows)
        })
        .collect()
}

fn rows<'d>(dump: &'d Dump, table: &str) -> &'d [String] {
    &dump.iter().find(|(t, _)| t == table).unwrap().1
}

/// A voucher signed with the server's issuer key that its database does
/// not hold (issued by another HQ instance of the programme): the ingest
/// learns it from its credential, which is a write a refusal must not do.
fn voucher_issued_elsewhere(app: &TestApp) -> String {
    let (_, signer) = app
        .storage
        .transaction(|tx| keys::active_issuer(tx, &app.keys))
        .unwrap();
    let claims = VoucherClaims {
        id: VoucherId::parse("V-ELSEWHERE-1").unwrap(),
        issuer: IssuerId::parse("lastmile-test").unwrap(),
        programme: ProgrammeId::parse("food").unwrap(),
        value: Money::new(5000, common::kes()),
        issued_at: common::now(),
        valid_from: common::now() - 60,
        valid_until: common::now() + 86_400,
        mode: RedemptionMode::Partial,
        beneficiary: None,
        merchants: Vec::new(),
        sites: Vec::new(),
    };
    voucher::encode(&claims, &signer.kid, &signer.key)
}

/// `entry` re-signed after `change`.
fn altered(terminal: &TestTerminal, seq: u64, change: impl FnOnce(&mut LogEntry)) -> ByteBuf {
    let mut entry = terminal.log[usize::try_from(seq - 1).unwrap()]
        .entry
        .clone();
    change(&mut entry);
    ByteBuf::from(SignedEntry::sign(entry, &terminal.enrolment.device_kid, &terminal.key).bytes)
}

fn upload_body(entries: Vec<ByteBuf>) -> Vec<u8> {
    sync::to_cbor(&UploadRequest {
        entries,
        acknowledged_seq: 0,
    })
}

fn every_refused_request_leaves_the_database_unchanged(backend: Backend) {
    let app = spawn_app(backend);
    let issued = app.issue(2, "20.00", "single_use");
    let elsewhere = voucher_issued_elsewhere(&app);
    let mut terminal = app.terminal("shop-1", "site-1");
    let mut revoked = app.terminal("shop-1", "site-1");
    terminal.redeem(&issued[0].qr_text, 2000);
    terminal.upload(1..=1).unwrap();
    terminal.redeem(&issued[1].qr_text, 2000);
    terminal.redeem(&elsewhere, 1000);
    revoked.redeem(&elsewhere, 1000);
    let (status, _) = app.hq_post(
        &format!("/v1/hq/terminals/{}/revoke", revoked.device()),
        serde_json::json!({}),
    );
    assert_eq!(status, 200);
    let path = "/v1/terminal/upload";
    let pending = upload_body(terminal.entries(2..=3));
    let kid = terminal.enrolment.device_kid.clone();
    let signed = |body: &[u8], options: &SignOptions| terminal.signed_post(path, body, options);
    let forger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let mut deep = vec![0x81u8; 64];
    deep.push(0x00);
    let mut many = vec![0xa1, 0x67];
    many.extend_from_slice(b"entries");
    many.extend_from_slice(&[0x9a, 0x00, 0x01, 0x86, 0xa0]);
    many.extend(std::iter::repeat_n(0x40u8, 100_000));
    let tampered_headers =
        common::sign_headers(path, &pending, &kid, &terminal.key, &SignOptions::default());
    let mut malformed_headers = tampered_headers.clone();
    malformed_headers[2].1 = "sig1=:not base64:".to_owned();

    let before = dump(&app.database);
    assert!(
        rows(&before, "vouchers")
            .iter()
            .all(|row| !row.contains("V-ELSEWHERE-1"))
    );
    type Attempt<'a> = Box<dyn Fn() -> Result<Vec<u8>, common::Refused> + 'a>;
    let attempts: Vec<(&str, Attempt<'_>, u16, &str)> = vec![
        (
            "unsigned",
            Box::new(|| common::post(&app.base_url, path, &pending, &[])),
            401,
            "unsigned_request",
        ),
        (
            "a malformed signature",
            Box::new(|| common::post(&app.base_url, path, &pending, &malformed_headers)),
            401,
            "malformed_signature",
        ),
        (
            "forged",
            Box::new(|| {
                let options = SignOptions {
                    key: Some(forger.clone()),
                    ..SignOptions::default()
                };
                signed(&pending, &options)
            }),
            401,
            "bad_request_signature",
        ),
        (
            "an unknown device",
            Box::new(|| {
                let options = SignOptions {
                    key: Some(forger.clone()),
                    kid: Some(KeyId::parse("T-000000000000").unwrap()),
                    ..SignOptions::default()
                };
                signed(&pending, &options)
            }),
            401,
            "unknown_device",
        ),
        (
            "stale",
            Box::new(|| {
                let options = SignOptions {
                    created: Some(common::now() - 3600),
                    ..SignOptions::default()
                };
                signed(&pending, &options)
            }),
            401,
            "stale_request",
        ),
        (
            "a body that does not match its digest",
            Box::new(|| {
                common::post(
                    &app.base_url,
                    path,
                    &upload_body(terminal.entries(2..=2)),
                    &tampered_headers,
                )
            }),
            400,
            "digest_mismatch",
        ),
        (
            "an upload from a revoked terminal",
            Box::new(|| {
                revoked.signed_post(
                    path,
                    &upload_body(revoked.entries(1..=1)),
                    &SignOptions::default(),
                )
            }),
            403,
            "device_revoked",
        ),
        (
            "a pull from a revoked terminal",
            Box::new(|| {
                revoked.signed_post(
                    "/v1/terminal/pull",
                    &sync::to_cbor(&sync::PullRequest {
                        cursor: sync::SyncCursor::default(),
                        balances_max: None,
                        open_cases: Vec::new(),
                    }),
                    &SignOptions::default(),
                )
            }),
            403,
            "device_revoked",
        ),
        (
            "not CBOR",
            Box::new(|| signed(b"not cbor", &SignOptions::default())),
            400,
            "bad_body",
        ),
        (
            "CBOR nested too deep",
            Box::new(|| signed(&deep, &SignOptions::default())),
            400,
            "too_deep",
        ),
        (
            "100 000 empty byte strings",
            Box::new(|| signed(&many, &SignOptions::default())),
            413,
            "too_many_items",
        ),
        (
            "a body over the size limit",
            Box::new(|| {
                signed(
                    &vec![0x40; sync::REQUEST_BODY_BYTES_MAX + 1],
                    &SignOptions::default(),
                )
            }),
            413,
            "body_too_large",
        ),
        (
            "too many entries",
            Box::new(|| {
                let entries =
                    vec![terminal.entries(2..=2)[0].clone(); sync::UPLOAD_ENTRIES_MAX + 1];
                signed(&upload_body(entries), &SignOptions::default())
            }),
            413,
            "too_many_entries",
        ),
        (
            "another terminal's entry",
            Box::new(|| {
                signed(
                    &upload_body(revoked.entries(1..=1)),
                    &SignOptions::default(),
                )
            }),
            422,
            "bad_entry",
        ),
        (
            "an entry whose signature does not verify",
            Box::new(|| {
                let mut entries = terminal.entries(2..=3);
                let last = entries[1].len() - 1;
                entries[1][last] ^= 1;
                signed(&upload_body(entries), &SignOptions::default())
            }),
            422,
            "bad_entry_signature",
        ),
        (
            "a gap before the entries",
            Box::new(|| {
                signed(
                    &upload_body(terminal.entries(3..=3)),
                    &SignOptions::default(),
                )
            }),
            409,
            "sequence_gap",
        ),
        (
            "a broken chain",
            Box::new(|| {
                let unlinked = altered(&terminal, 3, |e| e.prev = EntryHash([7; 32]));
                let entries = vec![terminal.entries(2..=2)[0].clone(), unlinked];
                signed(&upload_body(entries), &SignOptions::default())
            }),
            409,
            "chain_broken",
        ),
        (
            "an enrolment with an unknown code",
            Box::new(|| TestTerminal::enroll(&app.base_url, "NO-SUCH-CODE").map(|_| Vec::new())),
            404,
            "unknown_code",
        ),
    ];
    for (what, attempt, status, code) in attempts {
        let refused = attempt().expect_err(what);
        assert_eq!(
            (refused.status, refused.problem.code.as_str()),
            (status, code),
            "{what}: {}",
            refused.problem.detail
        );
        assert!(dump(&app.database) == before, "{what} changed the database");
    }

    // A replayed request: the first one is answered (and recorded), the
    // replay changes nothing.
    let replay = SignOptions {
        nonce: Some("fixednonce123".to_owned()),
        ..SignOptions::default()
    };
    let pull = sync::to_cbor(&sync::PullRequest {
        cursor: sync::SyncCursor::default(),
        balances_max: None,
        open_cases: Vec::new(),
    });
    terminal
        .signed_post("/v1/terminal/pull", &pull, &replay)
        .unwrap();
    let answered = dump(&app.database);
    let refused = terminal
        .signed_post("/v1/terminal/pull", &pull, &replay)
        .unwrap_err();
    assert_eq!(refused.problem.code, "replayed_request");
    assert!(
        dump(&app.database) == answered,
        "a replay changed the database"
    );

    // A sequence conflict adds its alarm, and nothing else.
    let conflicting = altered(&terminal, 1, |e| {
        if let LogEvent::VoucherRedeemed { amount, .. } = &mut e.event {
            amount.minor -= 1;
        }
    });
    let refused = terminal.upload_entries(vec![conflicting]).unwrap_err();
    assert_eq!(refused.problem.code, "sequence_conflict");
    let after = dump(&app.database);
    assert!(without(&after, "alarms") == without(&answered, "alarms"));
    assert_eq!(
        rows(&after, "alarms").len(),
        rows(&answered, "alarms").len() + 1
    );

    // The dump sees writes: the same entries, sent properly, are stored and
    // the voucher issued elsewhere is learnt.
    assert_eq!(terminal.upload(2..=3).unwrap().acknowledged_seq, 3);
    let stored = dump(&app.database);
    assert!(
        rows(&stored, "vouchers")
            .iter()
            .any(|row| row.contains("V-ELSEWHERE-1")),
        "{:#?}",
        (rows(&stored, "vouchers"), rows(&stored, "alarms"))
    );
}
