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
//!
//! A receipt is for people: it names the shop, the site and the terminal
//! (the [`Letterhead`] set on the terminal), the operator, and on a payout
//! the person paid, with a line for their signature. The ids stay on the
//! paper where HQ needs them, and in the signed log entry the QR points to.
//! Whether a paper is a copy is decided by the store: only a print after
//! one that came out of the printer is marked as a reprint.

use lastmile_hardware::escpos::{self, Align, PaperWidth, QrMode, ReceiptError};
use lastmile_shared::device_log::{EntryHash, LogEntry, LogEvent, SignedEntry};
use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, MerchantId, OperatorId, ProgrammeId, SiteId, VoucherId,
};
use lastmile_shared::money::Money;
use lastmile_shared::sync::CaseResolution;
use lastmile_shared::voucher;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::Error;
use crate::i18n::{self, Language, Text};
use crate::operator;
use crate::terminal::Terminal;

/// Prefix of the verification text printed as a QR on every receipt.
pub const RECEIPT_QR_PREFIX: &str = "LMR1:";
/// Characters per line on a 58 mm printer with the standard font.
pub const RECEIPT_COLUMNS_58MM: usize = 32;
/// Longest shop, site or terminal name on the letterhead, in characters:
/// two lines of a 58 mm roll.
pub const LETTERHEAD_NAME_CHARS_MAX: usize = 2 * RECEIPT_COLUMNS_58MM;

/// The names printed at the top of every receipt and day report, as set on
/// the terminal. A name not set prints as the id it stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Letterhead {
    /// The shop's (or distribution point's) name, the receipt's heading.
    pub shop: Option<String>,
    pub site: Option<String>,
    /// The terminal's own name ("Counter 2"), beside its device id.
    pub terminal: Option<String>,
}

/// The people and places behind the ids of one receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptNames {
    pub letterhead: Letterhead,
    /// The operator's name as registered on this terminal.
    pub operator: Option<String>,
    /// The beneficiary's name on the roster (entitlements and cash payouts).
    pub beneficiary: Option<String>,
    /// When what is left on the voucher or entitlement stops being usable
    /// (Unix seconds, exclusive), if anything is left.
    pub valid_until: Option<i64>,
}

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
    /// Names for the ids above, looked up when the receipt is made.
    pub names: ReceiptNames,
    /// A paper of this receipt has already come out of a printer.
    pub printed: bool,
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
            names: ReceiptNames::default(),
            printed: false,
            reprint: false,
            status,
            verification: format!(
                "{RECEIPT_QR_PREFIX}{}:{}:{entry_hash}",
                entry.device, entry.seq
            ),
            entry_hash,
        }
    }

    /// The receipt as the next paper prints it: a copy when a paper of it
    /// already came out of a printer, the original otherwise (also after a
    /// print that failed: nothing reached the customer).
    pub fn for_paper(self) -> Receipt {
        Receipt {
            reprint: self.printed,
            ..self
        }
    }

    /// The receipt's content in `language`, line by line, for any renderer.
    pub fn lines(&self, language: Language) -> Vec<ReceiptLine> {
        use ReceiptLine::{Pair, Rule, Signature, Title};
        let pair = |label: Text, value: String| Pair(i18n::text(language, label).to_owned(), value);
        let money = |m: &Money| i18n::money_on_paper(*m, language);
        let names = &self.names;
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
            Title(
                names
                    .letterhead
                    .shop
                    .clone()
                    .unwrap_or_else(|| "LASTMILE".into()),
            ),
            Title(i18n::text(language, title).into()),
            Rule,
        ]);
        lines.extend(place_lines(
            language,
            &names.letterhead,
            self.merchant.as_ref(),
            self.site.as_ref(),
            &self.device,
        ));
        let operator = names
            .operator
            .clone()
            .unwrap_or_else(|| self.operator.to_string());
        lines.push(pair(Text::ReceiptOperator, operator));
        lines.push(pair(Text::ReceiptDate, utc_text(self.at)));
        lines.push(pair(Text::ReceiptNumber, self.seq.to_string()));
        lines.push(Rule);
        let beneficiary_lines = |beneficiary: &BeneficiaryId| {
            let mut rows = Vec::new();
            if let Some(name) = &names.beneficiary {
                rows.push(pair(Text::ReceiptBeneficiary, name.clone()));
            }
            rows.push(pair(Text::ReceiptBeneficiaryId, beneficiary.to_string()));
            rows
        };
        let valid_until = || {
            names
                .valid_until
                .map(|until| pair(Text::ReceiptValidUntil, last_valid_day(until)))
        };
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
                lines.extend(valid_until().filter(|_| remaining.minor > 0));
            }
            ReceiptItem::Entitlement {
                entitlement,
                beneficiary,
                programme,
                amount,
                remaining,
            } => {
                lines.extend(beneficiary_lines(beneficiary));
                lines.push(pair(Text::ReceiptEntitlementId, entitlement.to_string()));
                lines.push(pair(Text::ReceiptProgramme, programme.to_string()));
                lines.push(pair(Text::ReceiptAmount, money(amount)));
                lines.push(pair(Text::ReceiptRemaining, money(remaining)));
                lines.extend(valid_until().filter(|_| remaining.minor > 0));
            }
            ReceiptItem::CashPayout {
                session,
                entitlement,
                beneficiary,
                programme,
                amount,
            } => {
                lines.push(pair(Text::ReceiptSession, session.to_string()));
                lines.extend(beneficiary_lines(beneficiary));
                lines.push(pair(Text::ReceiptEntitlementId, entitlement.to_string()));
                lines.push(pair(Text::ReceiptProgramme, programme.to_string()));
                lines.push(pair(Text::ReceiptPaidInCash, money(amount)));
                // The person paid signs the paper the agent keeps.
                let who = names
                    .beneficiary
                    .clone()
                    .unwrap_or_else(|| beneficiary.to_string());
                lines.push(Signature(i18n::fill(
                    i18n::text(language, Text::ReceiptReceivedBy),
                    &[("name", &who)],
                )));
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
                ReceiptLine::Signature(caption) => {
                    rows.extend([String::new(), "_".repeat(columns), caption]);
                }
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
                ReceiptLine::Signature(caption) => {
                    // Room to sign above the line.
                    let line = "_".repeat(job.columns());
                    job.feed(2).line(&line).line(&caption);
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
    /// Room for a signature, a line, and who signs under it.
    Signature(String),
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

/// A label and its value on one line, or on two when they do not fit (as
/// the ESC/POS encoder prints them).
fn pair(label: &str, value: &str, columns: usize) -> String {
    let used = label.chars().count() + value.chars().count();
    if used < columns {
        format!("{label}{}{value}", " ".repeat(columns - used))
    } else {
        format!("{label}\n{value}")
    }
}

/// The lines naming where a receipt or report was made: merchant, site and
/// terminal, each by name when the letterhead has one.
pub(crate) fn place_lines(
    language: Language,
    letterhead: &Letterhead,
    merchant: Option<&MerchantId>,
    site: Option<&SiteId>,
    device: &DeviceId,
) -> Vec<ReceiptLine> {
    let pair = |label: Text, value: String| {
        ReceiptLine::Pair(i18n::text(language, label).to_owned(), value)
    };
    let mut lines = Vec::new();
    if let Some(merchant) = merchant {
        lines.push(pair(Text::ReceiptMerchant, merchant.to_string()));
    }
    match (&letterhead.site, site) {
        (Some(name), _) => lines.push(pair(Text::ReceiptSite, name.clone())),
        (None, Some(site)) => lines.push(pair(Text::ReceiptSite, site.to_string())),
        (None, None) => {}
    }
    lines.push(pair(
        Text::ReceiptTerminal,
        match &letterhead.terminal {
            Some(name) => format!("{name} ({device})"),
            None => device.to_string(),
        },
    ));
    lines
}

/// The last day a validity ending at `valid_until` covers, `YYYY-MM-DD`:
/// validity ends are stored exclusive (the first second no longer valid),
/// so a voucher "valid until 2030-12-31" ends at 2031-01-01 00:00 UTC and
/// people are shown the day they can still use it.
pub fn last_valid_day(valid_until: i64) -> String {
    utc_text(valid_until - 1).chars().take(10).collect()
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

/// How long a redemption waits for the server's confirmation before its
/// receipt prints, when the terminal has a server: long enough for an
/// upload over a working mobile link, short enough that the person at the
/// counter barely notices. Past it the receipt prints "accepted offline —
/// pending", which is true, and the next sync confirms it.
pub const ONLINE_CONFIRM_DEADLINE_MS: u64 = 2_500;

fn checked_name(name: Option<&str>) -> Result<Option<String>, Error> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > LETTERHEAD_NAME_CHARS_MAX || name.chars().any(char::is_control) {
        return Err(Error::BadLetterheadName {
            max: LETTERHEAD_NAME_CHARS_MAX,
        });
    }
    Ok(Some(name.to_owned()))
}

impl Terminal {
    /// The receipt for log entry `seq`, or for the newest entry when `None`,
    /// with its current status (pending, confirmed or under review), the
    /// names behind its ids, and whether it was ever printed.
    pub fn receipt(&self, seq: Option<u64>) -> Result<Receipt, Error> {
        let seq = match seq {
            Some(seq) => seq,
            None => match self.log_head_seq()? {
                0 => return Err(Error::NothingToReprint),
                head => head,
            },
        };
        let logged = self.log_entry(seq)?;
        let printed = self
            .conn
            .query_row("SELECT 1 FROM receipt_prints WHERE seq = ?1", [seq], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        Ok(Receipt {
            names: self.receipt_names(&logged.entry),
            printed,
            ..Receipt::from_entry(&logged.entry, &logged.hash, logged.status)
        })
    }

    /// The receipt of an entry this terminal has just committed: pending,
    /// never printed. It cannot fail: the redemption behind it is done.
    pub(crate) fn fresh_receipt(&self, signed: &SignedEntry) -> Receipt {
        Receipt {
            names: self.receipt_names(&signed.entry),
            ..Receipt::from_entry(
                &signed.entry,
                &signed.hash,
                ReceiptStatus::AcceptedOfflinePending,
            )
        }
    }

    /// The names behind an entry's ids. A name that cannot be found (an
    /// operator or a person no longer on the roster) is left out and the id
    /// prints instead: a receipt never fails for want of a name.
    fn receipt_names(&self, entry: &LogEntry) -> ReceiptNames {
        let roster = self.documents.roster.as_ref();
        let person = |beneficiary: &BeneficiaryId| {
            roster.and_then(|r| r.people.iter().find(|p| &p.beneficiary == beneficiary))
        };
        let (beneficiary, valid_until) = match &entry.event {
            LogEvent::VoucherRedeemed { credential, .. } => (
                None,
                voucher::decode(credential)
                    .ok()
                    .map(|v| v.claims().valid_until),
            ),
            LogEvent::EntitlementRedeemed {
                beneficiary,
                entitlement,
                ..
            } => {
                let person = person(beneficiary);
                let until = person
                    .and_then(|p| p.entitlements.iter().find(|e| &e.id == entitlement))
                    .map(|e| e.valid_until);
                (person.map(|p| p.name.clone()), until)
            }
            LogEvent::CashPaidOut { beneficiary, .. } => {
                (person(beneficiary).map(|p| p.name.clone()), None)
            }
            LogEvent::CashSessionOpened { .. } | LogEvent::CashSessionClosed { .. } => (None, None),
        };
        ReceiptNames {
            letterhead: self.letterhead().unwrap_or_default(),
            operator: operator::name(&self.conn, &entry.operator).ok().flatten(),
            beneficiary,
            valid_until,
        }
    }

    /// The names printed at the top of receipts and reports.
    pub fn letterhead(&self) -> Result<Letterhead, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT shop, site, terminal FROM letterhead WHERE id = 1",
                [],
                |r| {
                    Ok(Letterhead {
                        shop: r.get(0)?,
                        site: r.get(1)?,
                        terminal: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Sets the names receipts print (empty or absent: print the id). Each
    /// is at most [`LETTERHEAD_NAME_CHARS_MAX`] characters, without control
    /// characters; an operator must be logged in. Nothing changes on a
    /// refusal.
    pub fn set_letterhead(&mut self, letterhead: &Letterhead) -> Result<Letterhead, Error> {
        let checked = Letterhead {
            shop: checked_name(letterhead.shop.as_deref())?,
            site: checked_name(letterhead.site.as_deref())?,
            terminal: checked_name(letterhead.terminal.as_deref())?,
        };
        let now = self.now()?;
        operator::require(&self.conn, now)?;
        self.conn.execute(
            "INSERT INTO letterhead (id, shop, site, terminal, updated_at)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET shop = excluded.shop, site = excluded.site,
                 terminal = excluded.terminal, updated_at = excluded.updated_at",
            params![checked.shop, checked.site, checked.terminal, now],
        )?;
        Ok(checked)
    }

    /// Records that a paper of receipt `seq` came out of a printer: the
    /// first one is the original, every later one a copy.
    pub fn receipt_printed(&mut self, seq: u64) -> Result<(), Error> {
        if seq == 0 || seq > self.log_head_seq()? {
            return Err(Error::NoSuchEntry(seq));
        }
        self.conn.execute(
            "INSERT INTO receipt_prints (seq, first_printed_at) VALUES (?1, ?2)
             ON CONFLICT (seq) DO UPDATE SET copies = copies + 1",
            params![seq, self.now()?],
        )?;
        Ok(())
    }

    /// After a redemption or payout, before its receipt prints: when the
    /// terminal has a server, one sync round within
    /// [`ONLINE_CONFIRM_DEADLINE_MS`], then the receipt as it now stands, so
    /// an online sale prints CONFIRMED (or under review). Offline, or past
    /// the deadline, the receipt is returned as it was: accepted offline,
    /// pending. The sync's failure is recorded for `status` as any sync's.
    pub fn confirm_online(&mut self, receipt: Receipt) -> Receipt {
        let has_server = self
            .enrolment
            .as_ref()
            .is_some_and(|e| e.server_url.is_some());
        if !has_server {
            return receipt;
        }
        let deadline = std::time::Duration::from_millis(ONLINE_CONFIRM_DEADLINE_MS);
        // Whatever the round did, the log says where this entry stands: an
        // upload acknowledged before a slow pull still confirms it.
        let _ = self.sync_within(Some(deadline));
        self.receipt(Some(receipt.seq)).unwrap_or(receipt)
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
            names: ReceiptNames {
                letterhead: Letterhead {
                    shop: Some("Duka la Amina".into()),
                    site: Some("Kibera market".into()),
                    terminal: Some("Counter 1".into()),
                },
                operator: Some("Amina Wanjiru".into()),
                beneficiary: None,
                valid_until: Some(VALID_UNTIL_2030_12_31),
            },
            printed: false,
            reprint: false,
            entry_hash: "ab".repeat(32),
            verification: "LMR1:T-0001:7:abab".to_owned(),
        }
    }

    /// The first second of 2031: a validity "until 2030-12-31", stored exclusive.
    const VALID_UNTIL_2030_12_31: i64 = 1_924_992_000;

    fn payout_receipt() -> Receipt {
        let kes = |minor| Money::new(minor, Currency::parse("KES").unwrap());
        let mut receipt = voucher_receipt();
        receipt.item = ReceiptItem::CashPayout {
            session: 3,
            entitlement: EntitlementId::parse("cash-12-amina-w").unwrap(),
            beneficiary: BeneficiaryId::parse("ben-amina-w").unwrap(),
            programme: ProgrammeId::parse("cash-2026").unwrap(),
            amount: kes(250_000),
        };
        receipt.names.beneficiary = Some("Fatuma Hassan".into());
        receipt.names.valid_until = None;
        receipt
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
        let expected = "         Duka la Amina
     ENCAISSEMENT D'UN BON
--------------------------------
Commerçant                M-DUKA
Site               Kibera market
Terminal      Counter 1 (T-0001)
Opérateur          Amina Wanjiru
Date        2026-11-01 14:03 UTC
Reçu n°                        7
--------------------------------
Bon                       V-0042
Programme              FOOD-2026
Montant             1\u{a0}250,00\u{a0}KES
Reste                 500,50\u{a0}KES
Valable jusqu'au      2030-12-31
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
    fn english_receipt_names_the_shop_the_operator_and_when_the_rest_expires() {
        let text = voucher_receipt().render_text(RECEIPT_COLUMNS_58MM);
        let expected = "         Duka la Amina
       VOUCHER REDEMPTION
--------------------------------
Merchant                  M-DUKA
Site               Kibera market
Terminal      Counter 1 (T-0001)
Operator           Amina Wanjiru
Date        2026-11-01 14:03 UTC
Receipt no.                    7
--------------------------------
Voucher                   V-0042
Programme              FOOD-2026
Amount              KES 1,250.00
Remaining             KES 500.50
Valid until           2030-12-31
--------------------------------
   ACCEPTED OFFLINE — PENDING
Verify: LMR1:T-0001:7:abab
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_receipt_without_names_prints_the_ids() {
        let mut receipt = voucher_receipt();
        receipt.names = ReceiptNames::default();
        let text = receipt.render_text(RECEIPT_COLUMNS_58MM);
        assert!(text.starts_with("            LASTMILE\n"), "{text}");
        for line in [
            "Site                    S-KIBERA",
            "Terminal                  T-0001",
            "Operator                   amina",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        assert!(!text.contains("Valid until"), "{text}");
    }

    #[test]
    fn a_cash_payout_names_the_person_and_leaves_room_to_sign() {
        let text = payout_receipt().render_text(RECEIPT_COLUMNS_58MM);
        let expected = "         Duka la Amina
          CASH PAYOUT
--------------------------------
Merchant                  M-DUKA
Site               Kibera market
Terminal      Counter 1 (T-0001)
Operator           Amina Wanjiru
Date        2026-11-01 14:03 UTC
Receipt no.                    7
--------------------------------
Session                        3
Beneficiary        Fatuma Hassan
Beneficiary ID       ben-amina-w
Entitlement      cash-12-amina-w
Programme              cash-2026
Paid in cash        KES 2,500.00

________________________________
Received by Fatuma Hassan
--------------------------------
   ACCEPTED OFFLINE — PENDING
Verify: LMR1:T-0001:7:abab
";
        assert_eq!(text, expected, "\n{text}");
        let job = payout_receipt().render_escpos(PaperWidth::Mm58).unwrap();
        assert!(
            contains(&job, &[b'_'; 32]),
            "a signature line across the paper"
        );
        assert!(contains(&job, b"Received by Fatuma Hassan"));
    }

    #[test]
    fn validity_ends_are_shown_as_the_last_valid_day() {
        assert_eq!(last_valid_day(VALID_UNTIL_2030_12_31), "2030-12-31");
        assert_eq!(utc_text(VALID_UNTIL_2030_12_31), "2031-01-01 00:00 UTC");
        // A validity ending at noon still covers that day.
        assert_eq!(
            last_valid_day(VALID_UNTIL_2030_12_31 + 12 * 3600),
            "2031-01-01"
        );
    }

    #[test]
    fn only_a_print_after_a_printed_paper_is_a_copy() {
        let never_printed = voucher_receipt().for_paper();
        assert!(!never_printed.reprint);
        let mut printed = voucher_receipt();
        printed.printed = true;
        assert!(printed.for_paper().reprint);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(1_793_491_200), "2026-11-01 00:00 UTC");
        assert_eq!(utc_text(951_827_400), "2000-02-29 12:30 UTC");
    }

    #[test]
    fn a_reprint_says_so_on_paper_in_every_language() {
        let mut printed = voucher_receipt();
        printed.printed = true;
        let copy = printed.for_paper();
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
