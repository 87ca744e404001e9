//! The workspace's dependency directions (ARCHITECTURE.md), checked from
//! `cargo metadata` and `cargo tree` rather than trusted to review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs the cargo that runs this test, offline, at the workspace root.
fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(cargo)
        .args(args)
        .arg("--offline")
        .current_dir(root)
        .output()
        .expect("running cargo");
    assert!(
        output.status.success(),
        "cargo {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo prints UTF-8")
}

/// Each workspace crate's non-optional normal dependencies on other
/// workspace crates, and separately its optional ones.
fn workspace_edges() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let metadata: Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"]))
            .expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    let ours: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect();
    packages
        .iter()
        .map(|package| {
            let mut required = BTreeSet::new();
            let mut optional = BTreeSet::new();
            for dependency in package["dependencies"].as_array().expect("dependencies") {
                let name = dependency["name"].as_str().expect("a name");
                // `kind` is null for normal dependencies, "dev" or "build" otherwise.
                if !ours.contains(name) || !dependency["kind"].is_null() {
                    continue;
                }
                if dependency["optional"].as_bool() == Some(true) {
                    optional.insert(name.to_owned());
                } else {
                    required.insert(name.to_owned());
                }
            }
            let name = package["name"].as_str().expect("a name").to_owned();
            (name, (required, optional))
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn workspace_crates_depend_on_each_other_in_one_direction() {
    let edges = workspace_edges();
    let expected: BTreeMap<&str, (BTreeSet<String>, BTreeSet<String>)> = [
        ("lastmile-shared", (set(&[]), set(&[]))),
        ("lastmile-hardware", (set(&[]), set(&[]))),
        ("lastmile-server", (set(&["lastmile-shared"]), set(&[]))),
        (
            "lastmile-terminal",
            (
                set(&["lastmile-hardware", "lastmile-shared"]),
                // Only the demo feature brings the server in.
                set(&["lastmile-server"]),
            ),
        ),
        ("lastmile-tests", (set(&[]), set(&[]))),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        edges.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected.keys().copied().collect::<BTreeSet<_>>(),
        "a workspace crate was added or removed: give it its place in ARCHITECTURE.md and here"
    );
    for (name, want) in &expected {
        assert_eq!(&edges[*name], want, "{name}'s dependencies on our crates");
    }
}

#[test]
fn a_terminal_built_for_a_board_links_no_server_code() {
    let tree = cargo(&[
        "tree",
        "-p",
        "lastmile-terminal",
        "--no-default-features",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(crates.contains("slint"), "the tree was read: {tree}");
    for forbidden in [
        "lastmile-server",
        "axum",
        "tokio",
        "tokio-postgres",
        "postgres",
        "hyper",
    ] {
        assert!(
            !crates.contains(forbidden),
            "{forbidden} is linked into a terminal built without the demo"
        );
    }
}
