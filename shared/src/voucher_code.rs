//! The voucher code: twelve characters a person can type when a voucher's QR
//! code will not scan (`docs/voucher-format.md` §7).
//!
//! The code is derived from the voucher's exact text, so it needs no table
//! to be issued and cannot point at another voucher: eleven Crockford
//! base32 characters (55 bits) of `SHA-256("lastmile/voucher-code/v1" 0x00
//! text)`, then one check character. The text holds the issuer's signature,
//! so the code cannot be worked out from anything printed elsewhere (the
//! `V-…` reference, a receipt): typing it proves the voucher was in hand.
//!
//! The check character is a Damm-style check over GF(32): every single
//! wrong character and every swap of two neighbouring characters is caught
//! before any lookup, so a typo is reported as a typo, never as "unknown".

use sha2::{Digest, Sha256};

/// Data characters of a code (5 bits each).
pub const VOUCHER_CODE_DATA_CHARS: usize = 11;
/// Characters of a code, check character included.
pub const VOUCHER_CODE_CHARS: usize = VOUCHER_CODE_DATA_CHARS + 1;
/// Characters per printed group (`RWCW-VMNG-YGAW`).
pub const VOUCHER_CODE_GROUP_CHARS: usize = 4;
/// Longest typed text looked at, separators and spaces included.
pub const VOUCHER_CODE_INPUT_CHARS_MAX: usize = 40;

/// Crockford's base32 alphabet: digits and letters without I, L, O and U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// x^5 + x^2 + 1, a primitive polynomial: GF(32) for the check character.
const FIELD_POLYNOMIAL: u8 = 0b10_0101;
/// Domain separation of the hash the code is cut from.
const CODE_DOMAIN: &[u8] = b"lastmile/voucher-code/v1\0";

/// A well-formed voucher code (check character verified), in canonical form:
/// twelve characters of the alphabet, no separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoucherCode([u8; VOUCHER_CODE_CHARS]);

/// Why typed text is not a voucher code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherCodeError {
    #[error("no code was typed")]
    Empty,
    #[error(
        "this is the voucher's reference number, not its code: type the {VOUCHER_CODE_CHARS}-character code printed beside the QR code"
    )]
    Reference,
    #[error(
        "a voucher code has {VOUCHER_CODE_CHARS} characters; {found} were typed: check the code printed beside the QR code"
    )]
    WrongLength { found: usize },
    #[error("{0:?} does not occur in voucher codes: check the code printed beside the QR code")]
    BadCharacter(char),
    #[error("the code was mistyped (its check character does not match): type it again")]
    Mistyped,
}

impl VoucherCodeError {
    /// A stable code for scripts and translations.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "code_empty",
            Self::Reference => "code_is_reference",
            Self::WrongLength { .. } => "code_wrong_length",
            Self::BadCharacter(_) => "code_bad_character",
            Self::Mistyped => "code_mistyped",
        }
    }
}

/// Multiplies by x in GF(32).
fn times_x(value: u8) -> u8 {
    let shifted = value << 1;
    if shifted & 0b10_0000 != 0 {
        shifted ^ FIELD_POLYNOMIAL
    } else {
        shifted
    }
}

/// Horner's rule over GF(32): Σ x^(n−i)·vᵢ. Zero for a code with a right
/// check character. A change of one value changes the sum (x is invertible);
/// swapping neighbours a, b changes it by x^k·(a⊕b)·(x⊕1), never zero.
fn check_sum(values: impl IntoIterator<Item = u8>) -> u8 {
    values
        .into_iter()
        .fold(0, |sum, value| times_x(sum) ^ value)
}

/// The 5-bit value of a typed character, with Crockford's reading of
/// look-alikes (I and L are 1, O is 0), in either case.
fn value_of(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .and_then(|p| u8::try_from(p).ok())
}

impl VoucherCode {
    /// The code of a voucher, from its exact text (surrounding white space,
    /// as a scanner adds, is not part of it).
    pub fn of_voucher(text: &str) -> Self {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let digest = Sha256::new()
            .chain_update(CODE_DOMAIN)
            .chain_update(text.as_bytes())
            .finalize();
        let bits = u64::from_be_bytes(
            digest[..8]
                .try_into()
                .unwrap_or_else(|_| unreachable!("a SHA-256 digest has 32 bytes")),
        );
        let mut values = [0u8; VOUCHER_CODE_CHARS];
        for (i, value) in values[..VOUCHER_CODE_DATA_CHARS].iter_mut().enumerate() {
            *value = ((bits >> (59 - 5 * i)) & 0b1_1111) as u8;
        }
        values[VOUCHER_CODE_DATA_CHARS] =
            times_x(check_sum(values[..VOUCHER_CODE_DATA_CHARS].iter().copied()));
        debug_assert_eq!(check_sum(values), 0);
        Self(values.map(|v| ALPHABET[usize::from(v)]))
    }

    /// Reads a typed code: case, spaces and hyphens do not matter, I/L read
    /// as 1 and O as 0; the check character must match.
    pub fn parse(typed: &str) -> Result<Self, VoucherCodeError> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Err(VoucherCodeError::Empty);
        }
        // Voucher ids start "V-"; a code never has a hyphen second.
        if typed
            .get(..2)
            .is_some_and(|start| start.eq_ignore_ascii_case("V-"))
        {
            return Err(VoucherCodeError::Reference);
        }
        let kept: Vec<char> = typed
            .chars()
            .take(VOUCHER_CODE_INPUT_CHARS_MAX + 1)
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if typed.chars().count() > VOUCHER_CODE_INPUT_CHARS_MAX || kept.len() != VOUCHER_CODE_CHARS
        {
            return Err(VoucherCodeError::WrongLength {
                found: kept.len().min(VOUCHER_CODE_INPUT_CHARS_MAX),
            });
        }
        let mut values = [0u8; VOUCHER_CODE_CHARS];
        for (value, &c) in values.iter_mut().zip(&kept) {
            *value = value_of(c).ok_or(VoucherCodeError::BadCharacter(c))?;
        }
        if check_sum(values) != 0 {
            return Err(VoucherCodeError::Mistyped);
        }
        Ok(Self(values.map(|v| ALPHABET[usize::from(v)])))
    }

    /// The twelve characters without separators (how terminals index it).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_else(|_| unreachable!("the alphabet is ASCII"))
    }
}

/// Groups of four joined by hyphens, as printed: `RWCW-VMNG-YGAW`.
impl std::fmt::Display for VoucherCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.as_str();
        for (i, group) in text.as_bytes().chunks(VOUCHER_CODE_GROUP_CHARS).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(group).map_err(|_| std::fmt::Error)?)?;
        }
        Ok(())
    }
}
