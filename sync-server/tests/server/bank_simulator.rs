//! The bank simulator end to end: the real `lastmile-server
//! bank-simulator --once` on a hand-written `pain.001` in an outbox, its
//! `pain.002` and `camt.054` read back from the inbox: rejections at the
//! rate asked, the same answers to a file sent again, nothing settled
//! twice, and (when `LASTMILE_ISO20022_XSD_DIR` names the official
//! schemas) both reports valid against them.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_server::rails::iso20022::status::{read_camt054, read_pain002};
use lastmile_server::rails::iso20022::{Booking, StatusLine, StatusReport, TxStatus};

const PAYMENTS: usize = 1000;

/// A `pain.001.001.09` of `PAYMENTS` payments of KES 25.50, written by
/// hand (not by our writer: the bank must read what banks are sent).
fn pain001(message_id: &str) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">
 <CstmrCdtTrfInitn>
  <GrpHdr>
   <MsgId>{message_id}</MsgId>
   <CreDtTm>2027-01-05T10:00:00Z</CreDtTm>
   <NbOfTxs>{PAYMENTS}</NbOfTxs>
   <CtrlSum>25500.00</CtrlSum>
   <InitgPty><Nm>Cash 2027</Nm></InitgPty>
  </GrpHdr>
  <PmtInf>
   <PmtInfId>{message_id}-1</PmtInfId>
   <PmtMtd>TRF</PmtMtd>
   <NbOfTxs>{PAYMENTS}</NbOfTxs>
   <CtrlSum>25500.00</CtrlSum>
   <ReqdExctnDt><Dt>2027-01-06</Dt></ReqdExctnDt>
   <Dbtr><Nm>Cash 2027</Nm></Dbtr>
   <DbtrAcct><Id><IBAN>KE00BANK0000000000001</IBAN></Id></DbtrAcct>
   <DbtrAgt><FinInstnId><BICFI>BANKKENA</BICFI></FinInstnId></DbtrAgt>
"#
    );
    for n in 0..PAYMENTS {
        xml.push_str(&format!(
            "   <CdtTrfTxInf><PmtId><EndToEndId>{message_id}-{n:05}</EndToEndId></PmtId>\
             <Amt><InstdAmt Ccy=\"KES\">25.50</InstdAmt></Amt><Cdtr><Nm>Person {n}</Nm></Cdtr>\
             <CdtrAcct><Id><Othr><Id>07{n:08}</Id></Othr></Id></CdtrAcct>\
             <RmtInf><Ustrd>Cash 2027 January</Ustrd></RmtInf></CdtTrfTxInf>\n"
        ));
    }
    xml.push_str("  </PmtInf>\n </CstmrCdtTrfInitn>\n</Document>\n");
    xml
}

struct Folders {
    _dir: tempfile::TempDir,
    data: PathBuf,
    outbox: PathBuf,
    inbox: PathBuf,
}

fn folders() -> Folders {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    Folders {
        data: dir.path().join("data"),
        inbox: dir.path().join("inbox"),
        outbox,
        _dir: dir,
    }
}

/// Runs the simulator once; its JSON lines.
fn simulate(folders: &Folders, extra: &[&str]) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_lastmile-server"))
        .arg("--data-dir")
        .arg(&folders.data)
        .arg("bank-simulator")
        .arg("--outbox")
        .arg(&folders.outbox)
        .arg("--inbox")
        .arg(&folders.inbox)
        .args([
            "--reject-per-mille",
            "100",
            "--reasons",
            "AC01,AC04,AM04",
            "--seed",
            "42",
        ])
        .args(["--once", "--delay-ms", "10"])
        .args(extra)
        .env("LASTMILE_LOG", "warn")
        .env_remove("LASTMILE_DATABASE")
        .output()
        .expect("running lastmile-server");
    assert!(
        output.status.success(),
        "bank-simulator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn status_report(path: &Path) -> (StatusReport, Vec<StatusLine>) {
    let mut lines = Vec::new();
    let report = read_pain002(
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .unwrap(),
        |line| {
            lines.push(line);
            Ok::<_, ()>(())
        },
    )
    .unwrap();
    (report, lines)
}

fn bookings(path: &Path) -> Vec<Booking> {
    let mut bookings = Vec::new();
    read_camt054(
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .unwrap(),
        |booking| {
            bookings.push(booking);
            Ok::<_, ()>(())
        },
    )
    .unwrap();
    bookings
}

/// Validates `file` against the official schema `xsd` when
/// `LASTMILE_ISO20022_XSD_DIR` is set.
fn validate(file: &Path, xsd: &str) {
    let Some(dir) = common::xsd_dir() else { return };
    // The PyPI packages ship pain.002 .03, .12, .14 and .15, not the .10
    // the simulator writes (its XSD is in the brief's specs, which stay out
    // of the repository): that one is checked by hand, not here.
    if xsd == "pain.002.001.10.xsd" && !dir.join(xsd).exists() {
        println!("{xsd} is not shipped: {} not checked", file.display());
        return;
    }
    common::assert_valid_xml(&dir, xsd, file);
}

#[test]
fn the_bank_answers_rejects_at_the_rate_asked_and_never_settles_twice() {
    let folders = folders();
    std::fs::write(folders.outbox.join("batch-1.xml"), pain001("LM-2027-01-A")).unwrap();
    // What is not a finished pain.001 of the server's is left alone.
    std::fs::write(folders.outbox.join(".batch-2.xml.tmp"), "<Docu").unwrap();
    std::fs::write(folders.outbox.join("notes.txt"), "not a payment file").unwrap();

    let first = simulate(&folders, &[]);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["file"], "batch-1.xml");
    let pain002 = folders.inbox.join("batch-1.pain002.xml");
    let camt054 = folders.inbox.join("batch-1.camt054.xml");
    let (report, lines) = status_report(&pain002);
    assert_eq!(report.original_message_id, "LM-2027-01-A");
    assert_eq!(lines.len(), PAYMENTS);
    let rejected: Vec<_> = lines
        .iter()
        .filter(|l| l.status == TxStatus::Rejected)
        .collect();
    assert!(
        (60..=140).contains(&rejected.len()),
        "{} of {PAYMENTS} rejected at 100 per mille",
        rejected.len()
    );
    assert!(rejected.iter().all(|line| {
        ["AC01", "AC04", "AM04"].contains(&line.reason.as_deref().unwrap_or_default())
    }));
    let booked = bookings(&camt054);
    assert_eq!(booked.len(), PAYMENTS - rejected.len());
    assert_eq!(first[0]["settled"], booked.len());
    let accepted: Vec<_> = lines
        .iter()
        .filter(|l| l.status == TxStatus::Accepted)
        .map(|l| l.end_to_end_id.clone())
        .collect();
    let booked_ids: Vec<_> = booked.iter().map(|b| b.end_to_end_id.clone()).collect();
    assert_eq!(booked_ids, accepted, "every accepted payment booked once");
    assert!(
        booked
            .iter()
            .all(|b| b.amount.decimal() == "25.50" && b.booked)
    );
    validate(&pain002, "pain.002.001.10.xsd");
    validate(&camt054, "camt.054.001.08.xsd");

    // Nothing new: nothing answered, even by a new process.
    assert!(simulate(&folders, &[]).is_empty());

    // The same file again, under another name: the same answers, and
    // nothing booked a second time.
    std::fs::write(
        folders.outbox.join("batch-1-again.xml"),
        pain001("LM-2027-01-A"),
    )
    .unwrap();
    let again = simulate(&folders, &[]);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["settled"], 0);
    assert_eq!(again[0]["repeated"], accepted.len());
    let (_, lines_again) = status_report(&folders.inbox.join("batch-1-again.pain002.xml"));
    let statuses = |lines: &[StatusLine]| -> Vec<_> {
        lines
            .iter()
            .map(|l| (l.end_to_end_id.clone(), l.status, l.reason.clone()))
            .collect()
    };
    assert_eq!(statuses(&lines_again), statuses(&lines));
    assert!(!folders.inbox.join("batch-1-again.camt054.xml").exists());
    let mut temporaries = std::fs::read_dir(&folders.inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'));
    assert_eq!(temporaries.next(), None);
}

#[test]
fn duplicate_reports_are_delivered_twice_and_a_bad_file_is_refused_whole() {
    let folders = folders();
    std::fs::write(folders.outbox.join("b.xml"), pain001("LM-2027-01-B")).unwrap();
    let broken = pain001("LM-2027-01-C").replace(
        "<CtrlSum>25500.00</CtrlSum>\n   <InitgPty>",
        "<CtrlSum>1.00</CtrlSum>\n   <InitgPty>",
    );
    std::fs::write(folders.outbox.join("c.xml"), broken).unwrap();
    let answered = simulate(&folders, &["--duplicates"]);
    assert_eq!(answered.len(), 2, "{answered:?}");
    let read = |name: &str| std::fs::read(folders.inbox.join(name)).unwrap();
    assert_eq!(read("b.pain002.xml"), read("b.again.pain002.xml"));
    assert_eq!(read("b.camt054.xml"), read("b.again.camt054.xml"));
    let (report, lines) = status_report(&folders.inbox.join("c.pain002.xml"));
    assert_eq!(answered[1]["file_rejected"], "AM10");
    assert_eq!(report.group_status, Some(TxStatus::Rejected));
    assert_eq!(report.group_reason.as_deref(), Some("AM10"));
    assert!(lines.is_empty());
    assert!(!folders.inbox.join("c.camt054.xml").exists());
    validate(&folders.inbox.join("c.pain002.xml"), "pain.002.001.10.xsd");
}
