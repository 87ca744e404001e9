//! HQ people at the domain level: passwords and lockout
//! (`people::authenticate`), browser sessions (idle and absolute expiry,
//! logout, CSRF), on a fresh database of each backend with a fixed clock.

use crate::common;

use common::Backend;
use lastmile_server::audit;
use lastmile_server::people::sessions::{self, ABSOLUTE_SECONDS, IDLE_SECONDS};
use lastmile_server::people::tokens;
use lastmile_server::people::{
    self, Caller, LOCKOUT_SECONDS, LOGIN_FAILURES_MAX, Language, NewUser, PeopleError, Role,
};
use lastmile_server::storage::Storage;
use lastmile_server::storage::audit::AuditFilter;
use lastmile_server::storage::people as table;
use lastmile_server::storage::sql::Page;

lastmile_tests::on_both_backends!(
    wrong_passwords_lock_an_account_for_a_while,
    unknown_and_disabled_users_are_refused,
    sessions_end_when_idle_when_old_and_at_logout,
    a_csrf_token_matches_only_its_own_session,
    a_new_password_revokes_the_old_ones_tokens,
);

/// 2027-01-15, an arbitrary fixed time.
const T0: i64 = 1_800_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    storage: Storage,
}

/// A fresh database with an admin (the first user always is) and the users named.
fn fixture(backend: Backend, users: &[(&str, Role)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&common::fresh_database(backend, dir.path())).unwrap();
    for (username, role) in [("root.admin", Role::Admin)].iter().chain(users) {
        people::create_user(
            &storage,
            &common::operator(),
            &NewUser {
                username,
                display_name: username,
                role: *role,
                language: Language::En,
                password: common::PASSWORD,
            },
            T0,
        )
        .unwrap();
    }
    Fixture { _dir: dir, storage }
}

fn login(
    storage: &Storage,
    username: &str,
    password: &str,
    now: i64,
) -> Result<Caller, PeopleError> {
    people::authenticate(storage, username, password, now)
}

fn failed_logins(storage: &Storage, username: &str) -> (i64, Option<i64>) {
    let row = storage
        .transaction(|tx| table::user_by_name(tx.sql(), username))
        .unwrap()
        .unwrap();
    (row.failed_logins, row.locked_until)
}

#[track_caller]
fn assert_wrong(result: Result<Caller, PeopleError>) {
    assert!(
        matches!(result, Err(PeopleError::WrongCredentials)),
        "{result:?}"
    );
}

#[track_caller]
fn assert_locked(result: Result<Caller, PeopleError>) -> i64 {
    match result {
        Err(PeopleError::Locked { minutes }) => minutes,
        other => panic!("expected Locked, got {other:?}"),
    }
}

fn actions(storage: &Storage, object: &str) -> Vec<(String, String)> {
    audit::list(
        storage,
        &AuditFilter {
            object: Some(object.to_owned()),
            ..AuditFilter::default()
        },
        Page::first(100),
    )
    .unwrap()
    .into_iter()
    .map(|e| (e.actor, e.action))
    .collect()
}

fn wrong_passwords_lock_an_account_for_a_while(backend: Backend) {
    let f = fixture(backend, &[("lena.finance", Role::Finance)]);
    let s = &f.storage;
    let name = "lena.finance";

    // The right password works, and says who it is.
    let caller = login(s, name, common::PASSWORD, T0).unwrap();
    assert_eq!(
        (caller.username.as_str(), caller.role),
        (name, Role::Finance)
    );
    // A failure is counted; a success clears the count.
    assert_wrong(login(s, name, "correct horse battery stapler", T0 + 1));
    assert_eq!(failed_logins(s, name), (1, None));
    login(s, name, common::PASSWORD, T0 + 2).unwrap();
    assert_eq!(failed_logins(s, name), (0, None));
    // So failures interrupted by a success never lock.
    for i in 0..(LOGIN_FAILURES_MAX - 1) {
        assert_wrong(login(s, name, "nope nope nope", T0 + 10 + i));
    }
    assert_eq!(failed_logins(s, name).0, LOGIN_FAILURES_MAX - 1);
    login(s, name, common::PASSWORD, T0 + 20).unwrap();
    for i in 0..(LOGIN_FAILURES_MAX - 1) {
        assert_wrong(login(s, name, "nope nope nope", T0 + 30 + i));
    }

    // Five in a row lock, from the fifth.
    let t = T0 + 100;
    login(s, name, common::PASSWORD, t).unwrap();
    for i in 1..LOGIN_FAILURES_MAX {
        assert_wrong(login(s, name, "wrong password", t + i));
    }
    let locked_at = t + LOGIN_FAILURES_MAX;
    // The fifth locks, but a wrong password learns only that it is wrong
    // (as for a username that does not exist).
    assert_wrong(login(s, name, "wrong password", locked_at));
    assert_eq!(failed_logins(s, name).1, Some(locked_at + LOCKOUT_SECONDS));
    // The right password is refused while locked, to the last second, and
    // told why; more wrong ones do not lengthen the lock.
    let minutes = assert_locked(login(s, name, common::PASSWORD, locked_at + 1));
    assert_eq!(minutes, LOCKOUT_SECONDS / 60);
    assert_wrong(login(s, name, "wrong password", locked_at + 2));
    let last = assert_locked(login(
        s,
        name,
        common::PASSWORD,
        locked_at + LOCKOUT_SECONDS - 1,
    ));
    assert_eq!(last, 1, "one minute (rounded up) is left");
    assert_eq!(failed_logins(s, name).1, Some(locked_at + LOCKOUT_SECONDS));
    // Another account is not affected.
    login(s, "root.admin", common::PASSWORD, locked_at + 3).unwrap();

    // Once the lock has passed, the right password works...
    let after = locked_at + LOCKOUT_SECONDS + 1;
    let caller = login(s, name, common::PASSWORD, after).unwrap();
    assert_eq!(caller.username, name);
    assert_eq!(failed_logins(s, name), (0, None));
    // ... and the count starts again from nothing.
    for i in 1..LOGIN_FAILURES_MAX {
        assert_wrong(login(s, name, "wrong again", after + i));
    }
    assert_wrong(login(s, name, "wrong again", after + LOGIN_FAILURES_MAX));
    assert_locked(login(
        s,
        name,
        common::PASSWORD,
        after + LOGIN_FAILURES_MAX + 1,
    ));

    // A lock that passed without a login: one wrong password does not
    // re-lock, the full count applies again.
    let later = after + LOGIN_FAILURES_MAX + LOCKOUT_SECONDS + 1;
    assert_wrong(login(s, name, "wrong after lock", later));
    login(s, name, common::PASSWORD, later + 1).unwrap();

    // A new password lifts a lock at once.
    for i in 1..=LOGIN_FAILURES_MAX {
        let _ = login(s, name, "wrong", later + 10 + i);
    }
    assert_locked(login(s, name, common::PASSWORD, later + 20));
    people::set_password(
        s,
        &common::operator(),
        name,
        "a brand new long password",
        later + 21,
    )
    .unwrap();
    assert_wrong(login(s, name, common::PASSWORD, later + 22));
    login(s, name, "a brand new long password", later + 23).unwrap();

    // Every attempt is in the audit trail, on the person's account; only a
    // success is the person's own act, a failure or refusal is anonymous
    // (whoever tried was not known).
    let trail = actions(s, &format!("user:{name}"));
    let actor = format!("user:{name}");
    assert!(
        trail.iter().all(|(who, action)| match action.as_str() {
            "login.succeeded" => *who == actor,
            "login.failed" | "login.refused" => who == "anonymous",
            _ => who.starts_with("operator:"),
        }),
        "{trail:?}"
    );
    let count = |action: &str| trail.iter().filter(|(_, a)| a == action).count();
    // Counted from the attempts above: 7 successes, 5 refusals while
    // locked, 26 wrong passwords (of which 3 locked the account).
    assert_eq!(count("login.succeeded"), 7, "{trail:?}");
    assert_eq!(count("login.refused"), 5, "{trail:?}");
    assert_eq!(count("login.failed"), 26, "{trail:?}");
    assert_eq!(count("user.password_set"), 1);
}

fn unknown_and_disabled_users_are_refused(backend: Backend) {
    let f = fixture(
        backend,
        &[
            ("dina.support", Role::Support),
            ("omar.officer", Role::ProgrammeOfficer),
        ],
    );
    let s = &f.storage;
    // Unknown: the same answer as a wrong password, audited as anonymous.
    assert_wrong(login(s, "no.such.user", common::PASSWORD, T0));
    assert_wrong(login(s, "", common::PASSWORD, T0));
    assert_eq!(
        actions(s, "user:no.such.user"),
        [("anonymous".to_owned(), "login.failed".to_owned())]
    );
    // A name no database could hold (PostgreSQL text takes no NUL) is
    // refused the same way, and the attempt is still audited.
    assert_wrong(login(s, "ab\0cd", common::PASSWORD, T0));
    let tried = audit::list(
        s,
        &AuditFilter {
            actor: Some("anonymous".to_owned()),
            ..AuditFilter::default()
        },
        Page::first(10),
    )
    .unwrap();
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert!(
        tried[0].object.starts_with("user:ab") && !tried[0].object.contains('\0'),
        "{tried:?}"
    );
    // Case matters: usernames are lower-case.
    assert_wrong(login(s, "Dina.Support", common::PASSWORD, T0));

    // Disabled: refused with the right password (and told why) and with a
    // wrong one (told only that it is wrong), and a disabled user's
    // failures do not count towards a lock.
    people::disable_user(s, &common::operator(), "dina.support", T0 + 1).unwrap();
    for i in 0..(LOGIN_FAILURES_MAX + 1) {
        assert_wrong(login(s, "dina.support", "wrong password", T0 + 2 + i));
    }
    let result = login(s, "dina.support", common::PASSWORD, T0 + 10);
    assert!(matches!(result, Err(PeopleError::Disabled)), "{result:?}");
    assert_eq!(failed_logins(s, "dina.support"), (0, None));
    // Another user is unaffected.
    login(s, "omar.officer", common::PASSWORD, T0 + 11).unwrap();
    // Enabled again (by the table: there is no command for it yet), the
    // right password works.
    s.transaction(|tx| {
        let id = table::user_by_name(tx.sql(), "dina.support")?.unwrap().id;
        table::set_disabled(tx.sql(), id, None)
    })
    .unwrap();
    login(s, "dina.support", common::PASSWORD, T0 + 12).unwrap();
}

fn sessions_end_when_idle_when_old_and_at_logout(backend: Backend) {
    let f = fixture(backend, &[("ivy.auditor", Role::Auditor)]);
    let s = &f.storage;
    let caller = login(s, "ivy.auditor", common::PASSWORD, T0).unwrap();

    // Opened and found: the caller is the person who logged in.
    let opened = sessions::open(s, &caller, T0).unwrap();
    let found = sessions::find(s, &opened.secret, T0 + 5).unwrap().unwrap();
    assert_eq!(found.caller, caller);
    assert_eq!(found.csrf, opened.csrf);
    assert!(
        sessions::find(s, "not a session", T0 + 5)
            .unwrap()
            .is_none()
    );
    assert!(
        sessions::find(s, &opened.csrf, T0 + 5).unwrap().is_none(),
        "the CSRF token is no cookie"
    );

    // Idle: used just inside the idle time it lives; left idle past it, it ends.
    let idle = sessions::open(s, &caller, T0).unwrap();
    assert!(
        sessions::find(s, &idle.secret, T0 + IDLE_SECONDS - 1)
            .unwrap()
            .is_some()
    );
    let seen = T0 + IDLE_SECONDS - 1;
    assert!(
        sessions::find(s, &idle.secret, seen + IDLE_SECONDS - 1)
            .unwrap()
            .is_some()
    );
    let left = seen + IDLE_SECONDS - 1;
    assert!(
        sessions::find(s, &idle.secret, left + IDLE_SECONDS + 1)
            .unwrap()
            .is_none()
    );
    // Ended for good: not revived by a request dated earlier.
    assert!(sessions::find(s, &idle.secret, left + 1).unwrap().is_none());

    // Absolute: used all day, never idle, it still ends after ABSOLUTE_SECONDS.
    let busy = sessions::open(s, &caller, T0).unwrap();
    let step = IDLE_SECONDS - 100;
    let mut at = T0;
    while at + step < T0 + ABSOLUTE_SECONDS {
        at += step;
        assert!(
            sessions::find(s, &busy.secret, at).unwrap().is_some(),
            "alive at +{}",
            at - T0
        );
    }
    assert!(
        sessions::find(s, &busy.secret, T0 + ABSOLUTE_SECONDS - 1)
            .unwrap()
            .is_some()
    );
    assert!(
        sessions::find(s, &busy.secret, T0 + ABSOLUTE_SECONDS + 1)
            .unwrap()
            .is_none()
    );
    assert!(
        sessions::find(s, &busy.secret, T0 + ABSOLUTE_SECONDS - 1)
            .unwrap()
            .is_none()
    );

    // Logout ends only that session, once.
    let other = sessions::open(s, &caller, T0 + 10).unwrap();
    sessions::close(s, &caller, &opened.secret, T0 + 20).unwrap();
    assert!(
        sessions::find(s, &opened.secret, T0 + 21)
            .unwrap()
            .is_none()
    );
    assert!(sessions::find(s, &other.secret, T0 + 21).unwrap().is_some());
    sessions::close(s, &caller, &opened.secret, T0 + 22).unwrap();
    let logouts = actions(s, "user:ivy.auditor")
        .into_iter()
        .filter(|(_, action)| action == "logout")
        .count();
    assert_eq!(
        logouts, 1,
        "a second logout of an ended session records nothing"
    );

    // Disabling a user ends their sessions; so does a new password.
    people::set_password(
        s,
        &common::operator(),
        "ivy.auditor",
        "another long password",
        T0 + 30,
    )
    .unwrap();
    assert!(sessions::find(s, &other.secret, T0 + 31).unwrap().is_none());
    let caller = login(s, "ivy.auditor", "another long password", T0 + 32).unwrap();
    let fresh = sessions::open(s, &caller, T0 + 32).unwrap();
    assert!(sessions::find(s, &fresh.secret, T0 + 33).unwrap().is_some());
    people::disable_user(s, &common::operator(), "ivy.auditor", T0 + 34).unwrap();
    assert!(sessions::find(s, &fresh.secret, T0 + 35).unwrap().is_none());
}

fn a_csrf_token_matches_only_its_own_session(backend: Backend) {
    let f = fixture(backend, &[("kofi.admin", Role::Admin)]);
    let s = &f.storage;
    let caller = login(s, "kofi.admin", common::PASSWORD, T0).unwrap();
    let one = sessions::open(s, &caller, T0).unwrap();
    let two = sessions::open(s, &caller, T0).unwrap();
    assert_ne!(one.secret, two.secret);
    assert_ne!(one.csrf, two.csrf);
    assert_ne!(one.secret, one.csrf);
    let session = sessions::find(s, &one.secret, T0 + 1).unwrap().unwrap();
    assert!(session.csrf_matches(&one.csrf));
    assert!(!session.csrf_matches(&two.csrf));
    assert!(!session.csrf_matches(""));
    assert!(!session.csrf_matches(&one.secret));
    assert!(!session.csrf_matches(&one.csrf[..one.csrf.len() - 1]));
    assert!(!session.csrf_matches(&format!("{}x", one.csrf)));
    assert!(!session.csrf_matches(&one.csrf.to_uppercase()));
    let mut flipped = one.csrf.clone();
    let first = flipped.remove(0);
    flipped.insert(0, if first == 'a' { 'b' } else { 'a' });
    assert!(!session.csrf_matches(&flipped));
    let session_two = sessions::find(s, &two.secret, T0 + 1).unwrap().unwrap();
    assert!(session_two.csrf_matches(&two.csrf));
    assert!(!session_two.csrf_matches(&one.csrf));
}

fn a_new_password_revokes_the_old_ones_tokens(backend: Backend) {
    let f = fixture(backend, &[("rosa.support", Role::Support)]);
    let s = &f.storage;
    let token = tokens::create(s, &common::operator(), "rosa.support", "laptop", T0).unwrap();
    assert!(tokens::authenticate(s, &token.token, T0 + 1).is_ok());
    people::set_password(
        s,
        &common::operator(),
        "rosa.support",
        "another long password",
        T0 + 2,
    )
    .unwrap();
    assert!(
        tokens::authenticate(s, &token.token, T0 + 3).is_err(),
        "a token made with the old password still works"
    );
}
