//! The storage modules written once for both backends (`storage/people.rs`,
//! `storage/audit.rs`, `storage/proposals.rs`): every function is called
//! with the same inputs on a fresh SQLite and a fresh PostgreSQL database,
//! and what each returns (or that it failed) must be the same. Each call
//! runs in its own transaction, so a failure on PostgreSQL (which aborts
//! its transaction) does not change what the next call sees.

use crate::common;

use std::fmt::Debug;

use common::Backend;
use lastmile_server::storage::audit::{self as audit_table, AuditFilter, AuditRow};
use lastmile_server::storage::people::{self as people_table, TokenRow, UserRow};
use lastmile_server::storage::proposals::{self as proposals_table, NewProposal};
use lastmile_server::storage::sql::{Dialect, PAGE_ROWS_DEFAULT, PAGE_ROWS_MAX, Page, Sql};
use lastmile_server::storage::{Credential, NewCase, Storage, StorageError};
use lastmile_shared::id::{DeviceId, VoucherId};
use lastmile_shared::money::Money;

/// A fresh, migrated database of the backend, with what keeps it alive.
fn fresh(backend: Backend) -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&common::fresh_database(backend, dir.path())).unwrap();
    (dir, storage)
}

/// Every call made and what it returned, in order.
#[derive(Default)]
struct Transcript {
    lines: Vec<(String, String)>,
}

impl Transcript {
    /// Runs `work` in a transaction of its own and notes its result: the
    /// value, or only that it failed (the messages are the drivers').
    fn call<T: Debug>(
        &mut self,
        storage: &Storage,
        call: impl Into<String>,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, StorageError>,
    ) -> Option<T> {
        let result = storage.transaction(|tx| work(tx.sql()));
        let noted = match &result {
            Ok(value) => format!("Ok({value:?})"),
            Err(_) => "Err".to_owned(),
        };
        self.lines.push((call.into(), noted));
        result.ok()
    }

    /// A call that must succeed.
    #[track_caller]
    fn ok<T: Debug>(
        &mut self,
        storage: &Storage,
        call: &str,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, StorageError>,
    ) -> T {
        let backend = storage.backend();
        self.call(storage, call, work)
            .unwrap_or_else(|| panic!("{call} failed on {backend}"))
    }

    /// A call that must fail.
    #[track_caller]
    fn fails<T: Debug>(
        &mut self,
        storage: &Storage,
        call: &str,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, StorageError>,
    ) {
        let backend = storage.backend();
        if let Some(value) = self.call(storage, call, work) {
            panic!("{call} succeeded on {backend}: {value:?}");
        }
    }
}

/// Runs `scenario` on a fresh database of each backend and asserts that
/// both transcripts are the same, naming the first call that differs.
fn on_both_alike(scenario: impl Fn(&Storage, &mut Transcript)) -> Vec<(String, String)> {
    let run = |backend| {
        let (_dir, storage) = fresh(backend);
        let mut transcript = Transcript::default();
        scenario(&storage, &mut transcript);
        transcript.lines
    };
    let sqlite = run(Backend::Sqlite);
    let postgres = run(Backend::Postgres);
    for (i, (a, b)) in sqlite.iter().zip(&postgres).enumerate() {
        assert_eq!(
            a, b,
            "call {i} answers differently:\n  SQLite:     {a:?}\n  PostgreSQL: {b:?}"
        );
    }
    assert_eq!(
        sqlite.len(),
        postgres.len(),
        "the scenarios made different calls"
    );
    assert!(sqlite.len() > 10, "a scenario worth the name");
    sqlite
}

/// A user row; `id` also varies the other fields.
fn user(id: i64, username: &str) -> UserRow {
    UserRow {
        id,
        username: username.to_owned(),
        display_name: format!("{username} — ‘Ñúñez’ 'quoted' $1 ?2 \"x\""),
        role: [
            "admin",
            "finance",
            "approver",
            "auditor",
            "support",
            "programme_officer",
        ][usize::try_from(id.rem_euclid(6)).unwrap()]
        .to_owned(),
        language: if id % 2 == 0 { "fr" } else { "en" }.to_owned(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${id}"),
        created_at: id * 1000,
        created_by: "operator:root".to_owned(),
        disabled_at: None,
        failed_logins: 0,
        locked_until: None,
    }
}

/// Usernames whose byte order and "linguistic" order differ.
const NAMES: [&str; 6] = ["ab", "a.c", "a-b", "a_a", "b10", "b9"];
/// Beyond what a double holds exactly.
const BIG: i64 = 9_007_199_254_740_993;

fn token(id: i64, user_id: i64) -> TokenRow {
    TokenRow {
        id,
        user_id,
        label: format!("cron ✓ {id}"),
        secret_hash: format!("{id:064x}"),
        created_at: 10 + id,
        created_by: "user:ab".to_owned(),
        last_used_at: None,
        revoked_at: None,
    }
}

fn people_scenario(s: &Storage, t: &mut Transcript) {
    t.ok(s, "dialect", |sql| {
        let expected = match s.backend() {
            "sqlite" => Dialect::Sqlite,
            _ => Dialect::Postgres,
        };
        assert_eq!(sql.dialect(), expected);
        Ok(())
    });
    assert_eq!(t.ok(s, "user_count empty", people_table::user_count), 0);
    let mut rows: Vec<UserRow> = NAMES
        .iter()
        .zip(1..)
        .map(|(name, id)| user(id, name))
        .collect();
    let mut odd = user(BIG, "zed");
    odd.display_name = String::new();
    odd.created_at = i64::MIN;
    odd.disabled_at = Some(i64::MAX);
    odd.failed_logins = 7;
    odd.locked_until = Some(-1);
    rows.push(odd);
    for row in &rows {
        let inserted = t.ok(s, &format!("insert_user {}", row.username), |sql| {
            people_table::insert_user(sql, row)
        });
        assert!(inserted);
    }
    assert_eq!(t.ok(s, "user_count", people_table::user_count), 7);
    // A taken username is no insert; a taken id (or a value the checks
    // refuse) is an error.
    let taken = t.ok(s, "insert_user taken name", |sql| {
        people_table::insert_user(sql, &user(100, "ab"))
    });
    assert!(!taken);
    t.fails(s, "insert_user taken id", |sql| {
        people_table::insert_user(sql, &user(1, "fresh"))
    });
    let mut bad = user(101, "bad.role");
    bad.role = "superuser".to_owned();
    t.fails(s, "insert_user bad role", |sql| {
        people_table::insert_user(sql, &bad)
    });
    let mut bad = user(102, "bad.language");
    bad.language = "de".to_owned();
    t.fails(s, "insert_user bad language", |sql| {
        people_table::insert_user(sql, &bad)
    });
    assert_eq!(
        t.ok(s, "user_count after refusals", people_table::user_count),
        7
    );

    // What goes in comes out, by name and by id.
    for row in &rows {
        let by_name = t.ok(s, &format!("user_by_name {}", row.username), |sql| {
            people_table::user_by_name(sql, &row.username)
        });
        assert_eq!(by_name.as_ref(), Some(row));
        let by_id = t.ok(s, &format!("user_by_id {}", row.id), |sql| {
            people_table::user_by_id(sql, row.id)
        });
        assert_eq!(by_id.as_ref(), Some(row));
    }
    // Not even a NUL, which PostgreSQL text cannot hold, is anybody.
    for name in ["AB", "ab ", "", "a%", "a_", "a\0b"] {
        let found = t.ok(s, &format!("user_by_name {name:?}"), |sql| {
            people_table::user_by_name(sql, name)
        });
        assert_eq!(found, None, "{name:?} is nobody");
    }
    for id in [0, -1, 999, i64::MAX] {
        let found = t.ok(s, &format!("user_by_id {id}"), |sql| {
            people_table::user_by_id(sql, id)
        });
        assert_eq!(found, None);
    }

    // Pages, by username in byte order.
    let mut sorted: Vec<&str> = rows.iter().map(|r| r.username.as_str()).collect();
    sorted.sort_unstable();
    let pages = [
        Page::default(),
        Page::first(2),
        Page::new(Some(2), Some(2)),
        Page::new(Some(2), Some(6)),
        Page::new(Some(0), None),
        Page::new(None, Some(100)),
        Page::new(Some(3), Some(u64::MAX)),
    ];
    for page in pages {
        let listed = t.ok(s, &format!("users {page:?}"), |sql| {
            people_table::users(sql, page)
        });
        let names: Vec<&str> = listed.iter().map(|r| r.username.as_str()).collect();
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let expected: Vec<&str> = sorted
            .iter()
            .skip(skip)
            .take(page.limit as usize)
            .copied()
            .collect();
        assert_eq!(names, expected, "{page:?} on {}", s.backend());
    }

    // Login state, password, disabled.
    t.ok(s, "set_login_state", |sql| {
        people_table::set_login_state(sql, 2, 3, Some(123))
    });
    t.ok(s, "set_login_state nobody", |sql| {
        people_table::set_login_state(sql, 999, 1, None)
    });
    let row = t.ok(s, "user_by_id 2 locked", |sql| {
        people_table::user_by_id(sql, 2)
    });
    assert_eq!(
        row.map(|r| (r.failed_logins, r.locked_until)),
        Some((3, Some(123)))
    );
    assert!(t.ok(s, "set_password", |sql| people_table::set_password(
        sql, 2, "new-hash"
    )));
    assert!(!t.ok(s, "set_password nobody", |sql| {
        people_table::set_password(sql, 999, "x")
    }));
    let row = t
        .ok(s, "user_by_id 2 new password", |sql| {
            people_table::user_by_id(sql, 2)
        })
        .unwrap();
    assert_eq!(
        (
            row.password_hash.as_str(),
            row.failed_logins,
            row.locked_until
        ),
        ("new-hash", 0, None),
        "a new password lifts a lock"
    );
    assert!(t.ok(s, "set_disabled", |sql| people_table::set_disabled(
        sql,
        3,
        Some(77)
    )));
    let row = t.ok(s, "user_by_id 3 disabled", |sql| {
        people_table::user_by_id(sql, 3)
    });
    assert_eq!(row.unwrap().disabled_at, Some(77));
    assert!(
        t.ok(s, "set_disabled enable", |sql| people_table::set_disabled(
            sql, 3, None
        ))
    );
    assert!(!t.ok(s, "set_disabled nobody", |sql| {
        people_table::set_disabled(sql, 999, Some(1))
    }));

    // Sessions.
    for (hash, user_id, csrf, at) in [
        ("h1", 1, "c1", 100),
        ("h2", 1, "c2", 110),
        ("h3", 2, "c3", 120),
    ] {
        t.ok(s, &format!("insert_session {hash}"), |sql| {
            people_table::insert_session(sql, hash, user_id, csrf, at)
        });
    }
    t.fails(s, "insert_session taken", |sql| {
        people_table::insert_session(sql, "h1", 2, "c", 1)
    });
    t.fails(s, "insert_session nobody", |sql| {
        people_table::insert_session(sql, "h9", 999, "c", 1)
    });
    let session = t
        .ok(s, "session h1", |sql| people_table::session(sql, "h1"))
        .unwrap();
    assert_eq!(session.user, rows[0]);
    assert_eq!(
        (
            session.csrf.as_str(),
            session.created_at,
            session.last_seen_at,
            session.ended_at
        ),
        ("c1", 100, 100, None)
    );
    assert!(
        t.ok(s, "session unknown", |sql| people_table::session(sql, "zz"))
            .is_none()
    );
    t.ok(s, "touch_session", |sql| {
        people_table::touch_session(sql, "h1", 150)
    });
    t.ok(s, "touch_session unknown", |sql| {
        people_table::touch_session(sql, "zz", 150)
    });
    let session = t.ok(s, "session h1 touched", |sql| {
        people_table::session(sql, "h1")
    });
    assert_eq!(
        session.map(|x| (x.created_at, x.last_seen_at)),
        Some((100, 150))
    );
    assert!(t.ok(s, "end_session", |sql| people_table::end_session(
        sql, "h1", 200
    )));
    assert!(
        !t.ok(s, "end_session again", |sql| people_table::end_session(
            sql, "h1", 201
        ))
    );
    assert!(
        !t.ok(s, "end_session unknown", |sql| people_table::end_session(
            sql, "zz", 201
        ))
    );
    assert_eq!(
        t.ok(s, "end_sessions_of 1", |sql| people_table::end_sessions_of(
            sql, 1, 300
        )),
        1
    );
    assert_eq!(
        t.ok(s, "end_sessions_of 1 again", |sql| {
            people_table::end_sessions_of(sql, 1, 301)
        }),
        0
    );
    assert_eq!(
        t.ok(s, "end_sessions_of 2", |sql| people_table::end_sessions_of(
            sql, 2, 302
        )),
        1
    );
    for (hash, ended) in [("h1", 200), ("h2", 300), ("h3", 302)] {
        let session = t.ok(s, &format!("session {hash} ended"), |sql| {
            people_table::session(sql, hash)
        });
        assert_eq!(
            session.unwrap().ended_at,
            Some(ended),
            "{hash} ended once, first time"
        );
    }

    // Tokens.
    let mut revoked = token(BIG, 1);
    revoked.last_used_at = Some(5);
    revoked.revoked_at = Some(6);
    let tokens = [token(1, 1), token(2, 1), token(3, 2), revoked, token(4, 1)];
    for row in &tokens {
        t.ok(s, &format!("insert_token {}", row.id), |sql| {
            people_table::insert_token(sql, row)
        });
    }
    t.fails(s, "insert_token taken", |sql| {
        people_table::insert_token(sql, &token(1, 2))
    });
    t.fails(s, "insert_token nobody", |sql| {
        people_table::insert_token(sql, &token(50, 999))
    });
    for row in &tokens {
        let found = t.ok(s, &format!("token_by_id {}", row.id), |sql| {
            people_table::token_by_id(sql, row.id)
        });
        assert_eq!(found.as_ref(), Some(row));
    }
    assert!(
        t.ok(s, "token_by_id unknown", |sql| people_table::token_by_id(
            sql, 42
        ))
        .is_none()
    );
    for (user_id, page, expected) in [
        (1, Page::default(), vec![1, 2, 4, BIG]),
        (1, Page::first(2), vec![1, 2]),
        (1, Page::new(Some(2), Some(2)), vec![4, BIG]),
        (1, Page::new(Some(2), Some(4)), vec![]),
        (2, Page::default(), vec![3]),
        (999, Page::default(), vec![]),
    ] {
        let listed = t.ok(s, &format!("tokens_of {user_id} {page:?}"), |sql| {
            people_table::tokens_of(sql, user_id, page)
        });
        assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), expected);
    }
    t.ok(s, "touch_token", |sql| {
        people_table::touch_token(sql, 1, 500)
    });
    let found = t.ok(s, "token_by_id 1 touched", |sql| {
        people_table::token_by_id(sql, 1)
    });
    assert_eq!(found.unwrap().last_used_at, Some(500));
    assert!(t.ok(s, "revoke_token", |sql| people_table::revoke_token(
        sql, 1, 600
    )));
    assert!(
        !t.ok(s, "revoke_token again", |sql| people_table::revoke_token(
            sql, 1, 601
        ))
    );
    assert!(
        !t.ok(s, "revoke_token unknown", |sql| people_table::revoke_token(
            sql, 42, 601
        ))
    );
    // Only the live ones: 2 and 4 (BIG was revoked at 6, 1 just now).
    assert_eq!(
        t.ok(s, "revoke_tokens_of 1", |sql| {
            people_table::revoke_tokens_of(sql, 1, 700)
        }),
        2
    );
    assert_eq!(
        t.ok(s, "revoke_tokens_of 1 again", |sql| {
            people_table::revoke_tokens_of(sql, 1, 701)
        }),
        0
    );
    let listed = t.ok(s, "tokens_of 1 revoked", |sql| {
        people_table::tokens_of(sql, 1, Page::default())
    });
    let revoked_at: Vec<Option<i64>> = listed.iter().map(|r| r.revoked_at).collect();
    assert_eq!(revoked_at, [Some(600), Some(700), Some(700), Some(6)]);
}

#[test]
fn people_storage_answers_alike_on_both_backends() {
    on_both_alike(people_scenario);
}

fn entry(seq: u64, actor: &str, action: &str, object: &str) -> AuditRow {
    AuditRow {
        seq,
        at: 1_000 + i64::try_from(seq).unwrap_or(0),
        actor: actor.to_owned(),
        action: action.to_owned(),
        object: object.to_owned(),
        detail: format!(r#"{{"n":{seq},"text":"é ✓ \"q\" $1"}}"#),
        prev_hash: format!("{:064x}", seq - 1),
        hash: format!("{seq:064x}"),
    }
}

fn audit_scenario(s: &Storage, t: &mut Transcript) {
    let mut rows = vec![
        entry(1, "operator:root", "user.created", "user:ab"),
        entry(2, "user:ab", "token.created", "token:1"),
        entry(3, "user:axb", "login.failed", "user:axb"),
        entry(4, "user:ab", "login.failed", "user:ab"),
        entry(5, "anonymous", "login.failed", ""),
        entry(6, "user:ab", "proposal.created", "proposal:1"),
    ];
    rows[4].at = i64::MIN;
    rows[5].detail = "{}".to_owned();
    for row in &rows {
        t.ok(s, &format!("insert {}", row.seq), |sql| {
            audit_table::insert(sql, row)
        });
    }
    t.fails(s, "insert taken", |sql| {
        audit_table::insert(sql, &entry(2, "server", "x", "y"))
    });
    t.fails(s, "insert beyond i64", |sql| {
        audit_table::insert(sql, &entry(u64::MAX, "server", "x", "y"))
    });

    for seq in [1, 6] {
        let hash = t.ok(s, &format!("hash_of {seq}"), |sql| {
            audit_table::hash_of(sql, seq)
        });
        assert_eq!(hash, Some(format!("{seq:064x}")));
    }
    for seq in [0, 7, u64::MAX] {
        let hash = t.call(s, format!("hash_of {seq}"), |sql| {
            audit_table::hash_of(sql, seq)
        });
        assert!(hash.flatten().is_none());
    }

    for (after, limit, expected) in [
        (0, 100, vec![1, 2, 3, 4, 5, 6]),
        (2, 2, vec![3, 4]),
        (6, 10, vec![]),
        (0, 0, vec![]),
        (u64::MAX, 10, vec![]),
    ] {
        let found = t.ok(s, &format!("from {after} {limit}"), |sql| {
            audit_table::from(sql, after, limit)
        });
        assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
        if after == 0 && limit == 100 {
            assert_eq!(found, rows, "what goes in comes out");
        }
    }

    let filter = |actor: Option<&str>, action: Option<&str>, object: Option<&str>| AuditFilter {
        actor: actor.map(str::to_owned),
        action: action.map(str::to_owned),
        object: object.map(str::to_owned),
    };
    for (f, page, expected) in [
        (
            filter(None, None, None),
            Page::default(),
            vec![6, 5, 4, 3, 2, 1],
        ),
        (
            filter(None, None, None),
            Page::new(Some(2), Some(1)),
            vec![5, 4],
        ),
        (
            filter(Some("user:ab"), None, None),
            Page::default(),
            vec![6, 4, 2],
        ),
        // Equality, not LIKE: `_` is no wildcard.
        (
            filter(Some("user:a_b"), None, None),
            Page::default(),
            vec![],
        ),
        (filter(Some("user:%"), None, None), Page::default(), vec![]),
        (
            filter(None, Some("login.failed"), None),
            Page::default(),
            vec![5, 4, 3],
        ),
        (
            filter(None, None, Some("user:ab")),
            Page::default(),
            vec![4, 1],
        ),
        // An empty filter is a value, not "any".
        (filter(None, None, Some("")), Page::default(), vec![5]),
        (
            filter(Some("user:ab"), Some("login.failed"), None),
            Page::default(),
            vec![4],
        ),
        (
            filter(Some("user:ab"), Some("login.failed"), Some("user:ab")),
            Page::default(),
            vec![4],
        ),
        (
            filter(Some("user:ab"), Some("login.failed"), Some("user:axb")),
            Page::default(),
            vec![],
        ),
        (
            filter(None, Some("login.failed"), None),
            Page::new(Some(1), Some(2)),
            vec![3],
        ),
        (filter(Some("USER:AB"), None, None), Page::default(), vec![]),
        // No entry holds a NUL (PostgreSQL text cannot), so none matches one.
        (filter(Some("user:\0"), None, None), Page::default(), vec![]),
        (
            filter(None, Some("login\0failed"), None),
            Page::default(),
            vec![],
        ),
        (filter(None, None, Some("\0")), Page::default(), vec![]),
    ] {
        let found = t.ok(s, &format!("list {f:?} {page:?}"), |sql| {
            audit_table::list(sql, &f, page)
        });
        assert_eq!(
            found.iter().map(|r| r.seq).collect::<Vec<_>>(),
            expected,
            "{f:?} {page:?}"
        );
    }
}

#[test]
fn audit_storage_answers_alike_on_both_backends() {
    on_both_alike(audit_scenario);
}

fn proposal<'a>(id: i64, kind: &'a str, object: &'a str, by: i64) -> NewProposal<'a> {
    NewProposal {
        id,
        kind,
        object,
        payload: r#"{"k":"v ✓"}"#,
        reason: "card lost — 'really' $1",
        proposed_by: by,
        proposed_at: 100 + id,
    }
}

fn proposals_scenario(s: &Storage, t: &mut Transcript) {
    for row in [user(1, "maker"), user(2, "checker")] {
        t.ok(s, "insert_user", |sql| people_table::insert_user(sql, &row));
    }
    assert_eq!(
        t.ok(s, "pending_count empty", proposals_table::pending_count),
        0
    );
    for (id, kind, object, inserted) in [
        (1, "voucher.revoke", "voucher:V1", true),
        // At most one pending per action and object.
        (2, "voucher.revoke", "voucher:V1", false),
        (3, "case.write_off", "case:1", true),
        (4, "voucher.revoke", "voucher:V2", true),
        // Another action on the same object is another proposal.
        (5, "case.write_off", "voucher:V1", true),
        // A taken id is no insert either.
        (1, "voucher.revoke", "voucher:V3", false),
    ] {
        let done = t.ok(s, &format!("insert {id} {kind} {object}"), |sql| {
            proposals_table::insert(sql, &proposal(id, kind, object, 1))
        });
        assert_eq!(done, inserted, "{id} {kind} {object}");
    }
    t.fails(s, "insert by nobody", |sql| {
        proposals_table::insert(sql, &proposal(9, "voucher.revoke", "voucher:V9", 999))
    });
    assert_eq!(t.ok(s, "pending_count", proposals_table::pending_count), 4);

    let got = t
        .ok(s, "get 1", |sql| proposals_table::get(sql, 1))
        .unwrap();
    assert_eq!(
        (
            got.kind.as_str(),
            got.object.as_str(),
            got.proposed_by,
            got.proposed_by_name.as_str()
        ),
        ("voucher.revoke", "voucher:V1", 1, "maker")
    );
    assert_eq!(
        (got.state.as_str(), got.decided_by_name, got.decided_at),
        ("pending", None, None)
    );
    assert_eq!(got.payload, r#"{"k":"v ✓"}"#);
    assert!(
        t.ok(s, "get unknown", |sql| proposals_table::get(sql, 99))
            .is_none()
    );
    for (kind, object, expected) in [
        ("voucher.revoke", "voucher:V1", Some(1)),
        ("case.write_off", "voucher:V1", Some(5)),
        ("voucher.revoke", "voucher:V9", None),
        ("voucher.revoke", "VOUCHER:V1", None),
    ] {
        let found = t.ok(s, &format!("pending_for {kind} {object}"), |sql| {
            proposals_table::pending_for(sql, kind, object)
        });
        assert_eq!(found, expected);
    }

    assert!(t.ok(s, "decide reject", |sql| {
        proposals_table::decide(sql, 1, "rejected", 2, 500, "no ✗")
    }));
    assert!(!t.ok(s, "decide again", |sql| {
        proposals_table::decide(sql, 1, "approved", 2, 501, "yes")
    }));
    assert!(t.ok(s, "decide approve", |sql| {
        proposals_table::decide(sql, 4, "approved", 2, 600, "ok")
    }));
    assert!(!t.ok(s, "decide unknown", |sql| {
        proposals_table::decide(sql, 99, "approved", 2, 600, "ok")
    }));
    t.fails(s, "decide to no state", |sql| {
        proposals_table::decide(sql, 3, "maybe", 2, 600, "hm")
    });
    t.fails(s, "decide by nobody", |sql| {
        proposals_table::decide(sql, 3, "approved", 999, 600, "hm")
    });
    let got = t
        .ok(s, "get 1 decided", |sql| proposals_table::get(sql, 1))
        .unwrap();
    assert_eq!(
        (
            got.state.as_str(),
            got.decided_by_name.as_deref(),
            got.decided_at,
            got.decision_note.as_deref()
        ),
        ("rejected", Some("checker"), Some(500), Some("no ✗"))
    );
    // Once decided, the same action on the object may be proposed again.
    assert!(t.ok(s, "insert after rejection", |sql| {
        proposals_table::insert(sql, &proposal(6, "voucher.revoke", "voucher:V1", 2))
    }));
    assert_eq!(
        t.ok(s, "pending_count after", proposals_table::pending_count),
        3
    );

    for (state, page, expected) in [
        (None, Page::default(), vec![6, 5, 4, 3, 1]),
        (Some("pending"), Page::default(), vec![6, 5, 3]),
        (Some("approved"), Page::default(), vec![4]),
        (Some("rejected"), Page::default(), vec![1]),
        (Some("maybe"), Page::default(), vec![]),
        (None, Page::new(Some(2), Some(1)), vec![5, 4]),
        (Some("pending"), Page::new(Some(2), Some(2)), vec![3]),
    ] {
        let listed = t.ok(s, &format!("list {state:?} {page:?}"), |sql| {
            proposals_table::list(sql, state, page)
        });
        assert_eq!(
            listed.iter().map(|r| r.id).collect::<Vec<_>>(),
            expected,
            "{state:?} {page:?}"
        );
    }

    // A case's resolution: none, open, closed.
    assert_eq!(
        t.ok(s, "case_resolution unknown", |sql| {
            proposals_table::case_resolution(sql, 1)
        }),
        None
    );
    t.fails(s, "case_resolution beyond i64", |sql| {
        proposals_table::case_resolution(sql, u64::MAX)
    });
    let case = s
        .transaction(|tx| {
            tx.insert_case(&NewCase {
                subject: Credential::Voucher(VoucherId::parse("V1").unwrap()),
                reason: "already_redeemed",
                first: Some((DeviceId::parse("T-1").unwrap(), 1)),
                second: (DeviceId::parse("T-2").unwrap(), 1),
                amount: Money::new(1500, common::kes()),
                redeemed_before_minor: 1500,
                value_minor: 1500,
                opened_at: 700,
            })
        })
        .unwrap();
    assert_eq!(
        t.ok(s, "case_resolution open", |sql| {
            proposals_table::case_resolution(sql, case)
        }),
        Some(None)
    );
    assert!(
        s.transaction(|tx| tx.resolve_case(case, "written_off", "gone", 800))
            .unwrap()
    );
    assert_eq!(
        t.ok(s, "case_resolution closed", |sql| {
            proposals_table::case_resolution(sql, case)
        }),
        Some(Some("written_off".to_owned()))
    );
}

#[test]
fn proposals_storage_answers_alike_on_both_backends() {
    on_both_alike(proposals_scenario);
}

/// More rows than a page holds, in every paged list.
fn pages_scenario(s: &Storage, t: &mut Transcript) {
    let rows = i64::from(PAGE_ROWS_MAX) + 20;
    s.transaction(|tx| {
        for id in 1..=rows {
            people_table::insert_user(tx.sql(), &user(id, &format!("u{id:04}")))?;
            people_table::insert_token(tx.sql(), &token(id, 1))?;
            let seq = u64::try_from(id).unwrap();
            audit_table::insert(tx.sql(), &entry(seq, "server", "test.filler", "x"))?;
            let object = format!("voucher:V{id}");
            proposals_table::insert(tx.sql(), &proposal(id, "voucher.revoke", &object, 1))?;
        }
        Ok::<_, StorageError>(())
    })
    .unwrap();
    let max = PAGE_ROWS_MAX as usize;
    let rows = usize::try_from(rows).unwrap();
    for (page, expected) in [
        (Page::new(Some(u32::MAX), None), max),
        (Page::new(Some(PAGE_ROWS_MAX + 1), None), max),
        (Page::new(Some(PAGE_ROWS_MAX), None), max),
        (Page::new(None, None), PAGE_ROWS_DEFAULT as usize),
        (Page::first(7), 7),
        (Page::new(Some(u32::MAX), Some(15)), max),
        (Page::new(Some(u32::MAX), Some(25)), rows - 25),
        (
            Page::new(Some(100), Some(u64::try_from(rows).unwrap() - 3)),
            3,
        ),
    ] {
        assert!(page.limit <= PAGE_ROWS_MAX);
        let users = t.ok(s, &format!("users {page:?}"), |sql| {
            people_table::users(sql, page)
        });
        let tokens = t.ok(s, &format!("tokens_of {page:?}"), |sql| {
            people_table::tokens_of(sql, 1, page)
        });
        let audit = t.ok(s, &format!("audit list {page:?}"), |sql| {
            audit_table::list(sql, &AuditFilter::default(), page)
        });
        let proposals = t.ok(s, &format!("proposals list {page:?}"), |sql| {
            proposals_table::list(sql, Some("pending"), page)
        });
        let lengths = [users.len(), tokens.len(), audit.len(), proposals.len()];
        assert_eq!(lengths, [expected; 4], "{page:?} on {}", s.backend());
        // The page starts where it says.
        let skip = usize::try_from(page.offset).unwrap();
        assert_eq!(users[0].username, format!("u{:04}", skip + 1));
        assert_eq!(tokens[0].id, i64::try_from(skip + 1).unwrap());
        assert_eq!(audit[0].seq, u64::try_from(rows - skip).unwrap());
        assert_eq!(proposals[0].id, i64::try_from(rows - skip).unwrap());
    }
}

#[test]
fn every_list_is_bounded_by_its_page_alike_on_both_backends() {
    on_both_alike(pages_scenario);
}

/// A PostgreSQL database created under a linguistic locale (`en_US.UTF-8`,
/// the default of many installations) sorts text by language rules, where
/// `_` comes before `-` and `.`; SQLite sorts by bytes. Simulated here by
/// giving the column ICU's root collation, which any PostgreSQL built with
/// ICU has.
#[test]
fn users_are_listed_in_byte_order_whatever_the_postgres_collation() {
    let (_sqlite_dir, sqlite) = fresh(Backend::Sqlite);
    let (_postgres_dir, postgres) = fresh(Backend::Postgres);
    postgres
        .transaction(|tx| {
            tx.sql().execute(
                "ALTER TABLE users ALTER COLUMN username TYPE TEXT COLLATE \"und-x-icu\"",
                &[],
            )
        })
        .unwrap();
    let listed = |storage: &Storage| {
        storage
            .transaction(|tx| {
                for (name, id) in NAMES.iter().zip(1..) {
                    people_table::insert_user(tx.sql(), &user(id, name))?;
                }
                people_table::users(tx.sql(), Page::default())
            })
            .unwrap()
            .into_iter()
            .map(|r| r.username)
            .collect::<Vec<_>>()
    };
    let mut bytes: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    bytes.sort_unstable();
    assert_eq!(listed(&sqlite), bytes);
    assert_eq!(
        listed(&postgres),
        bytes,
        "PostgreSQL lists by its collation"
    );
}
