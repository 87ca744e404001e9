//! Fraud signals: what a person should look at before money goes out —
//! the same national ID, phone number, bank account or wallet on several
//! beneficiaries (in one programme or across programmes), and households
//! larger than the programme allows or without exactly one head.
//!
//! A signal never drops or blocks anyone by itself: it is listed in the
//! console until someone reviews it, with a note. Found again with the
//! same people, it stays as reviewed; with different people, it opens again.

use lastmile_shared::text::{Lines, PlainText};

use super::RegistryError;
use super::programmes::Programme;
use crate::audit::{self, Actor};
use crate::storage::registry::{self as table, SharedColumn, SignalRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError, Tx};

/// Most signals of one kind found in one pass.
pub const SIGNALS_PER_KIND_MAX: i64 = 10_000;
/// Longest review note, in characters.
pub const NOTE_CHARS_MAX: usize = 1000;

fn store(
    tx: &mut dyn Tx,
    kind: &str,
    programme: Option<&str>,
    value: &str,
    beneficiaries: &[String],
    now: i64,
) -> Result<(), StorageError> {
    let id = i64::try_from(tx.next_counter("registry_signals")?)
        .map_err(|e| StorageError::corrupt("counters.registry_signals", e))?;
    table::upsert_signal(
        tx.sql(),
        &SignalRow {
            id,
            signal: format!("{kind}:{}:{value}", programme.unwrap_or("*")),
            kind: kind.to_owned(),
            programme: programme.map(str::to_owned),
            value: value.to_owned(),
            beneficiaries: serde_json::Value::from(beneficiaries.to_vec()).to_string(),
            detected_at: now,
            reviewed_by: None,
            reviewed_at: None,
            review_note: None,
        },
    )
}

/// Looks for every kind of signal that concerns the programme.
pub fn detect_in(tx: &mut dyn Tx, programme: &Programme, now: i64) -> Result<(), StorageError> {
    let id = programme.row.programme.as_str();
    for (column, kind) in [
        (SharedColumn::NationalId, "same_national_id"),
        (SharedColumn::Phone, "same_phone"),
        (SharedColumn::Account, "same_account"),
        (SharedColumn::Wallet, "same_wallet"),
    ] {
        for (value, who) in table::shared_values(tx.sql(), column, id, SIGNALS_PER_KIND_MAX)? {
            // Within one programme when everyone is in it, else across.
            let prefix = format!("{id}/");
            let within = who.iter().all(|w| w.starts_with(&prefix));
            store(tx, kind, within.then_some(id), &value, &who, now)?;
        }
    }
    for (household, members, heads) in table::odd_households(
        tx.sql(),
        id,
        programme.row.household_max,
        SIGNALS_PER_KIND_MAX,
    )? {
        let who = vec![format!("{id}/household:{household}")];
        if members > programme.row.household_max {
            store(
                tx,
                "household_too_large",
                Some(id),
                &format!(
                    "{household} ({members} people, at most {})",
                    programme.row.household_max
                ),
                &who,
                now,
            )?;
        }
        if heads == 0 {
            store(
                tx,
                "household_without_head",
                Some(id),
                &household,
                &who,
                now,
            )?;
        } else if heads > 1 {
            store(
                tx,
                "household_heads",
                Some(id),
                &format!("{household} ({heads} heads)"),
                &who,
                now,
            )?;
        }
    }
    Ok(())
}

pub fn open_count_in(tx: &mut dyn Tx, programme: &str) -> Result<u64, StorageError> {
    Ok(u64::try_from(table::open_signals(tx.sql(), programme)?).unwrap_or(0))
}

pub fn list(
    storage: &Storage,
    programme: Option<&str>,
    open_only: bool,
    page: Page,
) -> Result<Vec<SignalRow>, RegistryError> {
    Ok(storage.transaction(|tx| table::signals(tx.sql(), programme, open_only, page))?)
}

/// Marks a signal reviewed, with what the reviewer found.
pub fn review(
    storage: &Storage,
    actor: &Actor,
    id: i64,
    note: &str,
    now: i64,
) -> Result<(), RegistryError> {
    let note = PlainText::parse(note, Lines::Many, NOTE_CHARS_MAX).map_err(|source| {
        RegistryError::BadText {
            field: "review note",
            source,
        }
    })?;
    storage.transaction(|tx| {
        if !table::review_signal(tx.sql(), id, &actor.label(), note.as_str(), now)? {
            return Err(RegistryError::UnknownSignal(id));
        }
        audit::record(
            tx,
            actor,
            "signal.reviewed",
            &format!("signal:{id}"),
            serde_json::json!({ "note": note.as_str() }),
            now,
        )?;
        Ok(())
    })
}
