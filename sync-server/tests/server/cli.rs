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

/// The programme registry from the command line: a site, a draft programme,
/// a beneficiary file with errors (each printed as line and column, exit 1,
/// nothing imported), checked, then imported with a column mapped by hand,
/// activated, a cycle generated; released only once two people (not the
/// shell) submitted and approved it, its voucher printed.
#[test]
fn a_programme_is_registered_imported_generated_and_released_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["keys", "init"]);
    let site = ok(&data, &["sites", "add", "site-1", "--name", "Kibera"]);
    assert!(site.contains("\"site\":\"site-1\""), "{site}");
    assert_eq!(ok(&data, &["sites", "list"]).lines().count(), 1);
    let programme = [
        "programmes",
        "add",
        "--id",
        "P-cli",
        "--name",
        "Cash 2027",
        "--currency",
        "KES",
        "--channels",
        "voucher,cash",
        "--budget",
        "1000.00",
        "--starts-on",
        "2027-01-01",
        "--target",
        "individual",
        "--id-pattern",
        "99999999",
    ];
    let created = ok(&data, &programme);
    assert!(created.contains("\"state\":\"draft\""), "{created}");
    assert!(
        !cli(&data, &programme).status.success(),
        "the same id twice is refused"
    );

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "ID,Full name,National ID,Site,Channels\n\
         B-1,Amina Wanjiru,1234567,site-1,cash\n\
         B-2,,23456789,site-1,cash\n\
         B-3,Chiku Otieno,34567890,site-9,cash\n",
    )
    .unwrap();
    let refused = cli(
        &data,
        &["beneficiaries", "import", "P-cli", bad.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    for expected in [
        "line 2, column \"National ID\": ",
        "line 3, column \"Full name\": ",
        "line 4, column \"Site\": ",
        "row(s) have errors; nothing was imported",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("3 rejected"),
        "{refused:?}"
    );
    let shown = |data: &Path| -> serde_json::Value {
        serde_json::from_str(ok(data, &["programmes", "show", "P-cli"]).trim()).unwrap()
    };
    assert_eq!(shown(&data)["beneficiaries"], 0);

    // The name column is headed "Nom": mapped by hand.
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "ID,Nom,National ID,Site,Channels\n\
         B-1,Amina Wanjiru,12345678,site-1,voucher\n\
         B-2,Baraka Mwangi,23456789,site-1,cash\n\
         B-3,Chiku Otieno,34567890,site-1,cash\n",
    )
    .unwrap();
    let good = good.to_str().unwrap();
    let unmapped = cli(&data, &["beneficiaries", "import", "P-cli", good]);
    assert!(!unmapped.status.success());
    assert!(
        String::from_utf8_lossy(&unmapped.stderr).contains("the field name is required"),
        "{unmapped:?}"
    );
    let import = |extra: &[&str]| {
        let mut args = vec![
            "beneficiaries",
            "import",
            "P-cli",
            good,
            "--map",
            "name=Nom",
        ];
        args.extend_from_slice(extra);
        ok(&data, &args)
    };
    let checked = import(&["--check"]);
    assert!(
        checked.contains("3 created") && checked.contains("checked only"),
        "{checked}"
    );
    assert_eq!(shown(&data)["beneficiaries"], 0);
    let imported = import(&[]);
    assert!(imported.contains("3 created"), "{imported}");
    assert!(import(&[]).contains("nothing changed"));
    assert_eq!(shown(&data)["beneficiaries"], 3);

    // A draft generates nothing; active, it does.
    let generate = ["cycles", "generate", "P-cli", "2027-01", "--flat", "20.00"];
    assert!(!cli(&data, &generate).status.success());
    ok(&data, &["programmes", "activate", "P-cli"]);
    let cycle: serde_json::Value = serde_json::from_str(ok(&data, &generate).trim()).unwrap();
    assert_eq!(
        (
            cycle["entitlements"].as_i64(),
            cycle["total_minor"].as_i64()
        ),
        (Some(3), Some(6000)),
        "{cycle}"
    );
    let id = cycle["id"].to_string();
    let neither = cli(&data, &["cycles", "generate", "P-cli", "2027-02"]);
    assert!(!neither.status.success(), "a rule is required");

    // Not approved: nothing is released. Approval is for people, not the shell.
    let vouchers = dir.path().join("vouchers");
    let release = [
        "cycles",
        "release",
        &id,
        "--out",
        vouchers.to_str().unwrap(),
    ];
    let refused = cli(&data, &release);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only an approved cycle is released"),
        "{refused:?}"
    );
    let help = ok(&data, &["cycles", "--help"]);
    assert!(help.contains("maker–checker"), "{help}");
    let password = dir.path().join("pw");
    std::fs::write(&password, "a long enough password").unwrap();
    for (name, role) in [
        ("admin", "admin"),
        ("officer", "programme_officer"),
        ("approver", "approver"),
    ] {
        ok(
            &data,
            &[
                "users",
                "add",
                name,
                "--name",
                name,
                "--role",
                role,
                "--password-file",
                password.to_str().unwrap(),
            ],
        );
    }
    {
        use lastmile_server::people;
        use lastmile_server::proposals::{self, Decision};
        let storage = Storage::open(&DatabaseUrl::Sqlite(data.join("lastmile.sqlite"))).unwrap();
        let officer = people::caller(&storage, "officer").unwrap();
        let cycle_id = cycle["id"].as_i64().unwrap();
        let proposal = proposals::submit_cycle(
            &storage,
            &officer,
            cycle_id,
            "January",
            false,
            common::now(),
        )
        .unwrap();
        let approver = people::caller(&storage, "approver").unwrap();
        proposals::decide(
            &storage,
            &lastmile_server::keys::KeyDir::new(&data),
            &approver,
            proposal.id,
            Decision::Approve,
            "checked",
            common::now(),
        )
        .unwrap();
    }
    let released = ok(&data, &release);
    assert!(
        released.contains(&format!(
            "cycle {id} released: 1 voucher(s), 2 cash entitlement(s) on the roster of site-1"
        )),
        "{released}"
    );
    assert!(
        std::fs::read(vouchers.join("vouchers.pdf"))
            .unwrap()
            .starts_with(b"%PDF-")
    );
    assert_eq!(std::fs::read_dir(vouchers.join("qr")).unwrap().count(), 1);
    let again = ok(&data, &release);
    assert!(again.contains("0 voucher(s), 0 cash"), "{again}");
    let shown_cycle: serde_json::Value =
        serde_json::from_str(ok(&data, &["cycles", "show", &id]).trim()).unwrap();
    assert_eq!(shown_cycle["approved_by"], "user:approver", "{shown_cycle}");
    assert_eq!(
        shown_cycle["generated_by"],
        format!(
            "operator:{}",
            std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".to_owned())
        )
    );
    let issued: i64 = shown_cycle["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["state"] == "issued")
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(issued, 3, "{shown_cycle}");

    ok(&data, &["programmes", "close", "P-cli"]);
    assert_eq!(shown(&data)["state"], "closed");
    let listed = ok(&data, &["programmes", "list"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
}

/// `id-authorities`: a proposal on behalf of a named person, listed as
/// proposed; a bad key refused with its reason; nothing active until an
/// approver (not at this shell) approves.
#[test]
fn an_id_authority_is_proposed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&data, &["keys", "init"]);
    let password = dir.path().join("password");
    std::fs::write(&password, "a long enough password").unwrap();
    let password = password.display().to_string();
    for (user, role) in [("ada", "admin"), ("otieno", "programme_officer")] {
        ok(
            &data,
            &[
                "users",
                "add",
                user,
                "--name",
                user,
                "--role",
                role,
                "--password-file",
                &password,
            ],
        );
    }
    assert!(
        cli(&data, &["id-authorities", "list"]).stdout.is_empty(),
        "nothing registered yet"
    );
    let add = |public_key: &str| {
        cli(
            &data,
            &[
                "id-authorities",
                "add",
                "--as",
                "otieno",
                "--name",
                "Kenya National Registration Bureau",
                "--kid",
                "ke-nrb-2027",
                "--algorithm",
                "Ed25519",
                "--public-key",
                public_key,
                "--valid-until",
                "2030-12-31",
                "--reason",
                "the national registry",
            ],
        )
    };
    let bad = add("abcd");
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("32 bytes"), "{said}");
    let good = add("ecd31a96aab0f0340b4342480b5cb8da21d9dc1a9d91bd07dab02b545d0124a8");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let proposed: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(proposed["proposal"]["kind"], "id_authority.add");
    let listed = ok(&data, &["id-authorities", "list", "--state", "proposed"]);
    let row: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(row["kid"], "ke-nrb-2027");
    assert_eq!(row["proposed_by"], "user:otieno");
    // Exclusive: the start of the day after the last one (2031-01-01).
    assert_eq!(row["valid_until"], 1_924_992_000);
    assert!(ok(&data, &["id-authorities", "list", "--state", "active"]).is_empty());
    // An active key is what a retirement needs.
    let retire = cli(
        &data,
        &[
            "id-authorities",
            "retire",
            "ke-nrb-2027",
            "--as",
            "ada",
            "--reason",
            "lost",
        ],
    );
    assert!(!retire.status.success());
    let said = String::from_utf8_lossy(&retire.stderr);
    assert!(said.contains("proposed, not active"), "{said}");
}
