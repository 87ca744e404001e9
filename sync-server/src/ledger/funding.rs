//! Funding a programme's budget: money a source (a donor, a treasury line)
//! paid in, recorded by someone in finance, audited, and posted once per
//! reference however often it is sent.

use lastmile_shared::money::{Currency, CurrencyError, Money, MoneyError};
use serde::{Deserialize, Serialize};

use super::{LedgerError, LedgerText, postings};
use crate::audit::{self, Actor};
use crate::registry::{RegistryError, programmes};
use crate::storage::{Storage, StorageError};

/// What someone in finance records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundingRequest {
    /// Who paid: a donor or treasury line, e.g. `treasury` or `donor-eu`.
    pub source: String,
    /// In major units, e.g. `"250000.00"`.
    pub amount: String,
    /// ISO 4217; the programme's own currency when absent. A budget held in
    /// another currency is converted at an approved rate before it pays.
    #[serde(default)]
    pub currency: Option<String>,
    /// The funding's own reference (a transfer or release number): the
    /// same reference twice is the same funding.
    pub reference: String,
}

/// What was recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Funded {
    pub programme: String,
    pub amount: Money,
    pub reference: String,
    /// `false` when this reference was recorded before (nothing changed).
    pub new: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FundingError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the amount is not usable: {0}")]
    Amount(MoneyError),
    #[error("the currency is not usable: {0}")]
    Currency(CurrencyError),
    #[error("a funding amount must be positive")]
    NotPositive,
    #[error("the {field} is not usable: {reason}")]
    Text {
        field: &'static str,
        reason: LedgerText,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl FundingError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Registry(e) => e.code(),
            Self::Ledger(e) => e.code(),
            Self::Amount(_) | Self::NotPositive => "bad_amount",
            Self::Currency(_) => "bad_currency",
            Self::Text { .. } => "bad_reference",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// Records a funding of `programme` (in its currency unless another is named).
pub fn record(
    storage: &Storage,
    actor: &Actor,
    programme: &str,
    request: &FundingRequest,
    now: i64,
) -> Result<Funded, FundingError> {
    let text = |field, value: &str| {
        LedgerText::check_part("it", value).map_err(|reason| FundingError::Text { field, reason })
    };
    text("source", &request.source)?;
    text("reference", &request.reference)?;
    storage.transaction(|tx| {
        let found = programmes::get_in(tx, programme)?;
        let currency = match &request.currency {
            None => found.currency,
            Some(code) => Currency::parse(code.trim()).map_err(FundingError::Currency)?,
        };
        let amount = Money::parse(request.amount.trim(), currency).map_err(FundingError::Amount)?;
        if amount.minor <= 0 {
            return Err(FundingError::NotPositive);
        }
        let new = postings::fund(
            tx.sql(),
            programme,
            &request.source,
            amount,
            &request.reference,
            &actor.label(),
            now,
        )?;
        if new {
            audit::record(
                tx,
                actor,
                "programme.funded",
                &format!("programme:{programme}"),
                serde_json::json!({
                    "source": request.source,
                    "amount": amount.decimal(),
                    "currency": amount.currency.code(),
                    "reference": request.reference,
                }),
                now,
            )?;
        }
        Ok(Funded {
            programme: programme.to_owned(),
            amount,
            reference: request.reference.clone(),
            new,
        })
    })
}
