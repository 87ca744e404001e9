//! Beneficiary files: a CSV read as a stream, row by row, through a column
//! mapping the officer confirmed, into the programme's register.
//!
//! Every bad row is reported with its line, its column and the reason (a
//! national ID not in the programme's format, the same beneficiary or
//! national ID twice in the file or already held by someone else in the
//! programme, a phone number that is not E.164, an IBAN failing its check
//! digits, an unknown site, a missing required field, …). A file with
//! errors imports nothing unless the officer chose to import its good rows.
//! Re-importing a file changes nothing (each row's digest is kept); an
//! update file changes only the rows that differ, and each change is an
//! entry in the audit trail naming the fields that changed.
//!
//! The whole import is one transaction: a crash or a refusal leaves the
//! register as it was. Memory stays bounded: rows are written in chunks of
//! [`CHUNK_ROWS`], and duplicates within the file are found from 128-bit
//! digests of the values, not the values.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use lastmile_shared::id::{BeneficiaryId, HouseholdId, SiteId};
use lastmile_shared::payee::{
    AccountNumber, BankAccount, BankCode, Channel, ChannelKind, Iban, Msisdn, Operator,
};
use lastmile_shared::text::{Lines, PlainText};
use sha2::{Digest, Sha256};

use super::RegistryError;
use super::programmes::{self, Programme};
use super::signals;
use super::sites::SITES_MAX;
use crate::audit::{self, Actor};
use crate::storage::registry::{self as table, BeneficiaryRow, CHUNK_ROWS, ImportRow};
use crate::storage::{Storage, StorageError, Tx};

/// Most rows in one file.
pub const ROWS_MAX: u64 = 2_000_000;
/// Most bytes in one row.
pub const ROW_BYTES_MAX: usize = 16 * 1024;
/// Chunks of parsed rows waiting for the writer while the reader goes on
/// (memory: this many times [`CHUNK_ROWS`] rows).
pub const CHUNKS_AHEAD: usize = 4;
/// Most errors listed in a report (all are counted).
pub const ERRORS_LISTED: usize = 1000;
/// Longest beneficiary name, in characters.
pub const NAME_CHARS_MAX: usize = 120;

/// A field of the register that a column of the file fills.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    BeneficiaryId,
    Name,
    NationalId,
    Phone,
    Household,
    HouseholdRole,
    Site,
    Iban,
    BankCode,
    AccountNumber,
    MobileOperator,
    Msisdn,
    /// The channel kinds in the person's order (`mobile;cash`).
    Channels,
    /// `active` or `inactive`.
    Status,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::BeneficiaryId,
        Field::Name,
        Field::NationalId,
        Field::Phone,
        Field::Household,
        Field::HouseholdRole,
        Field::Site,
        Field::Iban,
        Field::BankCode,
        Field::AccountNumber,
        Field::MobileOperator,
        Field::Msisdn,
        Field::Channels,
        Field::Status,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::BeneficiaryId => "beneficiary_id",
            Self::Name => "name",
            Self::NationalId => "national_id",
            Self::Phone => "phone",
            Self::Household => "household",
            Self::HouseholdRole => "household_role",
            Self::Site => "site",
            Self::Iban => "iban",
            Self::BankCode => "bank_code",
            Self::AccountNumber => "account_number",
            Self::MobileOperator => "mobile_operator",
            Self::Msisdn => "msisdn",
            Self::Channels => "channels",
            Self::Status => "status",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    /// A row without it is refused.
    pub fn required(self) -> bool {
        matches!(self, Self::BeneficiaryId | Self::Name | Self::NationalId)
    }

    /// Whether a file's header names this field.
    pub(super) fn names(self, header: &str) -> bool {
        let h = squash(header);
        h == squash(self.code()) || self.aliases().contains(&h.as_str())
    }

    /// Other headers files commonly use for it (compared without case,
    /// spaces, dashes or underscores).
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::BeneficiaryId => &["beneficiaryid", "beneficiary", "id", "registrantid"],
            Self::Name => &["name", "fullname", "beneficiaryname"],
            Self::NationalId => &["nationalid", "idnumber", "nationalidnumber", "nin"],
            Self::Phone => &["phone", "phonenumber", "telephone", "mobile"],
            Self::Household => &["household", "householdid", "group", "groupid"],
            Self::HouseholdRole => &["householdrole", "role", "membership"],
            Self::Site => &["site", "siteid", "distributionpoint"],
            Self::Iban => &["iban"],
            Self::BankCode => &["bankcode", "bic", "swift", "sortcode"],
            Self::AccountNumber => &["accountnumber", "account", "bankaccount"],
            Self::MobileOperator => &["mobileoperator", "operator", "walletoperator"],
            Self::Msisdn => &["msisdn", "wallet", "walletnumber", "mobilemoney"],
            Self::Channels => &["channels", "paymentchannels", "channel"],
            Self::Status => &["status", "active"],
        }
    }
}

/// A header without case, spaces, dashes or underscores.
pub(super) fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which header of the file fills which field.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Mapping(pub BTreeMap<Field, String>);

impl Mapping {
    /// The mapping a person would likely confirm: each field to the first
    /// header that names it.
    pub fn guess(headers: &[String]) -> Self {
        let mut mapping = BTreeMap::new();
        let mut taken = HashSet::new();
        for field in Field::ALL {
            let found = headers
                .iter()
                .enumerate()
                .find(|(i, h)| !taken.contains(i) && field.names(h));
            if let Some((i, header)) = found {
                taken.insert(i);
                mapping.insert(field, header.clone());
            }
        }
        Self(mapping)
    }

    /// Each mapped field's column index; refused when a required field is
    /// not mapped, a header is not in the file, or one header fills two
    /// fields.
    fn columns(&self, headers: &[String]) -> Result<BTreeMap<Field, usize>, ImportError> {
        let mut columns = BTreeMap::new();
        let mut used: HashMap<usize, Field> = HashMap::new();
        for (field, header) in &self.0 {
            let index = headers.iter().position(|h| h == header).ok_or_else(|| {
                ImportError::NoSuchHeader {
                    field: field.code(),
                    header: header.clone(),
                }
            })?;
            if let Some(other) = used.insert(index, *field) {
                return Err(ImportError::HeaderTwice {
                    header: header.clone(),
                    first: other.code(),
                    second: field.code(),
                });
            }
            columns.insert(*field, index);
        }
        if let Some(missing) = Field::ALL
            .into_iter()
            .find(|f| f.required() && !columns.contains_key(f))
        {
            return Err(ImportError::Unmapped(missing.code()));
        }
        Ok(columns)
    }
}

/// One bad row: where and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The file's line (the header is line 1).
    pub line: u64,
    /// The file's header of the column at fault, if one is.
    pub column: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column:?}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// How an import should go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Options {
    /// Import the good rows of a file that has errors.
    #[serde(default)]
    pub good_rows: bool,
    /// Only check: report what would happen, change nothing.
    #[serde(default)]
    pub check_only: bool,
}

/// What an import did (or, checked only, would do).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The recorded import; `None` when nothing changed or it was a check.
    pub import: Option<i64>,
    pub checked_only: bool,
    pub sha256: String,
    pub rows_read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// The first [`ERRORS_LISTED`] errors, by line.
    pub errors: Vec<RowError>,
    pub errors_total: u64,
    /// Fraud signals open for the programme after the import.
    pub signals_open: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("the file is not a readable CSV: {0}")]
    Unreadable(String),
    #[error("the file has no header row")]
    NoHeaders,
    #[error("the field {0} is required but no column is mapped to it")]
    Unmapped(&'static str),
    #[error("the field {field} is mapped to the column {header:?}, which the file does not have")]
    NoSuchHeader { field: &'static str, header: String },
    #[error("the column {header:?} is mapped to both {first} and {second}")]
    HeaderTwice {
        header: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("the file has more than {ROWS_MAX} rows")]
    TooManyRows,
    #[error("the file has a header but no rows")]
    Empty,
    #[error("programme {0} is closed: nothing more is imported into it")]
    Closed(String),
    #[error(
        "{total} row(s) have errors; nothing was imported (fix them, or choose to import the good rows)",
        total = .0.errors_total
    )]
    Rows(Box<Report>),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.code(),
            Self::Unreadable(_) => "unreadable_file",
            Self::NoHeaders => "no_headers",
            Self::Unmapped(_) => "unmapped_field",
            Self::NoSuchHeader { .. } => "no_such_header",
            Self::HeaderTwice { .. } => "header_twice",
            Self::TooManyRows => "too_many_rows",
            Self::Empty => "empty_file",
            Self::Closed(_) => "programme_closed",
            Self::Rows(_) => "rows_have_errors",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// The header row of a file, for the mapping step.
pub fn headers(reader: impl Read) -> Result<Vec<String>, ImportError> {
    let mut csv = reader_for(reader);
    let headers = csv
        .headers()
        .map_err(|e| ImportError::Unreadable(e.to_string()))?;
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(ImportError::NoHeaders);
    }
    Ok(headers.iter().map(str::to_owned).collect())
}

fn reader_for<R: Read>(reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(reader)
}

/// Passes bytes through, hashing them.
pub(super) struct Hashing<R> {
    pub(super) inner: R,
    pub(super) hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// 128 bits of SHA-256: enough to tell a million values apart.
pub(super) fn short_digest(value: &str) -> u128 {
    let full = Sha256::digest(value.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&full[..16]);
    u128::from_be_bytes(bytes)
}

/// A row that parsed, ready to compare with the register.
struct Parsed {
    line: u64,
    row: BeneficiaryRow,
}

/// What every row is checked against.
struct Context<'a> {
    programme: &'a Programme,
    columns: BTreeMap<Field, usize>,
    headers: Vec<String>,
    sites: HashSet<String>,
    import_id: i64,
    now: i64,
}

impl Context<'_> {
    fn header(&self, field: Field) -> Option<String> {
        self.columns.get(&field).map(|&i| self.headers[i].clone())
    }

    fn error(&self, line: u64, field: Field, reason: impl ToString) -> RowError {
        RowError {
            line,
            column: self.header(field),
            reason: reason.to_string(),
        }
    }

    /// Parses one record; every problem of the row, not only the first.
    fn parse(&self, line: u64, record: &csv::StringRecord) -> Result<Parsed, Vec<RowError>> {
        let get = |field: Field| {
            self.columns
                .get(&field)
                .and_then(|&i| record.get(i))
                .unwrap_or("")
        };
        let mut errors = Vec::new();
        let mut required = |field: Field| {
            let value = get(field);
            if value.is_empty() {
                errors.push(self.error(line, field, format!("{} is required", field.code())));
                None
            } else {
                Some(value)
            }
        };
        let id = required(Field::BeneficiaryId);
        let name = required(Field::Name);
        let national_id = required(Field::NationalId);
        let beneficiary = id.and_then(|id| {
            BeneficiaryId::parse(id)
                .map_err(|e| errors.push(self.error(line, Field::BeneficiaryId, e)))
                .ok()
        });
        let name = name.and_then(|name| {
            PlainText::parse(name, Lines::One, NAME_CHARS_MAX)
                .map_err(|e| errors.push(self.error(line, Field::Name, e)))
                .ok()
        });
        let national_id = national_id.and_then(|nid| {
            self.programme
                .id_pattern
                .check(nid)
                .map_err(|e| errors.push(self.error(line, Field::NationalId, e)))
                .ok()
        });
        let phone = Some(get(Field::Phone))
            .filter(|p| !p.is_empty())
            .and_then(|p| {
                Msisdn::parse(p)
                    .map_err(|e| errors.push(self.error(line, Field::Phone, e)))
                    .ok()
            });
        let household = Some(get(Field::Household))
            .filter(|h| !h.is_empty())
            .and_then(|h| {
                HouseholdId::parse(h)
                    .map_err(|e| errors.push(self.error(line, Field::Household, e)))
                    .ok()
            });
        let head = match get(Field::HouseholdRole).to_ascii_lowercase().as_str() {
            "" | "head" => true,
            "member" => {
                if household.is_none()
                    && errors
                        .iter()
                        .all(|e| e.column != self.header(Field::Household))
                {
                    errors.push(self.error(
                        line,
                        Field::Household,
                        "a household member needs the household's id",
                    ));
                }
                false
            }
            other => {
                errors.push(self.error(
                    line,
                    Field::HouseholdRole,
                    format!("the household role is head or member, not {other:?}"),
                ));
                true
            }
        };
        let site =
            Some(get(Field::Site))
                .filter(|s| !s.is_empty())
                .and_then(|s| match SiteId::parse(s) {
                    Ok(site) if self.sites.contains(site.as_str()) => Some(site),
                    Ok(site) => {
                        errors.push(self.error(
                            line,
                            Field::Site,
                            format!("unknown site {site}: register it first"),
                        ));
                        None
                    }
                    Err(e) => {
                        errors.push(self.error(line, Field::Site, e));
                        None
                    }
                });
        let active = match get(Field::Status).to_ascii_lowercase().as_str() {
            "" | "active" => true,
            "inactive" => false,
            other => {
                errors.push(self.error(
                    line,
                    Field::Status,
                    format!("the status is active or inactive, not {other:?}"),
                ));
                true
            }
        };
        let channels = self.channels(line, &get, phone.as_ref(), site.as_ref(), &mut errors);
        let chosen = channels.as_ref().and_then(|list| {
            list.iter()
                .find(|c| self.programme.allows(c.kind()))
                .cloned()
        });
        // Said only when nothing else is wrong with the row: an unknown site
        // or a bad IBAN is the reason, not a consequence.
        if let (Some(list), None, true) = (&channels, &chosen, errors.is_empty()) {
            let kinds: Vec<&str> = list.iter().map(|c| c.kind().code()).collect();
            let allowed: Vec<&str> = self.programme.channels.iter().map(|c| c.code()).collect();
            errors.push(RowError {
                line,
                column: self.header(Field::Channels),
                reason: if kinds.is_empty() {
                    format!(
                        "this person has no payment channel; the programme pays by {}",
                        allowed.join(", ")
                    )
                } else {
                    format!(
                        "none of this person's channels ({}) is one the programme pays by ({})",
                        kinds.join(", "),
                        allowed.join(", ")
                    )
                },
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(beneficiary), Some(name), Some(national_id), Some(channels), Some(chosen)) =
            (beneficiary, name, national_id, channels, chosen)
        else {
            return Err(vec![RowError {
                line,
                column: None,
                reason: "the row could not be read".to_owned(),
            }]);
        };
        let account = channels.iter().find_map(|c| match c {
            Channel::Bank(_) => Some(c.to_text()),
            _ => None,
        });
        let wallet = channels.iter().find_map(|c| match c {
            Channel::Mobile { msisdn, .. } => Some(msisdn.as_str().to_owned()),
            _ => None,
        });
        let channels_text = channels
            .iter()
            .map(Channel::to_text)
            .collect::<Vec<_>>()
            .join(" ");
        let phone = phone.map(|p| p.as_str().to_owned());
        let household = household.map(|h| h.to_string());
        let site = site.map(|s| s.to_string());
        let digest = {
            let mut hash = Sha256::new();
            for part in [
                name.as_str(),
                &national_id,
                phone.as_deref().unwrap_or(""),
                household.as_deref().unwrap_or(""),
                if head { "1" } else { "0" },
                site.as_deref().unwrap_or(""),
                &channels_text,
                if active { "1" } else { "0" },
            ] {
                hash.update(part.as_bytes());
                hash.update([0x1f]);
            }
            hex::encode(hash.finalize())
        };
        Ok(Parsed {
            line,
            row: BeneficiaryRow {
                programme: self.programme.row.programme.clone(),
                beneficiary: beneficiary.to_string(),
                name: name.as_str().to_owned(),
                national_id,
                phone,
                household,
                head,
                site,
                channels: channels_text,
                channel: chosen.to_text(),
                channel_kind: chosen.kind().code().to_owned(),
                account,
                wallet,
                active,
                digest,
                import_id: self.import_id,
                created_at: self.now,
                updated_at: self.now,
            },
        })
    }

    /// The person's channels, in their order (the `channels` column), then
    /// any others their details give, in the programme's order.
    fn channels<'r>(
        &self,
        line: u64,
        get: &impl Fn(Field) -> &'r str,
        phone: Option<&Msisdn>,
        site: Option<&SiteId>,
        errors: &mut Vec<RowError>,
    ) -> Option<Vec<Channel>> {
        let before = errors.len();
        let mut known: Vec<Channel> = Vec::new();
        // Kinds whose details are wrong (already reported).
        let mut failed: Vec<ChannelKind> = Vec::new();
        // Bank: an IBAN, or a bank code with an account number.
        let iban = get(Field::Iban);
        let (bank, account) = (get(Field::BankCode), get(Field::AccountNumber));
        if !iban.is_empty() {
            match Iban::parse(iban) {
                Ok(iban) => known.push(Channel::Bank(BankAccount::Iban(iban))),
                Err(e) => {
                    errors.push(self.error(line, Field::Iban, e));
                    failed.push(ChannelKind::Bank);
                }
            }
        } else if !bank.is_empty() || !account.is_empty() {
            let bank = match bank {
                "" => {
                    errors.push(self.error(
                        line,
                        Field::BankCode,
                        "an account number needs its bank code",
                    ));
                    None
                }
                code => BankCode::parse(code)
                    .map_err(|e| errors.push(self.error(line, Field::BankCode, e)))
                    .ok(),
            };
            let account = match account {
                "" => {
                    errors.push(self.error(
                        line,
                        Field::AccountNumber,
                        "a bank code needs an account number",
                    ));
                    None
                }
                number => AccountNumber::parse(number)
                    .map_err(|e| errors.push(self.error(line, Field::AccountNumber, e)))
                    .ok(),
            };
            match (bank, account) {
                (Some(bank), Some(account)) => {
                    known.push(Channel::Bank(BankAccount::Local { bank, account }));
                }
                _ => failed.push(ChannelKind::Bank),
            }
        }
        // Mobile money: an operator and a wallet number (the phone when no
        // wallet column is given).
        let operator = get(Field::MobileOperator);
        let wallet = get(Field::Msisdn);
        let msisdn = if wallet.is_empty() {
            phone.cloned()
        } else {
            Msisdn::parse(wallet)
                .map_err(|e| {
                    errors.push(self.error(line, Field::Msisdn, e));
                    failed.push(ChannelKind::Mobile);
                })
                .ok()
        };
        let mobile_errors = errors.len();
        match (operator, msisdn) {
            ("", Some(_)) if !wallet.is_empty() => errors.push(self.error(
                line,
                Field::MobileOperator,
                "a wallet number needs its mobile-money operator",
            )),
            ("", _) => {}
            (code, Some(msisdn)) => match Operator::parse(code) {
                Ok(operator) => known.push(Channel::Mobile { operator, msisdn }),
                Err(e) => errors.push(self.error(line, Field::MobileOperator, e)),
            },
            (_, None) if wallet.is_empty() => errors.push(self.error(
                line,
                Field::Msisdn,
                "a mobile-money operator needs a wallet number (or a phone)",
            )),
            (_, None) => {}
        }
        if errors.len() > mobile_errors {
            failed.push(ChannelKind::Mobile);
        }
        match site {
            Some(site) => known.push(Channel::Cash { site: site.clone() }),
            None if !get(Field::Site).is_empty() => failed.push(ChannelKind::Cash),
            None => {}
        }
        if self.programme.allows(ChannelKind::Voucher) {
            known.push(Channel::Voucher);
        }
        // The person's order first.
        let mut ordered: Vec<Channel> = Vec::new();
        for word in get(Field::Channels)
            .split([';', ',', ' '])
            .filter(|w| !w.is_empty())
        {
            let Ok(kind) = ChannelKind::parse(&word.to_ascii_lowercase()) else {
                errors.push(self.error(
                    line,
                    Field::Channels,
                    format!("{word:?} is not a channel (bank, mobile, cash or voucher)"),
                ));
                continue;
            };
            if ordered.iter().any(|c| c.kind() == kind) {
                continue;
            }
            match known.iter().find(|c| c.kind() == kind) {
                Some(channel) => ordered.push(channel.clone()),
                None if kind == ChannelKind::Voucher => ordered.push(Channel::Voucher),
                None if failed.contains(&kind) => {}
                None => errors.push(self.error(
                    line,
                    Field::Channels,
                    format!(
                        "the channels list {} but the row has no {}",
                        kind.code(),
                        match kind {
                            ChannelKind::Bank => "IBAN or bank account",
                            ChannelKind::Mobile => "mobile-money operator and wallet",
                            ChannelKind::Cash => "site",
                            ChannelKind::Voucher => "voucher",
                        }
                    ),
                )),
            }
        }
        for kind in self
            .programme
            .channels
            .iter()
            .copied()
            .chain(ChannelKind::ALL)
        {
            if !ordered.iter().any(|c| c.kind() == kind)
                && let Some(channel) = known.iter().find(|c| c.kind() == kind)
            {
                ordered.push(channel.clone());
            }
        }
        (errors.len() == before).then_some(ordered)
    }
}

/// What differs between a stored row and an imported one.
fn changed_fields(old: &BeneficiaryRow, new: &BeneficiaryRow) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let pairs: [(&'static str, bool); 8] = [
        ("name", old.name != new.name),
        ("national_id", old.national_id != new.national_id),
        ("phone", old.phone != new.phone),
        (
            "household",
            old.household != new.household || old.head != new.head,
        ),
        ("site", old.site != new.site),
        ("channels", old.channels != new.channels),
        ("status", old.active != new.active),
        ("channel", old.channel != new.channel),
    ];
    for (name, differs) in pairs {
        if differs {
            fields.push(name);
        }
    }
    fields
}

/// The counts as an import goes.
#[derive(Default)]
struct Tally {
    rows_read: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    errors: Vec<RowError>,
    errors_total: u64,
}

impl Tally {
    /// Both sides' counts; the first [`ERRORS_LISTED`] errors of both, by line.
    fn merge(mut self, other: Tally) -> Tally {
        self.rows_read += other.rows_read;
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
        self.errors_total += other.errors_total;
        self.errors.extend(other.errors);
        self.errors.sort_by_key(|e| e.line);
        self.errors.truncate(ERRORS_LISTED);
        self
    }

    fn reject(&mut self, mut errors: Vec<RowError>) {
        self.rejected += 1;
        self.errors_total += errors.len() as u64;
        let room = ERRORS_LISTED.saturating_sub(self.errors.len());
        errors.truncate(room);
        self.errors.extend(errors);
    }
}

/// Writes one chunk of parsed rows: new ones inserted, changed ones
/// updated (and audited), the same ones counted; a national ID another
/// beneficiary of the programme holds rejects the row.
fn flush(
    tx: &mut dyn Tx,
    ctx: &Context<'_>,
    actor: &Actor,
    chunk: &mut Vec<Parsed>,
    tally: &mut Tally,
) -> Result<(), ImportError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let programme = ctx.programme.row.programme.as_str();
    let ids: Vec<&str> = chunk.iter().map(|p| p.row.beneficiary.as_str()).collect();
    let existing: HashMap<String, BeneficiaryRow> = tx
        .beneficiaries_by_id(programme, &ids)?
        .into_iter()
        .map(|r| (r.beneficiary.clone(), r))
        .collect();
    let nids: Vec<&str> = chunk.iter().map(|p| p.row.national_id.as_str()).collect();
    let holders: HashMap<String, String> = tx
        .national_id_holders(programme, &nids)?
        .into_iter()
        .collect();
    let mut new_rows = Vec::new();
    for parsed in chunk.drain(..) {
        if let Some(holder) = holders.get(&parsed.row.national_id)
            && *holder != parsed.row.beneficiary
        {
            tally.reject(vec![RowError {
                line: parsed.line,
                column: ctx.header(Field::NationalId),
                reason: format!(
                    "the national ID {} already belongs to beneficiary {holder} in this programme",
                    parsed.row.national_id
                ),
            }]);
            continue;
        }
        match existing.get(&parsed.row.beneficiary) {
            None => {
                tally.created += 1;
                new_rows.push(parsed.row);
            }
            Some(old) if old.digest == parsed.row.digest => tally.unchanged += 1,
            Some(old) => {
                let mut row = parsed.row;
                row.created_at = old.created_at;
                let fields = changed_fields(old, &row);
                table::update_beneficiary(tx.sql(), &row)?;
                audit::record(
                    tx,
                    actor,
                    "beneficiary.updated",
                    &format!("beneficiary:{programme}/{}", row.beneficiary),
                    serde_json::json!({ "import": ctx.import_id, "fields": fields }),
                    ctx.now,
                )?;
                tally.updated += 1;
            }
        }
    }
    tx.insert_beneficiaries(&new_rows)?;
    Ok(())
}

/// Reads, parses and checks every row of the file against the others (the
/// same id or national ID twice), sending chunks of [`CHUNK_ROWS`] good rows
/// to the writer; the rows read and those refused, with their errors. Stops
/// early, quietly, when the writer has stopped.
fn read_rows<R: Read>(
    mut csv: csv::Reader<R>,
    ctx: &Context<'_>,
    send: std::sync::mpsc::SyncSender<Vec<Parsed>>,
) -> Result<Tally, ImportError> {
    let mut tally = Tally::default();
    let mut seen_ids: HashMap<u128, u64> = HashMap::new();
    let mut seen_nids: HashMap<u128, u64> = HashMap::new();
    let mut chunk: Vec<Parsed> = Vec::with_capacity(CHUNK_ROWS);
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv
            .read_record(&mut record)
            .map_err(|e| ImportError::Unreadable(e.to_string()))?;
        if !more {
            break;
        }
        tally.rows_read += 1;
        if tally.rows_read > ROWS_MAX {
            return Err(ImportError::TooManyRows);
        }
        let line = record.position().map_or(tally.rows_read + 1, |p| p.line());
        if record.as_slice().len() > ROW_BYTES_MAX {
            tally.reject(vec![RowError {
                line,
                column: None,
                reason: format!("the row is longer than {ROW_BYTES_MAX} bytes"),
            }]);
            continue;
        }
        if record.iter().all(str::is_empty) {
            tally.rows_read -= 1;
            continue;
        }
        let parsed = match ctx.parse(line, &record) {
            Ok(parsed) => parsed,
            Err(errors) => {
                tally.reject(errors);
                continue;
            }
        };
        let mut duplicate = Vec::new();
        if let Some(first) = seen_ids.insert(short_digest(&parsed.row.beneficiary), line) {
            seen_ids.insert(short_digest(&parsed.row.beneficiary), first);
            duplicate.push(RowError {
                line,
                column: ctx.header(Field::BeneficiaryId),
                reason: format!(
                    "the beneficiary {} is also on line {first}",
                    parsed.row.beneficiary
                ),
            });
        }
        if let Some(first) = seen_nids.insert(short_digest(&parsed.row.national_id), line) {
            seen_nids.insert(short_digest(&parsed.row.national_id), first);
            duplicate.push(RowError {
                line,
                column: ctx.header(Field::NationalId),
                reason: format!(
                    "the national ID {} is also on line {first}",
                    parsed.row.national_id
                ),
            });
        }
        if !duplicate.is_empty() {
            tally.reject(duplicate);
            continue;
        }
        chunk.push(parsed);
        if chunk.len() == CHUNK_ROWS {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS));
            if send.send(full).is_err() {
                return Ok(tally);
            }
        }
    }
    if !chunk.is_empty() {
        // A writer gone has its own error to tell.
        let _ = send.send(chunk);
    }
    Ok(tally)
}

/// Imports (or, with `check_only`, checks) a beneficiary file into a
/// programme (see the module documentation).
#[allow(clippy::too_many_arguments)]
pub fn import(
    storage: &Storage,
    actor: &Actor,
    programme: &str,
    file_name: &str,
    reader: impl Read + Send,
    mapping: &Mapping,
    options: Options,
    now: i64,
) -> Result<Report, ImportError> {
    let mut hashing = Hashing {
        inner: reader,
        hash: Sha256::new(),
    };
    let outcome = storage.transaction(|tx| -> Result<Report, ImportError> {
        table::plan_for_growth(tx.sql())?;
        let programme = programmes::get_in(tx, programme)?;
        if programme.row.state == "closed" {
            return Err(ImportError::Closed(programme.row.programme.clone()));
        }
        let mut csv = reader_for(&mut hashing);
        let headers: Vec<String> = csv
            .headers()
            .map_err(|e| ImportError::Unreadable(e.to_string()))?
            .iter()
            .map(str::to_owned)
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(ImportError::NoHeaders);
        }
        let columns = mapping.columns(&headers)?;
        let sites = table::site_ids(tx.sql(), SITES_MAX)?.into_iter().collect();
        let import_id = i64::try_from(tx.next_counter("imports")?)
            .map_err(|e| StorageError::corrupt("counters.imports", e))?;
        let ctx = Context {
            programme: &programme,
            columns,
            headers,
            sites,
            import_id,
            now,
        };
        // The file is read and parsed on a thread of its own while this one
        // writes the chunks already parsed, so parsing and the database's
        // work overlap instead of taking turns.
        let mut tally = std::thread::scope(|scope| -> Result<Tally, ImportError> {
            let (send, receive) = std::sync::mpsc::sync_channel(CHUNKS_AHEAD);
            let ctx = &ctx;
            let reader = scope.spawn(move || read_rows(csv, ctx, send));
            let mut written = Tally::default();
            let mut outcome = Ok(());
            while let Ok(mut chunk) = receive.recv() {
                if let Err(e) = flush(tx, ctx, actor, &mut chunk, &mut written) {
                    outcome = Err(e);
                    break;
                }
            }
            // A writer that stopped early stops the reader at its next chunk.
            drop(receive);
            let read = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            outcome?;
            Ok(read?.merge(written))
        })?;
        // The reader is at the end (it dropped its CSV reader when done):
        // every byte of the file went through the hash.
        let sha256 = hex::encode(hashing.hash.clone().finalize());
        if tally.rows_read == 0 {
            return Err(ImportError::Empty);
        }
        tally.errors.sort_by_key(|e| e.line);
        let changed = tally.created + tally.updated > 0;
        let mut report = Report {
            import: None,
            checked_only: options.check_only,
            sha256: sha256.clone(),
            rows_read: tally.rows_read,
            created: tally.created,
            updated: tally.updated,
            unchanged: tally.unchanged,
            rejected: tally.rejected,
            errors: tally.errors,
            errors_total: tally.errors_total,
            signals_open: 0,
        };
        if options.check_only || (report.errors_total > 0 && !options.good_rows) {
            // Rolled back: the caller tells a check from a refusal.
            return Err(ImportError::Rows(Box::new(report)));
        }
        if changed {
            let mapping_json =
                serde_json::to_string(mapping).map_err(|e| StorageError::corrupt("mapping", e))?;
            table::insert_import(
                tx.sql(),
                &ImportRow {
                    id: import_id,
                    programme: programme.row.programme.clone(),
                    file_name: file_name.chars().take(200).collect(),
                    sha256,
                    mapping: mapping_json,
                    rows_read: report.rows_read as i64,
                    created: report.created as i64,
                    updated: report.updated as i64,
                    unchanged: report.unchanged as i64,
                    rejected: report.rejected as i64,
                    good_rows: report.errors_total > 0,
                    imported_by: actor.label(),
                    imported_at: now,
                },
            )?;
            audit::record(
                tx,
                actor,
                "beneficiaries.imported",
                &format!("programme:{}", programme.row.programme),
                serde_json::json!({
                    "import": import_id, "file": file_name, "rows": report.rows_read,
                    "created": report.created, "updated": report.updated,
                    "rejected": report.rejected,
                }),
                now,
            )?;
            report.import = Some(import_id);
            signals::detect_in(tx, &programme, now)?;
        }
        report.signals_open = signals::open_count_in(tx, &programme.row.programme)?;
        Ok(report)
    });
    match outcome {
        Err(ImportError::Rows(report)) if report.checked_only => Ok(*report),
        other => other,
    }
}
