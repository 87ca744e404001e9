//! Converting part of a programme's budget into another currency at the
//! approved rate in force, as one linked chain: budget (base) → exchange
//! (base), exchange (quote) → budget (quote). The quote amount is rounded
//! down to its minor unit, and only what buys exactly that leaves the base
//! budget (the rest stays there, stated in the answer).

use lastmile_shared::money::{Currency, Money, MoneyError};
use serde::{Deserialize, Serialize};

use super::account::{Account, AccountKind};
use super::exchange::{Conversion, RateError};
use super::postings::budget;
use super::rates::{self, RatesError};
use super::transfer::{Cause, NewTransfer, Phase, TransferCode, TransferId};
use super::{LedgerError, LedgerText, open, post_all};
use crate::audit::{self, Actor};
use crate::registry::{RegistryError, programmes};
use crate::storage::ledger as rows;
use crate::storage::{Storage, StorageError};

/// What someone in finance asks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionRequest {
    /// The currency sold, and the most of it to sell (major units).
    pub from: String,
    pub amount: String,
    /// The currency bought.
    pub to: String,
    /// The conversion's own reference: the same one twice is one conversion.
    pub reference: String,
}

/// What was converted.
#[derive(Debug, Clone, Serialize)]
pub struct Converted {
    pub programme: String,
    pub rate: String,
    #[serde(flatten)]
    pub conversion: Conversion,
    /// `false` when this reference was converted before (nothing changed).
    pub new: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Rates(#[from] RatesError),
    #[error(transparent)]
    Rate(#[from] RateError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the {field} is not usable: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("the budget holds {available} in that currency; converting {asked} needs more")]
    NotEnough { available: Money, asked: Money },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ConversionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.code(),
            Self::Rates(e) => e.code(),
            Self::Rate(_) => "bad_conversion",
            Self::Ledger(e) => e.code(),
            Self::Field { .. } => "bad_request",
            Self::NotEnough { .. } => "not_enough_budget",
            Self::Storage(_) => "storage_error",
        }
    }
}

fn field(field: &'static str) -> impl Fn(String) -> ConversionError {
    move |reason| ConversionError::Field { field, reason }
}

/// Converts part of `programme`'s budget at the approved rate in force now.
pub fn convert(
    storage: &Storage,
    actor: &Actor,
    programme: &str,
    request: &ConversionRequest,
    now: i64,
) -> Result<Converted, ConversionError> {
    let from = Currency::parse(request.from.trim()).map_err(|e| field("from")(e.to_string()))?;
    let to = Currency::parse(request.to.trim()).map_err(|e| field("to")(e.to_string()))?;
    let amount = Money::parse(request.amount.trim(), from)
        .map_err(|e: MoneyError| field("amount")(e.to_string()))?;
    LedgerText::check_part("the reference", &request.reference)
        .map_err(|e| field("reference")(e.to_string()))?;
    storage.transaction(|tx| {
        programmes::get_in(tx, programme)?;
        let rate = rates::in_force(tx.sql(), from, to, now)?;
        let conversion = rate.convert(amount)?;
        let sold = budget(programme, from)?;
        let bought = budget(programme, to)?;
        let position = |currency| -> Result<Account, LedgerError> {
            Ok(Account::open(
                AccountKind::Exchange,
                &[programme],
                currency,
                Some(programme),
            )?)
        };
        let (out, into) = (position(from)?, position(to)?);
        open(
            tx.sql(),
            &[sold.clone(), bought.clone(), out.clone(), into.clone()],
            now,
        )?;
        let id = |leg: &str| -> Result<TransferId, LedgerError> {
            Ok(TransferId::new(
                "exchange",
                &[programme, &request.reference, leg],
            )?)
        };
        let cause = Cause {
            kind: "programme",
            id: programme.to_owned(),
        };
        let known = rows::transfers_by_id(tx.sql(), &[id("sold")?.as_str()])?;
        if known.is_empty() {
            let held = rows::accounts_by_id(tx.sql(), &[sold.id.as_str()], true)?;
            let available = held
                .first()
                .map_or(Money::new(0, from), Account::credit_balance);
            if available.minor < conversion.spent.minor {
                return Err(ConversionError::NotEnough {
                    available,
                    asked: conversion.spent,
                });
            }
        }
        let legs = [
            NewTransfer {
                id: id("sold")?,
                debit: sold.id.clone(),
                credit: out.id.clone(),
                amount: conversion.spent.minor,
                code: TransferCode::Exchange,
                phase: Phase::Single,
                linked: true,
                cause: Some(cause.clone()),
            },
            NewTransfer {
                id: id("bought")?,
                debit: into.id.clone(),
                credit: bought.id.clone(),
                amount: conversion.bought.minor,
                code: TransferCode::Exchange,
                phase: Phase::Single,
                linked: false,
                cause: Some(cause),
            },
        ];
        post_all(tx.sql(), &legs, now, Some(&actor.label()))?;
        let new = known.is_empty();
        if new {
            audit::record(
                tx,
                actor,
                "programme.converted",
                &format!("programme:{programme}"),
                serde_json::json!({
                    "reference": request.reference,
                    "rate": rate.text(),
                    "sold": conversion.spent.to_string(),
                    "bought": conversion.bought.to_string(),
                    "left": conversion.left.to_string(),
                }),
                now,
            )?;
        }
        Ok(Converted {
            programme: programme.to_owned(),
            rate: rate.text(),
            conversion,
            new,
        })
    })
}
