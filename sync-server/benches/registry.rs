//! The registry at the scale of a national programme: import a million
//! beneficiaries from a CSV (streamed), import the same file again (which
//! changes nothing), and generate a cycle's million entitlements, on SQLite
//! or PostgreSQL; the peak memory of the whole process is reported too.
//!
//!   cargo bench -p lastmile-server --bench registry
//!   LASTMILE_BENCH_BACKEND=postgres cargo bench -p lastmile-server --bench registry
//!
//! The file is made by `scripts/generate-beneficiaries.py` (kept in the
//! target folder between runs). Knobs: LASTMILE_BENCH_ROWS (1 000 000),
//! LASTMILE_BENCH_HOUSEHOLDS=1 for a household programme. PostgreSQL comes
//! from LASTMILE_TEST_POSTGRES_URL (`scripts/postgres.sh start`); note that
//! the test cluster runs with fsync off.

#[path = "../tests/server/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use common::{Backend, operator};
use lastmile_server::registry::cycles::{self, RuleRequest};
use lastmile_server::registry::import::{self, Mapping, Options};
use lastmile_server::registry::programmes::{self, NewProgramme, Target, Transition};
use lastmile_server::registry::sites;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident memory so far, in MiB (Linux `VmHWM`).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn file(rows: u64, households: bool) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "beneficiaries-{rows}{}.csv",
        if households { "-households" } else { "" }
    ));
    if !path.exists() {
        let mut command = Command::new("python3");
        command
            .arg(root.join("scripts/generate-beneficiaries.py"))
            .arg(rows.to_string())
            .arg(&path);
        if households {
            command.arg("--households");
        }
        assert!(command.status().unwrap().success(), "the generator failed");
    }
    path
}

fn main() {
    let backend = match std::env::var("LASTMILE_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let rows = knob("LASTMILE_BENCH_ROWS", 1_000_000);
    let households = knob("LASTMILE_BENCH_HOUSEHOLDS", 0) == 1;
    let path = file(rows, households);
    let app = common::spawn_app(backend);
    let actor = operator();
    let now = common::now();
    for n in 1..=50 {
        sites::create(
            &app.storage,
            &actor,
            &format!("site-{n}"),
            &format!("Site {n}"),
            now,
        )
        .unwrap();
    }
    programmes::create(
        &app.storage,
        &actor,
        &NewProgramme {
            programme: "P-national".to_owned(),
            name: "National cash transfer".to_owned(),
            currency: "KES".to_owned(),
            issuer: "lastmile-test".to_owned(),
            channels: vec!["mobile".to_owned(), "bank".to_owned(), "cash".to_owned()],
            budget: "10000000000.00".to_owned(),
            starts_on: "2027-01-01".to_owned(),
            ends_on: None,
            target: if households {
                Target::Household
            } else {
                Target::Individual
            },
            household_max: Some(10),
            id_pattern: Some("99999999".to_owned()),
        },
        now,
    )
    .unwrap();
    let headers = import::headers(std::fs::File::open(&path).unwrap()).unwrap();
    let mapping = Mapping::guess(&headers);
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "{backend:?}, {rows} rows ({:.0} MiB){}",
        bytes as f64 / 1048576.0,
        if households { ", households" } else { "" }
    );
    println!("step\tseconds\trows/s\tpeak MiB");
    let run = |label: &str| {
        let started = Instant::now();
        let report = import::import(
            &app.storage,
            &actor,
            "P-national",
            "bench.csv",
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap()),
            &mapping,
            Options::default(),
            now,
        )
        .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{label}\t{seconds:.1}\t{:.0}\t{:.0}",
            rows as f64 / seconds,
            peak_mib()
        );
        report
    };
    let first = run("import");
    assert_eq!(first.created, rows, "{first:?}");
    let again = run("re-import (unchanged)");
    assert_eq!(
        (again.unchanged, again.created, again.updated),
        (rows, 0, 0)
    );
    programmes::transition(
        &app.storage,
        &actor,
        "P-national",
        Transition::Activate,
        now,
    )
    .unwrap();
    let started = Instant::now();
    let cycle = cycles::generate(
        &app.storage,
        &actor,
        "P-national",
        "2027-01",
        &RuleRequest {
            rule: "flat".to_owned(),
            amount: "3000.00".to_owned(),
            cap: None,
        },
        now,
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "generate cycle ({} entitlements)\t{seconds:.1}\t{:.0}\t{:.0}",
        cycle.entitlements,
        cycle.entitlements as f64 / seconds,
        peak_mib()
    );
}
