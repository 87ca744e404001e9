//! The double-entry ledger: where every unit of a programme's money is.
//!
//! Accounts hold one ISO 4217 currency each; a transfer debits one account
//! and credits another of the same currency by the same amount, so per
//! currency the debits always equal the credits. Money flows from the
//! account a transfer debits to the one it credits:
//!
//! ```text
//! funding ─Fund→ budget ─Commit→ obligations ─Redeem→ merchant payable ─Settle→ rail
//!                   ↑                │   └───CashOut→ delivered
//!                   └────Release─────┘
//! vault ─FloatIssue→ agent float ─CashOut→ delivered / ─FloatReturn→ vault
//! ```
//!
//! The model is TigerBeetle's (accounts with pending and posted sums and
//! flags; transfers under a caller-chosen id, so a retry posts nothing
//! twice; two-phase pending → post or void with a timeout; linked chains
//! that succeed or fail whole). [`post`] runs a batch inside the caller's
//! database transaction, so a posting commits with the change it records
//! or not at all, and checks the invariants before it returns: an invariant
//! broken there is a bug, refused (the transaction rolls back) and logged.
//! [`verify`] checks the whole database.

pub mod account;
pub mod book;
pub mod conversion;
pub mod exchange;
pub mod export;
pub mod funding;
pub mod postings;
pub mod rates;
pub mod report;
pub mod transfer;
pub mod verify;

use std::collections::BTreeSet;

use crate::storage::StorageError;
use crate::storage::ledger as rows;
use crate::storage::sql::Sql;

use self::account::{Account, LEDGER_ID_BYTES_MAX};
use self::book::{Book, Outcome, Refusal};
use self::transfer::{NewTransfer, TransferId};

/// Most transfers one batch may hold.
pub const BATCH_TRANSFERS_MAX: usize = 8_192;

/// A ledger id or one of its parts that is not ledger text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerText {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} bytes long; the limit is {LEDGER_ID_BYTES_MAX}")]
    TooLong { what: &'static str, len: usize },
    #[error("{what} contains {found:?}; only letters, digits and . _ - : / are allowed")]
    BadCharacter { what: &'static str, found: char },
}

impl LedgerText {
    /// A whole id: 1 to [`LEDGER_ID_BYTES_MAX`] bytes of letters, digits
    /// and `. _ - : /`, with no empty segment between slashes.
    fn check(what: &'static str, text: &str) -> Result<(), Self> {
        if text.len() > LEDGER_ID_BYTES_MAX {
            return Err(Self::TooLong {
                what,
                len: text.len(),
            });
        }
        for segment in text.split('/') {
            Self::check_part(what, segment)?;
        }
        Ok(())
    }

    /// One segment: no slash.
    pub(crate) fn check_part(what: &'static str, text: &str) -> Result<(), Self> {
        if text.is_empty() {
            return Err(Self::Empty { what });
        }
        if let Some(found) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
        {
            return Err(Self::BadCharacter { what, found });
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Text(#[from] LedgerText),
    #[error("a batch holds {0} transfers; the limit is {BATCH_TRANSFERS_MAX}")]
    BatchTooLarge(usize),
    #[error("transfer {id} was refused: {refusal}")]
    Refused { id: TransferId, refusal: Refusal },
    #[error("account {0} exists with another kind, currency, flags or programme")]
    AccountDiffers(String),
    /// A bug: the batch would have broken the ledger's invariants.
    #[error("the ledger's invariants would break: {0}")]
    Invariant(String),
}

impl LedgerError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage_error",
            Self::Text(_) => "bad_ledger_id",
            Self::BatchTooLarge(_) => "batch_too_large",
            Self::Refused { .. } => "transfer_refused",
            Self::AccountDiffers(_) => "account_differs",
            Self::Invariant(_) => "ledger_invariant",
        }
    }
}

/// Opens accounts that do not exist yet (an existing identical one is
/// left as it is; a different one under the same id is refused).
pub fn open(sql: &mut dyn Sql, accounts: &[Account], now: i64) -> Result<(), LedgerError> {
    let differing = rows::open_accounts(sql, accounts, now)?;
    match differing.into_iter().next() {
        Some(account) => Err(LedgerError::AccountDiffers(account.id.to_string())),
        None => Ok(()),
    }
}

/// Posts a batch at `now` on behalf of `actor`: one outcome per transfer.
/// Refused transfers change nothing; the others are written in the
/// caller's transaction, after the invariants were checked.
pub fn post(
    sql: &mut dyn Sql,
    batch: &[NewTransfer],
    now: i64,
    actor: Option<&str>,
) -> Result<Vec<Outcome>, LedgerError> {
    if batch.len() > BATCH_TRANSFERS_MAX {
        return Err(LedgerError::BatchTooLarge(batch.len()));
    }
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut transfer_ids = BTreeSet::new();
    let mut account_ids = BTreeSet::new();
    for t in batch {
        transfer_ids.insert(t.id.as_str());
        if let Some(pending) = t.phase.pending_id() {
            transfer_ids.insert(pending.as_str());
        }
        account_ids.insert(t.debit.as_str());
        account_ids.insert(t.credit.as_str());
    }
    // The ledger's tables grow inside long-lived servers: plan each look-up
    // for its own ids (a generic plan made while the table was small scans it).
    crate::storage::sql::plan_for_parameters(sql)?;
    let account_ids: Vec<&str> = account_ids.into_iter().collect();
    let accounts = rows::accounts_by_id(sql, &account_ids, true)?;
    let transfer_ids: Vec<&str> = transfer_ids.into_iter().collect();
    let known = rows::transfers_by_id(sql, &transfer_ids)?;
    let mut book = Book::new(accounts, known);
    let outcomes = book.apply(batch, now, actor);
    write(sql, book)?;
    Ok(outcomes)
}

/// Posts a batch whose every transfer must succeed (or already exist): the
/// first refusal is an error, so the caller's transaction rolls back.
pub fn post_all(
    sql: &mut dyn Sql,
    batch: &[NewTransfer],
    now: i64,
    actor: Option<&str>,
) -> Result<(), LedgerError> {
    let outcomes = post(sql, batch, now, actor)?;
    for (t, outcome) in batch.iter().zip(outcomes) {
        if let Outcome::Refused(refusal) = outcome {
            return Err(LedgerError::Refused {
                id: t.id.clone(),
                refusal,
            });
        }
    }
    Ok(())
}

/// Most pending transfers one sweep expires.
pub const EXPIRY_SWEEP_MAX: u32 = 1_000;

/// Releases pending transfers whose timeout passed; returns how many.
pub fn expire_due(sql: &mut dyn Sql, now: i64) -> Result<usize, LedgerError> {
    let due = rows::due_pending(sql, now, EXPIRY_SWEEP_MAX)?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut account_ids: Vec<&str> = due
        .iter()
        .flat_map(|t| [t.debit.as_str(), t.credit.as_str()])
        .collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let accounts = rows::accounts_by_id(sql, &account_ids, true)?;
    let ids: Vec<TransferId> = due.iter().map(|t| t.id.clone()).collect();
    let mut book = Book::new(accounts, due);
    let expired = book
        .expire(&ids, now)
        .map_err(|r| LedgerError::Invariant(r.to_string()))?;
    write(sql, book)?;
    Ok(expired)
}

/// Checks a book's invariants and writes what it changed.
fn write(sql: &mut dyn Sql, book: Book) -> Result<(), LedgerError> {
    if let Err(broken) = book.check() {
        tracing::error!(%broken, "a ledger batch would break the invariants; refused");
        return Err(LedgerError::Invariant(broken));
    }
    let created = book.created() as u64;
    let first = if created == 0 {
        0
    } else {
        rows::reserve_seqs(sql, created)?
    };
    let changes = book.into_changes(first);
    rows::insert_transfers(sql, &changes.transfers)?;
    rows::resolve_pending(sql, &changes.resolved)?;
    rows::update_balances(sql, &changes.accounts)?;
    Ok(())
}
