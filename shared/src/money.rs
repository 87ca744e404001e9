//! Money: integer minor units with an ISO 4217 currency, checked arithmetic.
//!
//! Architecture invariant: no amount is ever held in a float. Parsing and
//! display go through the currency's minor-unit exponent from ISO 4217 (the
//! `iso_currency` crate generates it from the maintained ISO table).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest exponent we accept (ISO 4217 has none above 4).
const CURRENCY_EXPONENT_MAX: u16 = 4;
/// Longest amount text we try to parse.
const AMOUNT_TEXT_BYTES_MAX: usize = 32;

/// An ISO 4217 currency that has minor units (funds, precious metals and
/// testing codes without an exponent are refused).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("\"{0}\" is not an ISO 4217 currency code")]
    Unknown(String),
    #[error("{0} has no minor unit in ISO 4217 and cannot be used for payments")]
    NoMinorUnit(&'static str),
}

impl Currency {
    /// Parses an alphabetic ISO 4217 code such as `KES`.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        let currency = iso_currency::Currency::from_code(code)
            .ok_or_else(|| CurrencyError::Unknown(code.chars().take(8).collect()))?;
        match currency.exponent() {
            Some(exp) if exp <= CURRENCY_EXPONENT_MAX => Ok(Self(currency)),
            _ => Err(CurrencyError::NoMinorUnit(currency.code())),
        }
    }

    /// The three-letter code, e.g. `KES`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// The ISO 4217 numeric code, e.g. 404 for KES.
    pub fn numeric(self) -> u16 {
        self.0.numeric()
    }

    /// Number of decimal places of the minor unit (2 for KES, 0 for XOF, 3 for BHD).
    pub fn exponent(self) -> u32 {
        // `parse` only admits currencies with an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }

    fn minor_per_major(self) -> i64 {
        10_i64.pow(self.exponent())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in the currency's minor unit (cents for KES 100.00 = 10000).
    pub minor: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}: the currencies differ")]
    CurrencyMismatch(Currency, Currency),
    #[error("the amount is too large to represent")]
    Overflow,
    #[error("\"{text}\" is not an amount in {currency}: {reason}")]
    Parse {
        text: String,
        currency: Currency,
        reason: &'static str,
    },
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    pub fn is_negative(&self) -> bool {
        self.minor < 0
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// Parses a decimal amount in major units, e.g. `"1250.5"` KES = 125050 minor.
    ///
    /// Accepts an optional leading `-`, digits, an optional `.` and at most
    /// the currency's exponent of fraction digits. No grouping separators,
    /// no exponent notation, nothing that could be read two ways.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let fail = |reason: &'static str| MoneyError::Parse {
            text: text.chars().take(AMOUNT_TEXT_BYTES_MAX).collect(),
            currency,
            reason,
        };
        if text.len() > AMOUNT_TEXT_BYTES_MAX {
            return Err(fail("too long"));
        }
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match body.split_once('.') {
            Some((w, f)) => (w, f),
            None => (body, ""),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(fail("no digits"));
        }
        if !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(fail("only digits and one decimal point are allowed"));
        }
        let exponent = currency.exponent() as usize;
        if fraction.len() > exponent {
            return Err(fail("more decimal places than the currency has"));
        }
        let mut minor: i64 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(|| fail("too large"))?;
        }
        for _ in fraction.len()..exponent {
            minor = minor.checked_mul(10).ok_or_else(|| fail("too large"))?;
        }
        Ok(Money::new(if negative { -minor } else { minor }, currency))
    }

    /// The amount as plain decimal text without currency, e.g. `1250.50`.
    pub fn decimal(&self) -> String {
        let exponent = self.currency.exponent();
        let per_major = self.currency.minor_per_major().unsigned_abs();
        let magnitude = self.minor.unsigned_abs();
        let sign = if self.minor < 0 { "-" } else { "" };
        if exponent == 0 {
            format!("{sign}{magnitude}")
        } else {
            format!(
                "{sign}{}.{:0width$}",
                magnitude / per_major,
                magnitude % per_major,
                width = exponent as usize
            )
        }
    }

    /// The amount with thousands grouping for people, e.g. `KES 1,250.50`.
    pub fn display_grouped(&self, group: char, decimal_mark: char) -> String {
        let plain = self.decimal();
        let (sign, unsigned) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (unsigned, None),
        };
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(group);
            }
            grouped.push(ch);
        }
        match fraction {
            Some(f) => format!("{} {sign}{grouped}{decimal_mark}{f}", self.currency),
            None => format!("{} {sign}{grouped}", self.currency),
        }
    }
}

impl fmt::Display for Money {
    /// `KES 1250.50`: unambiguous, machine-readable in logs and receipts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kes() -> Currency {
        Currency::parse("KES").unwrap()
    }

    #[test]
    fn exponents_come_from_iso_4217() {
        assert_eq!(kes().exponent(), 2);
        assert_eq!(Currency::parse("XOF").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("BHD").unwrap().exponent(), 3);
        assert_eq!(kes().numeric(), 404);
    }

    #[test]
    fn unknown_and_unitless_currencies_are_refused() {
        assert_eq!(
            Currency::parse("ABC"),
            Err(CurrencyError::Unknown("ABC".into()))
        );
        assert!(matches!(
            Currency::parse("XAU"),
            Err(CurrencyError::NoMinorUnit("XAU"))
        ));
    }

    #[test]
    fn parse_examples() {
        let cases = [
            ("1250.5", Some(125050)),
            ("1250.50", Some(125050)),
            ("0.01", Some(1)),
            (".5", Some(50)),
            ("7", Some(700)),
            ("-3.25", Some(-325)),
            ("1.005", None),
            ("1,000", None),
            ("1e3", None),
            ("", None),
            (".", None),
            ("12.3.4", None),
            ("99999999999999999999", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                Money::parse(text, kes()).ok().map(|m| m.minor),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn display_per_currency() {
        assert_eq!(Money::new(125050, kes()).to_string(), "KES 1250.50");
        assert_eq!(
            Money::new(125050, kes()).display_grouped(',', '.'),
            "KES 1,250.50"
        );
        let xof = Currency::parse("XOF").unwrap();
        assert_eq!(
            Money::new(1_500_000, xof).display_grouped('\u{202f}', ','),
            "XOF 1\u{202f}500\u{202f}000"
        );
        assert_eq!(Money::new(-5, kes()).to_string(), "KES -0.05");
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::new(i64::MAX, kes());
        assert_eq!(
            a.checked_add(Money::new(1, kes())),
            Err(MoneyError::Overflow)
        );
        let usd = Currency::parse("USD").unwrap();
        assert!(matches!(
            Money::new(1, kes()).checked_sub(Money::new(1, usd)),
            Err(MoneyError::CurrencyMismatch(..))
        ));
    }

    proptest! {
        #[test]
        fn decimal_text_round_trips(minor in any::<i64>().prop_filter("abs", |m| *m != i64::MIN),
                                    code in prop::sample::select(vec!["KES", "XOF", "BHD", "USD", "EUR", "JPY"])) {
            let currency = Currency::parse(code).unwrap();
            let money = Money::new(minor, currency);
            prop_assert_eq!(Money::parse(&money.decimal(), currency), Ok(money));
        }

        #[test]
        fn parse_never_panics(text in ".{0,40}") {
            let _ = Money::parse(&text, kes());
        }
    }
}
