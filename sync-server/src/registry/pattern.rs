//! The shape a programme's national IDs take, as a mask an officer can
//! write without knowing regular expressions: `9` is a digit, `A` a letter,
//! `*` a letter or a digit, and any other character stands for itself.
//! `99999999` is an eight-digit ID; `AA999999` two letters and six digits.
//! IDs are matched after [`normalise_id_number`] (upper case, no spaces,
//! dashes or dots), so a mask holds none of those either.

use lastmile_shared::roster::normalise_id_number;

/// Longest mask, and longest national ID, in characters.
pub const ID_CHARS_MAX: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("an ID pattern is at most {ID_CHARS_MAX} characters")]
    TooLong,
    #[error(
        "an ID pattern holds 9 (a digit), A (a letter), * (either) and upper-case letters or \
         digits, not {0:?}"
    )]
    BadCharacter(char),
}

/// Why a national ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error("the national ID is empty")]
    Empty,
    #[error("the national ID is longer than {ID_CHARS_MAX} characters")]
    TooLong,
    #[error("the national ID holds {0:?}; only letters and digits are allowed")]
    BadCharacter(char),
    #[error("the national ID {id} does not have the programme's format {pattern} ({meaning})")]
    WrongFormat {
        id: String,
        pattern: String,
        meaning: String,
    },
}

/// A checked mask; the empty mask takes any ID of letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdPattern(String);

impl IdPattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.trim();
        if text.chars().count() > ID_CHARS_MAX {
            return Err(PatternError::TooLong);
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '*'))
        {
            return Err(PatternError::BadCharacter(bad));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mask in words: "8 characters: digit ×8".
    pub fn meaning(&self) -> String {
        let mut parts: Vec<(String, usize)> = Vec::new();
        for c in self.0.chars() {
            let word = match c {
                '9' => "digit".to_owned(),
                'A' => "letter".to_owned(),
                '*' => "letter or digit".to_owned(),
                other => format!("{other:?}"),
            };
            match parts.last_mut() {
                Some((last, n)) if *last == word => *n += 1,
                _ => parts.push((word, 1)),
            }
        }
        let list: Vec<String> = parts
            .into_iter()
            .map(|(word, n)| {
                if n == 1 {
                    word
                } else {
                    format!("{n} × {word}")
                }
            })
            .collect();
        format!("{} characters: {}", self.0.chars().count(), list.join(", "))
    }

    /// The ID, normalised, if it has this shape.
    pub fn check(&self, id: &str) -> Result<String, NationalIdError> {
        let id = normalise_id_number(id.trim());
        if id.is_empty() {
            return Err(NationalIdError::Empty);
        }
        if id.chars().count() > ID_CHARS_MAX {
            return Err(NationalIdError::TooLong);
        }
        if let Some(bad) = id.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(NationalIdError::BadCharacter(bad));
        }
        if self.0.is_empty() {
            return Ok(id);
        }
        let fits = id.chars().count() == self.0.chars().count()
            && id.chars().zip(self.0.chars()).all(|(c, m)| match m {
                '9' => c.is_ascii_digit(),
                'A' => c.is_ascii_alphabetic(),
                '*' => true,
                literal => c == literal,
            });
        if fits {
            Ok(id)
        } else {
            Err(NationalIdError::WrongFormat {
                id,
                pattern: self.0.clone(),
                meaning: self.meaning(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_takes_only_its_shape() {
        let eight = IdPattern::parse("99999999").unwrap();
        assert_eq!(eight.check("1234 5678").unwrap(), "12345678");
        assert!(matches!(
            eight.check("1234567"),
            Err(NationalIdError::WrongFormat { .. })
        ));
        assert!(matches!(
            eight.check("1234567X"),
            Err(NationalIdError::WrongFormat { .. })
        ));
        let mixed = IdPattern::parse("AA999*").unwrap();
        assert_eq!(mixed.check("ke-123z").unwrap(), "KE123Z");
        assert!(mixed.check("K1123Z").is_err());
        assert_eq!(
            mixed.meaning(),
            "6 characters: 2 × letter, 3 × digit, letter or digit"
        );
        let any = IdPattern::default();
        assert_eq!(any.check("abc").unwrap(), "ABC");
        assert_eq!(any.check("  "), Err(NationalIdError::Empty));
        assert_eq!(any.check("a/b"), Err(NationalIdError::BadCharacter('/')));
        assert_eq!(
            IdPattern::parse("99x"),
            Err(PatternError::BadCharacter('x'))
        );
    }
}
