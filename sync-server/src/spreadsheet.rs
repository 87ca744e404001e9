//! Cells of the CSV files the server writes, which people open in a
//! spreadsheet. A cell that begins with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is read there as a formula (CSV injection: a name such
//! as `=HYPERLINK(…)` would run); OWASP's guidance is to prefix such a
//! cell with a single quote, which a spreadsheet shows as text and does not
//! display, so the name keeps its text. The CSV writer quotes the cell
//! itself where the format needs it.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a cell that no spreadsheet runs.
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_LEADS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_leads_are_neutralised_and_other_text_kept() {
        for lead in FORMULA_LEADS {
            let text = format!("{lead}HYPERLINK(\"http://x\",\"y\")");
            assert_eq!(cell(&text), format!("'{text}"));
        }
        assert_eq!(cell("Amina Wanjiru"), "Amina Wanjiru");
        assert_eq!(cell("O'Brien"), "O'Brien");
        assert_eq!(cell("LM1:6BF..."), "LM1:6BF...");
        assert_eq!(cell(""), "");
    }
}
