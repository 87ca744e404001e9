//! The command line end to end: keys, a merchant terminal's code, voucher
//! issuance from a CSV (row errors, QR PNGs, PDF sheet), revocation, lists.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use lastmile_server::storage::{DatabaseUrl, Storage};
use lastmile_shared::trust_list::{TrustList, TrustStore};

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lastmile-server"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("LASTMILE_LOG", "warn")
        .env_remove("LASTMILE_DATABASE")
        .output()
        .expect("running lastmile-server")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let output = cli(dir, args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn keys_codes_and_vouchers_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = ok(&data, &["keys", "init"]);
    assert!(out.starts_with("root key root-"), "{out}");
    assert!(
        !cli(&data, &["keys", "init"]).status.success(),
        "init twice is refused"
    );
    for entry in std::fs::read_dir(data.join("keys")).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    ok(
        &data,
        &[
            "limits",
            "set",
            "--currency",
            "KES",
            "--credential-max",
            "5000",
            "--unsynced-value-max",
            "50000",
            "--unsynced-count-max",
            "200",
            "--offline-hours-max",
            "72",
        ],
    );
    let code = ok(
        &data,
        &[
            "terminals",
            "code",
            "--merchant",
            "shop-12",
            "--site",
            "nairobi-3",
        ],
    );
    assert_eq!(code.trim().len(), 14);

    let csv = dir.path().join("beneficiaries.csv");
    std::fs::write(
        &csv,
        "beneficiary_id,name,amount,currency,programme,valid_from,valid_until,mode\n\
         B-1,Amina Otieno,1500.00,KES,food-2026,2026-01-01,2099-12-31,single_use\n\
         B-2,José Ñúñez,2500.5,KES,food-2026,2026-01-01,2099-12-31,partial\n\
         B-3,Bad Amount,12.345,KES,food-2026,2026-01-01,2099-12-31,\n\
         B 4,Bad Id,10,KES,food-2026,2026-01-01,2099-12-31,\n",
    )
    .unwrap();
    let vouchers_dir = dir.path().join("vouchers");
    let refused = cli(
        &data,
        &[
            "vouchers",
            "issue",
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            vouchers_dir.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("line 4:") && stderr.contains("line 5:"),
        "{stderr}"
    );
    assert!(
        !vouchers_dir.exists(),
        "nothing issued from a file with errors"
    );

    let issued = ok(
        &data,
        &[
            "vouchers",
            "issue",
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            vouchers_dir.to_str().unwrap(),
            "--allow-partial-errors",
        ],
    );
    assert!(issued.starts_with("2 voucher(s) issued"), "{issued}");
    let pdf = std::fs::read(vouchers_dir.join("vouchers.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let pngs: Vec<_> = std::fs::read_dir(vouchers_dir.join("qr"))
        .unwrap()
        .collect();
    assert_eq!(pngs.len(), 2);
    let list = std::fs::read_to_string(vouchers_dir.join("vouchers.csv")).unwrap();
    let storage = Storage::open(&DatabaseUrl::Sqlite(data.join("lastmile.sqlite"))).unwrap();
    let (_, trust_bytes) = storage
        .transaction(|tx| tx.document("trust_list", ""))
        .unwrap()
        .unwrap();
    let root = storage.transaction(|tx| tx.root_key()).unwrap().unwrap();
    let root = lastmile_shared::trust_list::RootKey {
        kid: root.kid,
        key: ed25519_dalek::VerifyingKey::from_bytes(&root.public_key).unwrap(),
    };
    let (_, store): (TrustList, TrustStore) =
        TrustList::open_with_store(&trust_bytes, &root, None).unwrap();
    let mut ids = Vec::new();
    for line in list.lines().skip(1) {
        // The QR text is the column before the typeable code, the last one.
        let qr = line.rsplit(',').nth(1).unwrap();
        let verified = lastmile_shared::voucher::verify(qr, &store, common::now()).unwrap();
        ids.push(verified.claims.id.to_string());
    }
    assert_eq!(ids.len(), 2);
    // The same file again issues nothing twice.
    let again = ok(
        &data,
        &[
            "vouchers",
            "issue",
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            dir.path().join("again").to_str().unwrap(),
            "--allow-partial-errors",
        ],
    );
    assert!(again.starts_with("0 voucher(s) issued"), "{again}");

    ok(&data, &["vouchers", "revoke", &ids[0]]);
    let revocations = |storage: &Storage| {
        storage
            .transaction(|tx| tx.document("revocations", ""))
            .unwrap()
            .unwrap()
            .0
    };
    let version = revocations(&storage);
    let twice = cli(&data, &["vouchers", "revoke", &ids[0]]);
    assert!(!twice.status.success());
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert!(
        stderr.contains(&format!("voucher {} was already revoked on 20", ids[0]))
            && stderr.contains("nothing changed"),
        "{stderr}"
    );
    assert_eq!(revocations(&storage), version, "no new revocation list");
    let shown = ok(&data, &["vouchers", "show", &ids[0]]);
    assert!(shown.contains("\"status\":\"revoked\""), "{shown}");
    let rotated = ok(&data, &["keys", "rotate"]);
    assert!(rotated.starts_with("issuer key iss-"));
    let keys = ok(&data, &["keys", "show"]);
    assert_eq!(keys.lines().count(), 3);
    assert!(keys.contains("retired"));
    for (list, note) in [
        (&["cases", "list"][..], "no cases"),
        (&["alarms", "list"][..], "no alarms"),
        (&["terminals", "list"][..], "no terminals"),
    ] {
        let output = cli(&data, list);
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "", "{list:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(note),
            "{list:?}: {output:?}"
        );
    }
    let limits: serde_json::Value =
        serde_json::from_str(ok(&data, &["limits", "show"]).trim()).unwrap();
    assert_eq!(limits["credential_max"], "5000.00");
    assert_eq!(limits["unsynced_value_max"], "50000.00");
    assert_eq!(limits["offline_hours_max"], 72.0);
    assert_eq!(limits["credential_value_max_minor"], 500_000);
    assert_eq!(limits["offline_seconds_max"], 259_200);
}

#[test]
fn issuing_again_skips_issued_rows_and_a_lost_sheet_is_printed_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["keys", "init"]);
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "beneficiary_id,name,amount,currency,programme,valid_from,valid_until,mode\n\
         B 1,,12.345,KES,food-2026,2026-13-01,2099-12-31,sometimes\n",
    )
    .unwrap();
    let out = dir.path().join("never");
    let refused = cli(
        &data,
        &[
            "vouchers",
            "issue",
            "--csv",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("1 row(s) have errors"), "{stderr}");
    for problem in ["name must be", "valid_from", "sometimes", "12.345"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("line 2:") && l.contains(problem)),
            "{problem} not reported:\n{stderr}"
        );
    }

    let csv = dir.path().join("beneficiaries.csv");
    std::fs::write(
        &csv,
        "beneficiary_id,name,amount,currency,programme,valid_from,valid_until\n\
         B-1,Amina Otieno,1500.00,KES,food-2026,2026-01-01,2099-12-31\n\
         B-2,Baraka Mwangi,2500,KES,food-2026,2026-01-01,2099-12-31\n",
    )
    .unwrap();
    let first = dir.path().join("first");
    let issue = |out: &Path| {
        cli(
            &data,
            &[
                "vouchers",
                "issue",
                "--csv",
                csv.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    assert!(issue(&first).status.success());
    let list = std::fs::read_to_string(first.join("vouchers.csv")).unwrap();
    // The same file again: not an error, nothing issued twice.
    let again = issue(&dir.path().join("again"));
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("0 voucher(s) issued"));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(
        stderr.matches("already issued (skipped)").count(),
        2,
        "{stderr}"
    );

    // The sheet is lost: print it again, the same QR codes.
    std::fs::remove_dir_all(&first).unwrap();
    let printed = ok(
        &data,
        &[
            "vouchers",
            "sheet",
            "--csv",
            csv.to_str().unwrap(),
            "--out",
            first.to_str().unwrap(),
        ],
    );
    assert!(
        printed.starts_with("2 voucher(s) printed again"),
        "{printed}"
    );
    assert!(
        std::fs::read(first.join("vouchers.pdf"))
            .unwrap()
            .starts_with(b"%PDF-")
    );
    assert_eq!(std::fs::read_dir(first.join("qr")).unwrap().count(), 2);
    assert_eq!(
        std::fs::read_to_string(first.join("vouchers.csv")).unwrap(),
        list
    );

    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let one = dir.path().join("one");
    ok(
        &data,
        &[
            "vouchers",
            "sheet",
            "--voucher",
            &id,
            "--out",
            one.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_dir(one.join("qr")).unwrap().count(), 1);
    let unknown = cli(
        &data,
        &[
            "vouchers",
            "sheet",
            "--voucher",
            "V-NOPE",
            "--out",
            one.to_str().unwrap(),
        ],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("V-NOPE"));
}
