//! Amounts, times and durations as people read them in each language.
//!
//! Presentation only: amounts arrive as [`Money`] (integer minor units) and
//! leave as text; nothing here rounds or converts.

use lastmile_shared::money::Money;

use crate::i18n::Language;

/// The languages the interface offers, with their names in themselves.
pub const LANGUAGES: [(&str, &str); 4] = [
    ("en", "English"),
    ("fr", "Français"),
    ("sw", "Kiswahili"),
    ("ar", "العربية"),
];

/// The interface's language code (`en`, `fr`, `sw`, `ar`) for the engine's language.
pub fn language_code(language: Language) -> &'static str {
    match language {
        Language::English => "en",
        Language::French => "fr",
        Language::Swahili => "sw",
        Language::Arabic => "ar",
    }
}

pub fn is_right_to_left(language: Language) -> bool {
    language == Language::Arabic
}

/// Grouping and decimal marks, and where the currency code goes.
struct Convention {
    group: &'static str,
    decimal: &'static str,
    code_first: bool,
}

fn convention(language: Language) -> Convention {
    match language {
        // English and Swahili (as written in Kenya and Tanzania): KES 1,250.00
        Language::English | Language::Swahili => Convention {
            group: ",",
            decimal: ".",
            code_first: true,
        },
        // French: 1 250,00 KES (narrow no-break space between groups).
        Language::French => Convention {
            group: "\u{202F}",
            decimal: ",",
            code_first: false,
        },
        // Arabic: Western digits and marks (as on the vouchers and receipts, and
        // as CLDR writes Arabic with Latin digits), the code after the number:
        // 1,250.00 KES. The Arabic separators (٬ ٫) read as stray apostrophes
        // next to Latin digits on a small screen.
        Language::Arabic => Convention {
            group: ",",
            decimal: ".",
            code_first: false,
        },
    }
}

/// `money` formatted for `language`, e.g. `KES 1,250.00` or `1 250,00 KES`.
pub fn money(money: Money, language: Language) -> String {
    let c = convention(language);
    let number = grouped(&money.decimal(), &c);
    let code = money.currency.code();
    if c.code_first {
        format!("{code} {number}")
    } else {
        // A no-break space keeps the code on the same line as the number.
        format!("{number}\u{00A0}{code}")
    }
}

/// Several amounts (one per currency) on one line.
pub fn money_list(amounts: &[Money], language: Language) -> String {
    amounts
        .iter()
        .map(|m| money(*m, language))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A decimal text being typed (`"1250.5"`) shown with the language's marks, no currency.
pub fn typed_amount(text: &str, language: Language) -> String {
    if text.is_empty() {
        return "0".to_owned();
    }
    grouped(text, &convention(language))
}

fn grouped(plain: &str, c: &Convention) -> String {
    let (sign, unsigned) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut out = String::with_capacity(plain.len() + 8);
    out.push_str(sign);
    let digits = whole.len();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            out.push_str(c.group);
        }
        out.push(ch);
    }
    if let Some(f) = fraction {
        out.push_str(c.decimal);
        out.push_str(f);
    }
    out
}

/// `HH:MM` (UTC, as the terminal's clock and receipts are) of a Unix time.
pub fn time_of_day(at: i64) -> String {
    let seconds = at.rem_euclid(86_400);
    format!("{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

/// A date and time, as on the receipts.
pub fn date_time(at: i64) -> String {
    crate::receipt::utc_text(at)
}

/// The date of a Unix time, `YYYY-MM-DD` (UTC).
pub fn date(at: i64) -> String {
    date_time(at).chars().take(10).collect()
}

/// A duration for people: `3 d 4 h`, `47 h 05 min` … `5 min`.
pub fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours) {
        (2.., _) => format!("{days} d {hours} h"),
        (_, _) if seconds >= 3600 => format!("{} h {minutes:02} min", seconds / 3600),
        _ => format!("{minutes} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastmile_shared::money::Currency;

    fn kes(minor: i64) -> Money {
        Money::new(minor, Currency::parse("KES").unwrap())
    }

    #[test]
    fn amounts_follow_each_language() {
        assert_eq!(money(kes(125_000), Language::English), "KES 1,250.00");
        assert_eq!(money(kes(125_000), Language::Swahili), "KES 1,250.00");
        assert_eq!(
            money(kes(125_000), Language::French),
            "1\u{202F}250,00\u{00A0}KES"
        );
        assert_eq!(money(kes(125_000), Language::Arabic), "1,250.00\u{00A0}KES");
        assert_eq!(money(kes(5), Language::English), "KES 0.05");
        assert_eq!(money(kes(-1_000_000), Language::English), "KES -10,000.00");
        let xof = Money::new(1_500_000, Currency::parse("XOF").unwrap());
        assert_eq!(
            money(xof, Language::French),
            "1\u{202F}500\u{202F}000\u{00A0}XOF"
        );
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(300), "5 min");
        assert_eq!(duration(47 * 3600 + 300), "47 h 05 min");
        assert_eq!(duration(3 * 86_400 + 4 * 3600), "3 d 4 h");
    }

    #[test]
    fn typed_amounts_keep_what_was_typed() {
        assert_eq!(typed_amount("", Language::English), "0");
        assert_eq!(typed_amount("1250.5", Language::English), "1,250.5");
        assert_eq!(typed_amount("1250.", Language::French), "1\u{202F}250,");
    }
}
