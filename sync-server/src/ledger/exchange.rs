//! Exchange rates and conversions between a programme's currencies.
//!
//! A rate says what one major unit of a base currency is worth in a quote
//! currency (`1 USD = 129.45 KES`), from a date on; it is entered by
//! finance (typed or from a CSV file) and used only once an approver who
//! did not enter it approved it. A conversion moves money between two
//! same-currency pairs of accounts as one linked chain, TigerBeetle's way:
//! the budget in the base currency → the programme's exchange position in
//! that currency, and its exchange position in the quote currency → the
//! budget in the quote currency. The quote amount is rounded down to the
//! quote currency's minor unit and only the base amount that buys exactly
//! that much (rounded up) leaves the base budget: what is left stays there,
//! stated in the answer, never lost.

use lastmile_shared::money::{Currency, Money};
use serde::Serialize;

/// Most digits a rate's decimal text may hold.
pub const RATE_DIGITS_MAX: usize = 18;
/// Most digits after a rate's decimal point.
pub const RATE_SCALE_MAX: u32 = 12;

/// `1 base = rate quote`, exactly: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub base: Currency,
    pub quote: Currency,
    pub mantissa: u64,
    pub scale: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("{text:?} is not a rate: {reason}")]
    Text { text: String, reason: &'static str },
    #[error("a rate is between two different currencies")]
    SameCurrency,
    #[error("the amount to convert must be positive")]
    NotPositive,
    #[error("{0} is too small to buy one minor unit of the other currency")]
    TooSmall(Money),
    #[error("the conversion overflows")]
    Overflow,
}

impl Rate {
    /// Parses `129.45`: digits with at most one point, positive, at most
    /// [`RATE_DIGITS_MAX`] digits and [`RATE_SCALE_MAX`] after the point.
    pub fn parse(base: Currency, quote: Currency, text: &str) -> Result<Self, RateError> {
        let fail = |reason| RateError::Text {
            text: text.chars().take(40).collect(),
            reason,
        };
        if base == quote {
            return Err(RateError::SameCurrency);
        }
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
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
        if whole.len() + fraction.len() > RATE_DIGITS_MAX {
            return Err(fail("too many digits"));
        }
        let scale = u32::try_from(fraction.len()).map_err(|_| fail("too many decimals"))?;
        if scale > RATE_SCALE_MAX {
            return Err(fail("too many decimals"));
        }
        let mantissa: u64 = format!("{whole}{fraction}")
            .parse()
            .map_err(|_| fail("too large"))?;
        if mantissa == 0 {
            return Err(fail("a rate must be positive"));
        }
        Ok(Self {
            base,
            quote,
            mantissa,
            scale,
        })
    }

    /// The rate as decimal text (`129.45`).
    pub fn text(&self) -> String {
        let digits = self.mantissa.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return digits;
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        format!("{whole}.{fraction}")
    }

    /// `(numerator, denominator)` of quote minor units per base minor unit.
    fn ratio(&self) -> Result<(u128, u128), RateError> {
        let pow = |e: u32| 10u128.checked_pow(e).ok_or(RateError::Overflow);
        let numerator = u128::from(self.mantissa)
            .checked_mul(pow(self.quote.exponent())?)
            .ok_or(RateError::Overflow)?;
        let denominator = pow(self.scale)?
            .checked_mul(pow(self.base.exponent())?)
            .ok_or(RateError::Overflow)?;
        Ok((numerator, denominator))
    }

    /// Converts up to `amount` (in the base currency): the quote amount
    /// (rounded down) and the base amount that buys exactly it (rounded
    /// up, never more than `amount`).
    pub fn convert(&self, amount: Money) -> Result<Conversion, RateError> {
        if amount.currency != self.base {
            return Err(RateError::Text {
                text: amount.currency.code().to_owned(),
                reason: "the amount is not in the rate's base currency",
            });
        }
        let offered = u128::try_from(amount.minor).map_err(|_| RateError::NotPositive)?;
        if offered == 0 {
            return Err(RateError::NotPositive);
        }
        let (numerator, denominator) = self.ratio()?;
        let quote = offered.checked_mul(numerator).ok_or(RateError::Overflow)? / denominator;
        if quote == 0 {
            return Err(RateError::TooSmall(amount));
        }
        let spent = quote
            .checked_mul(denominator)
            .ok_or(RateError::Overflow)?
            .div_ceil(numerator);
        let as_i64 = |v: u128| i64::try_from(v).map_err(|_| RateError::Overflow);
        Ok(Conversion {
            rate: *self,
            spent: Money::new(as_i64(spent)?, self.base),
            bought: Money::new(as_i64(quote)?, self.quote),
            left: Money::new(as_i64(offered - spent)?, self.base),
        })
    }
}

/// A conversion's three amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Conversion {
    pub rate: Rate,
    /// Leaves the base budget.
    pub spent: Money,
    /// Reaches the quote budget.
    pub bought: Money,
    /// Of what was offered, stays in the base budget.
    pub left: Money,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn a_rate_is_exact_decimal_text() {
        let rate = Rate::parse(c("USD"), c("KES"), "129.45").unwrap();
        assert_eq!((rate.mantissa, rate.scale), (12945, 2));
        assert_eq!(rate.text(), "129.45");
        assert_eq!(
            Rate::parse(c("EUR"), c("USD"), "0.0925").unwrap().text(),
            "0.0925"
        );
        for bad in ["", ".", "-1", "1e3", "1,5", "0", "0.000", "1.0000000000001"] {
            assert!(Rate::parse(c("USD"), c("KES"), bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Rate::parse(c("KES"), c("KES"), "1"),
            Err(RateError::SameCurrency)
        );
    }

    #[test]
    fn a_conversion_rounds_down_and_keeps_the_rest() {
        // 10.00 USD at 129.45: 1294.50 KES, exactly.
        let rate = Rate::parse(c("USD"), c("KES"), "129.45").unwrap();
        let done = rate.convert(Money::new(1_000, c("USD"))).unwrap();
        assert_eq!(
            (done.spent.minor, done.bought.minor, done.left.minor),
            (1_000, 129_450, 0)
        );
        // 1000 XOF at 0.001524 EUR: 1.524 EUR → 1.52 EUR bought for 998 XOF (997.4 rounded up).
        let rate = Rate::parse(c("XOF"), c("EUR"), "0.001524").unwrap();
        let done = rate.convert(Money::new(1_000, c("XOF"))).unwrap();
        assert_eq!(
            (done.spent.minor, done.bought.minor, done.left.minor),
            (998, 152, 2)
        );
        assert!(matches!(
            rate.convert(Money::new(3, c("XOF"))),
            Err(RateError::TooSmall(_))
        ));
    }

    proptest! {
        /// Nothing is made or lost: what was spent buys at least what was
        /// bought, one base minor unit less would not, and spent + left is
        /// what was offered.
        #[test]
        fn conversions_never_make_or_lose_money(
            mantissa in 1u64..10_000_000_000,
            scale in 0u32..=8,
            offered in 1i64..1_000_000_000_000,
            pair in prop::sample::select(vec![("USD", "KES"), ("XOF", "EUR"), ("EUR", "JPY"), ("KWD", "XOF")]),
        ) {
            let rate = Rate { base: c(pair.0), quote: c(pair.1), mantissa, scale };
            let Ok(done) = rate.convert(Money::new(offered, rate.base)) else {
                return Ok(());
            };
            let (n, d) = rate.ratio().unwrap();
            let spent = u128::try_from(done.spent.minor).unwrap();
            let bought = u128::try_from(done.bought.minor).unwrap();
            prop_assert_eq!(done.spent.minor + done.left.minor, offered);
            prop_assert!(done.left.minor >= 0);
            prop_assert!(spent * n >= bought * d, "spent buys what was bought");
            prop_assert!((spent - 1) * n < bought * d, "one unit less would not");
        }
    }
}
