//! Programmes: what is paid, in which currency, by which channels, to whom
//! (each person or each household), within which budget per cycle.
//!
//! A programme is created as a draft, activated when its people are in,
//! and closed at its end; only an active one generates cycles.

use lastmile_shared::id::{IssuerId, ProgrammeId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::payee::ChannelKind;
use lastmile_shared::text::{Lines, PlainText};

use super::RegistryError;
use super::pattern::IdPattern;
use crate::audit::{self, Actor};
use crate::calendar;
use crate::storage::registry::{self as table, ProgrammeRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, Tx};

/// The largest household a programme may allow.
pub const HOUSEHOLD_MAX: i64 = 100;
/// Longest programme name, in characters.
pub const NAME_CHARS_MAX: usize = 120;

/// Who a programme pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Each person on the list.
    Individual,
    /// The head of each household, for the whole household.
    Household,
}

impl Target {
    pub fn code(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Household => "household",
        }
    }

    pub fn parse(code: &str) -> Result<Self, RegistryError> {
        match code {
            "individual" => Ok(Self::Individual),
            "household" => Ok(Self::Household),
            other => Err(RegistryError::BadTarget(other.to_owned())),
        }
    }
}

/// A programme to create, as a person typed it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProgramme {
    pub programme: String,
    pub name: String,
    pub currency: String,
    pub issuer: String,
    /// Channel kinds in the programme's default order.
    pub channels: Vec<String>,
    /// The budget of one cycle, a decimal in the currency (`250000.00`).
    pub budget: String,
    pub starts_on: String,
    pub ends_on: Option<String>,
    pub target: Target,
    pub household_max: Option<i64>,
    pub id_pattern: Option<String>,
}

/// A programme as its rules read it.
#[derive(Debug, Clone)]
pub struct Programme {
    pub row: ProgrammeRow,
    pub id: ProgrammeId,
    pub currency: Currency,
    pub channels: Vec<ChannelKind>,
    pub target: Target,
    pub id_pattern: IdPattern,
}

impl Programme {
    pub fn from_row(row: ProgrammeRow) -> Result<Self, RegistryError> {
        let corrupt = |what: &str| crate::storage::StorageError::corrupt("programmes", what);
        Ok(Self {
            id: ProgrammeId::parse(&row.programme).map_err(|_| corrupt("programme"))?,
            currency: Currency::parse(&row.currency).map_err(|_| corrupt("currency"))?,
            channels: row
                .channels
                .split(',')
                .map(|c| ChannelKind::parse(c).map_err(|_| corrupt("channels")))
                .collect::<Result<_, _>>()?,
            target: Target::parse(&row.target).map_err(|_| corrupt("target"))?,
            id_pattern: IdPattern::parse(&row.id_pattern).map_err(|_| corrupt("id_pattern"))?,
            row,
        })
    }

    pub fn budget(&self) -> Money {
        Money {
            minor: self.row.budget_minor,
            currency: self.currency,
        }
    }

    pub fn allows(&self, kind: ChannelKind) -> bool {
        self.channels.contains(&kind)
    }
}

fn date(field: &'static str, text: &str) -> Result<String, RegistryError> {
    let text = text.trim();
    calendar::parse_date(text)
        .map(|_| text.to_owned())
        .ok_or_else(|| RegistryError::BadDate {
            field,
            text: text.to_owned(),
        })
}

/// Checks a new programme into the row to store.
fn check(new: &NewProgramme, actor: &Actor, now: i64) -> Result<ProgrammeRow, RegistryError> {
    let id = ProgrammeId::parse(new.programme.trim()).map_err(|source| RegistryError::BadId {
        field: "programme id",
        source,
    })?;
    let name = PlainText::parse(&new.name, Lines::One, NAME_CHARS_MAX).map_err(|source| {
        RegistryError::BadText {
            field: "programme name",
            source,
        }
    })?;
    let currency = Currency::parse(new.currency.trim())?;
    let issuer = IssuerId::parse(new.issuer.trim()).map_err(|source| RegistryError::BadId {
        field: "issuer",
        source,
    })?;
    let mut channels: Vec<ChannelKind> = Vec::new();
    for text in &new.channels {
        let kind = ChannelKind::parse(text.trim())
            .map_err(|_| RegistryError::BadChannelKind(text.clone()))?;
        if channels.contains(&kind) {
            return Err(RegistryError::ChannelTwice(kind.code().to_owned()));
        }
        channels.push(kind);
    }
    if channels.is_empty() {
        return Err(RegistryError::NoChannels);
    }
    let budget =
        Money::parse(new.budget.trim(), currency).map_err(|e| RegistryError::BadBudget {
            currency: currency.code().to_owned(),
            reason: e.to_string(),
        })?;
    if budget.is_negative() {
        return Err(RegistryError::BadBudget {
            currency: currency.code().to_owned(),
            reason: "it is negative".to_owned(),
        });
    }
    let starts_on = date("starts_on", &new.starts_on)?;
    let ends_on = new
        .ends_on
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(|t| date("ends_on", t))
        .transpose()?;
    if let Some(ends) = &ends_on
        && *ends < starts_on
    {
        return Err(RegistryError::EndsBeforeStart {
            starts: starts_on,
            ends: ends.clone(),
        });
    }
    let household_max = new.household_max.unwrap_or(match new.target {
        Target::Individual => 1,
        Target::Household => 20,
    });
    if !(1..=HOUSEHOLD_MAX).contains(&household_max) {
        return Err(RegistryError::BadHouseholdMax);
    }
    let id_pattern = IdPattern::parse(new.id_pattern.as_deref().unwrap_or(""))?;
    Ok(ProgrammeRow {
        programme: id.to_string(),
        name: name.as_str().to_owned(),
        currency: currency.code().to_owned(),
        issuer: issuer.to_string(),
        channels: channels
            .iter()
            .map(|c| c.code())
            .collect::<Vec<_>>()
            .join(","),
        budget_minor: budget.minor,
        starts_on,
        ends_on,
        target: new.target.code().to_owned(),
        household_max,
        id_pattern: id_pattern.as_str().to_owned(),
        state: "draft".to_owned(),
        created_by: actor.label(),
        created_at: now,
        updated_at: now,
    })
}

/// Creates a programme, as a draft.
pub fn create(
    storage: &Storage,
    actor: &Actor,
    new: &NewProgramme,
    now: i64,
) -> Result<ProgrammeRow, RegistryError> {
    let row = check(new, actor, now)?;
    storage.transaction(|tx| {
        if !tx
            .issuer_keys()?
            .iter()
            .any(|k| k.issuer.as_str() == row.issuer)
        {
            return Err(RegistryError::UnknownIssuer(row.issuer.clone()));
        }
        if !table::insert_programme(tx.sql(), &row)? {
            return Err(RegistryError::ProgrammeTaken(row.programme.clone()));
        }
        audit::record(
            tx,
            actor,
            "programme.created",
            &format!("programme:{}", row.programme),
            serde_json::json!({
                "name": row.name, "currency": row.currency, "channels": row.channels,
                "budget_minor": row.budget_minor, "target": row.target,
            }),
            now,
        )?;
        Ok(row)
    })
}

/// The programme, read in a transaction.
pub fn get_in(tx: &mut dyn Tx, programme: &str) -> Result<Programme, RegistryError> {
    let row = table::programme(tx.sql(), programme)?
        .ok_or_else(|| RegistryError::UnknownProgramme(programme.to_owned()))?;
    Programme::from_row(row)
}

pub fn get(storage: &Storage, programme: &str) -> Result<Programme, RegistryError> {
    storage.transaction(|tx| get_in(tx, programme))
}

pub fn list(storage: &Storage, page: Page) -> Result<Vec<ProgrammeRow>, RegistryError> {
    Ok(storage.transaction(|tx| table::programmes(tx.sql(), page))?)
}

/// A programme's next state: draft → active → closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Activate,
    Close,
}

/// Activates a draft programme or closes an active one.
pub fn transition(
    storage: &Storage,
    actor: &Actor,
    programme: &str,
    transition: Transition,
    now: i64,
) -> Result<ProgrammeRow, RegistryError> {
    let (from, to, action) = match transition {
        Transition::Activate => ("draft", "active", "programme.activated"),
        Transition::Close => ("active", "closed", "programme.closed"),
    };
    storage.transaction(|tx| {
        let current = get_in(tx, programme)?;
        if !table::set_programme_state(tx.sql(), programme, from, to, now)? {
            return Err(RegistryError::ProgrammeState {
                programme: programme.to_owned(),
                state: current.row.state,
                wanted: from,
            });
        }
        audit::record(
            tx,
            actor,
            action,
            &format!("programme:{programme}"),
            serde_json::json!({}),
            now,
        )?;
        table::programme(tx.sql(), programme)?
            .ok_or_else(|| RegistryError::UnknownProgramme(programme.to_owned()))
    })
}
