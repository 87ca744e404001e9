//! The audit trail: what people did is listed newest first with filters
//! and pages, the hash chain verifies, and a changed or removed entry is
//! found at its sequence number, by the library and by `audit verify`.

use crate::common;

use std::process::{Command, Output};

use common::{Backend, TestApp, spawn_app};
use lastmile_server::audit::{self, Actor, Verification};
use lastmile_server::people::{self, PeopleError, Role};
use lastmile_server::storage::sql::{PAGE_ROWS_MAX, Value};
use lastmile_server::storage::{DatabaseUrl, StorageError};

lastmile_tests::on_both_backends!(
    hq_actions_are_listed_newest_first_with_filters_and_pages,
    a_changed_or_removed_entry_breaks_the_chain_where_it_is,
    audit_verify_on_the_command_line_exits_by_the_chain,
);

fn list(app: &TestApp, query: &str) -> Vec<serde_json::Value> {
    let (status, body) = app.hq_as(Role::Auditor, "GET", &format!("/v1/hq/audit{query}"), None);
    assert_eq!(status, 200, "{query}: {body}");
    body.as_array().unwrap().clone()
}

fn field<'a>(entries: &'a [serde_json::Value], name: &str) -> Vec<&'a str> {
    entries.iter().map(|e| e[name].as_str().unwrap()).collect()
}

fn seqs(entries: &[serde_json::Value]) -> Vec<u64> {
    entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn entries(app: &TestApp) -> u64 {
    match audit::verify(&app.storage).unwrap() {
        Verification::Intact { entries, .. } => entries,
        broken => panic!("{broken:?}"),
    }
}

fn hq_actions_are_listed_newest_first_with_filters_and_pages(backend: Backend) {
    let app = spawn_app(backend);
    let voucher = app.issue(1, "30.00", "single_use").remove(0);
    let before = entries(&app);

    // A user created and a token created, over HTTP.
    let (status, body) = app.hq_as(
        Role::Admin,
        "POST",
        "/v1/hq/users",
        Some(serde_json::json!({
            "username": "neema.new",
            "display_name": "Neema",
            "role": "support",
            "password": common::PASSWORD,
        })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, token) = app.hq_as(
        Role::Finance,
        "POST",
        "/v1/hq/tokens",
        Some(serde_json::json!({ "label": "month-end script" })),
    );
    assert_eq!(status, 201, "{token}");
    // A voucher revocation proposed by the officer and approved.
    let (status, proposal) = app.hq_as(
        Role::ProgrammeOfficer,
        "POST",
        &format!("/v1/hq/vouchers/{}/revoke", voucher.voucher),
        Some(serde_json::json!({ "reason": "duplicate card" })),
    );
    assert_eq!(status, 202, "{proposal}");
    let proposal_id = proposal["id"].as_i64().unwrap();
    let (status, decided) = app.hq_as(
        Role::Approver,
        "POST",
        &format!("/v1/hq/proposals/{proposal_id}/decision"),
        Some(serde_json::json!({ "decision": "approve", "note": "checked" })),
    );
    assert_eq!(status, 200, "{decided}");
    // A failed login.
    let failed = people::authenticate(
        &app.storage,
        common::username(Role::Auditor),
        "not the password at all",
        common::now(),
    );
    assert!(
        matches!(failed, Err(PeopleError::WrongCredentials)),
        "{failed:?}"
    );

    let newest = list(&app, "?limit=6");
    assert_eq!(
        field(&newest, "action"),
        [
            "login.failed",
            "voucher.revoked",
            "proposal.approved",
            "proposal.created",
            "token.created",
            "user.created",
        ]
    );
    let officer = format!("user:{}", common::username(Role::ProgrammeOfficer));
    let approver = format!("user:{}", common::username(Role::Approver));
    let admin = format!("user:{}", common::username(Role::Admin));
    let finance = format!("user:{}", common::username(Role::Finance));
    let auditor = format!("user:{}", common::username(Role::Auditor));
    // A failed login is nobody's act: whoever tried is not known.
    assert_eq!(
        field(&newest, "actor"),
        [
            "anonymous",
            &approver,
            &approver,
            &officer,
            &finance,
            &admin
        ]
    );
    assert_eq!(
        field(&newest, "object"),
        [
            auditor.clone(),
            format!("voucher:{}", voucher.voucher),
            format!("proposal:{proposal_id}"),
            format!("proposal:{proposal_id}"),
            format!("token:{}", token["id"]),
            "user:neema.new".to_owned(),
        ]
    );
    let top = seqs(&newest);
    assert_eq!(top[0], before + 6, "six entries were appended: {top:?}");
    assert!(
        top.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first: {top:?}"
    );
    // The detail is JSON and says what happened.
    let login: serde_json::Value =
        serde_json::from_str(newest[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(login["reason"], "wrong_password");
    assert_eq!(login["failures"], 1);
    let created: serde_json::Value =
        serde_json::from_str(newest[5]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(created["role"], "support");

    // Filters: each alone and together; every listed entry matches.
    let by_admin = list(&app, &format!("?actor={admin}"));
    assert_eq!(field(&by_admin, "action"), ["user.created"]);
    let by_approver = list(&app, &format!("?actor={approver}"));
    assert_eq!(
        field(&by_approver, "action"),
        ["voucher.revoked", "proposal.approved"]
    );
    let tokens_made = list(&app, "?action=token.created");
    assert_eq!(
        tokens_made.len(),
        Role::ALL.len() + 1,
        "one per test user and Finance's"
    );
    assert!(
        field(&tokens_made, "action")
            .iter()
            .all(|a| *a == "token.created")
    );
    assert_eq!(tokens_made[0]["actor"], finance.as_str());
    let operator = common::operator().label();
    assert!(
        field(&tokens_made[1..], "actor")
            .iter()
            .all(|a| *a == operator)
    );
    let on_voucher = list(&app, &format!("?object=voucher:{}", voucher.voucher));
    assert_eq!(field(&on_voucher, "action"), ["voucher.revoked"]);
    let on_proposal = list(&app, &format!("?object=proposal:{proposal_id}"));
    assert_eq!(
        field(&on_proposal, "action"),
        ["proposal.approved", "proposal.created"]
    );
    let both = list(
        &app,
        &format!("?object=proposal:{proposal_id}&actor={officer}"),
    );
    assert_eq!(field(&both, "action"), ["proposal.created"]);
    let all_three = list(
        &app,
        &format!("?object=proposal:{proposal_id}&actor={officer}&action=proposal.approved"),
    );
    assert!(all_three.is_empty(), "{all_three:?}");
    assert!(list(&app, "?actor=user:nobody").is_empty());
    // A prefix is not a match.
    assert!(list(&app, "?actor=user:").is_empty());

    // Pages: consecutive, not overlapping, bounded by the limit.
    let everything = list(&app, "?limit=500");
    assert_eq!(everything.len() as u64, before + 6);
    assert_eq!(
        seqs(&everything),
        (1..=before + 6).rev().collect::<Vec<_>>()
    );
    let first = list(&app, "?limit=4");
    let second = list(&app, "?limit=4&offset=4");
    assert_eq!(seqs(&first), seqs(&everything[..4]));
    assert_eq!(seqs(&second), seqs(&everything[4..8]));
    let last = list(&app, &format!("?limit=4&offset={}", before + 6 - 1));
    assert_eq!(seqs(&last), [1]);
    assert!(list(&app, &format!("?offset={}", before + 6)).is_empty());
    assert_eq!(list(&app, "?limit=0").len(), 1, "a limit below one is one");
    // The default page and the cap: more entries than one page holds.
    app.storage
        .transaction(|tx| {
            for i in 0..(PAGE_ROWS_MAX + 20) {
                audit::record(
                    tx,
                    &Actor::Server,
                    "test.filler",
                    &format!("filler:{i}"),
                    serde_json::json!({ "i": i }),
                    common::now(),
                )?;
            }
            Ok::<_, StorageError>(())
        })
        .unwrap();
    assert_eq!(list(&app, "").len(), 50);
    assert_eq!(list(&app, "?limit=100000").len(), PAGE_ROWS_MAX as usize);
    let fillers = list(&app, "?action=test.filler&limit=100000");
    assert_eq!(fillers.len(), PAGE_ROWS_MAX as usize);
    assert_eq!(
        fillers[0]["object"],
        format!("filler:{}", PAGE_ROWS_MAX + 19)
    );
    // Unknown parameters are refused, not ignored.
    let (status, body) = app.hq_as(Role::Auditor, "GET", "/v1/hq/audit?who=me", None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(entries(&app), before + 6 + u64::from(PAGE_ROWS_MAX) + 20);
}

/// Entry `seq` as stored: (detail, hash).
fn stored(app: &TestApp, seq: u64) -> (String, String) {
    let seq = i64::try_from(seq).unwrap();
    app.storage
        .transaction(|tx| {
            let row = tx.sql().query_one(
                "audit",
                "SELECT detail, hash FROM audit WHERE seq = $1",
                &[seq.into()],
            )?;
            Ok::<_, StorageError>((row.text(0)?, row.text(1)?))
        })
        .unwrap()
}

fn set_detail(app: &TestApp, seq: u64, detail: &str) {
    let seq = i64::try_from(seq).unwrap();
    let changed = app
        .storage
        .transaction(|tx| {
            tx.sql().execute(
                "UPDATE audit SET detail = $1 WHERE seq = $2",
                &[detail.into(), seq.into()],
            )
        })
        .unwrap();
    assert_eq!(changed, 1);
}

fn a_changed_or_removed_entry_breaks_the_chain_where_it_is(backend: Backend) {
    let app = spawn_app(backend);
    app.issue(2, "10.00", "partial");
    for attempt in 0..3 {
        let _ = people::authenticate(
            &app.storage,
            "ada.admin",
            &format!("wrong {attempt}"),
            common::now(),
        );
    }
    let total = app
        .storage
        .transaction(|tx| {
            tx.sql()
                .query_one("audit", "SELECT count(*) FROM audit", &[])?
                .int(0)
        })
        .unwrap();
    let total = u64::try_from(total).unwrap();
    assert!(total >= 12, "{total} entries");
    let Verification::Intact { entries, head } = audit::verify(&app.storage).unwrap() else {
        panic!("a fresh trail is intact");
    };
    assert_eq!(entries, total);
    assert_eq!(
        head,
        stored(&app, total).1,
        "the head is the newest entry's hash"
    );

    // A changed detail breaks the chain at that entry; put back, it holds.
    let target = total / 2;
    let (original, _) = stored(&app, target);
    set_detail(&app, target, r#"{"nothing":"to see"}"#);
    match audit::verify(&app.storage).unwrap() {
        Verification::Broken { seq, reason } => {
            assert_eq!(seq, target, "{reason}");
            assert!(reason.contains("changed"), "{reason}");
        }
        intact => panic!("tampering went unnoticed: {intact:?}"),
    }
    set_detail(&app, target, &original);
    assert_eq!(
        audit::verify(&app.storage).unwrap(),
        Verification::Intact {
            entries: total,
            head: head.clone()
        }
    );

    // Changed with its own hash recomputed: the next entry's link breaks.
    let seq = i64::try_from(target).unwrap();
    app.storage
        .transaction(|tx| {
            let row = tx.sql().query_one(
                "audit",
                "SELECT at, actor, action, object, prev_hash FROM audit WHERE seq = $1",
                &[seq.into()],
            )?;
            let forged = audit::entry_hash(
                target,
                row.int(0)?,
                &row.text(1)?,
                &row.text(2)?,
                &row.text(3)?,
                "{}",
                &row.text(4)?,
            );
            tx.sql().execute(
                "UPDATE audit SET detail = '{}', hash = $1 WHERE seq = $2",
                &[forged.into(), seq.into()],
            )
        })
        .unwrap();
    match audit::verify(&app.storage).unwrap() {
        Verification::Broken { seq, reason } => {
            assert_eq!(seq, target + 1, "{reason}");
            assert!(reason.contains("link"), "{reason}");
        }
        intact => panic!("a re-hashed entry went unnoticed: {intact:?}"),
    }

    // A removed entry (further back) is found where it was.
    let removed = 3;
    let deleted = app
        .storage
        .transaction(|tx| {
            tx.sql()
                .execute("DELETE FROM audit WHERE seq = $1", &[Value::Int(removed)])
        })
        .unwrap();
    assert_eq!(deleted, 1);
    match audit::verify(&app.storage).unwrap() {
        Verification::Broken { seq, reason } => {
            assert_eq!(seq, 3, "{reason}");
            assert!(reason.contains("missing"), "{reason}");
        }
        intact => panic!("a removed entry went unnoticed: {intact:?}"),
    }
}

fn cli(app: &TestApp, args: &[&str]) -> Output {
    let database = match &app.database {
        DatabaseUrl::Sqlite(path) => path.display().to_string(),
        DatabaseUrl::Postgres(url) => url.clone(),
    };
    Command::new(env!("CARGO_BIN_EXE_lastmile-server"))
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(["--database", &database])
        .args(args)
        .env("LASTMILE_LOG", "warn")
        .env_remove("LASTMILE_DATABASE")
        .env_remove("LASTMILE_CONFIG")
        .output()
        .expect("running lastmile-server")
}

fn audit_verify_on_the_command_line_exits_by_the_chain(backend: Backend) {
    let app = spawn_app(backend);
    app.issue(1, "10.00", "single_use");
    let total = entries(&app);

    let intact = cli(&app, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert_eq!(
        intact.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(
        stdout.contains(&format!("intact: {total} entries")),
        "{stdout}"
    );

    // `audit list` shows the same trail, newest first, filtered.
    let listed = cli(
        &app,
        &["audit", "list", "--action", "user.created", "--limit", "3"],
    );
    assert_eq!(listed.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["action"] == "user.created"));
    assert!(lines[0]["seq"].as_u64() > lines[1]["seq"].as_u64());

    let target = total - 2;
    set_detail(&app, target, r#"{"edited":true}"#);
    let broken = cli(&app, &["audit", "verify"]);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("entry {target}")), "{stderr}");
    assert!(
        !String::from_utf8_lossy(&broken.stdout).contains("intact"),
        "a broken trail is not called intact"
    );
}
