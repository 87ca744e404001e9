//! The `pain.001` files the bank-file rail writes are valid against ISO's
//! own schemas, checked by `xmllint` (Debian `libxml2-utils`): varied
//! payments in both versions, the reviewed fixtures, and a file of 10 000.
//!
//! The XSDs are in `LASTMILE_ISO20022_XSD_DIR`, which `scripts/test.sh` sets
//! from `scripts/iso20022-schemas.sh`. Without it these tests say so and
//! pass, unless `CI` is set: there they fail, so that CI never passes
//! without having validated.

use crate::common;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_server::rails::iso20022::pain001::Pain001Writer;
use lastmile_server::rails::iso20022::{
    AccountId, Agent, CreditTransfer, Debtor, FileHeader, Pain001Version,
};
use lastmile_shared::money::{Currency, Money};

fn schema_name(version: Pain001Version) -> &'static str {
    match version {
        Pain001Version::V09 => "pain.001.001.09.xsd",
        Pain001Version::V03 => "pain.001.001.03.xsd",
    }
}

/// Runs `xmllint --schema` on `file`; panics with its report when invalid.
fn assert_valid(schemas: &Path, version: Pain001Version, file: &Path) {
    common::assert_valid_xml(schemas, schema_name(version), file);
}

fn header(currency: Currency, count: u64, control_sum: i64, agent: Option<Agent>) -> FileHeader {
    FileHeader {
        message_id: "LM-2026-03-P1-0001".to_owned(),
        created_at: 1_772_352_000,
        initiating_party: "Ministry of Labour & Social Protection".to_owned(),
        payment_information_id: "LM-2026-03-P1-0001-B1".to_owned(),
        execution_date: "2026-03-02".to_owned(),
        debtor: Debtor {
            name: "Inua Jamii <Programme>".to_owned(),
            account: AccountId::Iban("MU17BOMM0101101030300200000MUR".to_owned()),
            agent,
        },
        currency,
        count,
        control_sum: Money::new(control_sum, currency),
    }
}

const NAMES: [&str; 8] = [
    "Amina Wanjiru",
    "Ochieng' Otieno & Sons",
    "<Fatou> \"Diallo\"",
    "Aïssatou N'Diaye",
    "ተስፋዬ ገብረ",
    "\u{200F}فاطمة الزهراء",
    "Nguyễn Thị Hoa",
    "=HYPERLINK(\"x\")",
];

/// The `n`-th of a file's varied payments: every account and agent form,
/// names in several scripts and with characters XML escapes, remittance
/// given or not.
fn transfer(n: u64, currency: Currency) -> CreditTransfer {
    CreditTransfer {
        end_to_end_id: format!("P1/2026-03.{n:06}"),
        amount: Money::new(1 + (n as i64 * 7_919) % 5_000_000, currency),
        creditor_name: NAMES[n as usize % NAMES.len()].to_owned(),
        creditor_account: match n % 2 {
            0 => AccountId::Iban(format!("KE{:02}KCBL{n:010}", n % 100)),
            _ => AccountId::Other(format!("07{n:08}")),
        },
        creditor_agent: match n % 3 {
            0 => Some(Agent::Bic(
                if n.is_multiple_of(2) {
                    "KCBLKENX"
                } else {
                    "EQBLKENA001"
                }
                .to_owned(),
            )),
            1 => Some(Agent::Member(format!("{:05}", n % 99_999))),
            _ => None,
        },
        remittance: match n % 4 {
            0 => String::new(),
            _ => format!("Inua Jamii 2026-03 <cycle {n}> & arrears"),
        },
    }
}

/// Writes a file of `count` payments to `dir`, streaming.
fn write_file(
    dir: &Path,
    version: Pain001Version,
    currency: Currency,
    count: u64,
    debtor_agent: Option<Agent>,
) -> PathBuf {
    let sum = (0..count).map(|n| transfer(n, currency).amount.minor).sum();
    let path = dir.join(format!("{version:?}-{}-{count}.xml", currency.code()));
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = Pain001Writer::new(
        BufWriter::new(file),
        version,
        &header(currency, count, sum, debtor_agent),
    )
    .unwrap();
    for n in 0..count {
        writer.write(&transfer(n, currency)).unwrap();
    }
    writer.finish().unwrap();
    path
}

#[test]
fn varied_payments_validate_in_both_versions() {
    let Some(schemas) = common::xsd_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for version in [Pain001Version::V09, Pain001Version::V03] {
        for (currency, agent) in [
            ("KES", Some(Agent::Bic("KCBLKENX".to_owned()))),
            ("XOF", Some(Agent::Member("SN010".to_owned()))),
            ("BHD", None),
        ] {
            let path = write_file(
                dir.path(),
                version,
                Currency::parse(currency).unwrap(),
                50,
                agent,
            );
            assert_valid(&schemas, version, &path);
        }
    }
}

#[test]
fn the_reviewed_fixtures_validate() {
    let Some(schemas) = common::xsd_dir() else {
        return;
    };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iso20022");
    for version in [Pain001Version::V09, Pain001Version::V03] {
        let name = schema_name(version).replace(".xsd", ".xml");
        assert_valid(&schemas, version, &fixtures.join(name));
    }
}

#[test]
fn a_file_of_ten_thousand_payments_validates() {
    let Some(schemas) = common::xsd_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kes = Currency::parse("KES").unwrap();
    let path = write_file(dir.path(), Pain001Version::V09, kes, 10_000, None);
    assert_valid(&schemas, Pain001Version::V09, &path);
}

/// The check that the validation is real: a file the schema must refuse.
#[test]
fn xmllint_refuses_a_file_out_of_order() {
    let Some(schemas) = common::xsd_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kes = Currency::parse("KES").unwrap();
    let path = write_file(dir.path(), Pain001Version::V03, kes, 3, None);
    let xml = std::fs::read_to_string(&path).unwrap();
    // `ChrgBr` after the first payment instead of before.
    let broken = xml.replacen("<ChrgBr>SLEV</ChrgBr>\n", "", 1).replacen(
        "</PmtInf>",
        "<ChrgBr>SLEV</ChrgBr>\n</PmtInf>",
        1,
    );
    assert_ne!(broken, xml);
    std::fs::write(&path, broken).unwrap();
    let status = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schemas.join(schema_name(Pain001Version::V03)))
        .arg(&path)
        .output()
        .unwrap()
        .status;
    assert!(!status.success());
}
