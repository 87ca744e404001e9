//! Text people write that the system keeps and shows again: terminal
//! labels, beneficiary names, case notes, suspension reasons.
//!
//! [`PlainText`] can only hold text that is safe to store, print, log and
//! put in a file line: trimmed, not empty, within a length in characters,
//! without control characters (NUL, escape, a tab, a line break where a
//! line is meant) and without the Unicode bidirectional embeddings,
//! overrides and isolates (U+202A–U+202E, U+2066–U+2069) that make text
//! display in another order than it is stored ("Trojan Source"). The
//! directional *marks* (U+200E, U+200F, U+061C) stay allowed: Arabic and
//! Hebrew names need them and they cannot reorder anything.
//!
//! Spreadsheet formulas are not refused here (a name may begin with `-` or
//! `=`): files that a spreadsheet may open neutralise those when written.

/// One line (a label, a name, a reason) or several (a note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    /// `\n` separates lines; `\r\n` is taken as `\n`.
    Many,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("it is empty")]
    Empty,
    #[error("it is {chars} characters long; at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    #[error("character {position} is a line break; write it on one line")]
    LineBreak { position: usize },
    #[error("character {position} is the control character U+{code:04X}; remove it")]
    ControlCharacter { position: usize, code: u32 },
    #[error(
        "character {position} is U+{code:04X}, a bidirectional override that changes how the text displays; remove it"
    )]
    BidiControl { position: usize, code: u32 },
}

/// Text that passed [`PlainText::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlainText(String);

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl PlainText {
    /// Trims `text` and checks it (see the module documentation); `chars_max`
    /// counts Unicode scalar values after trimming.
    pub fn parse(text: &str, lines: Lines, chars_max: usize) -> Result<Self, TextError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TextError::Empty);
        }
        let text = match lines {
            Lines::Many => text.replace("\r\n", "\n"),
            Lines::One => text.to_owned(),
        };
        let mut chars = 0usize;
        for (index, c) in text.chars().enumerate() {
            let position = index + 1;
            chars += 1;
            let line_break = matches!(
                c,
                '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
            );
            if line_break && !(lines == Lines::Many && c == '\n') {
                return Err(if lines == Lines::One {
                    TextError::LineBreak { position }
                } else {
                    TextError::ControlCharacter {
                        position,
                        code: u32::from(c),
                    }
                });
            }
            if c.is_control() && c != '\n' {
                return Err(TextError::ControlCharacter {
                    position,
                    code: u32::from(c),
                });
            }
            if is_bidi_control(c) {
                return Err(TextError::BidiControl {
                    position,
                    code: u32::from(c),
                });
            }
        }
        if chars > chars_max {
            return Err(TextError::TooLong {
                chars,
                max: chars_max,
            });
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for PlainText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PlainText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Result<String, TextError> {
        PlainText::parse(text, Lines::One, 20).map(PlainText::into_string)
    }

    #[test]
    fn keeps_names_in_any_script_and_formula_like_text() {
        assert_eq!(line("  Amina Yusuf "), Ok("Amina Yusuf".to_owned()));
        assert_eq!(
            line("أمينة يوسف\u{200F}"),
            Ok("أمينة يوسف\u{200F}".to_owned())
        );
        assert_eq!(line("=HYPERLINK(x)"), Ok("=HYPERLINK(x)".to_owned()));
        assert_eq!(line("-Ann"), Ok("-Ann".to_owned()));
    }

    #[test]
    fn refuses_controls_line_breaks_and_bidi_overrides_by_position() {
        assert_eq!(line(""), Err(TextError::Empty));
        assert_eq!(line(" \t "), Err(TextError::Empty));
        assert_eq!(line("a\nb"), Err(TextError::LineBreak { position: 2 }));
        assert_eq!(
            line("a\u{2028}b"),
            Err(TextError::LineBreak { position: 2 })
        );
        assert_eq!(
            line("ab\0"),
            Err(TextError::ControlCharacter {
                position: 3,
                code: 0
            })
        );
        assert_eq!(
            line("a\tb"),
            Err(TextError::ControlCharacter {
                position: 2,
                code: 9
            })
        );
        assert_eq!(
            line("x\u{1b}[31m"),
            Err(TextError::ControlCharacter {
                position: 2,
                code: 0x1b
            })
        );
        assert_eq!(
            line("abc\u{202E}fed"),
            Err(TextError::BidiControl {
                position: 4,
                code: 0x202E
            })
        );
        assert_eq!(
            line("\u{2066}x"),
            Err(TextError::BidiControl {
                position: 1,
                code: 0x2066
            })
        );
        assert_eq!(
            line(&"x".repeat(21)),
            Err(TextError::TooLong { chars: 21, max: 20 })
        );
        assert_eq!(line(&"é".repeat(20)).map(|t| t.chars().count()), Ok(20));
    }

    #[test]
    fn notes_keep_their_lines_and_nothing_else() {
        let note = PlainText::parse("paid back\r\nby cash", Lines::Many, 100).unwrap();
        assert_eq!(note.as_str(), "paid back\nby cash");
        assert_eq!(
            PlainText::parse("a\rb", Lines::Many, 100),
            Err(TextError::ControlCharacter {
                position: 2,
                code: 13
            })
        );
        assert_eq!(
            PlainText::parse("a\n\u{202D}b", Lines::Many, 100),
            Err(TextError::BidiControl {
                position: 3,
                code: 0x202D
            })
        );
    }
}
