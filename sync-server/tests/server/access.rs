//! Who may call which HQ route: every role on every route of the route
//! table, over real HTTP, and the refusals of a request without a usable
//! API token.

use crate::common;

use common::{Backend, hq_request, spawn_app};
use lastmile_server::api::{self, Audience};
use lastmile_server::people::{self, Permission, Role, tokens};
use lastmile_server::storage::people as table;

lastmile_tests::on_both_backends!(
    every_role_on_every_hq_route_is_let_through_or_refused_by_the_matrix,
    requests_without_a_live_token_are_unauthorized,
    a_refused_caller_is_answered_before_the_body_is_read,
    text_no_database_can_hold_is_answered_alike,
);

/// The HQ routes of the route table, with their permission.
fn hq_routes() -> Vec<(String, &'static str, Permission)> {
    api::routes()
        .into_iter()
        .filter_map(|(method, path, audience, _)| match audience {
            Audience::Hq(permission) | Audience::HqFile(permission) => {
                Some((method.to_string(), path, permission))
            }
            Audience::Public | Audience::Terminal => None,
        })
        .collect()
}

/// A concrete path for a route pattern: each `{param}` is a plausible value
/// that names nothing (so that an allowed request changes no one's access).
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|part| match part {
            "{device}" => "T-nobody-0001",
            "{case}" => "987654",
            "{voucher}" => "V-nobody-0001",
            "{merchant}" => "shop-nobody",
            "{proposal}" => "987654",
            "{username}" => "nobody.here",
            "{token}" => "987654",
            "{programme}" => "P-nobody",
            "{beneficiary}" => "B-nobody",
            "{signal}" => "987654",
            "{cycle}" => "987654",
            "{account}" => "budget%2FP-nobody%2FKES",
            "{kid}" => "kid-nobody",
            "{period}" => "2099-01",
            "{rail}" => "rail-nobody",
            "{batch}" => "987654",
            "{payment}" => "LMNOBODY",
            p if p.starts_with('{') => panic!("no value for the path parameter {p} of {pattern}"),
            p => p,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn body_for(method: &str) -> Option<serde_json::Value> {
    (method != "GET").then(|| serde_json::json!({}))
}

/// Who may make the requests that change money, people or keys, written
/// out from the roles' descriptions rather than read from `Role::allows`,
/// so that a change to the matrix shows here.
fn expected_roles(method: &str, pattern: &str) -> Option<&'static [Role]> {
    use Role::*;
    Some(match (method, pattern) {
        ("POST", "/v1/hq/users") | ("POST", "/v1/hq/users/{username}/disable") => &[Admin],
        ("GET", "/v1/hq/users") => &[Admin],
        ("PUT", "/v1/hq/limits") => &[Admin],
        ("POST", "/v1/hq/merchants/{merchant}/revoke") => &[Admin],
        ("POST", "/v1/hq/keys/issuer/rotate") | ("POST", "/v1/hq/keys/root/rotate") => &[Admin],
        ("POST", "/v1/hq/terminals/{device}/revoke")
        | ("PUT", "/v1/hq/terminals/{device}/assignment")
        | ("POST", "/v1/hq/enrolment-codes") => &[Admin, Support],
        ("POST", "/v1/hq/vouchers/{voucher}/revoke") => &[Admin, ProgrammeOfficer],
        ("POST", "/v1/hq/id-authorities") | ("POST", "/v1/hq/id-authorities/{kid}/retire") => {
            &[Admin, ProgrammeOfficer]
        }
        ("POST", "/v1/hq/cases/{case}/write-off") => &[Finance],
        ("POST", "/v1/hq/cases/{case}/resolve") => &[Finance, Support],
        ("POST", "/v1/hq/proposals/{proposal}/decision") => &[Approver],
        ("GET", "/v1/hq/audit") => &[Admin, Approver, Finance, Auditor],
        ("GET", "/v1/hq/me") | ("GET", "/v1/hq/tokens") | ("POST", "/v1/hq/tokens") => &Role::ALL,
        ("POST", "/v1/hq/programmes")
        | ("POST", "/v1/hq/programmes/{programme}/state")
        | ("POST", "/v1/hq/programmes/{programme}/imports")
        | ("POST", "/v1/hq/programmes/{programme}/cycles")
        | ("POST", "/v1/hq/programmes/{programme}/cycles/{period}/amounts")
        | ("POST", "/v1/hq/cycles/{cycle}/entitlements/{beneficiary}/exclusion")
        | ("POST", "/v1/hq/cycles/{cycle}/submit")
        | ("POST", "/v1/hq/cycles/{cycle}/release")
        | ("POST", "/v1/hq/signals/{signal}/review") => &[ProgrammeOfficer],
        ("POST", "/v1/hq/sites") => &[Admin, ProgrammeOfficer],
        ("GET", "/v1/hq/programmes/{programme}/beneficiaries")
        | ("GET", "/v1/hq/programmes/{programme}/beneficiaries/{beneficiary}")
        | ("GET", "/v1/hq/cycles/{cycle}/entitlements")
        | ("GET", "/v1/hq/signals") => &[ProgrammeOfficer, Approver, Auditor],
        ("POST", "/v1/hq/programmes/{programme}/funding")
        | ("POST", "/v1/hq/programmes/{programme}/conversions")
        | ("POST", "/v1/hq/exchange-rates")
        | ("POST", "/v1/hq/exchange-rates/file") => &[Finance],
        ("GET", "/v1/hq/ledger/accounts")
        | ("GET", "/v1/hq/ledger/accounts.csv")
        | ("GET", "/v1/hq/ledger/accounts/{account}/transfers")
        | ("GET", "/v1/hq/ledger/accounts/{account}/transfers.csv")
        | ("GET", "/v1/hq/ledger/verification")
        | ("GET", "/v1/hq/exchange-rates")
        | ("GET", "/v1/hq/programmes/{programme}/statement") => {
            &[Admin, ProgrammeOfficer, Approver, Finance, Auditor]
        }
        _ => return None,
    })
}

fn every_role_on_every_hq_route_is_let_through_or_refused_by_the_matrix(backend: Backend) {
    let app = spawn_app(backend);
    let routes = hq_routes();
    for (method, pattern, permission) in &routes {
        if let Some(expected) = expected_roles(method, pattern) {
            for role in Role::ALL {
                assert_eq!(
                    role.allows(*permission),
                    expected.contains(&role),
                    "{role:?} on {method} {pattern}"
                );
            }
        }
    }
    assert!(
        routes.len() >= 20,
        "the route table has HQ routes: {routes:?}"
    );
    let mut allowed = 0;
    let mut refused = 0;
    for (method, pattern, permission) in &routes {
        let path = concrete(pattern);
        for role in Role::ALL {
            let (status, body) = app.hq_as(role, method, &path, body_for(method));
            let what = format!("{role:?} {method} {path} ({permission:?}): {status} {body}");
            if role.allows(*permission) {
                allowed += 1;
                assert!(status != 401 && status != 403, "let through: {what}");
                // The route itself answered, not the fallback or the router.
                assert!(
                    !matches!(
                        body["code"].as_str(),
                        Some("not_found" | "method_not_allowed" | "unauthorized" | "forbidden")
                    ),
                    "{what}"
                );
            } else {
                refused += 1;
                assert_eq!(status, 403, "refused: {what}");
                assert_eq!(body["code"], "forbidden", "{what}");
                assert!(
                    body["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains(role.code())),
                    "{what}"
                );
            }
        }
    }
    // Both sides of the matrix were exercised.
    assert!(
        allowed > 0 && refused > 0,
        "{allowed} allowed, {refused} refused"
    );

    // Every user is still who they were: nobody was disabled or lost a token
    // by the requests above.
    for role in Role::ALL {
        let (status, me) = app.hq_as(role, "GET", "/v1/hq/me", None);
        assert_eq!(status, 200, "{role:?}: {me}");
        assert_eq!(me["username"], common::username(role));
        assert_eq!(me["role"], role.code());
    }
}

fn unauthorized(base: &str, method: &str, path: &str, token: Option<&str>) {
    let (status, body) = hq_request(base, method, path, body_for(method), token);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{method} {path} with {token:?}: {body}"
    );
}

fn requests_without_a_live_token_are_unauthorized(backend: Backend) {
    let app = spawn_app(backend);
    let base = app.base_url.as_str();
    // No token at all, on every HQ route.
    for (method, pattern, _) in hq_routes() {
        unauthorized(base, &method, &concrete(pattern), None);
    }

    let admin = app.token(Role::Admin).to_owned();
    let (id, secret) = admin
        .strip_prefix("lmt_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap();
    let mut flipped = secret.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let malformed = [
        String::new(),
        "garbage".to_owned(),
        "lmt_".to_owned(),
        "lmt__".to_owned(),
        format!("lmt_{id}"),
        format!("lmt_x{id}_{secret}"),
        format!("lmt_{id}_"),
        format!("lmt_{id}_{flipped}"),
        format!("lmt_{id}_{secret}x"),
        format!("lmt_987654_{secret}"),
        format!("LMT_{id}_{secret}"),
        secret.to_owned(),
    ];
    for token in &malformed {
        unauthorized(base, "GET", "/v1/hq/me", Some(token));
        unauthorized(base, "GET", "/v1/hq/terminals", Some(token));
    }
    // The admin's real token still works after all of that.
    let (status, _) = app.hq_as(Role::Admin, "GET", "/v1/hq/me", None);
    assert_eq!(status, 200);

    // A token revoked over HTTP by its owner stops working at once.
    let (status, created) = app.hq_as(
        Role::Auditor,
        "POST",
        "/v1/hq/tokens",
        Some(serde_json::json!({ "label": "to revoke" })),
    );
    assert_eq!(status, 201, "{created}");
    let second = created["token"].as_str().unwrap().to_owned();
    let (status, _) = hq_request(base, "GET", "/v1/hq/me", None, Some(&second));
    assert_eq!(status, 200);
    let (status, body) = hq_request(
        base,
        "POST",
        &format!("/v1/hq/tokens/{}/revoke", created["id"]),
        Some(serde_json::json!({})),
        Some(&second),
    );
    assert_eq!(status, 200, "{body}");
    unauthorized(base, "GET", "/v1/hq/me", Some(&second));
    // The owner's other token is untouched.
    let (status, _) = app.hq_as(Role::Auditor, "GET", "/v1/hq/me", None);
    assert_eq!(status, 200);
    // Someone else's token is not theirs to revoke (only an admin's may be).
    let finance_id = token_id(app.token(Role::Finance));
    let (status, body) = app.hq_as(
        Role::Auditor,
        "POST",
        &format!("/v1/hq/tokens/{finance_id}/revoke"),
        Some(serde_json::json!({})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_token")),
        "{body}"
    );
    let (status, _) = app.hq_as(Role::Finance, "GET", "/v1/hq/me", None);
    assert_eq!(
        status, 200,
        "the finance token survived the auditor's attempt"
    );

    // A token revoked from the shell.
    let third = tokens::create(
        &app.storage,
        &common::operator(),
        common::username(Role::Finance),
        "shell",
        common::now(),
    )
    .unwrap();
    tokens::revoke(
        &app.storage,
        &common::operator(),
        third.id,
        None,
        common::now(),
    )
    .unwrap();
    unauthorized(base, "GET", "/v1/hq/me", Some(&third.token));

    // A disabled user's token: disabling revokes their tokens...
    people::disable_user(
        &app.storage,
        &common::operator(),
        common::username(Role::Support),
        common::now(),
    )
    .unwrap();
    unauthorized(base, "GET", "/v1/hq/me", Some(app.token(Role::Support)));
    // ... and a user disabled with a token still unrevoked (as a restore
    // or a manual fix could leave it) is refused too.
    let finance = common::username(Role::Finance);
    let live = app.token(Role::Finance).to_owned();
    let (status, _) = hq_request(base, "GET", "/v1/hq/me", None, Some(&live));
    assert_eq!(status, 200);
    app.storage
        .transaction(|tx| {
            let user = table::user_by_name(tx.sql(), finance)?.unwrap();
            table::set_disabled(tx.sql(), user.id, Some(common::now()))
        })
        .unwrap();
    unauthorized(base, "GET", "/v1/hq/me", Some(&live));
    unauthorized(base, "GET", "/v1/hq/cases", Some(&live));
    // Enabled again, the same token works: it was the user, not the token.
    app.storage
        .transaction(|tx| {
            let user = table::user_by_name(tx.sql(), finance)?.unwrap();
            table::set_disabled(tx.sql(), user.id, None)
        })
        .unwrap();
    let (status, _) = hq_request(base, "GET", "/v1/hq/me", None, Some(&live));
    assert_eq!(status, 200);
}

fn a_refused_caller_is_answered_before_the_body_is_read(backend: Backend) {
    let app = spawn_app(backend);
    // Over the HQ body limit: a caller who may post here would get 413.
    let big = serde_json::json!({ "label": "x".repeat(api_hq_body_bytes_max() + 1024) });
    let (status, body) = app.hq_as(Role::Auditor, "POST", "/v1/hq/tokens", Some(big.clone()));
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("body_too_large")),
        "{body}"
    );
    // One who may not is refused for who they are, whatever the body.
    let (status, body) = app.hq_as(Role::Auditor, "POST", "/v1/hq/users", Some(big.clone()));
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = hq_request(&app.base_url, "POST", "/v1/hq/users", Some(big), None);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
}

fn token_id(token: &str) -> i64 {
    token
        .strip_prefix("lmt_")
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or_else(|| panic!("not an API token: {token}"))
}

fn api_hq_body_bytes_max() -> usize {
    // `api::hq` is private; the limit is documented as 64 KiB.
    64 * 1024
}

/// A NUL is text SQLite stores and PostgreSQL refuses: a request carrying
/// one gets the same answer on both, never a server failure.
fn text_no_database_can_hold_is_answered_alike(backend: Backend) {
    let app = spawn_app(backend);
    for query in ["actor=user%3A%00", "action=%00", "object=user%3Aab%00cd"] {
        let (status, body) =
            app.hq_as(Role::Auditor, "GET", &format!("/v1/hq/audit?{query}"), None);
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body, serde_json::json!([]), "{query}");
    }
    let (status, body) = app.hq_as(Role::Admin, "POST", "/v1/hq/users/ab%00cd/disable", None);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_user")),
        "{body}"
    );
}
