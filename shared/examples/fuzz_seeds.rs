//! Writes seed inputs for the fuzz targets into `shared/fuzz/corpus/<target>/`:
//! `cargo run -p lastmile-shared --example fuzz_seeds` (scripts/fuzz.sh does it).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use lastmile_shared::device_log::{GENESIS_HASH, LogEntry, LogEvent, SignedEntry};
use lastmile_shared::id::{DeviceId, OperatorId};
use lastmile_shared::money::Money;
use lastmile_shared::sync::{PullRequest, SyncCursor, UploadRequest, to_cbor};
use lastmile_shared::trust_list::RootSigned;
use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("create corpus directory");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let vectors = common::vectors::build();
    for (i, v) in vectors["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .enumerate()
    {
        write(
            "voucher",
            &format!("vector-{i:02}"),
            v["qr"].as_str().expect("qr").as_bytes(),
        );
    }
    let (root_kid, root_key) = root();
    write(
        "trust_list",
        "trust-list",
        &trust_list().seal(&root_kid, &root_key),
    );
    let entry = LogEntry {
        seq: 1,
        prev: GENESIS_HASH,
        device: DeviceId::parse("term-0001").expect("id"),
        operator: OperatorId::parse("op-1").expect("id"),
        merchant: None,
        site: None,
        at: T0,
        event: LogEvent::CashSessionOpened {
            session: 1,
            float: Money::new(500_000, kes()),
        },
    };
    let signed = SignedEntry::sign(entry, &kid("term-0001"), &key(5));
    write("log_entry", "cash-open", &signed.bytes);
    let upload = UploadRequest {
        entries: vec![serde_bytes::ByteBuf::from(signed.bytes)],
        acknowledged_seq: 0,
    };
    write("sync_message", "upload", &to_cbor(&upload));
    write(
        "sync_message",
        "pull",
        &to_cbor(&PullRequest {
            cursor: SyncCursor::default(),
            balances_max: Some(500),
            open_cases: vec![3, 7],
        }),
    );
    write("id_card", "number", b"KE-12345678");
    for (name, text) in [
        ("iban", "iban:DE89370400440532013000"),
        ("iban-print", "GB29 NWBK 6016 1331 9268 19"),
        ("account", "account:KCBLKENX/1234567890"),
        ("mobile", "mobile:mpesa:+254712345678"),
        ("msisdn-written", "00254 (712) 345-678"),
        ("cash", "cash:site-07"),
        ("voucher", "voucher"),
    ] {
        write("payee", name, text.as_bytes());
    }
}
