//! Reconciling a bank's debit notification: a `camt.054` of a million
//! bookings, written with our writer to a temporary file, read back as a
//! stream and each booking matched against a million expected payments
//! (`EndToEndId` → amount) in memory, as the server will. Target: within
//! 10 s for a million.
//!
//!   cargo bench -p lastmile-server --bench camt054
//!
//! Knob: LASTMILE_BENCH_BOOKINGS (1 000 000).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::time::Instant;

use lastmile_server::rails::iso20022::status::{self, Camt054Header, Camt054Writer};
use lastmile_server::rails::iso20022::{AccountId, Booking, CreditDebit};
use lastmile_shared::money::{Currency, Money};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `n`-th payment of a cycle, as the `pain.001` writer would name it.
fn end_to_end_id(n: u64) -> String {
    format!("LM-2027-01-{n:010}")
}

fn amount(n: u64, currency: Currency) -> Money {
    Money::new(100_000 + (n % 9_000) as i64 * 50, currency)
}

fn main() {
    let total = knob("LASTMILE_BENCH_BOOKINGS", 1_000_000);
    let currency = Currency::parse("KES").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notification.camt054.xml");

    let started = Instant::now();
    let mut writer = Camt054Writer::new(
        BufWriter::new(File::create(&path).unwrap()),
        &Camt054Header {
            message_id: "NTF-BENCH-1".to_owned(),
            created_at: 1_800_000_000,
            notification_id: "NTF-BENCH-1".to_owned(),
            account: AccountId::Iban("KE00BANK0000000000001".to_owned()),
        },
    )
    .unwrap();
    for n in 0..total {
        writer
            .booking(&Booking {
                end_to_end_id: end_to_end_id(n),
                amount: amount(n, currency),
                credit_debit: CreditDebit::Debit,
                reversal: false,
                booked: true,
                booking_date: Some("2027-01-15".to_owned()),
                bank_reference: Some(format!("BK{n:012}")),
            })
            .unwrap();
    }
    writer.finish().unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "camt054: wrote {total} bookings ({:.0} MB) in {:.2} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let expected: HashMap<String, Money> = (0..total)
        .map(|n| (end_to_end_id(n), amount(n, currency)))
        .collect();

    let started = Instant::now();
    let (mut matched, mut unknown, mut wrong_amount) = (0_u64, 0_u64, 0_u64);
    let notification = status::read_camt054(
        BufReader::with_capacity(1 << 16, File::open(&path).unwrap()),
        |booking| {
            match expected.get(&booking.end_to_end_id) {
                Some(amount) if *amount == booking.amount => matched += 1,
                Some(_) => wrong_amount += 1,
                None => unknown += 1,
            }
            Ok::<_, ()>(())
        },
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!((matched, unknown, wrong_amount), (total, 0, 0));
    assert_eq!(notification.unreferenced, 0);
    println!(
        "camt054: read and matched {matched} bookings against {} expected payments in {seconds:.2} s \
         ({:.0} bookings/s, {:.0} MB/s)",
        expected.len(),
        matched as f64 / seconds,
        bytes as f64 / 1e6 / seconds
    );
}
