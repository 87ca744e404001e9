//! How a beneficiary is paid: a bank account (an IBAN, or a bank code and
//! an account number where the country issues no IBANs), a mobile-money
//! wallet, cash at a site, or a voucher.
//!
//! Parse, don't validate: every value here can only be had from `parse`,
//! which accepts what people write (spaces, lower case, `00` for `+`) and
//! keeps one canonical form, so two records of the same account compare
//! equal and a payment file carries exactly what was checked. Errors name
//! the exact problem in words a programme officer can act on, because a
//! mistyped account means money sent to the wrong person or bounced weeks
//! later.
//!
//! [`Channel`] has one stable text form for storage and CSV
//! (`iban:DE89370400440532013000`, `account:BANKCODE/ACCOUNT`,
//! `mobile:mpesa:+254712345678`, `cash:SITE`, `voucher`); its serde form is
//! that text.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{IdError, SiteId};

/// Longest IBAN in characters (ISO 13616), without spaces.
pub const IBAN_CHARS_MAX: usize = 34;
/// Fewest digits, country code included, that we take as a mobile number.
pub const MSISDN_DIGITS_MIN: usize = 8;
/// Most digits E.164 allows, country code included.
pub const MSISDN_DIGITS_MAX: usize = 15;
/// Longest bank code: a BIC has 8 or 11 characters, national bank and sort
/// codes fewer.
pub const BANK_CODE_CHARS_MAX: usize = 11;
/// Longest account number: the longest BBAN an IBAN can carry.
pub const ACCOUNT_NUMBER_CHARS_MAX: usize = 34;
/// Shortest mobile-money operator code.
pub const OPERATOR_CHARS_MIN: usize = 2;
/// Longest mobile-money operator code.
pub const OPERATOR_CHARS_MAX: usize = 32;
/// Longest channel text we look at; every valid one is shorter (a cash
/// channel with the longest site id is 69 bytes).
pub const CHANNEL_TEXT_BYTES_MAX: usize = 128;

/// How much of a refused input an error repeats: enough to recognise it,
/// not a whole pasted paragraph.
const ECHO_CHARS_MAX: usize = 16;

fn echo(text: &str) -> String {
    text.chars().take(ECHO_CHARS_MAX).collect()
}

// ---------------------------------------------------------------- IBAN

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("the IBAN is empty")]
    Empty,
    #[error(
        "the IBAN has {found:?} at character {position}; an IBAN has only letters A-Z and digits 0-9 (spaces are ignored)"
    )]
    BadCharacter { found: char, position: usize },
    #[error("an IBAN has at most 34 characters; this one has {length}")]
    TooLong { length: usize },
    #[error(
        "the IBAN has {length} characters, too few to be an IBAN (the shortest, Norway's, have 15)"
    )]
    TooShort { length: usize },
    #[error("an IBAN starts with a two-letter country code; this one starts with {found:?}")]
    BadCountryCode { found: String },
    #[error(
        "{country} is not an IBAN country (it is not in the SWIFT IBAN registry); record the bank code and account number instead"
    )]
    UnknownCountry { country: String },
    #[error("{country} IBANs are {expected} characters; this one is {found}")]
    WrongLength {
        country: String,
        expected: usize,
        found: usize,
    },
    #[error("characters 3 and 4 of an IBAN are its two check digits; this one has {found:?} there")]
    BadCheckDigits { found: String },
    #[error("the IBAN's check digits are wrong (mod 97 gives {remainder}, not 1)")]
    Checksum { remainder: u32 },
    #[error(
        "the IBAN's check digits {found} are never issued (ISO 13616 uses 02 to 98), so it is mistyped"
    )]
    CheckDigitsOutOfRange { found: String },
    #[error(
        "the IBAN does not follow the {country} format: a letter stands where {country} IBANs have a digit, or a digit where they have a letter"
    )]
    BbanFormat { country: String },
}

/// IBAN length by country, from the SWIFT IBAN registry.
///
/// `iban_validate` checks each country's format but keeps its registry
/// private and reports only "wrong BBAN"; this table is here only so that a
/// wrong length can be told apart and worded ("DE IBANs are 22 characters;
/// this one is 21") and an unknown country named. The test
/// `length_table_matches_the_crate` checks it against the crate for every
/// two-letter code, so an upgrade of the crate that changes the registry
/// fails the tests until the table follows.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn iban_length(country: &str) -> Option<usize> {
    IBAN_LENGTHS
        .binary_search_by(|(code, _)| (*code).cmp(country))
        .ok()
        .and_then(|index| IBAN_LENGTHS.get(index))
        .map(|(_, length)| *length)
}

/// ISO 7064 MOD 97-10 over an electronic IBAN (only `0-9 A-Z`): the first
/// four characters move to the end, letters count as 10 to 35. A correct
/// IBAN gives 1. Kept here to say *how far* off a wrong IBAN is; the crate
/// makes the same check.
fn iban_remainder(electronic: &str) -> u32 {
    let bytes = electronic.as_bytes();
    let split = bytes.len().min(4);
    let (head, tail) = bytes.split_at(split);
    tail.iter().chain(head).fold(0u32, |acc, &b| match b {
        b'0'..=b'9' => (acc * 10 + u32::from(b - b'0')) % 97,
        _ => (acc * 100 + u32::from(b.to_ascii_uppercase().wrapping_sub(b'A')) + 10) % 97,
    })
}

/// An International Bank Account Number (ISO 13616) that passed its
/// country's length and format and the mod-97 check.
///
/// Kept in the electronic form (upper case, no spaces), which is what
/// payment files carry; [`Display`](fmt::Display) gives the print form in
/// groups of four, which is what people read back to each other.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iban(String);

impl Iban {
    /// Accepts the electronic form or the print form, in any case, with
    /// spaces anywhere (people copy IBANs out of letters and PDFs);
    /// surrounding whitespace is trimmed.
    ///
    /// The SWIFT registry's per-country formats and the final mod-97 check
    /// come from the `iban_validate` crate; this function orders the checks
    /// so the error is the most useful one (a missing digit is reported as
    /// a wrong length, not a bad checksum).
    pub fn parse(text: &str) -> Result<Self, IbanError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(IbanError::Empty);
        }
        let mut electronic = String::with_capacity(IBAN_CHARS_MAX);
        let mut length = 0usize;
        for (index, c) in text.chars().enumerate() {
            if c == ' ' {
                continue;
            }
            if !c.is_ascii_alphanumeric() {
                return Err(IbanError::BadCharacter {
                    found: c,
                    position: index + 1,
                });
            }
            length += 1;
            if electronic.len() < IBAN_CHARS_MAX {
                electronic.push(c.to_ascii_uppercase());
            }
        }
        if length > IBAN_CHARS_MAX {
            return Err(IbanError::TooLong { length });
        }
        let country = match electronic.get(..2) {
            None => return Err(IbanError::TooShort { length }),
            Some(country) if country.bytes().all(|b| b.is_ascii_uppercase()) => country,
            Some(found) => {
                return Err(IbanError::BadCountryCode {
                    found: found.to_owned(),
                });
            }
        };
        let expected = iban_length(country).ok_or_else(|| IbanError::UnknownCountry {
            country: country.to_owned(),
        })?;
        if length != expected {
            return Err(IbanError::WrongLength {
                country: country.to_owned(),
                expected,
                found: length,
            });
        }
        // Every registry length is at least 15, so characters 3 and 4 exist.
        let check = electronic.get(2..4).unwrap_or_default();
        if !check.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IbanError::BadCheckDigits {
                found: check.to_owned(),
            });
        }
        let remainder = iban_remainder(&electronic);
        if remainder != 1 {
            return Err(IbanError::Checksum { remainder });
        }
        // 98 minus a remainder 0..=96 gives 02..=98; 00, 01 and 99 pass
        // mod 97 only as aliases of 97, 98 and 02, and no bank issues them.
        if matches!(check, "00" | "01" | "99") {
            return Err(IbanError::CheckDigitsOutOfRange {
                found: check.to_owned(),
            });
        }
        match ::iban::Iban::from_str(&electronic) {
            Ok(_) => Ok(Self(electronic)),
            Err(error) => Err(map_crate_error(error, &electronic, country)),
        }
    }

    /// The electronic form: upper case, no spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166 two-letter country code the IBAN starts with.
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }
}

/// The crate's errors in ours. After the checks above only a BBAN format
/// error is expected; the other arms keep the mapping total should the
/// crate's rules and ours ever part.
fn map_crate_error(error: ::iban::ParseIbanError, electronic: &str, country: &str) -> IbanError {
    use ::iban::{ParseBaseIbanError, ParseIbanError};
    match error {
        ParseIbanError::InvalidBaseIban {
            source: ParseBaseIbanError::InvalidChecksum,
        } => IbanError::Checksum {
            remainder: iban_remainder(electronic),
        },
        ParseIbanError::UnknownCountry(_) => IbanError::UnknownCountry {
            country: country.to_owned(),
        },
        ParseIbanError::InvalidBaseIban {
            source: ParseBaseIbanError::InvalidFormat,
        }
        | ParseIbanError::InvalidBban(_) => IbanError::BbanFormat {
            country: country.to_owned(),
        },
    }
}

impl fmt::Display for Iban {
    /// The print form: groups of four separated by one space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, c) in self.0.chars().enumerate() {
            if index > 0 && index % 4 == 0 {
                f.write_str(" ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban({:?})", self.0)
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------- MSISDN

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsisdnError {
    #[error("the mobile number is empty")]
    Empty,
    #[error(
        "the mobile number has {found:?} at character {position}; write only digits, a leading + and the separators space - . ( )"
    )]
    BadCharacter { found: char, position: usize },
    #[error(
        "the mobile number's country code is missing: write it with + or 00 and the country code (a national number such as 0712 345 678 is +254 712 345 678 in Kenya)"
    )]
    MissingCountryCode,
    #[error(
        "the mobile number has a (0) after the country code; leave it out, that 0 is dialled only inside the country"
    )]
    TrunkPrefix,
    #[error(
        "the mobile number's country code starts with 0, which no country code does; after the + (or 00) comes the country code, such as 254"
    )]
    CountryCodeStartsWithZero,
    #[error(
        "the mobile number has {digits} digits; an international mobile number has at least 8, counting the country code"
    )]
    TooFewDigits { digits: usize },
    #[error(
        "the mobile number has {digits} digits; E.164 allows at most 15, counting the country code"
    )]
    TooManyDigits { digits: usize },
}

/// A mobile number in E.164 international form, as mobile-money operators
/// address wallets: `+`, the country code, the subscriber number.
///
/// A national number ("0712 345 678") is refused rather than guessed at:
/// the same national number exists in many countries, and a programme may
/// pay across a border.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

impl Msisdn {
    /// Accepts `+` or `00`, then digits, with spaces, hyphens, dots and
    /// parentheses anywhere as separators (`+254 712-345-678`,
    /// `(+254) 712.345.678`, `00254712345678`); surrounding whitespace is
    /// trimmed.
    pub fn parse(text: &str) -> Result<Self, MsisdnError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MsisdnError::Empty);
        }
        // Enough for the most digits we accept plus a `00` prefix: past
        // that the count alone decides.
        let mut digits = String::with_capacity(MSISDN_DIGITS_MAX + 2);
        let mut count = 0usize;
        let mut plus = false;
        // The last two characters other than spaces, to spot "(0)".
        let mut last = [' ', ' '];
        let mut trunk = false;
        for (index, c) in text.chars().enumerate() {
            match c {
                '0'..='9' => {
                    count += 1;
                    if digits.len() < MSISDN_DIGITS_MAX + 2 {
                        digits.push(c);
                    }
                }
                '+' if count == 0 && !plus => plus = true,
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(MsisdnError::BadCharacter {
                        found: c,
                        position: index + 1,
                    });
                }
            }
            if c != ' ' {
                trunk |= last == ['(', '0'] && c == ')';
                last = [last[1], c];
            }
        }
        let (digits, count) = if plus {
            (digits.as_str(), count)
        } else if let Some(rest) = digits.strip_prefix("00") {
            (rest, count - 2)
        } else if count == 0 {
            return Err(MsisdnError::TooFewDigits { digits: 0 });
        } else {
            return Err(MsisdnError::MissingCountryCode);
        };
        if trunk {
            return Err(MsisdnError::TrunkPrefix);
        }
        if digits.starts_with('0') {
            return Err(MsisdnError::CountryCodeStartsWithZero);
        }
        if count < MSISDN_DIGITS_MIN {
            return Err(MsisdnError::TooFewDigits { digits: count });
        }
        if count > MSISDN_DIGITS_MAX {
            return Err(MsisdnError::TooManyDigits { digits: count });
        }
        Ok(Self(format!("+{digits}")))
    }

    /// `+` and the digits, e.g. `+254712345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msisdn({:?})", self.0)
    }
}

impl FromStr for Msisdn {
    type Err = MsisdnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ------------------------------------------------- bank code, account, operator

/// Why a bank code, account number or operator code was refused; `what`
/// names which of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the {what} is empty")]
    Empty { what: &'static str },
    #[error("the {what} has {length} characters; at least {min} are needed")]
    TooShort {
        what: &'static str,
        length: usize,
        min: usize,
    },
    #[error("the {what} has {length} characters; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        length: usize,
        max: usize,
    },
    #[error("the {what} has {found:?} at character {position}; only {allowed} are allowed")]
    BadCharacter {
        what: &'static str,
        found: char,
        position: usize,
        allowed: &'static str,
    },
}

/// The rules of one kind of code: which characters it keeps (after case
/// folding), which it drops as separators, and its length in kept
/// characters.
struct CodeRules {
    what: &'static str,
    allowed: &'static str,
    keeps: fn(char) -> bool,
    separators: &'static [char],
    fold: fn(char) -> char,
    min: usize,
    max: usize,
}

fn parse_code(text: &str, rules: &CodeRules) -> Result<String, CodeError> {
    let what = rules.what;
    let text = text.trim();
    let mut kept = String::with_capacity(rules.max);
    let mut length = 0usize;
    for (index, c) in text.chars().enumerate() {
        if rules.separators.contains(&c) {
            continue;
        }
        let folded = (rules.fold)(c);
        if !(rules.keeps)(folded) {
            return Err(CodeError::BadCharacter {
                what,
                found: c,
                position: index + 1,
                allowed: rules.allowed,
            });
        }
        length += 1;
        if kept.len() < rules.max {
            kept.push(folded);
        }
    }
    if length == 0 {
        return Err(CodeError::Empty { what });
    }
    if length < rules.min {
        return Err(CodeError::TooShort {
            what,
            length,
            min: rules.min,
        });
    }
    if length > rules.max {
        return Err(CodeError::TooLong {
            what,
            length,
            max: rules.max,
        });
    }
    Ok(kept)
}

fn is_upper_alnum(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

fn is_operator_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

const BANK_CODE_RULES: CodeRules = CodeRules {
    what: "bank code",
    allowed: "letters A-Z and digits 0-9",
    keeps: is_upper_alnum,
    separators: &[],
    fold: |c| c.to_ascii_uppercase(),
    min: 1,
    max: BANK_CODE_CHARS_MAX,
};

const ACCOUNT_NUMBER_RULES: CodeRules = CodeRules {
    what: "account number",
    allowed: "letters A-Z, digits 0-9 and the separators space and -",
    keeps: is_upper_alnum,
    separators: &[' ', '-'],
    fold: |c| c.to_ascii_uppercase(),
    min: 1,
    max: ACCOUNT_NUMBER_CHARS_MAX,
};

const OPERATOR_RULES: CodeRules = CodeRules {
    what: "operator code",
    allowed: "letters a-z, digits 0-9, _ and -",
    keeps: is_operator_char,
    separators: &[],
    fold: |c| c.to_ascii_lowercase(),
    min: OPERATOR_CHARS_MIN,
    max: OPERATOR_CHARS_MAX,
};

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident, $rules:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, CodeError> {
                parse_code(text, &$rules).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = CodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

code_type!(
    /// The bank of a local account: a BIC or a national bank or sort code,
    /// 1 to 11 characters of `A-Z 0-9` (upper-cased on parse). No
    /// separators: a BIC has none, and a sort code's hyphens are the
    /// account owner's habit, not part of the code.
    BankCode, BANK_CODE_RULES
);
code_type!(
    /// An account number at a bank, for countries without IBANs: 1 to 34
    /// characters of `A-Z 0-9` (upper-cased), with the spaces and hyphens
    /// people group it with removed.
    AccountNumber, ACCOUNT_NUMBER_RULES
);
code_type!(
    /// A mobile-money operator as the programme names it (`mpesa`,
    /// `airtel`, `mtn-momo`): 2 to 32 characters of `a-z 0-9 _ -`,
    /// lower-cased, so it can stand in a channel's text form and a file name.
    Operator, OPERATOR_RULES
);

// ---------------------------------------------------------------- channels

/// A bank account: an IBAN where the country issues them, otherwise the
/// bank and the account number at it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BankAccount {
    Iban(Iban),
    Local {
        bank: BankCode,
        account: AccountNumber,
    },
}

/// How one beneficiary is paid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// A transfer to a bank account.
    Bank(BankAccount),
    /// A transfer to a mobile-money wallet.
    Mobile { operator: Operator, msisdn: Msisdn },
    /// Cash handed over at a distribution site.
    Cash { site: SiteId },
    /// A voucher redeemed at a merchant's terminal.
    Voucher,
}

/// The four ways to pay, without their details: what a programme allows
/// and what reports count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Bank,
    Mobile,
    Cash,
    Voucher,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{found:?} is not a payment channel kind; use bank, mobile, cash or voucher")]
pub struct UnknownChannelKind {
    pub found: String,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Bank,
        ChannelKind::Mobile,
        ChannelKind::Cash,
        ChannelKind::Voucher,
    ];

    /// The stable code, as stored and as written in configuration.
    pub fn code(self) -> &'static str {
        match self {
            ChannelKind::Bank => "bank",
            ChannelKind::Mobile => "mobile",
            ChannelKind::Cash => "cash",
            ChannelKind::Voucher => "voucher",
        }
    }

    /// The kind whose [`code`](Self::code) is `code` (exactly, lower case).
    pub fn parse(code: &str) -> Result<Self, UnknownChannelKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.code() == code)
            .ok_or_else(|| UnknownChannelKind { found: echo(code) })
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why a channel's text form was refused. The part errors say which part
/// is wrong in their own words ("the bank code …", "the mobile number …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("the payment channel is empty")]
    Empty,
    #[error(
        "the payment channel is {bytes} bytes long; at most {CHANNEL_TEXT_BYTES_MAX} are allowed"
    )]
    TooLong { bytes: usize },
    #[error(
        "{found:?} is not a payment channel; write iban:IBAN, account:BANKCODE/ACCOUNT, mobile:OPERATOR:+NUMBER, cash:SITE or voucher"
    )]
    UnknownKind { found: String },
    #[error("write this payment channel as {expected}")]
    Form { expected: &'static str },
    #[error("a voucher channel is just \"voucher\", with nothing after it")]
    VoucherTakesNothing,
    #[error(transparent)]
    Iban(IbanError),
    #[error(transparent)]
    BankCode(CodeError),
    #[error(transparent)]
    AccountNumber(CodeError),
    #[error(transparent)]
    Operator(CodeError),
    #[error(transparent)]
    Msisdn(MsisdnError),
    #[error("the cash site is wrong: {0}")]
    Site(IdError),
    #[error("write this payment channel exactly as {canonical:?}")]
    NotCanonical { canonical: String },
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        match self {
            Channel::Bank(_) => ChannelKind::Bank,
            Channel::Mobile { .. } => ChannelKind::Mobile,
            Channel::Cash { .. } => ChannelKind::Cash,
            Channel::Voucher => ChannelKind::Voucher,
        }
    }

    /// Reads the text form. Only the canonical text is accepted, so that
    /// `parse_text(s)?.to_text() == s` for every `s` it accepts and a
    /// stored channel compares byte for byte; a text that names a valid
    /// channel in another spelling (lower-case IBAN, spaces, `00` for `+`)
    /// is refused with the exact canonical text to write instead.
    pub fn parse_text(text: &str) -> Result<Self, ChannelError> {
        if text.is_empty() {
            return Err(ChannelError::Empty);
        }
        if text.len() > CHANNEL_TEXT_BYTES_MAX {
            return Err(ChannelError::TooLong { bytes: text.len() });
        }
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (text, None),
        };
        let channel = match (kind.to_ascii_lowercase().as_str(), rest) {
            ("voucher", None) => Channel::Voucher,
            ("voucher", Some(_)) => return Err(ChannelError::VoucherTakesNothing),
            ("iban", Some(rest)) => Channel::Bank(BankAccount::Iban(
                Iban::parse(rest).map_err(ChannelError::Iban)?,
            )),
            ("account", Some(rest)) => {
                let (bank, account) = rest.split_once('/').ok_or(ChannelError::Form {
                    expected: "account:BANKCODE/ACCOUNT",
                })?;
                Channel::Bank(BankAccount::Local {
                    bank: BankCode::parse(bank).map_err(ChannelError::BankCode)?,
                    account: AccountNumber::parse(account).map_err(ChannelError::AccountNumber)?,
                })
            }
            ("mobile", Some(rest)) => {
                let (operator, msisdn) = rest.split_once(':').ok_or(ChannelError::Form {
                    expected: "mobile:OPERATOR:+NUMBER",
                })?;
                Channel::Mobile {
                    operator: Operator::parse(operator).map_err(ChannelError::Operator)?,
                    msisdn: Msisdn::parse(msisdn).map_err(ChannelError::Msisdn)?,
                }
            }
            ("cash", Some(rest)) => Channel::Cash {
                site: SiteId::parse(rest).map_err(ChannelError::Site)?,
            },
            ("iban", None) => {
                return Err(ChannelError::Form {
                    expected: "iban:IBAN",
                });
            }
            ("account", None) => {
                return Err(ChannelError::Form {
                    expected: "account:BANKCODE/ACCOUNT",
                });
            }
            ("mobile", None) => {
                return Err(ChannelError::Form {
                    expected: "mobile:OPERATOR:+NUMBER",
                });
            }
            ("cash", None) => {
                return Err(ChannelError::Form {
                    expected: "cash:SITE",
                });
            }
            _ => return Err(ChannelError::UnknownKind { found: echo(kind) }),
        };
        let canonical = channel.to_text();
        if canonical != text {
            return Err(ChannelError::NotCanonical { canonical });
        }
        Ok(channel)
    }

    /// The text form (the same as [`Display`](fmt::Display)).
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Bank(BankAccount::Iban(iban)) => write!(f, "iban:{}", iban.as_str()),
            Channel::Bank(BankAccount::Local { bank, account }) => {
                write!(f, "account:{bank}/{account}")
            }
            Channel::Mobile { operator, msisdn } => write!(f, "mobile:{operator}:{msisdn}"),
            Channel::Cash { site } => write!(f, "cash:{site}"),
            Channel::Voucher => f.write_str("voucher"),
        }
    }
}

impl FromStr for Channel {
    type Err = ChannelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_text(s)
    }
}

// ---------------------------------------------------------------- serde

/// Serialises as the value's canonical text (its `Display`) and
/// deserialises through `parse`, so no invalid value enters through a file
/// or a request body.
macro_rules! serde_as_text {
    ($name:ident, $parse:path) => {
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <Cow<'de, str>>::deserialize(d)?;
                $parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(Msisdn, Msisdn::parse);
serde_as_text!(BankCode, BankCode::parse);
serde_as_text!(AccountNumber, AccountNumber::parse);
serde_as_text!(Operator, Operator::parse);
serde_as_text!(Channel, Channel::parse_text);

/// An IBAN serialises in the electronic form, which payment files expect;
/// its `Display` is the print form for people.
impl Serialize for Iban {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Iban {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Iban::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Examples published in the SWIFT IBAN registry. Of Africa's
    /// countries, BI, DJ, EG, LY, MR, MU, SC, SD, SO, ST and TN issue IBANs;
    /// Kenya, Nigeria, Ghana and most others do not.
    const REGISTRY_EXAMPLES: &[&str] = &[
        "DE89370400440532013000",
        "GB29NWBK60161331926819",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "BE68539007547034",
        "CH9300762011623852957",
        "NO9386011117947",
        "IT60X0542811101000000123456",
        "ES9121000418450200051332",
        "KZ86125KZT5004100100",
        "MU17BOMM0101101030300200000MUR",
        "TN5910006035183598478831",
        "EG380019000500000000263180002",
        "SC18SSCB11010000000000001497USD",
        "MR1300020001010000123456753",
        "LY83002048000020100120361",
        "SD2129010501234001",
        "DJ2100010000000154000100186",
        "SO211000001001000100141",
        "ST23000100010051845310146",
    ];

    fn iban(text: &str) -> Iban {
        Iban::parse(text).unwrap()
    }

    #[test]
    fn registry_examples_parse_in_every_spelling() {
        for &example in REGISTRY_EXAMPLES {
            let parsed = iban(example);
            assert_eq!(parsed.as_str(), example);
            assert_eq!(parsed.country(), &example[..2]);
            let print = parsed.to_string();
            assert_eq!(iban(&print), parsed, "{print}");
            assert_eq!(iban(&print.to_lowercase()), parsed, "{print}");
            assert_eq!(iban(&format!("  {}\n", example.to_lowercase())), parsed);
        }
        let de = iban("de89 3704 0044 0532 0130 00");
        assert_eq!(de.as_str(), "DE89370400440532013000");
        assert_eq!(de.to_string(), "DE89 3704 0044 0532 0130 00");
        assert_eq!(de.country(), "DE");
        // Spaces are tolerated anywhere, not only every fourth character.
        assert_eq!(iban("DE89 370400440532013000"), de);
        assert_eq!(format!("{de:?}"), "Iban(\"DE89370400440532013000\")");
    }

    #[test]
    fn every_iban_error_says_what_is_wrong() {
        assert_eq!(Iban::parse("  "), Err(IbanError::Empty));
        assert_eq!(
            Iban::parse("DE89-3704"),
            Err(IbanError::BadCharacter {
                found: '-',
                position: 5
            })
        );
        assert_eq!(
            Iban::parse(&"DE89".repeat(9)),
            Err(IbanError::TooLong { length: 36 })
        );
        assert_eq!(Iban::parse("D"), Err(IbanError::TooShort { length: 1 }));
        assert_eq!(
            Iban::parse("1289370400440532013000"),
            Err(IbanError::BadCountryCode { found: "12".into() })
        );
        let ke = Iban::parse("KE89370400440532013000").unwrap_err();
        assert_eq!(
            ke,
            IbanError::UnknownCountry {
                country: "KE".into()
            }
        );
        assert!(ke.to_string().starts_with("KE is not an IBAN country"));
        let short = Iban::parse("DE89 3704 0044 0532 0130 0").unwrap_err();
        assert_eq!(
            short.to_string(),
            "DE IBANs are 22 characters; this one is 21"
        );
        assert_eq!(
            Iban::parse("DEX9370400440532013000"),
            Err(IbanError::BadCheckDigits { found: "X9".into() })
        );
        let typo = Iban::parse("DE89370400440532013001").unwrap_err();
        assert!(matches!(typo, IbanError::Checksum { .. }));
        assert!(
            typo.to_string()
                .starts_with("the IBAN's check digits are wrong (mod 97 gives ")
        );
        // 01 passes mod 97 wherever 98 does (98 ≡ 1): take a German
        // account whose check digits are 98 and write 01 instead.
        let de98 = (0..200u32)
            .map(|n| with_check_digits("DE", &format!("{n:018}")))
            .find(|iban| &iban[2..4] == "98")
            .unwrap();
        assert!(Iban::parse(&de98).is_ok());
        let alias = format!("DE01{}", &de98[4..]);
        assert_eq!(
            Iban::parse(&alias),
            Err(IbanError::CheckDigitsOutOfRange { found: "01".into() })
        );
        // GB's BBAN starts with four letters (the bank); digits there pass
        // mod 97 once the check digits are recomputed, but not the format.
        let gb = with_check_digits("GB", "123460161331926819");
        assert_eq!(
            Iban::parse(&gb),
            Err(IbanError::BbanFormat {
                country: "GB".into()
            })
        );
    }

    #[test]
    fn checksum_message_names_the_remainder() {
        // The last digit of DE89…000 typed as 1 adds 10^6 (the country
        // code and check digits, six digits in the check, follow it), and
        // 10^6 ≡ 27 (mod 97).
        let error = Iban::parse("DE89370400440532013001").unwrap_err();
        assert_eq!(error, IbanError::Checksum { remainder: 28 });
        assert_eq!(
            error.to_string(),
            "the IBAN's check digits are wrong (mod 97 gives 28, not 1)"
        );
    }

    #[test]
    fn a_letter_changed_to_a_digit_can_slip_past_mod_97() {
        // Mod 97 catches every digit-for-digit and letter-for-letter typo,
        // but a letter becomes two digits in the check, so a letter typed
        // as a digit where a country's format allows both is caught only
        // 96 times in 97. These two are both valid French IBANs.
        let letter = iban("FR832914177763D706690743915");
        let digit = iban("FR8329141777638706690743915");
        assert_ne!(letter, digit);
    }

    /// `country` + correct check digits + `bban` (which must be `0-9 A-Z`).
    fn with_check_digits(country: &str, bban: &str) -> String {
        let remainder = iban_remainder(&format!("{country}00{bban}"));
        format!("{country}{:02}{bban}", 98 - remainder)
    }

    #[test]
    fn length_table_matches_the_crate() {
        assert!(IBAN_LENGTHS.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let country = String::from_utf8(vec![a, b]).unwrap();
                let length = iban_length(&country);
                for bban_len in 1..=(IBAN_CHARS_MAX - 4) {
                    let candidate = with_check_digits(&country, &"1".repeat(bban_len));
                    let verdict = ::iban::Iban::from_str(&candidate);
                    match length {
                        None => assert!(
                            matches!(verdict, Err(::iban::ParseIbanError::UnknownCountry(_))),
                            "{candidate}: the crate knows {country}, the table does not"
                        ),
                        Some(length) if length != candidate.len() => assert!(
                            matches!(verdict, Err(::iban::ParseIbanError::InvalidBban(_))),
                            "{candidate}: the crate takes this length for {country}"
                        ),
                        Some(_) => assert!(
                            !matches!(verdict, Err(::iban::ParseIbanError::UnknownCountry(_))),
                            "{candidate}: the table knows {country}, the crate does not"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn msisdn_accepts_international_forms() {
        for text in [
            "+254712345678",
            "+254 712-345-678",
            "+254.712.345.678",
            "(+254) 712 345 678",
            "00254712345678",
            "00 254 712 345 678",
            " +254712345678\t",
        ] {
            let msisdn = Msisdn::parse(text).unwrap();
            assert_eq!(msisdn.as_str(), "+254712345678", "{text}");
            assert_eq!(msisdn.to_string(), "+254712345678");
        }
        assert!(Msisdn::parse("+12345678").is_ok());
        assert!(Msisdn::parse("+123456789012345").is_ok());
    }

    #[test]
    fn every_msisdn_error_says_what_is_wrong() {
        assert_eq!(Msisdn::parse(" "), Err(MsisdnError::Empty));
        assert_eq!(
            Msisdn::parse("+254 712 345 67O"),
            Err(MsisdnError::BadCharacter {
                found: 'O',
                position: 16
            })
        );
        assert_eq!(
            Msisdn::parse("+254+712345678"),
            Err(MsisdnError::BadCharacter {
                found: '+',
                position: 5
            })
        );
        let national = Msisdn::parse("0712345678").unwrap_err();
        assert_eq!(national, MsisdnError::MissingCountryCode);
        assert!(national.to_string().contains("country code is missing"));
        assert_eq!(
            Msisdn::parse("254712345678"),
            Err(MsisdnError::MissingCountryCode)
        );
        assert_eq!(
            Msisdn::parse("+44 (0)20 7946 0000"),
            Err(MsisdnError::TrunkPrefix)
        );
        assert_eq!(
            Msisdn::parse("+0712345678"),
            Err(MsisdnError::CountryCodeStartsWithZero)
        );
        assert_eq!(
            Msisdn::parse("000254712345678"),
            Err(MsisdnError::CountryCodeStartsWithZero)
        );
        assert_eq!(
            Msisdn::parse("+2547123"),
            Err(MsisdnError::TooFewDigits { digits: 7 })
        );
        assert_eq!(
            Msisdn::parse("+--"),
            Err(MsisdnError::TooFewDigits { digits: 0 })
        );
        assert_eq!(
            Msisdn::parse("+2547123456789012"),
            Err(MsisdnError::TooManyDigits { digits: 16 })
        );
        assert_eq!(
            Msisdn::parse(&format!("+{}", "9".repeat(10_000))),
            Err(MsisdnError::TooManyDigits { digits: 10_000 })
        );
    }

    #[test]
    fn codes_fold_case_and_drop_separators() {
        assert_eq!(BankCode::parse("deutdeff").unwrap().as_str(), "DEUTDEFF");
        assert_eq!(
            AccountNumber::parse(" 0123-4567 89ab ").unwrap().as_str(),
            "0123456789AB"
        );
        assert_eq!(Operator::parse("M-Pesa").unwrap().as_str(), "m-pesa");
        assert_eq!(
            Operator::parse("airtel_money").unwrap().as_str(),
            "airtel_money"
        );
    }

    #[test]
    fn every_code_error_says_what_is_wrong() {
        assert_eq!(
            BankCode::parse(""),
            Err(CodeError::Empty { what: "bank code" })
        );
        assert_eq!(
            AccountNumber::parse(" - "),
            Err(CodeError::Empty {
                what: "account number"
            })
        );
        assert_eq!(
            Operator::parse("m"),
            Err(CodeError::TooShort {
                what: "operator code",
                length: 1,
                min: 2
            })
        );
        assert_eq!(
            BankCode::parse("DEUTDEFF5001"),
            Err(CodeError::TooLong {
                what: "bank code",
                length: 12,
                max: 11
            })
        );
        let sort_code = BankCode::parse("20-00-00").unwrap_err();
        assert_eq!(
            sort_code.to_string(),
            "the bank code has '-' at character 3; only letters A-Z and digits 0-9 are allowed"
        );
        assert!(matches!(
            Operator::parse("m pesa"),
            Err(CodeError::BadCharacter { found: ' ', .. })
        ));
        assert!(matches!(
            AccountNumber::parse("12/34"),
            Err(CodeError::BadCharacter { found: '/', .. })
        ));
        assert!(matches!(
            AccountNumber::parse(&"1".repeat(35)),
            Err(CodeError::TooLong { length: 35, .. })
        ));
    }

    #[test]
    fn channel_text_forms() {
        let cases = [
            (
                "iban:DE89370400440532013000",
                Channel::Bank(BankAccount::Iban(iban("DE89370400440532013000"))),
            ),
            (
                "account:KCBLKENX/1234567890",
                Channel::Bank(BankAccount::Local {
                    bank: BankCode::parse("KCBLKENX").unwrap(),
                    account: AccountNumber::parse("1234567890").unwrap(),
                }),
            ),
            (
                "mobile:mpesa:+254712345678",
                Channel::Mobile {
                    operator: Operator::parse("mpesa").unwrap(),
                    msisdn: Msisdn::parse("+254712345678").unwrap(),
                },
            ),
            (
                "cash:site-07",
                Channel::Cash {
                    site: SiteId::parse("site-07").unwrap(),
                },
            ),
            ("voucher", Channel::Voucher),
        ];
        for (text, channel) in cases {
            assert_eq!(Channel::parse_text(text).unwrap(), channel, "{text}");
            assert_eq!(channel.to_text(), text);
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), channel);
        }
        // A site id may hold ':'; everything after "cash:" is the id.
        assert!(Channel::parse_text("cash:region:site-1").is_ok());
    }

    #[test]
    fn channel_kinds() {
        assert_eq!(ChannelKind::ALL.len(), 4);
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::parse(kind.code()), Ok(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.code())
            );
        }
        assert_eq!(
            ChannelKind::parse("Bank"),
            Err(UnknownChannelKind {
                found: "Bank".into()
            })
        );
        assert_eq!(Channel::Voucher.kind(), ChannelKind::Voucher);
        let bank = Channel::parse_text("account:X/1").unwrap();
        assert_eq!(bank.kind(), ChannelKind::Bank);
        assert_eq!(
            Channel::parse_text("mobile:mtn:+256772123456")
                .unwrap()
                .kind(),
            ChannelKind::Mobile
        );
        assert_eq!(
            Channel::parse_text("cash:S1").unwrap().kind(),
            ChannelKind::Cash
        );
    }

    #[test]
    fn every_channel_error_says_which_part_is_wrong() {
        assert_eq!(Channel::parse_text(""), Err(ChannelError::Empty));
        assert_eq!(
            Channel::parse_text(&"v".repeat(129)),
            Err(ChannelError::TooLong { bytes: 129 })
        );
        assert_eq!(
            Channel::parse_text("bank:DE89370400440532013000"),
            Err(ChannelError::UnknownKind {
                found: "bank".into()
            })
        );
        assert_eq!(
            Channel::parse_text("account:KCBLKENX"),
            Err(ChannelError::Form {
                expected: "account:BANKCODE/ACCOUNT"
            })
        );
        assert_eq!(
            Channel::parse_text("mobile:+254712345678"),
            Err(ChannelError::Form {
                expected: "mobile:OPERATOR:+NUMBER"
            })
        );
        for (text, expected) in [
            ("iban", "iban:IBAN"),
            ("account", "account:BANKCODE/ACCOUNT"),
            ("mobile", "mobile:OPERATOR:+NUMBER"),
            ("cash", "cash:SITE"),
        ] {
            assert_eq!(
                Channel::parse_text(text),
                Err(ChannelError::Form { expected })
            );
        }
        assert_eq!(
            Channel::parse_text("voucher:1"),
            Err(ChannelError::VoucherTakesNothing)
        );
        assert!(matches!(
            Channel::parse_text("iban:KE89370400440532013000"),
            Err(ChannelError::Iban(IbanError::UnknownCountry { .. }))
        ));
        assert!(matches!(
            Channel::parse_text("account:KCB-1/123"),
            Err(ChannelError::BankCode(CodeError::BadCharacter {
                found: '-',
                ..
            }))
        ));
        assert!(matches!(
            Channel::parse_text("account:KCB/"),
            Err(ChannelError::AccountNumber(CodeError::Empty { .. }))
        ));
        assert!(matches!(
            Channel::parse_text("mobile:m:+254712345678"),
            Err(ChannelError::Operator(CodeError::TooShort { .. }))
        ));
        let national = Channel::parse_text("mobile:mpesa:0712345678").unwrap_err();
        assert_eq!(
            national,
            ChannelError::Msisdn(MsisdnError::MissingCountryCode)
        );
        assert!(
            national
                .to_string()
                .starts_with("the mobile number's country code")
        );
        let site = Channel::parse_text("cash:site 7").unwrap_err();
        assert!(matches!(
            site,
            ChannelError::Site(IdError::BadCharacter { .. })
        ));
        assert!(site.to_string().starts_with("the cash site is wrong: "));
        assert_eq!(
            Channel::parse_text("iban:de89 3704 0044 0532 0130 00"),
            Err(ChannelError::NotCanonical {
                canonical: "iban:DE89370400440532013000".into()
            })
        );
        assert_eq!(
            Channel::parse_text("Mobile:MPesa:00254 712 345 678"),
            Err(ChannelError::NotCanonical {
                canonical: "mobile:mpesa:+254712345678".into()
            })
        );
        assert!(serde_json::from_str::<Channel>("\"voucher:1\"").is_err());
    }

    #[test]
    fn leaf_serde_parses() {
        let de: Iban = serde_json::from_str("\"DE89 3704 0044 0532 0130 00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&de).unwrap(),
            "\"DE89370400440532013000\""
        );
        assert!(serde_json::from_str::<Iban>("\"DE89370400440532013001\"").is_err());
        let m: Msisdn = serde_json::from_str("\"00254712345678\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"+254712345678\"");
        assert!(serde_json::from_str::<Msisdn>("\"0712345678\"").is_err());
        let op: Operator = serde_json::from_str("\"Airtel\"").unwrap();
        assert_eq!(serde_json::to_string(&op).unwrap(), "\"airtel\"");
        let bank: BankCode = serde_json::from_str("\"kcblkenx\"").unwrap();
        assert_eq!(bank.as_str(), "KCBLKENX");
        let account: AccountNumber = serde_json::from_str("\"12 34\"").unwrap();
        assert_eq!(account.as_str(), "1234");
    }

    // ------------------------------------------------------- properties

    #[derive(Debug, Clone, Copy)]
    enum Class {
        /// `n`: digits.
        N,
        /// `a`: upper-case letters.
        A,
        /// `c`: either.
        C,
    }

    /// A few countries' BBAN formats from the SWIFT registry, to generate
    /// valid IBANs from.
    const FORMATS: &[(&str, &[(usize, Class)])] = &[
        ("DE", &[(18, Class::N)]),
        ("GB", &[(4, Class::A), (14, Class::N)]),
        ("FR", &[(10, Class::N), (11, Class::C), (2, Class::N)]),
        ("NO", &[(11, Class::N)]),
        ("TN", &[(20, Class::N)]),
        ("MU", &[(4, Class::A), (19, Class::N), (3, Class::A)]),
        ("BH", &[(4, Class::A), (14, Class::C)]),
    ];

    const DIGITS: &[u8] = b"0123456789";
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    fn class_chars(class: Class) -> &'static [u8] {
        match class {
            Class::N => DIGITS,
            Class::A => LETTERS,
            Class::C => ALNUM,
        }
    }

    fn valid_iban() -> impl Strategy<Value = String> {
        (0..FORMATS.len()).prop_flat_map(|index| {
            let (country, format) = FORMATS[index];
            let picks: Vec<_> = format
                .iter()
                .flat_map(|&(count, class)| std::iter::repeat_n(class, count))
                .map(|class| prop::sample::select(class_chars(class)))
                .collect();
            picks.prop_map(move |bytes| {
                with_check_digits(country, &String::from_utf8(bytes).unwrap())
            })
        })
    }

    /// `+` or `00`, then 8 to 15 digits not starting with 0, and the digits
    /// alone; separators are placed between any two characters.
    fn written_msisdn() -> impl Strategy<Value = (String, String)> {
        let digits = ("[1-9]", "[0-9]{7,14}").prop_map(|(first, rest)| format!("{first}{rest}"));
        let separator = prop::sample::select(vec!["", "", "", " ", "-", ".", "(", ")", " - "]);
        (digits, prop::bool::ANY).prop_flat_map(move |(digits, plus)| {
            let gaps = prop::collection::vec(separator.clone(), digits.len() + 1);
            gaps.prop_map(move |gaps| {
                let mut text = String::from(if plus { "+" } else { "00" });
                for (gap, digit) in gaps.iter().zip(digits.chars()) {
                    text.push_str(gap);
                    text.push(digit);
                }
                text.push_str(gaps.last().copied().unwrap_or_default());
                (text, digits.clone())
            })
        })
    }

    fn msisdn() -> impl Strategy<Value = Msisdn> {
        ("[1-9]", "[0-9]{7,14}")
            .prop_map(|(first, rest)| Msisdn::parse(&format!("+{first}{rest}")).unwrap())
    }

    fn channel() -> impl Strategy<Value = Channel> {
        prop_oneof![
            valid_iban().prop_map(|text| Channel::Bank(BankAccount::Iban(iban(&text)))),
            ("[A-Z0-9]{1,11}", "[A-Z0-9]{1,34}").prop_map(|(bank, account)| {
                Channel::Bank(BankAccount::Local {
                    bank: BankCode::parse(&bank).unwrap(),
                    account: AccountNumber::parse(&account).unwrap(),
                })
            }),
            ("[a-z0-9_-]{2,32}", msisdn()).prop_map(|(operator, msisdn)| Channel::Mobile {
                operator: Operator::parse(&operator).unwrap(),
                msisdn,
            }),
            "[A-Za-z0-9._:-]{1,64}".prop_map(|site| Channel::Cash {
                site: SiteId::parse(&site).unwrap()
            }),
            Just(Channel::Voucher),
        ]
    }

    proptest! {
        #[test]
        fn generated_ibans_parse_and_round_trip(text in valid_iban()) {
            let parsed = Iban::parse(&text).unwrap();
            prop_assert_eq!(parsed.as_str(), text.as_str());
            let print = parsed.to_string();
            prop_assert_eq!(print.replace(' ', ""), text.clone());
            prop_assert!(print.split(' ').all(|group| (1..=4).contains(&group.len())));
            prop_assert_eq!(Iban::parse(&print).unwrap(), parsed.clone());
            prop_assert_eq!(Iban::parse(&print.to_lowercase()).unwrap(), parsed.clone());
            prop_assert_eq!(Iban::parse(parsed.as_str()).unwrap(), parsed);
        }

        /// Any one character changed to another of its kind (digit for
        /// digit, letter for letter) is refused, wherever it is, country
        /// code and check digits included. (For a letter typed as a digit,
        /// see `a_letter_changed_to_a_digit_can_slip_past_mod_97`.)
        #[test]
        fn single_substitutions_are_refused(
            text in valid_iban(),
            position in any::<prop::sample::Index>(),
            replacement in any::<prop::sample::Index>(),
        ) {
            let mut bytes = text.clone().into_bytes();
            let at = position.index(bytes.len());
            let pool = if bytes[at].is_ascii_digit() { DIGITS } else { LETTERS };
            let others: Vec<u8> = pool.iter().copied().filter(|&b| b != bytes[at]).collect();
            bytes[at] = *replacement.get(&others);
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Iban::parse(&changed).is_err(), "{} → {} parses", text, changed);
        }

        #[test]
        fn msisdns_parse_with_any_separators((text, digits) in written_msisdn()) {
            // "(0)" is refused on purpose, as a trunk prefix.
            prop_assume!(!text.replace(' ', "").contains("(0)"));
            let parsed = Msisdn::parse(&text).unwrap();
            let expected = format!("+{digits}");
            prop_assert_eq!(parsed.as_str(), expected.as_str());
            prop_assert_eq!(parsed.to_string(), expected.clone());
            prop_assert_eq!(Msisdn::parse(parsed.as_str()).unwrap(), parsed);
        }

        #[test]
        fn channel_text_round_trips(channel in channel()) {
            let text = channel.to_text();
            prop_assert_eq!(Channel::parse_text(&text).unwrap(), channel.clone());
            prop_assert_eq!(Channel::parse_text(&text).unwrap().to_text(), text.clone());
            let json = serde_json::to_string(&channel).unwrap();
            prop_assert_eq!(serde_json::from_str::<Channel>(&json).unwrap(), channel);
        }

        #[test]
        fn parsers_are_total_and_round_trip(
            text in prop_oneof![
                "\\PC{0,80}",
                "(iban|account|mobile|cash|voucher|IBAN)[:/]?[ -~]{0,60}",
                "[+0(][0-9 ()+.-]{0,30}",
                "[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{0,34}",
            ]
        ) {
            if let Ok(channel) = Channel::parse_text(&text) {
                prop_assert_eq!(channel.to_text(), text.clone());
            }
            if let Ok(iban) = Iban::parse(&text) {
                prop_assert_eq!(Iban::parse(iban.as_str()), Ok(iban.clone()));
                prop_assert_eq!(Iban::parse(&iban.to_string()), Ok(iban));
            }
            if let Ok(msisdn) = Msisdn::parse(&text) {
                prop_assert_eq!(Msisdn::parse(msisdn.as_str()), Ok(msisdn));
            }
            if let Ok(code) = BankCode::parse(&text) {
                prop_assert_eq!(BankCode::parse(code.as_str()), Ok(code));
            }
            if let Ok(code) = AccountNumber::parse(&text) {
                prop_assert_eq!(AccountNumber::parse(code.as_str()), Ok(code));
            }
            if let Ok(code) = Operator::parse(&text) {
                prop_assert_eq!(Operator::parse(code.as_str()), Ok(code));
            }
            let _ = ChannelKind::parse(&text);
        }
    }
}
