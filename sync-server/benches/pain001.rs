//! Writing a `pain.001.001.09` of a million payments to a file: the
//! figures are the time, the file's size and the process's peak memory,
//! which must not grow with the count (the payments are made one at a time
//! and streamed out, as the rail does from the database).
//!
//!   cargo bench -p lastmile-server --bench pain001
//!
//! Knob: LASTMILE_BENCH_TRANSFERS (1 000 000).

use std::time::Instant;

use lastmile_server::rails::iso20022::pain001::Pain001Writer;
use lastmile_server::rails::iso20022::{
    AccountId, Agent, CreditTransfer, Debtor, FileHeader, Pain001Version,
};
use lastmile_shared::money::{Currency, Money};

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

fn amount_minor(n: u64) -> i64 {
    300_000 + (n as i64 % 1_000) * 50
}

/// The `n`-th payment: half to IBANs at BIC banks, half to other account
/// numbers at banks known by a national code.
fn transfer(n: u64, currency: Currency) -> CreditTransfer {
    let (creditor_account, creditor_agent) = if n.is_multiple_of(2) {
        (
            AccountId::Iban(format!("MU17BOMM{n:022}")),
            Agent::Bic("BOMMMUPLXXX".to_owned()),
        )
    } else {
        (
            AccountId::Other(format!("07{n:08}")),
            Agent::Member(format!("{:05}", n % 100)),
        )
    };
    CreditTransfer {
        end_to_end_id: format!("P1-2026-03-{n:09}"),
        amount: Money::new(amount_minor(n), currency),
        creditor_name: format!("Beneficiary {n} & family"),
        creditor_account,
        creditor_agent: Some(creditor_agent),
        remittance: "Inua Jamii March 2026, cycle 2026-03".to_owned(),
    }
}

fn main() {
    let count = knob("LASTMILE_BENCH_TRANSFERS", 1_000_000);
    let kes = Currency::parse("KES").unwrap();
    let header = FileHeader {
        message_id: "LM-2026-03-P1-0001".to_owned(),
        created_at: 1_772_352_000,
        initiating_party: "Ministry of Labour and Social Protection".to_owned(),
        payment_information_id: "LM-2026-03-P1-0001-B1".to_owned(),
        execution_date: "2026-03-02".to_owned(),
        debtor: Debtor {
            name: "Inua Jamii Programme".to_owned(),
            account: AccountId::Other("1134567890100".to_owned()),
            agent: Some(Agent::Bic("KCBLKENX".to_owned())),
        },
        currency: kes,
        count,
        control_sum: Money::new((0..count).map(amount_minor).sum(), kes),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pain.001.001.09.xml");

    let started = Instant::now();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = Pain001Writer::new(file, Pain001Version::V09, &header).unwrap();
    for n in 0..count {
        writer.write(&transfer(n, kes)).unwrap();
    }
    writer.finish().unwrap().sync_all().unwrap();
    let seconds = started.elapsed().as_secs_f64();

    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "pain.001.001.09: {count} transfers in {seconds:.2} s ({:.0} transfers/s), \
         {:.0} MiB written, peak memory {:.0} MiB",
        count as f64 / seconds,
        bytes as f64 / 1_048_576.0,
        peak_mib()
    );
}
