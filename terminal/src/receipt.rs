//! Receipts: what the person at the counter takes away. A receipt is a
//! model built from one log entry; rendering is separate (plain text here;
//! ESC/POS bytes come from the hardware crate's encoder).

use lastmile_hardware::escpos::{self, Align, PaperWidth, QrMode, ReceiptError};
use lastmile_shared::device_log::{EntryHash, LogEntry, LogEvent};
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, MerchantId, OperatorId, ProgrammeId, SiteId, VoucherId,
};
use lastmile_shared::money::Money;
use serde::Serialize;

use crate::error::Error;
use crate::terminal::Terminal;

/// Prefix of the verification text printed as a QR on every receipt.
pub const RECEIPT_QR_PREFIX: &str = "LMR1:";
/// Characters per line on a 58 mm printer with the standard font.
pub const RECEIPT_COLUMNS_58MM: usize = 32;

/// Whether the server has confirmed the entry behind a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Done on this terminal and durable, not yet confirmed by the server.
    AcceptedOfflinePending,
    Confirmed,
}

impl ReceiptStatus {
    pub fn label(self) -> &'static str {
        match self {
            ReceiptStatus::AcceptedOfflinePending => "ACCEPTED OFFLINE — PENDING",
            ReceiptStatus::Confirmed => "CONFIRMED",
        }
    }
}

/// What the receipt is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptItem {
    Voucher {
        voucher: VoucherId,
        programme: ProgrammeId,
        amount: Money,
        remaining: Money,
    },
    Entitlement {
        entitlement: EntitlementId,
        beneficiary: BeneficiaryId,
        programme: ProgrammeId,
        amount: Money,
        remaining: Money,
    },
    CashPayout {
        session: u64,
        entitlement: EntitlementId,
        beneficiary: BeneficiaryId,
        programme: ProgrammeId,
        amount: Money,
    },
    CashSessionOpened {
        session: u64,
        float: Money,
    },
    CashSessionClosed {
        session: u64,
        expected: Money,
        counted: Money,
        variance: Money,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The log entry's sequence number: the receipt number.
    pub seq: u64,
    pub at: i64,
    pub device: DeviceId,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub operator: OperatorId,
    pub item: ReceiptItem,
    pub status: ReceiptStatus,
    /// Hex SHA-256 of the signed log entry.
    pub entry_hash: String,
    /// Text for the receipt's QR: device, sequence and entry hash, enough
    /// for anyone to look the entry up and check it later.
    pub verification: String,
}

impl Receipt {
    pub fn from_entry(entry: &LogEntry, hash: &EntryHash, confirmed: bool) -> Receipt {
        let item = match &entry.event {
            LogEvent::VoucherRedeemed {
                voucher,
                programme,
                amount,
                remaining_after,
                ..
            } => ReceiptItem::Voucher {
                voucher: voucher.clone(),
                programme: programme.clone(),
                amount: *amount,
                remaining: *remaining_after,
            },
            LogEvent::EntitlementRedeemed {
                entitlement,
                beneficiary,
                programme,
                amount,
                remaining_after,
                ..
            } => ReceiptItem::Entitlement {
                entitlement: entitlement.clone(),
                beneficiary: beneficiary.clone(),
                programme: programme.clone(),
                amount: *amount,
                remaining: *remaining_after,
            },
            LogEvent::CashPaidOut {
                session,
                entitlement,
                beneficiary,
                programme,
                amount,
                ..
            } => ReceiptItem::CashPayout {
                session: *session,
                entitlement: entitlement.clone(),
                beneficiary: beneficiary.clone(),
                programme: programme.clone(),
                amount: *amount,
            },
            LogEvent::CashSessionOpened { session, float } => ReceiptItem::CashSessionOpened {
                session: *session,
                float: *float,
            },
            LogEvent::CashSessionClosed {
                session,
                expected,
                counted,
                variance,
            } => ReceiptItem::CashSessionClosed {
                session: *session,
                expected: *expected,
                counted: *counted,
                variance: *variance,
            },
        };
        let entry_hash = hash.to_hex();
        Receipt {
            seq: entry.seq,
            at: entry.at,
            device: entry.device.clone(),
            merchant: entry.merchant.clone(),
            site: entry.site.clone(),
            operator: entry.operator.clone(),
            item,
            status: if confirmed {
                ReceiptStatus::Confirmed
            } else {
                ReceiptStatus::AcceptedOfflinePending
            },
            verification: format!(
                "{RECEIPT_QR_PREFIX}{}:{}:{entry_hash}",
                entry.device, entry.seq
            ),
            entry_hash,
        }
    }

    /// The receipt's content, line by line, for any renderer.
    pub fn lines(&self) -> Vec<ReceiptLine> {
        use ReceiptLine::{Pair, Rule, Title};
        let pair = |label: &str, value: String| Pair(label.to_owned(), value);
        let money = |m: &Money| m.display_grouped(',', '.');
        let title = match &self.item {
            ReceiptItem::Voucher { .. } => "VOUCHER REDEMPTION",
            ReceiptItem::Entitlement { .. } => "ENTITLEMENT REDEMPTION",
            ReceiptItem::CashPayout { .. } => "CASH PAYOUT",
            ReceiptItem::CashSessionOpened { .. } => "CASH SESSION OPENED",
            ReceiptItem::CashSessionClosed { .. } => "CASH SESSION CLOSED",
        };
        let mut lines = vec![Title("LASTMILE".into()), Title(title.into()), Rule];
        if let Some(merchant) = &self.merchant {
            lines.push(pair("Merchant", merchant.to_string()));
        }
        if let Some(site) = &self.site {
            lines.push(pair("Site", site.to_string()));
        }
        lines.push(pair("Terminal", self.device.to_string()));
        lines.push(pair("Operator", self.operator.to_string()));
        lines.push(pair("Date", utc_text(self.at)));
        lines.push(pair("Receipt no.", self.seq.to_string()));
        lines.push(Rule);
        match &self.item {
            ReceiptItem::Voucher {
                voucher,
                programme,
                amount,
                remaining,
            } => {
                lines.push(pair("Voucher", voucher.to_string()));
                lines.push(pair("Programme", programme.to_string()));
                lines.push(pair("Amount", money(amount)));
                lines.push(pair("Remaining", money(remaining)));
            }
            ReceiptItem::Entitlement {
                entitlement,
                beneficiary,
                programme,
                amount,
                remaining,
            } => {
                lines.push(pair("Entitlement", entitlement.to_string()));
                lines.push(pair("Beneficiary", beneficiary.to_string()));
                lines.push(pair("Programme", programme.to_string()));
                lines.push(pair("Amount", money(amount)));
                lines.push(pair("Remaining", money(remaining)));
            }
            ReceiptItem::CashPayout {
                session,
                entitlement,
                beneficiary,
                programme,
                amount,
            } => {
                lines.push(pair("Session", session.to_string()));
                lines.push(pair("Entitlement", entitlement.to_string()));
                lines.push(pair("Beneficiary", beneficiary.to_string()));
                lines.push(pair("Programme", programme.to_string()));
                lines.push(pair("Paid in cash", money(amount)));
            }
            ReceiptItem::CashSessionOpened { session, float } => {
                lines.push(pair("Session", session.to_string()));
                lines.push(pair("Opening float", money(float)));
            }
            ReceiptItem::CashSessionClosed {
                session,
                expected,
                counted,
                variance,
            } => {
                lines.push(pair("Session", session.to_string()));
                lines.push(pair("Expected", money(expected)));
                lines.push(pair("Counted", money(counted)));
                lines.push(pair("Variance", money(variance)));
            }
        }
        lines.push(Rule);
        lines.push(Title(self.status.label().into()));
        lines.push(ReceiptLine::Qr(self.verification.clone()));
        lines
    }

    /// The receipt as plain text, `columns` characters wide.
    pub fn render_text(&self, columns: usize) -> String {
        let mut text = String::new();
        for line in self.lines() {
            let rendered = match line {
                ReceiptLine::Title(title) => center(&title, columns),
                ReceiptLine::Pair(label, value) => pair(&label, &value, columns),
                ReceiptLine::Rule => "-".repeat(columns),
                ReceiptLine::Qr(data) => format!("Verify: {data}"),
            };
            text.push_str(&rendered);
            text.push('\n');
        }
        text
    }

    /// The receipt as an ESC/POS print job (through the hardware crate's
    /// encoder), with the verification text as a QR code.
    pub fn render_escpos(&self, paper: PaperWidth) -> Result<Vec<u8>, ReceiptError> {
        let mut job = escpos::Receipt::new(paper);
        for line in self.lines() {
            match line {
                ReceiptLine::Title(title) => {
                    job.align(Align::Center).line(&title).align(Align::Left);
                }
                ReceiptLine::Pair(label, value) => {
                    job.columns_line(&label, &value);
                }
                ReceiptLine::Rule => {
                    job.rule();
                }
                ReceiptLine::Qr(data) => {
                    job.align(Align::Center)
                        .qr(&data, QrMode::Raster)
                        .line(&data)
                        .align(Align::Left);
                }
            }
        }
        job.feed(3).cut().finish()
    }
}

/// One line of a receipt, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptLine {
    /// Centred text (headings and the status).
    Title(String),
    /// A label on the left, a value on the right.
    Pair(String, String),
    Rule,
    /// The verification QR code (and its text).
    Qr(String),
}

fn center(text: &str, columns: usize) -> String {
    let len = text.chars().count();
    format!("{}{text}", " ".repeat(columns.saturating_sub(len) / 2))
}

fn pair(label: &str, value: &str, columns: usize) -> String {
    let used = label.chars().count() + value.chars().count();
    if used < columns {
        format!("{label}{}{value}", " ".repeat(columns - used))
    } else {
        format!("{label} {value}")
    }
}

/// `2026-11-29 14:03 UTC` from Unix seconds (proleptic Gregorian calendar).
pub fn utc_text(at: i64) -> String {
    let days = at.div_euclid(86_400);
    let seconds = at.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds / 3600,
        seconds % 3600 / 60
    )
}

impl Terminal {
    /// The receipt for log entry `seq`, or for the newest entry when `None`,
    /// with its current status (pending or confirmed).
    pub fn receipt(&self, seq: Option<u64>) -> Result<Receipt, Error> {
        let seq = match seq {
            Some(seq) => seq,
            None => match self.log_head_seq()? {
                0 => return Err(Error::NothingToReprint),
                head => head,
            },
        };
        let logged = self.log_entry(seq)?;
        Ok(Receipt::from_entry(
            &logged.entry,
            &logged.hash,
            logged.confirmed,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::utc_text;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(1_793_491_200), "2026-11-01 00:00 UTC");
        assert_eq!(utc_text(951_827_400), "2000-02-29 12:30 UTC");
    }
}
