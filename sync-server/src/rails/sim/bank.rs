//! The simulated bank's decisions, pure: a `pain.001`'s bytes, the
//! configuration and the ids already settled in, a `pain.002` and a
//! `camt.054` out.
//!
//! Each payment's fate is drawn from the seed and its `EndToEndId` alone,
//! so a file sent again gets the same answers. A payment whose
//! `EndToEndId` the bank already settled is answered with its earlier
//! status (`ACCP`) and is not booked again: real banks de-duplicate on
//! `EndToEndId` the same way, and it is what lets the server re-send a
//! file it is unsure about.
//!
//! A file the bank cannot take whole is rejected whole (group `RJCT`, no
//! lines): unreadable (`FF01`), a count or control sum that does not
//! match its transfers (`AM18`, `AM10`), several currencies (`CURR`), an
//! `EndToEndId` twice (`AM05`).

use std::collections::HashSet;
use std::io::{self, Write};

use lastmile_shared::money::Money;
use sha2::{Digest, Sha256};

use super::pain001::{Pain001Head, Pain001Reader, Transfer};
use crate::calendar;
use crate::rails::iso20022::status::{
    Camt054Header, Camt054Writer, Pain002Header, Pain002Writer, StatusFileError,
};
use crate::rails::iso20022::{
    Booking, CreditDebit, MAX140_CHARS, StatusLine, StatusReport, TxStatus,
};

/// How the simulated bank behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankSimConfig {
    /// Payments rejected per thousand, drawn per `EndToEndId`.
    pub reject_per_mille: u16,
    /// The reason codes rejections are drawn from (e.g. AC01, AC04, AM04).
    pub reasons: Vec<String>,
    /// Deliver every report twice (same bytes, same `MsgId`), as banks
    /// sometimes do: the server must take the second as a repeat.
    pub duplicate_reports: bool,
    pub seed: u64,
    /// Settle what is accepted (book it in the `camt.054`); when false the
    /// bank only accepts, as a bank that settles later.
    pub settle: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("--reject-per-mille is {0}; it is at most 1000")]
    RejectRate(u16),
    #[error("payments are to be rejected but no reason codes are given")]
    NoReasons,
    #[error("the reason code \"{0}\" is not 1 to 4 letters and digits")]
    BadReason(String),
    #[error("writing the bank's answer: {0}")]
    Write(#[from] io::Error),
}

impl BankSimConfig {
    pub fn check(&self) -> Result<(), SimError> {
        if self.reject_per_mille > 1000 {
            return Err(SimError::RejectRate(self.reject_per_mille));
        }
        if self.reject_per_mille > 0 && self.reasons.is_empty() {
            return Err(SimError::NoReasons);
        }
        if let Some(bad) = self.reasons.iter().find(|code| {
            code.is_empty() || code.len() > 4 || !code.bytes().all(|b| b.is_ascii_alphanumeric())
        }) {
            return Err(SimError::BadReason(bad.clone()));
        }
        Ok(())
    }

    /// The reason this payment is rejected with, or `None`: accepted.
    fn rejection(&self, end_to_end_id: &str) -> Option<&str> {
        let digest = Sha256::new()
            .chain_update(b"lastmile bank simulator\0")
            .chain_update(self.seed.to_le_bytes())
            .chain_update(end_to_end_id.as_bytes())
            .finalize();
        let draw = |range: std::ops::Range<usize>| {
            u64::from_le_bytes(digest[range].try_into().expect("eight bytes"))
        };
        if draw(0..8) % 1000 >= u64::from(self.reject_per_mille) {
            return None;
        }
        let index = draw(8..16) % self.reasons.len() as u64;
        Some(&self.reasons[index as usize])
    }
}

/// What the bank answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAnswer {
    /// The `pain.001`'s `MsgId`, when it could be read.
    pub original_message_id: Option<String>,
    /// The whole file was rejected with this reason.
    pub file_rejected: Option<String>,
    pub accepted: u64,
    pub rejected: u64,
    /// Payments already settled before, answered again and not booked.
    pub repeated: u64,
    /// Booked in the `camt.054` now: the ids to remember as settled.
    pub newly_settled: Vec<String>,
}

/// Answers one `pain.001`, writing the `pain.002` and (when a payment is
/// settled) the `camt.054`; `now` dates both. Only writing fails.
pub fn answer(
    pain001: &[u8],
    config: &BankSimConfig,
    settled: &HashSet<String>,
    now: i64,
    pain002: impl Write,
    camt054: impl Write,
) -> Result<BankAnswer, SimError> {
    config.check()?;
    let digest = Sha256::digest(pain001);
    let ids = ReportIds {
        status: format!("STS-{}", &hex::encode(digest)[..31]),
        notification: format!("NTF-{}", &hex::encode(digest)[..31]),
    };
    let head = match check_file(pain001) {
        Ok(head) => head,
        Err(refusal) => {
            write_file_rejection(&refusal, &ids, now, pain002)?;
            return Ok(BankAnswer {
                original_message_id: refusal.message_id,
                file_rejected: Some(refusal.reason.to_owned()),
                accepted: 0,
                rejected: 0,
                repeated: 0,
                newly_settled: Vec::new(),
            });
        }
    };
    let mut answer = BankAnswer {
        original_message_id: Some(head.message_id.clone()),
        file_rejected: None,
        accepted: 0,
        rejected: 0,
        repeated: 0,
        newly_settled: Vec::new(),
    };
    let mut decisions = Vec::new();
    let mut reader = Pain001Reader::new(pain001).expect("checked");
    while let Some(transfer) = reader.next_transfer().expect("checked") {
        let decision = if settled.contains(&transfer.end_to_end_id) {
            answer.repeated += 1;
            Decision::Repeat
        } else if let Some(reason) = config.rejection(&transfer.end_to_end_id) {
            answer.rejected += 1;
            Decision::Reject(reason.to_owned())
        } else {
            answer.accepted += 1;
            Decision::Accept
        };
        decisions.push((transfer, decision));
    }
    let group_status = match (answer.accepted + answer.repeated, answer.rejected) {
        (_, 0) => Some(TxStatus::Accepted),
        (0, _) => Some(TxStatus::Rejected),
        _ => None,
    };
    let mut status = Pain002Writer::new(
        pain002,
        &Pain002Header {
            report: StatusReport {
                message_id: ids.status.clone(),
                original_message_id: head.message_id.clone(),
                group_status,
                group_reason: None,
                group_detail: None,
            },
            created_at: now,
            original_message_name: "pain.001.001.09".to_owned(),
            original_payment_information_id: head.payment_information_id.clone(),
        },
    )?;
    let mut notification = Camt054Writer::new(
        camt054,
        &Camt054Header {
            message_id: ids.notification.clone(),
            created_at: now,
            notification_id: ids.notification.clone(),
            account: head.debtor_account.clone(),
        },
    )?;
    let booking_date = calendar::format_date(now);
    for (transfer, decision) in decisions {
        let (line_status, reason, detail) = match &decision {
            Decision::Accept => (TxStatus::Accepted, None, None),
            Decision::Repeat => (
                TxStatus::Accepted,
                None,
                Some("Already paid: not paid again.".to_owned()),
            ),
            Decision::Reject(reason) => (TxStatus::Rejected, Some(reason.clone()), None),
        };
        status.line(&StatusLine {
            end_to_end_id: transfer.end_to_end_id.clone(),
            status: line_status,
            reason,
            detail,
            amount: Some(transfer.amount),
        })?;
        if decision == Decision::Accept && config.settle {
            notification.booking(&Booking {
                bank_reference: Some(bank_reference(config.seed, &transfer.end_to_end_id)),
                end_to_end_id: transfer.end_to_end_id.clone(),
                amount: transfer.amount,
                credit_debit: CreditDebit::Debit,
                reversal: false,
                booked: true,
                booking_date: Some(booking_date.clone()),
            })?;
            answer.newly_settled.push(transfer.end_to_end_id);
        }
    }
    status.finish()?;
    notification.finish()?;
    Ok(answer)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Accept,
    Reject(String),
    Repeat,
}

struct ReportIds {
    status: String,
    notification: String,
}

/// The bank's own reference of a booking (`AcctSvcrRef`).
fn bank_reference(seed: u64, end_to_end_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(end_to_end_id.as_bytes())
        .finalize();
    format!("SIM{}", &hex::encode(digest)[..20])
}

/// Why the whole file is refused.
struct FileRefusal {
    message_id: Option<String>,
    payment_information_id: Option<String>,
    reason: &'static str,
    detail: String,
}

/// Reads the whole file once, as a bank checks a file before taking any
/// of it: readable, one currency, its count and control sum right, each
/// `EndToEndId` once.
fn check_file(pain001: &[u8]) -> Result<Pain001Head, FileRefusal> {
    let unreadable = |head: Option<&Pain001Head>, error: StatusFileError| FileRefusal {
        message_id: head.map(|head| head.message_id.clone()),
        payment_information_id: head.map(|head| head.payment_information_id.clone()),
        reason: "FF01",
        detail: error.to_string(),
    };
    let mut reader = Pain001Reader::new(pain001).map_err(|error| unreadable(None, error))?;
    let head = reader.head().clone();
    let refuse = |reason, detail: String| FileRefusal {
        message_id: Some(head.message_id.clone()),
        payment_information_id: Some(head.payment_information_id.clone()),
        reason,
        detail,
    };
    let mut seen = HashSet::new();
    let mut total: Option<Money> = None;
    let mut count = 0_u64;
    loop {
        let transfer: Transfer = match reader.next_transfer() {
            Ok(Some(transfer)) => transfer,
            Ok(None) => break,
            Err(error) => return Err(unreadable(Some(&head), error)),
        };
        count += 1;
        total = Some(match total {
            None => transfer.amount,
            Some(sum) => sum.checked_add(transfer.amount).map_err(|error| {
                refuse(
                    "CURR",
                    format!("payment {}: {error}", transfer.end_to_end_id),
                )
            })?,
        });
        if !seen.insert(transfer.end_to_end_id.clone()) {
            return Err(refuse(
                "AM05",
                format!("EndToEndId {} is in the file twice", transfer.end_to_end_id),
            ));
        }
    }
    if count != head.count {
        return Err(refuse(
            "AM18",
            format!("NbOfTxs says {} but the file holds {count}", head.count),
        ));
    }
    if let (Some(written), Some(total)) = (&head.control_sum, total) {
        let matches = Money::parse(written, total.currency).is_ok_and(|sum| sum == total);
        if !matches {
            return Err(refuse(
                "AM10",
                format!(
                    "CtrlSum says {written} but the payments add up to {}",
                    total.decimal()
                ),
            ));
        }
    }
    Ok(head)
}

fn write_file_rejection(
    refusal: &FileRefusal,
    ids: &ReportIds,
    now: i64,
    pain002: impl Write,
) -> Result<(), SimError> {
    let writer = Pain002Writer::new(
        pain002,
        &Pain002Header {
            report: StatusReport {
                message_id: ids.status.clone(),
                original_message_id: refusal
                    .message_id
                    .clone()
                    .unwrap_or_else(|| "NOTPROVIDED".to_owned()),
                group_status: Some(TxStatus::Rejected),
                group_reason: Some(refusal.reason.to_owned()),
                group_detail: Some(refusal.detail.chars().take(MAX140_CHARS).collect()),
            },
            created_at: now,
            original_message_name: "pain.001.001.09".to_owned(),
            original_payment_information_id: refusal
                .payment_information_id
                .clone()
                .unwrap_or_else(|| "NOTPROVIDED".to_owned()),
        },
    )?;
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rails::iso20022::AccountId;
    use crate::rails::iso20022::status::{read_camt054, read_pain002};

    const NOW: i64 = 1_800_000_000;

    /// A hand-written `pain.001.001.09` of `count` payments of KES 10.00
    /// each, ids `E2E-0`, `E2E-1`, …
    fn pain001(message_id: &str, count: usize) -> Vec<u8> {
        let mut xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn>
<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2027-01-05T10:00:00Z</CreDtTm><NbOfTxs>{count}</NbOfTxs><CtrlSum>{}.00</CtrlSum><InitgPty><Nm>Cash 2027</Nm></InitgPty></GrpHdr>
<PmtInf><PmtInfId>{message_id}-1</PmtInfId><PmtMtd>TRF</PmtMtd><NbOfTxs>{count}</NbOfTxs>
<ReqdExctnDt><Dt>2027-01-06</Dt></ReqdExctnDt><Dbtr><Nm>Cash 2027</Nm></Dbtr>
<DbtrAcct><Id><IBAN>KE00BANK0000000000001</IBAN></Id></DbtrAcct><DbtrAgt><FinInstnId><BICFI>BANKKENA</BICFI></FinInstnId></DbtrAgt>
"#,
            count * 10
        );
        for n in 0..count {
            xml.push_str(&format!(
                "<CdtTrfTxInf><PmtId><EndToEndId>E2E-{n}</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"KES\">10.00</InstdAmt></Amt>\
                 <Cdtr><Nm>Person {n}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>07{n:08}</Id></Othr></Id></CdtrAcct></CdtTrfTxInf>\n"
            ));
        }
        xml.push_str("</PmtInf></CstmrCdtTrfInitn></Document>\n");
        xml.into_bytes()
    }

    fn config(reject_per_mille: u16) -> BankSimConfig {
        BankSimConfig {
            reject_per_mille,
            reasons: vec!["AC01".into(), "AC04".into(), "AM04".into()],
            duplicate_reports: false,
            seed: 7,
            settle: true,
        }
    }

    struct Answered {
        answer: BankAnswer,
        report: StatusReport,
        lines: Vec<StatusLine>,
        bookings: Vec<Booking>,
    }

    fn run(file: &[u8], config: &BankSimConfig, settled: &HashSet<String>) -> Answered {
        let (mut status, mut notification) = (Vec::new(), Vec::new());
        let answer = answer(file, config, settled, NOW, &mut status, &mut notification).unwrap();
        let mut lines = Vec::new();
        let report = read_pain002(&status[..], |line| {
            lines.push(line);
            Ok::<_, ()>(())
        })
        .unwrap();
        let mut bookings = Vec::new();
        if !notification.is_empty() {
            read_camt054(&notification[..], |booking| {
                bookings.push(booking);
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        Answered {
            answer,
            report,
            lines,
            bookings,
        }
    }

    #[test]
    fn rejects_about_the_rate_asked_and_books_the_rest() {
        let file = pain001("LM-1", 2000);
        let first = run(&file, &config(100), &HashSet::new());
        assert_eq!(first.lines.len(), 2000);
        let rejected = first
            .lines
            .iter()
            .filter(|l| l.status == TxStatus::Rejected)
            .count();
        assert!((150..=250).contains(&rejected), "{rejected} of 2000 at 10%");
        assert_eq!(first.answer.rejected as usize, rejected);
        assert!(first.lines.iter().all(|line| match line.status {
            TxStatus::Rejected =>
                ["AC01", "AC04", "AM04"].contains(&line.reason.as_deref().unwrap()),
            _ => line.reason.is_none(),
        }));
        assert_eq!(first.bookings.len(), 2000 - rejected);
        assert_eq!(first.answer.newly_settled.len(), 2000 - rejected);
        assert_eq!(first.report.original_message_id, "LM-1");
        assert_eq!(first.report.group_status, None, "some of each");
        let booking = &first.bookings[0];
        assert_eq!(
            booking.amount,
            Money::parse("10.00", booking.amount.currency).unwrap()
        );
        assert_eq!(booking.credit_debit, CreditDebit::Debit);
        assert!(booking.booked);
        assert_eq!(booking.booking_date.as_deref(), Some("2027-01-15"));
        let none = run(&file, &config(0), &HashSet::new());
        assert_eq!(none.answer.rejected, 0);
        assert_eq!(none.report.group_status, Some(TxStatus::Accepted));
        let all = run(&file, &config(1000), &HashSet::new());
        assert_eq!(all.answer.accepted, 0);
        assert_eq!(all.report.group_status, Some(TxStatus::Rejected));
        assert!(all.bookings.is_empty());
    }

    #[test]
    fn a_file_sent_again_gets_the_same_answers_and_nothing_is_settled_twice() {
        let file = pain001("LM-2", 300);
        let first = run(&file, &config(100), &HashSet::new());
        let settled: HashSet<String> = first.answer.newly_settled.iter().cloned().collect();
        let again = run(&file, &config(100), &settled);
        assert!(again.bookings.is_empty());
        assert!(again.answer.newly_settled.is_empty());
        assert_eq!(again.answer.repeated as usize, settled.len());
        let statuses = |answered: &Answered| -> Vec<_> {
            answered
                .lines
                .iter()
                .map(|l| (l.end_to_end_id.clone(), l.status, l.reason.clone()))
                .collect()
        };
        assert_eq!(statuses(&first), statuses(&again));
        // Without memory the same decisions are drawn again.
        let fresh = run(&file, &config(100), &HashSet::new());
        assert_eq!(fresh.bookings, first.bookings);
        // Another seed draws others.
        let other = BankSimConfig {
            seed: 8,
            ..config(100)
        };
        assert_ne!(
            statuses(&run(&file, &other, &HashSet::new())),
            statuses(&first)
        );
    }

    #[test]
    fn without_settling_it_only_accepts() {
        let file = pain001("LM-3", 20);
        let config = BankSimConfig {
            settle: false,
            ..config(0)
        };
        let answered = run(&file, &config, &HashSet::new());
        assert_eq!(answered.answer.accepted, 20);
        assert!(answered.bookings.is_empty() && answered.answer.newly_settled.is_empty());
    }

    #[test]
    fn whole_files_are_refused_with_the_right_reason() {
        let file = String::from_utf8(pain001("LM-4", 3)).unwrap();
        let cases = [
            (
                file.replace(
                    "<NbOfTxs>3</NbOfTxs><CtrlSum>",
                    "<NbOfTxs>4</NbOfTxs><CtrlSum>",
                ),
                "AM18",
            ),
            (file.replace("<CtrlSum>30.00", "<CtrlSum>31.00"), "AM10"),
            (file.replace("E2E-2<", "E2E-1<"), "AM05"),
            (
                file.replacen("Ccy=\"KES\"", "Ccy=\"UGX\"", 1)
                    .replacen(">10.00<", ">10<", 1),
                "CURR",
            ),
            (
                file.replace("Ccy=\"KES\">10.00", "Ccy=\"KES\">-10.00"),
                "FF01",
            ),
            (file.replace("</PmtInf>", ""), "FF01"),
            ("not xml".to_owned(), "FF01"),
        ];
        for (bytes, reason) in cases {
            let answered = run(bytes.as_bytes(), &config(0), &HashSet::new());
            assert_eq!(
                answered.answer.file_rejected.as_deref(),
                Some(reason),
                "{reason}"
            );
            assert_eq!(answered.report.group_status, Some(TxStatus::Rejected));
            assert_eq!(answered.report.group_reason.as_deref(), Some(reason));
            assert!(answered.report.group_detail.is_some());
            assert!(answered.lines.is_empty() && answered.bookings.is_empty());
        }
    }

    #[test]
    fn a_version_03_file_is_read_too() {
        let file = String::from_utf8(pain001("LM-5", 2))
            .unwrap()
            .replace("pain.001.001.09", "pain.001.001.03")
            .replace(
                "<ReqdExctnDt><Dt>2027-01-06</Dt></ReqdExctnDt>",
                "<ReqdExctnDt>2027-01-06</ReqdExctnDt>",
            )
            .replace("BICFI", "BIC")
            .replace(
                "<Othr><Id>0700000001</Id></Othr>",
                "<IBAN>KE00BANK0000000000099</IBAN>",
            );
        let mut reader = Pain001Reader::new(file.as_bytes()).unwrap();
        assert_eq!(reader.head().count, 2);
        assert_eq!(
            reader.head().debtor_account,
            AccountId::Iban("KE00BANK0000000000001".into())
        );
        let first = reader.next_transfer().unwrap().unwrap();
        assert_eq!(
            first.creditor_account,
            Some(AccountId::Other("0700000000".into()))
        );
        let second = reader.next_transfer().unwrap().unwrap();
        assert_eq!(
            second.creditor_account,
            Some(AccountId::Iban("KE00BANK0000000000099".into()))
        );
        assert_eq!(reader.next_transfer().unwrap(), None);
        assert_eq!(
            run(file.as_bytes(), &config(0), &HashSet::new())
                .bookings
                .len(),
            2
        );
    }

    #[test]
    fn a_bad_configuration_is_refused() {
        let with = |change: fn(&mut BankSimConfig)| {
            let mut config = config(30);
            change(&mut config);
            config.check()
        };
        assert!(matches!(
            with(|c| c.reject_per_mille = 1001),
            Err(SimError::RejectRate(1001))
        ));
        assert!(matches!(
            with(|c| c.reasons.clear()),
            Err(SimError::NoReasons)
        ));
        assert!(matches!(
            with(|c| c.reasons.push("AC-1".into())),
            Err(SimError::BadReason(_))
        ));
        assert!(with(|c| c.reject_per_mille = 0).is_ok());
    }
}
