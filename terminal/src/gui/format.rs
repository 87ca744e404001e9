//! Times and dates as the interface shows them, and the language list.
//! Amounts, durations and sentences are written per language by
//! [`crate::i18n`], which the receipts and the command line share.

use lastmile_shared::money::Money;

use crate::i18n::{self, Language};

/// The languages the interface offers, with their names in themselves.
pub const LANGUAGES: [(&str, &str); 4] = [
    ("en", "English"),
    ("fr", "Français"),
    ("sw", "Kiswahili"),
    ("ar", "العربية"),
];

/// Several amounts (one per currency) on one line.
pub fn money_list(amounts: &[Money], language: Language) -> String {
    amounts
        .iter()
        .map(|m| i18n::money(*m, language))
        .collect::<Vec<_>>()
        .join(" + ")
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

/// A past moment in few characters: `HH:MM` on the day of `now`, else the
/// date (the sync screen's "last sync", which has little room at 800×480).
pub fn moment(at: i64, now: i64) -> String {
    if at.div_euclid(86_400) == now.div_euclid(86_400) {
        time_of_day(at)
    } else {
        date(at)
    }
}

/// The date of a Unix time, `YYYY-MM-DD` (UTC).
pub fn date(at: i64) -> String {
    date_time(at).chars().take(10).collect()
}
