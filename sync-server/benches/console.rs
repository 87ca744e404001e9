//! How long the console's pages take with a programme's worth of data:
//! 100 000 vouchers and 1 000 terminals (the figure), each page
//! fetched over loopback HTTP by a signed-in admin; the time is the whole
//! request, so the server's own share is at most this.
//!
//!   cargo bench -p lastmile-server --bench console
//!
//! Knobs: LASTMILE_BENCH_VOUCHERS (100000), LASTMILE_BENCH_TERMINALS (1000),
//! LASTMILE_BENCH_ROUNDS (30), LASTMILE_BENCH_BACKEND (sqlite | postgres;
//! PostgreSQL from LASTMILE_TEST_POSTGRES_URL or a throwaway cluster).

#[path = "../tests/server/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::Backend;
use lastmile_server::people::{self, Role, sessions};
use lastmile_server::storage::{DeviceRow, VoucherRow};
use lastmile_shared::id::{DeviceId, IssuerId, KeyId, MerchantId, ProgrammeId, SiteId, VoucherId};
use lastmile_shared::money::Money;
use lastmile_shared::voucher::RedemptionMode;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed(app: &common::TestApp, vouchers: u64, terminals: u64) -> VoucherId {
    let now = common::now();
    app.storage
        .transaction(|tx| {
            for n in 0..terminals {
                let key = ed25519_dalek::SigningKey::from_bytes(&[(n % 251) as u8 + 1; 32]);
                let device = DeviceId::parse(&format!("T-{n:012x}")).unwrap();
                let mut public_key = key.verifying_key().to_bytes();
                public_key[..8].copy_from_slice(&n.to_be_bytes());
                tx.insert_device(&DeviceRow {
                    kid: KeyId::parse(device.as_str()).unwrap(),
                    device,
                    public_key,
                    label: format!("Counter {n}"),
                    merchant: Some(MerchantId::parse(&format!("shop-{}", n % 300)).unwrap()),
                    site: Some(SiteId::parse(&format!("site-{}", n % 40)).unwrap()),
                    enrolled_at: now - 86_400,
                    revoked_at: None,
                    head_seq: n * 3,
                    head_hash: [0; 32],
                    last_seen_at: Some(now - (n as i64 % 500) * 600),
                })?;
            }
            Ok::<_, lastmile_server::storage::StorageError>(())
        })
        .unwrap();
    let mut last = None;
    let batch = 5_000;
    for start in (0..vouchers).step_by(batch) {
        app.storage
            .transaction(|tx| {
                for n in start..(start + batch as u64).min(vouchers) {
                    let id = VoucherId::parse(&format!("V-{n:020X}")).unwrap();
                    tx.insert_voucher(
                        &VoucherRow {
                            voucher: id.clone(),
                            issuer: IssuerId::parse("lastmile-test").unwrap(),
                            programme: ProgrammeId::parse("food").unwrap(),
                            value: Money::new(150_000, common::kes()),
                            mode: RedemptionMode::Partial,
                            valid_from: now - 86_400,
                            valid_until: now + 86_400 * 90,
                            beneficiary: Some(format!("B-{n}")),
                            credential: format!("LM1:BENCH{n}"),
                            issued_here: true,
                            revoked_at: None,
                            redeemed_minor: 0,
                            winner: None,
                        },
                        now,
                    )?;
                    last = Some(id);
                }
                Ok::<_, lastmile_server::storage::StorageError>(())
            })
            .unwrap();
    }
    last.unwrap()
}

fn main() {
    let backend = match std::env::var("LASTMILE_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let vouchers = knob("LASTMILE_BENCH_VOUCHERS", 100_000);
    let terminals = knob("LASTMILE_BENCH_TERMINALS", 1_000);
    let rounds = knob("LASTMILE_BENCH_ROUNDS", 30) as usize;
    let app = common::spawn_app(backend);
    let seeded = Instant::now();
    let voucher = seed(&app, vouchers, terminals);
    eprintln!(
        "{backend:?}: seeded {vouchers} vouchers and {terminals} terminals in {:.1?}",
        seeded.elapsed()
    );
    let caller = people::authenticate(
        &app.storage,
        common::username(Role::Admin),
        common::PASSWORD,
        common::now(),
    )
    .unwrap();
    let opened = sessions::open(&app.storage, &caller, common::now()).unwrap();
    let cookie = format!("{}={}", sessions::COOKIE, opened.secret);
    let agent = ureq::agent();
    let pages = [
        "/console".to_owned(),
        "/console/terminals".to_owned(),
        "/console/terminals?offset=950".to_owned(),
        format!("/console/vouchers/{voucher}"),
        "/console/cases".to_owned(),
        "/console/proposals".to_owned(),
        "/console/alarms".to_owned(),
        "/console/audit".to_owned(),
        "/console/users".to_owned(),
        "/console/limits".to_owned(),
    ];
    println!("page\tmedian ms\tp95 ms\tbytes");
    for page in pages {
        let mut times: Vec<Duration> = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let mut response = agent
                .get(&format!("{}{page}", app.base_url))
                .header("cookie", &cookie)
                .call()
                .unwrap_or_else(|e| panic!("{page}: {e}"));
            bytes = response.body_mut().read_to_vec().unwrap().len();
            times.push(started.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{page}\t{:.1}\t{:.1}\t{bytes}",
            ms(times[rounds / 2]),
            ms(times[(rounds * 95 / 100).min(rounds - 1)])
        );
    }
}
