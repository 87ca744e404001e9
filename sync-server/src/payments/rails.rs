//! The rails HQ pays through: each a name, a kind, a currency and its
//! settings (for a bank: the file format, the programme's account, the
//! folders files go to and come from), set up by an admin and audited.

use lastmile_shared::money::Currency;
use serde::Serialize;

use super::PaymentError;
use crate::audit::{self, Actor};
use crate::rails::bank_file::{BankFile, BankFileConfig, FILE_PAYMENTS_MAX};
use crate::storage::payments::{self as table, RailRow};
use crate::storage::{Storage, Tx};

/// The cash rail: payments on a site's roster, paid by field agents'
/// terminals and closed when their payout syncs. Not configured: it is
/// always there.
pub const CASH: &str = "cash";
/// Most rails listed.
pub const RAILS_MAX: i64 = 100;
/// Longest rail name.
pub const RAIL_NAME_MAX: usize = 32;

/// A rail as the pipeline uses it.
#[derive(Debug, Clone)]
pub struct LoadedRail {
    pub row: RailRow,
    pub bank: BankFile,
}

/// What an admin gives to set up a bank rail.
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
pub struct NewBankRail {
    pub rail: String,
    pub currency: String,
    pub config: BankFileConfig,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= RAIL_NAME_MAX
        && name != CASH
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn check_config(config: &BankFileConfig) -> Result<(), PaymentError> {
    let bad = |why: &str| Err(PaymentError::BadRailConfig(why.to_owned()));
    if config.debtor_name.trim().is_empty() || config.debtor_name.chars().count() > 140 {
        return bad("the account holder's name is 1 to 140 characters");
    }
    if config.debtor_account.trim().is_empty() || config.debtor_account.len() > 34 {
        return bad(
            "the account paid from is an IBAN or an account number of at most 34 characters",
        );
    }
    if !(1..=FILE_PAYMENTS_MAX).contains(&config.batch_payments_max) {
        return bad("a file holds 1 to 1 000 000 payments");
    }
    if !(1..=24 * 60).contains(&config.answer_deadline_hours) {
        return bad("the answer deadline is 1 hour to 60 days");
    }
    if config.outbox.as_os_str().is_empty() || config.inbox.as_os_str().is_empty() {
        return bad("both folders are needed");
    }
    if config.outbox == config.inbox {
        return bad("the bank's answers must not arrive in the folder files are sent to");
    }
    Ok(())
}

/// Sets up a bank rail.
pub fn add_bank(
    storage: &Storage,
    actor: &Actor,
    new: &NewBankRail,
    now: i64,
) -> Result<RailRow, PaymentError> {
    if !valid_name(&new.rail) {
        return Err(PaymentError::BadRailConfig(format!(
            "a rail's name is 1 to {RAIL_NAME_MAX} lower-case letters, digits or dashes (not \"cash\")"
        )));
    }
    let currency = Currency::parse(&new.currency)?;
    check_config(&new.config)?;
    let config = serde_json::to_string(&new.config)
        .map_err(|e| PaymentError::BadRailConfig(e.to_string()))?;
    storage.transaction(|tx| {
        let row = RailRow {
            rail: new.rail.clone(),
            kind: "bank_file".to_owned(),
            currency: currency.code().to_owned(),
            config: config.clone(),
            state: "active".to_owned(),
            created_by: actor.label(),
            created_at: now,
            updated_at: now,
        };
        if !table::insert_rail(tx.sql(), &row)? {
            return Err(PaymentError::RailExists(new.rail.clone()));
        }
        audit::record(
            tx,
            actor,
            "rail.added",
            &format!("rail:{}", new.rail),
            serde_json::json!({ "currency": row.currency, "config": new.config }),
            now,
        )?;
        Ok(row)
    })
}

/// Marks a rail down (nothing new goes through it; its payments may be
/// rerouted) or up again.
pub fn set_down(
    storage: &Storage,
    actor: &Actor,
    rail: &str,
    down: bool,
    now: i64,
) -> Result<RailRow, PaymentError> {
    storage.transaction(|tx| {
        let state = if down { "down" } else { "active" };
        if table::set_rail_state(tx.sql(), rail, state, now)? {
            audit::record(
                tx,
                actor,
                &format!("rail.{state}"),
                &format!("rail:{rail}"),
                serde_json::json!({}),
                now,
            )?;
        }
        Ok(load_in(tx, rail)?.row)
    })
}

pub fn list(storage: &Storage) -> Result<Vec<RailRow>, PaymentError> {
    Ok(storage.transaction(|tx| table::rails(tx.sql(), RAILS_MAX))?)
}

/// A rail and its protocol.
pub fn load_in(tx: &mut dyn Tx, rail: &str) -> Result<LoadedRail, PaymentError> {
    let row =
        table::rail(tx.sql(), rail)?.ok_or_else(|| PaymentError::UnknownRail(rail.to_owned()))?;
    let config: BankFileConfig = serde_json::from_str(&row.config)
        .map_err(|e| PaymentError::BadRailConfig(format!("stored settings of {rail}: {e}")))?;
    let currency = Currency::parse(&row.currency)?;
    Ok(LoadedRail {
        bank: BankFile { config, currency },
        row,
    })
}
