//! Receipts: what the person at the counter takes away. A receipt is a
//! model built from one log entry; rendering is separate (plain text here;
//! ESC/POS bytes come from the hardware crate's encoder).
//!
//! Receipts are printed in the operator's language ([`Language`]): labels
//! from the catalogues (`crate::i18n`), amounts with the language's marks.
//! French and Swahili fit the printer's Windows-1252 code page and print as
//! text. Arabic does not: the hardware crate draws any line outside the code
//! page with its built-in font (DejaVu Sans, shaped by rustybuzz) and sends
//! it as a raster image, so it prints on every printer (mixed Arabic and
//! Latin lines come out in the right visual order: the hardware crate runs
//! the Unicode bidirectional algorithm). In a right-to-left language each
//! label and its value still go on two lines of their own, right-aligned:
//! on a 32-column roll a label and an amount rarely fit on one line in
//! Arabic script, and a value on its own line is easier to read.

use lastmile_hardware::escpos::{self, Align, PaperWidth, QrMode, ReceiptError};
use lastmile_shared::device_log::{EntryHash, LogEntry, LogEvent};
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, MerchantId, OperatorId, ProgrammeId, SiteId, VoucherId,
};
use lastmile_shared::money::Money;
use lastmile_shared::sync::CaseResolution;
use serde::Serialize;

use crate::error::Error;
use crate::i18n::{self, Language, Text};
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
    /// The server stored the entry but did not count it: the same voucher or
    /// entitlement was spent elsewhere first, and HQ opened this case.
    UnderReview {
        case: u64,
    },
    /// HQ closed the entry's double-spend case with this outcome.
    CaseClosed {
        case: u64,
        resolution: CaseResolution,
    },
}

impl ReceiptStatus {
    pub fn text(self) -> Text {
        match self {
            ReceiptStatus::AcceptedOfflinePending => Text::ReceiptPending,
            ReceiptStatus::Confirmed => Text::ReceiptConfirmed,
            ReceiptStatus::UnderReview { .. } => Text::ReceiptUnderReview,
            ReceiptStatus::CaseClosed { resolution, .. } => match resolution {
                CaseResolution::Recovered => Text::ReceiptCaseRecovered,
                CaseResolution::WrittenOff => Text::ReceiptCaseWrittenOff,
                CaseResolution::Dismissed => Text::ReceiptCaseDismissed,
            },
        }
    }

    /// The status in `language`, as printed.
    pub fn render(self, language: Language) -> String {
        let template = i18n::text(language, self.text());
        match self {
            ReceiptStatus::UnderReview { case } | ReceiptStatus::CaseClosed { case, .. } => {
                i18n::fill(template, &[("case", &case.to_string())])
            }
            _ => template.to_owned(),
        }
    }

    /// The status in English, as printed on English receipts.
    pub fn label(self) -> String {
        self.render(Language::English)
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
    /// A copy printed again later: marked as such on paper, so two papers
    /// for one payment can always be told apart.
    pub reprint: bool,
    /// Hex SHA-256 of the signed log entry.
    pub entry_hash: String,
    /// Text for the receipt's QR: device, sequence and entry hash, enough
    /// for anyone to look the entry up and check it later.
    pub verification: String,
}

impl Receipt {
    pub fn from_entry(entry: &LogEntry, hash: &EntryHash, status: ReceiptStatus) -> Receipt {
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
            reprint: false,
            status,
            verification: format!(
                "{RECEIPT_QR_PREFIX}{}:{}:{entry_hash}",
                entry.device, entry.seq
            ),
            entry_hash,
        }
    }

    /// The same receipt marked as a copy printed again.
    pub fn into_reprint(self) -> Receipt {
        Receipt {
            reprint: true,
            ..self
        }
    }

    /// The receipt's content in `language`, line by line, for any renderer.
    pub fn lines(&self, language: Language) -> Vec<ReceiptLine> {
        use ReceiptLine::{Pair, Rule, Title};
        let pair = |label: Text, value: String| Pair(i18n::text(language, label).to_owned(), value);
        let money = |m: &Money| i18n::money_on_paper(*m, language);
        let title = match &self.item {
            ReceiptItem::Voucher { .. } => Text::ReceiptVoucher,
            ReceiptItem::Entitlement { .. } => Text::ReceiptEntitlement,
            ReceiptItem::CashPayout { .. } => Text::ReceiptCashPayout,
            ReceiptItem::CashSessionOpened { .. } => Text::ReceiptSessionOpened,
            ReceiptItem::CashSessionClosed { .. } => Text::ReceiptSessionClosed,
        };
        let mut lines = Vec::new();
        if self.reprint {
            lines.push(Title(i18n::text(language, Text::ReceiptReprint).into()));
        }
        lines.extend([
            Title("LASTMILE".into()),
            Title(i18n::text(language, title).into()),
            Rule,
        ]);
        if let Some(merchant) = &self.merchant {
            lines.push(pair(Text::ReceiptMerchant, merchant.to_string()));
        }
        if let Some(site) = &self.site {
            lines.push(pair(Text::ReceiptSite, site.to_string()));
        }
        lines.push(pair(Text::ReceiptTerminal, self.device.to_string()));
        lines.push(pair(Text::ReceiptOperator, self.operator.to_string()));
        lines.push(pair(Text::ReceiptDate, utc_text(self.at)));
        lines.push(pair(Text::ReceiptNumber, self.seq.to_string()));
        lines.push(Rule);
        match &self.item {
            ReceiptItem::Voucher {
                voucher,
                programme,
                amount,
                remaining,
            } => {
                lines.push(pair(Text::ReceiptVoucherId, voucher.to_string()));
                lines.push(pair(Text::ReceiptProgramme, programme.to_string()));
                lines.push(pair(Text::ReceiptAmount, money(amount)));
                lines.push(pair(Text::ReceiptRemaining, money(remaining)));
            }
            ReceiptItem::Entitlement {
                entitlement,
                beneficiary,
                programme,
                amount,
                remaining,
            } => {
                lines.push(pair(Text::ReceiptEntitlementId, entitlement.to_string()));
                lines.push(pair(Text::ReceiptBeneficiary, beneficiary.to_string()));
                lines.push(pair(Text::ReceiptProgramme, programme.to_string()));
                lines.push(pair(Text::ReceiptAmount, money(amount)));
                lines.push(pair(Text::ReceiptRemaining, money(remaining)));
            }
            ReceiptItem::CashPayout {
                session,
                entitlement,
                beneficiary,
                programme,
                amount,
            } => {
                lines.push(pair(Text::ReceiptSession, session.to_string()));
                lines.push(pair(Text::ReceiptEntitlementId, entitlement.to_string()));
                lines.push(pair(Text::ReceiptBeneficiary, beneficiary.to_string()));
                lines.push(pair(Text::ReceiptProgramme, programme.to_string()));
                lines.push(pair(Text::ReceiptPaidInCash, money(amount)));
            }
            ReceiptItem::CashSessionOpened { session, float } => {
                lines.push(pair(Text::ReceiptSession, session.to_string()));
                lines.push(pair(Text::ReceiptOpeningFloat, money(float)));
            }
            ReceiptItem::CashSessionClosed {
                session,
                expected,
                counted,
                variance,
            } => {
                lines.push(pair(Text::ReceiptSession, session.to_string()));
                lines.push(pair(Text::ReceiptExpected, money(expected)));
                lines.push(pair(Text::ReceiptCounted, money(counted)));
                lines.push(pair(Text::ReceiptVariance, money(variance)));
            }
        }
        lines.push(Rule);
        lines.push(Title(self.status.render(language)));
        lines.push(ReceiptLine::Qr(
            i18n::text(language, Text::ReceiptVerify).into(),
            self.verification.clone(),
        ));
        lines
    }

    /// The receipt as plain text in English, `columns` characters wide.
    pub fn render_text(&self, columns: usize) -> String {
        self.render_text_in(Language::English, columns)
    }

    /// The receipt as plain text in `language`, `columns` characters wide.
    pub fn render_text_in(&self, language: Language, columns: usize) -> String {
        let rtl = language.is_right_to_left();
        let mut rows: Vec<String> = Vec::new();
        for line in self.lines(language) {
            match line {
                // Right to left, every line is set flush right (as printed):
                // padding would land on the wrong side.
                ReceiptLine::Title(title) if rtl => rows.push(title),
                ReceiptLine::Title(title) => {
                    rows.extend(
                        wrap_words(&title, columns)
                            .iter()
                            .map(|r| center(r, columns)),
                    );
                }
                ReceiptLine::Pair(label, value) if rtl => rows.extend([label, value]),
                ReceiptLine::Pair(label, value) => rows.push(pair(&label, &value, columns)),
                ReceiptLine::Rule => rows.push("-".repeat(columns)),
                ReceiptLine::Qr(verify, data) if rtl => rows.extend([verify, data]),
                ReceiptLine::Qr(verify, data) => rows.push(format!("{verify} {data}")),
            }
        }
        rows.iter().map(|row| format!("{row}\n")).collect()
    }

    /// The receipt in English as an ESC/POS print job (through the hardware
    /// crate's encoder), with the verification text as a QR code.
    pub fn render_escpos(&self, paper: PaperWidth) -> Result<Vec<u8>, ReceiptError> {
        self.render_escpos_in(Language::English, paper)
    }

    /// The receipt in `language` as an ESC/POS print job. Lines outside the
    /// printer's code page (Arabic) become raster images in the encoder.
    pub fn render_escpos_in(
        &self,
        language: Language,
        paper: PaperWidth,
    ) -> Result<Vec<u8>, ReceiptError> {
        let rtl = language.is_right_to_left();
        let start = if rtl { Align::Right } else { Align::Left };
        let mut job = escpos::Receipt::new(paper);
        job.align(start);
        for line in self.lines(language) {
            match line {
                ReceiptLine::Title(title) => {
                    job.align(Align::Center).line(&title).align(start);
                }
                ReceiptLine::Pair(label, value) if rtl => {
                    job.line(&label).line(&value);
                }
                ReceiptLine::Pair(label, value) => {
                    job.columns_line(&label, &value);
                }
                ReceiptLine::Rule => {
                    job.rule();
                }
                ReceiptLine::Qr(verify, data) => {
                    job.align(Align::Center)
                        .line(&verify)
                        .qr(&data, QrMode::Raster)
                        .line(&data)
                        .align(start);
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
    /// The verification QR code: its caption, and its text.
    Qr(String, String),
}

fn center(text: &str, columns: usize) -> String {
    let len = text.chars().count();
    format!("{}{text}", " ".repeat(columns.saturating_sub(len) / 2))
}

/// Greedy word wrap of a title to `columns` characters (longer words stay whole).
fn wrap_words(text: &str, columns: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match rows.last_mut() {
            Some(row) if row.chars().count() + 1 + word.chars().count() <= columns => {
                row.push(' ');
                row.push_str(word);
            }
            _ => rows.push(word.to_owned()),
        }
    }
    rows
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
            logged.status,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastmile_hardware::escpos::GS;
    use lastmile_shared::money::Currency;

    fn voucher_receipt() -> Receipt {
        let kes = |minor| Money::new(minor, Currency::parse("KES").unwrap());
        Receipt {
            seq: 7,
            at: 1_793_491_200 + 14 * 3600 + 3 * 60,
            device: DeviceId::parse("T-0001").unwrap(),
            merchant: Some(MerchantId::parse("M-DUKA").unwrap()),
            site: Some(SiteId::parse("S-KIBERA").unwrap()),
            operator: OperatorId::parse("amina").unwrap(),
            item: ReceiptItem::Voucher {
                voucher: VoucherId::parse("V-0042").unwrap(),
                programme: ProgrammeId::parse("FOOD-2026").unwrap(),
                amount: kes(125_000),
                remaining: kes(50_050),
            },
            status: ReceiptStatus::AcceptedOfflinePending,
            reprint: false,
            entry_hash: "ab".repeat(32),
            verification: "LMR1:T-0001:7:abab".to_owned(),
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// How many `GS v 0` raster images a job holds.
    fn rasters(job: &[u8]) -> usize {
        job.windows(3).filter(|w| *w == [GS, b'v', b'0']).count()
    }

    #[test]
    fn french_receipt_text() {
        let text = voucher_receipt().render_text_in(Language::French, RECEIPT_COLUMNS_58MM);
        let expected = "            LASTMILE
     ENCAISSEMENT D'UN BON
--------------------------------
Commerçant                M-DUKA
Site                    S-KIBERA
Terminal                  T-0001
Opérateur                  amina
Date        2026-11-01 14:03 UTC
Reçu n°                        7
--------------------------------
Bon                       V-0042
Programme              FOOD-2026
Montant             1\u{a0}250,00\u{a0}KES
Reste                 500,50\u{a0}KES
--------------------------------
ACCEPTÉ HORS LIGNE — EN ATTENTE
Vérifier : LMR1:T-0001:7:abab
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn french_receipt_prints_as_text() {
        let receipt = voucher_receipt();
        let job = receipt
            .render_escpos_in(Language::French, PaperWidth::Mm58)
            .unwrap();
        // Windows-1252: é is 0xE9, the no-break space 0xA0.
        let amount = b"Montant             1\xa0250,00\xa0KES";
        assert!(job.windows(amount.len()).any(|w| w == amount));
        let status = b"ACCEPT\xc9 HORS LIGNE \x97 EN ATTENTE";
        assert!(job.windows(status.len()).any(|w| w == status));
        let english = receipt.render_escpos(PaperWidth::Mm58).unwrap();
        assert_eq!(
            rasters(&job),
            rasters(&english),
            "only the QR code is an image in French, as in English"
        );
    }

    #[test]
    fn arabic_labels_print_as_images_and_values_as_text() {
        let receipt = voucher_receipt();
        let job = receipt
            .render_escpos_in(Language::Arabic, PaperWidth::Mm58)
            .unwrap();
        let english = receipt.render_escpos(PaperWidth::Mm58).unwrap();
        assert!(
            rasters(&job) > rasters(&english) + 10,
            "each Arabic label is an image"
        );
        let amount = b"1,250.00\xa0KES\n";
        assert!(
            job.windows(amount.len()).any(|w| w == amount),
            "amounts stay text"
        );
        let text = receipt.render_text_in(Language::Arabic, RECEIPT_COLUMNS_58MM);
        assert!(text.contains("المبلغ\n1,250.00\u{a0}KES\n"), "{text}");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(1_793_491_200), "2026-11-01 00:00 UTC");
        assert_eq!(utc_text(951_827_400), "2000-02-29 12:30 UTC");
    }

    #[test]
    fn a_reprint_says_so_on_paper_in_every_language() {
        let copy = voucher_receipt().into_reprint();
        assert!(
            copy.render_text(32)
                .trim_start()
                .starts_with("*** COPY — REPRINT ***")
        );
        assert!(
            copy.render_text_in(Language::French, 32)
                .contains("*** COPIE — RÉIMPRESSION ***")
        );
        let original = voucher_receipt().render_escpos(PaperWidth::Mm58).unwrap();
        let reprinted = copy.render_escpos(PaperWidth::Mm58).unwrap();
        assert!(!contains(&original, b"REPRINT"));
        assert!(contains(&reprinted, b"*** COPY"));
    }

    #[test]
    fn a_receipt_under_review_names_its_case() {
        let mut receipt = voucher_receipt();
        receipt.status = ReceiptStatus::UnderReview { case: 9 };
        let text = receipt.render_text(32);
        assert!(text.contains("UNDER REVIEW AT HQ — CASE 9"), "{text}");
        assert_eq!(
            receipt.status.render(Language::Swahili),
            "INACHUNGUZWA MAKAO MAKUU — KESI 9"
        );
    }
}
