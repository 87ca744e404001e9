//! `openapi.yaml` documents exactly the routes the router serves, and the
//! server serves that document.

use crate::common;

use std::collections::BTreeSet;

/// `(METHOD, path)` pairs under `paths:` in the document (two-space path
/// keys, four-space method keys).
fn documented(yaml: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut in_paths = false;
    let mut path = None;
    for line in yaml.lines() {
        if !line.starts_with(' ') {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && key.starts_with('/')
        {
            path = Some(key.to_owned());
        } else if let Some(method) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && ["get", "post", "put", "delete", "patch"].contains(&method)
        {
            found.insert((
                method.to_uppercase(),
                path.clone().expect("a method under a path"),
            ));
        }
    }
    found
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let served: BTreeSet<(String, String)> = lastmile_server::api::route_table()
        .into_iter()
        .map(|(method, path)| (method, path.to_owned()))
        .collect();
    let documented = documented(lastmile_server::api::OPENAPI_YAML);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "openapi.yaml documents routes the server lacks: {unserved:?}"
    );
    assert!(served.len() >= 16);
}

/// `(METHOD, path) -> permission` from each operation's `x-lastmile-permission`.
fn documented_permissions(yaml: &str) -> std::collections::BTreeMap<(String, String), String> {
    let mut found = std::collections::BTreeMap::new();
    let (mut path, mut method) = (String::new(), String::new());
    for line in yaml.lines() {
        if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && key.starts_with('/')
        {
            path = key.to_owned();
        } else if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && ["get", "post", "put", "delete", "patch"].contains(&m)
        {
            method = m.to_uppercase();
        } else if let Some(permission) = line.trim().strip_prefix("x-lastmile-permission: ") {
            found.insert((method.clone(), path.clone()), permission.to_owned());
        }
    }
    found
}

#[test]
fn every_hq_operation_documents_the_permission_it_checks() {
    let documented = documented_permissions(lastmile_server::api::OPENAPI_YAML);
    let mut hq_routes = 0;
    for (method, path, audience, _) in lastmile_server::api::routes() {
        if let lastmile_server::api::Audience::Hq(permission)
        | lastmile_server::api::Audience::HqFile(permission) = audience
        {
            hq_routes += 1;
            assert_eq!(
                documented
                    .get(&(method.to_string(), path.to_owned()))
                    .map(String::as_str),
                Some(permission.code()),
                "{method} {path}"
            );
        }
    }
    assert_eq!(documented.len(), hq_routes);
}

#[test]
fn the_server_serves_its_document() {
    let app = common::spawn_app(common::Backend::Sqlite);
    let mut response = ureq::get(&format!("{}/openapi.yaml", app.base_url))
        .call()
        .unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    assert_eq!(text, lastmile_server::api::OPENAPI_YAML);
}
