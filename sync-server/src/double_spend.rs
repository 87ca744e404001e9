//! Double spends across terminals, of vouchers and of roster entitlements
//! (redeemed by ID at a shop or paid out in cash). The first redemption to
//! reach the server counts; a later one that conflicts with it is stored like
//! any other log entry (it is part of the device's chain) but not counted,
//! and opens a case holding both devices' signed entries for a person to
//! resolve.
//!
//! The decision is a plain function over what the voucher or entitlement is
//! worth and has had, and the redemption; the ingest path applies it inside
//! its transaction.

use lastmile_shared::money::Money;
use lastmile_shared::text::{Lines, PlainText, TextError};
use lastmile_shared::voucher::RedemptionMode;

use crate::audit::{self, Actor};
use crate::storage::{CaseRow, Storage, StorageError, Tx};

/// What a voucher or entitlement is worth, and what has counted against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub value: Money,
    pub mode: RedemptionMode,
    pub redeemed_minor: i64,
}

/// What a redemption does to a voucher or entitlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Counted against the voucher's value.
    Counted,
    /// Not counted: a case is opened for this reason.
    Conflict(CaseReason),
}

/// Why a redemption could not be counted. `code()` is stable for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseReason {
    /// A single-use voucher or entitlement that was already redeemed.
    AlreadyRedeemed,
    /// A partial one whose redemptions would exceed its value.
    OverValue,
    /// The redemption is in another currency than the value.
    CurrencyMismatch,
    /// A zero or negative amount (a terminal bug or a forgery).
    AmountNotPositive,
}

impl CaseReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::AlreadyRedeemed => "already_redeemed",
            Self::OverValue => "over_value",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::AmountNotPositive => "amount_not_positive",
        }
    }
}

/// Judges a redemption of `amount` against what the voucher or entitlement
/// has already had.
pub fn judge(tally: &Tally, amount: Money) -> Verdict {
    if amount.currency != tally.value.currency {
        return Verdict::Conflict(CaseReason::CurrencyMismatch);
    }
    if amount.minor <= 0 {
        return Verdict::Conflict(CaseReason::AmountNotPositive);
    }
    if tally.mode == RedemptionMode::SingleUse && tally.redeemed_minor > 0 {
        return Verdict::Conflict(CaseReason::AlreadyRedeemed);
    }
    match tally.redeemed_minor.checked_add(amount.minor) {
        Some(total) if total <= tally.value.minor => Verdict::Counted,
        _ => Verdict::Conflict(CaseReason::OverValue),
    }
}

/// Every case, oldest first, with both entries' signed bytes.
pub fn list(storage: &Storage) -> Result<Vec<CaseRow>, StorageError> {
    storage.transaction(|tx| tx.cases())
}

/// Longest resolution note, in characters.
pub const RESOLUTION_NOTE_CHARS_MAX: usize = 1000;

/// How a person at HQ closed a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The money paid out by the later redemption was recovered.
    Recovered,
    /// The loss is accepted and booked.
    WrittenOff,
    /// Not a double spend after all (e.g. a test, or a voucher reissued on purpose).
    Dismissed,
}

impl Resolution {
    pub fn code(self) -> &'static str {
        match self {
            Self::Recovered => "recovered",
            Self::WrittenOff => "written_off",
            Self::Dismissed => "dismissed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("there is no case {0}")]
    UnknownCase(u64),
    #[error("case {0} is already resolved")]
    AlreadyResolved(u64),
    #[error("the note is empty: say what was done")]
    EmptyNote,
    #[error("the note is longer than {RESOLUTION_NOTE_CHARS_MAX} characters")]
    NoteTooLong,
    #[error("the note is not usable: {0}")]
    BadNote(TextError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ResolveError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownCase(_) => "unknown_case",
            Self::AlreadyResolved(_) => "case_resolved",
            Self::EmptyNote => "empty_note",
            Self::NoteTooLong => "note_too_long",
            Self::BadNote(_) => "bad_note",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// Checks a resolution note: one to [`RESOLUTION_NOTE_CHARS_MAX`] characters of plain text.
pub fn resolution_note(note: &str) -> Result<PlainText, ResolveError> {
    PlainText::parse(note, Lines::Many, RESOLUTION_NOTE_CHARS_MAX).map_err(|e| match e {
        TextError::Empty => ResolveError::EmptyNote,
        TextError::TooLong { .. } => ResolveError::NoteTooLong,
        other => ResolveError::BadNote(other),
    })
}

/// Closes an open case with an outcome and a note saying what was done.
pub fn resolve(
    storage: &Storage,
    actor: &Actor,
    id: u64,
    resolution: Resolution,
    note: &str,
    now: i64,
) -> Result<(), ResolveError> {
    let note = resolution_note(note)?;
    storage
        .transaction(|tx| resolve_in(tx, actor, id, resolution, &note, serde_json::json!({}), now))
}

/// [`resolve`] inside the caller's transaction; `detail` goes into the
/// audit entry.
pub fn resolve_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    id: u64,
    resolution: Resolution,
    note: &PlainText,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), ResolveError> {
    // The update closes only an open case, atomically; when it closes
    // nothing, say why.
    if tx.resolve_case(id, resolution.code(), note.as_str(), now)? {
        audit::record(
            tx,
            actor,
            "case.resolved",
            &format!("case:{id}"),
            serde_json::json!({ "resolution": resolution.code(), "note": note.as_str(), "by": detail }),
            now,
        )?;
        return Ok(());
    }
    Err(if tx.case_exists(id)? {
        ResolveError::AlreadyResolved(id)
    } else {
        ResolveError::UnknownCase(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lastmile_shared::money::Currency;

    fn voucher(mode: RedemptionMode, value: i64, redeemed: i64) -> Tally {
        Tally {
            value: Money::new(value, Currency::parse("KES").unwrap()),
            mode,
            redeemed_minor: redeemed,
        }
    }

    #[test]
    fn first_wins_then_conflicts() {
        let kes = Currency::parse("KES").unwrap();
        let usd = Currency::parse("USD").unwrap();
        use RedemptionMode::*;
        let cases = [
            (
                voucher(SingleUse, 500, 0),
                Money::new(500, kes),
                Verdict::Counted,
            ),
            (
                voucher(SingleUse, 500, 500),
                Money::new(500, kes),
                Verdict::Conflict(CaseReason::AlreadyRedeemed),
            ),
            (
                voucher(Partial, 500, 300),
                Money::new(200, kes),
                Verdict::Counted,
            ),
            (
                voucher(Partial, 500, 300),
                Money::new(201, kes),
                Verdict::Conflict(CaseReason::OverValue),
            ),
            (
                voucher(Partial, 500, 0),
                Money::new(100, usd),
                Verdict::Conflict(CaseReason::CurrencyMismatch),
            ),
            (
                voucher(Partial, 500, 0),
                Money::new(0, kes),
                Verdict::Conflict(CaseReason::AmountNotPositive),
            ),
            (
                voucher(Partial, i64::MAX, 1),
                Money::new(i64::MAX, kes),
                Verdict::Conflict(CaseReason::OverValue),
            ),
        ];
        for (row, amount, expected) in cases {
            assert_eq!(judge(&row, amount), expected, "{row:?} {amount}");
        }
    }
}
