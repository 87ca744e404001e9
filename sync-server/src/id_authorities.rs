//! ID authorities: the public keys of the authorities (national registries)
//! whose MOSIP Claim 169 ID cards terminals accept.
//!
//! A key is proposed by someone who manages ID authorities and becomes
//! active only when a different person with the approver role approves the
//! `id_authority.add` proposal; it is retired the same way
//! (`id_authority.retire`). Either approval reseals every active terminal's
//! policy in its transaction, so the next sync carries the change: the
//! active keys whose validity has not ended travel in
//! `TerminalPolicy::id_authorities` (the terminal checks each key's window
//! against its own clock, so a key valid from tomorrow is already there
//! tomorrow offline), and the retired ones are named, without their key, in
//! `id_authorities_retired`, so a card under a retired key is refused as
//! retired rather than as unknown.
//!
//! The list is global, not per programme: a terminal verifies a card before
//! it knows whose entitlement it will find, and a registry's key is the
//! same for every programme that takes its cards.

use lastmile_shared::id::KeyId;
use lastmile_shared::id_card::{
    ID_AUTHORITIES_MAX, ID_AUTHORITIES_RETIRED_MAX, IdIssuerKey, IdKeyAlgorithm, IdKeyError,
    RetiredIdIssuer,
};
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::calendar;
use crate::documents;
use crate::keys::{self, KeyDir, KeyError};
use crate::people::Caller;
use crate::proposals::{self, Action, ProposalError};
use crate::storage::id_authorities::{self as table, IdAuthorityRow, NewIdAuthority};
use crate::storage::proposals::ProposalRow;
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError, Tx};

#[derive(Debug, thiserror::Error)]
pub enum IdAuthorityError {
    #[error(transparent)]
    Key(#[from] IdKeyError),
    #[error("{field} {text:?} is not a date; write it as YYYY-MM-DD")]
    BadDate { field: &'static str, text: String },
    #[error("there is no ID authority with key id {0}")]
    Unknown(String),
    #[error("the key id {kid} is already {state}: an authority's new key needs a new key id")]
    Taken { kid: String, state: String },
    #[error("the key id {kid} is {state}, not {expected}")]
    WrongState {
        kid: String,
        state: String,
        expected: &'static str,
    },
    #[error(
        "{ID_AUTHORITIES_MAX} ID authority keys are active, the most a terminal's policy carries: retire one first"
    )]
    TooMany,
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl IdAuthorityError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Key(_) => "bad_id_authority",
            Self::BadDate { .. } => "bad_date",
            Self::Unknown(_) => "unknown_id_authority",
            Self::Taken { .. } => "id_authority_taken",
            Self::WrongState { .. } => "id_authority_state",
            Self::TooMany => "too_many_id_authorities",
            Self::Keys(_) => "key_error",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// A key as someone proposes it: text as typed (dates `YYYY-MM-DD`, the
/// key in hexadecimal).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    pub kid: String,
    /// `Ed25519` or `ES256`.
    pub algorithm: String,
    /// Hexadecimal: 32 bytes (Ed25519) or a SEC1 point (ES256).
    pub public_key: String,
    /// First day its cards are accepted; today when absent.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Last day its cards are accepted (inclusive); no end when absent.
    #[serde(default)]
    pub valid_until: Option<String>,
}

fn date(field: &'static str, text: &str, end: bool) -> Result<i64, IdAuthorityError> {
    let text = text.trim();
    let parsed = if end {
        calendar::parse_end_date(text)
    } else {
        calendar::parse_date(text)
    };
    parsed.ok_or_else(|| IdAuthorityError::BadDate {
        field,
        text: text.chars().take(32).collect(),
    })
}

impl NewKey {
    /// The key it describes, or the first thing wrong with it.
    pub fn parse(&self, now: i64) -> Result<IdIssuerKey, IdAuthorityError> {
        let algorithm = IdKeyAlgorithm::parse(&self.algorithm)?;
        fn blank(text: &Option<String>) -> Option<&str> {
            text.as_deref().map(str::trim).filter(|t| !t.is_empty())
        }
        let valid_from = match blank(&self.valid_from) {
            Some(text) => date("valid_from", text, false)?,
            None => now,
        };
        let valid_until = blank(&self.valid_until)
            .map(|text| date("valid_until", text, true))
            .transpose()?;
        Ok(IdIssuerKey::from_hex(
            &self.name,
            &self.kid,
            algorithm,
            &self.public_key,
            valid_from,
            valid_until,
        )?)
    }
}

/// A proposed key and the proposal that must be approved.
#[derive(Debug, Clone, Serialize)]
pub struct Proposed {
    pub authority: IdAuthorityRow,
    pub proposal: ProposalRow,
}

fn object(kid: &str) -> String {
    format!("id_authority:{kid}")
}

fn row_in(tx: &mut dyn Tx, kid: &str) -> Result<IdAuthorityRow, IdAuthorityError> {
    table::get(tx.sql(), kid)?.ok_or_else(|| IdAuthorityError::Unknown(kid.to_owned()))
}

fn in_state(
    tx: &mut dyn Tx,
    kid: &str,
    expected: &'static str,
) -> Result<IdAuthorityRow, IdAuthorityError> {
    let row = row_in(tx, kid)?;
    if row.state != expected {
        return Err(IdAuthorityError::WrongState {
            kid: kid.to_owned(),
            state: row.state,
            expected,
        });
    }
    Ok(row)
}

/// Stores a key as proposed and the `id_authority.add` proposal that makes
/// it active once another person approves it, in one transaction.
pub fn propose_add(
    storage: &Storage,
    caller: &Caller,
    key: &NewKey,
    reason: &str,
    now: i64,
) -> Result<Proposed, ProposalError> {
    let action = Action::AddIdAuthority(key.kid.trim().to_owned());
    if !caller.may(action.permission()) {
        return Err(ProposalError::NotAllowed);
    }
    let key = key.parse(now).map_err(ProposalError::from)?;
    let reason = proposals::reason_text(reason)?;
    let actor = caller.actor();
    storage.transaction(|tx| {
        let stored = table::insert(
            tx.sql(),
            &NewIdAuthority {
                kid: key.kid.as_str(),
                name: &key.name,
                algorithm: key.algorithm.code(),
                public_key: &hex::encode(&key.public_key),
                valid_from: key.valid_from,
                valid_until: key.valid_until,
                proposed_by: &actor.label(),
                proposed_at: now,
            },
        )?;
        if !stored {
            let state = row_in(tx, key.kid.as_str())?.state;
            return Err(IdAuthorityError::Taken {
                kid: key.kid.to_string(),
                state,
            }
            .into());
        }
        audit::record(
            tx,
            &actor,
            "id_authority.proposed",
            &object(key.kid.as_str()),
            serde_json::json!({
                "name": key.name,
                "algorithm": key.algorithm.code(),
                "public_key": hex::encode(&key.public_key),
                "valid_from": key.valid_from,
                "valid_until": key.valid_until,
            }),
            now,
        )?;
        let proposal = proposals::propose_in(tx, caller, &action, &reason, now)?;
        let authority = row_in(tx, key.kid.as_str())?;
        Ok(Proposed {
            authority,
            proposal,
        })
    })
}

/// Proposes retiring an active key (`id_authority.retire`).
pub fn propose_retire(
    storage: &Storage,
    caller: &Caller,
    kid: &str,
    reason: &str,
    now: i64,
) -> Result<ProposalRow, ProposalError> {
    proposals::propose(
        storage,
        caller,
        &Action::RetireIdAuthority(kid.trim().to_owned()),
        reason,
        now,
    )
}

/// What an approved proposal does to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// `id_authority.add`: a proposed key becomes active.
    Activate,
    /// `id_authority.retire`: an active key is retired.
    Retire,
}

impl Change {
    /// The state the key must be in.
    fn from(self) -> &'static str {
        match self {
            Self::Activate => "proposed",
            Self::Retire => "active",
        }
    }
}

/// Whether the change can still be carried out.
pub(crate) fn check_in(tx: &mut dyn Tx, kid: &str, change: Change) -> Result<(), IdAuthorityError> {
    in_state(tx, kid, change.from()).map(|_| ())
}

/// Carries out an approved proposal: the key becomes active (and every
/// terminal's policy carries it) or is retired (and every policy names it
/// as retired), resealed in this transaction.
pub(crate) fn carry_out_in(
    tx: &mut dyn Tx,
    keys: &KeyDir,
    actor: &Actor,
    kid: &str,
    change: Change,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), IdAuthorityError> {
    in_state(tx, kid, change.from())?;
    let action = match change {
        Change::Activate => {
            let max = i64::try_from(ID_AUTHORITIES_MAX).unwrap_or(i64::MAX);
            if table::count(tx.sql(), "active")? >= max {
                return Err(IdAuthorityError::TooMany);
            }
            table::activate(tx.sql(), kid, &actor.label(), now)?;
            "id_authority.activated"
        }
        Change::Retire => {
            table::retire(tx.sql(), kid, &actor.label(), now)?;
            "id_authority.retired"
        }
    };
    audit::record(tx, actor, action, &object(kid), detail, now)?;
    let root = keys::root_signer(tx, keys)?;
    documents::publish_all_policies(tx, &root, now)?;
    Ok(())
}

/// A rejected `id_authority.add`: the key stays out, and its key id may be
/// proposed again.
pub(crate) fn reject_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    kid: &str,
    now: i64,
) -> Result<(), IdAuthorityError> {
    if table::reject(tx.sql(), kid)? {
        audit::record(
            tx,
            actor,
            "id_authority.rejected",
            &object(kid),
            serde_json::json!({}),
            now,
        )?;
    }
    Ok(())
}

/// What a terminal's policy carries at `now`: the active keys whose
/// validity has not ended, and the newest retired ones.
pub fn for_policy(
    tx: &mut dyn Tx,
    now: i64,
) -> Result<(Vec<IdIssuerKey>, Vec<RetiredIdIssuer>), StorageError> {
    let corrupt = |row: &IdAuthorityRow, e: String| {
        StorageError::corrupt("id_authorities", format!("{}: {e}", row.kid))
    };
    let active = table::usable(tx.sql(), now, ID_AUTHORITIES_MAX)?
        .iter()
        .map(|row| {
            let algorithm =
                IdKeyAlgorithm::parse(&row.algorithm).map_err(|e| corrupt(row, e.to_string()))?;
            IdIssuerKey::from_hex(
                &row.name,
                &row.kid,
                algorithm,
                &row.public_key,
                row.valid_from,
                row.valid_until,
            )
            .map_err(|e| corrupt(row, e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let retired = table::retired(tx.sql(), ID_AUTHORITIES_RETIRED_MAX)?
        .iter()
        .map(|row| {
            Ok(RetiredIdIssuer {
                name: row.name.clone(),
                kid: KeyId::parse(&row.kid).map_err(|e| corrupt(row, e.to_string()))?,
                retired_at: row.retired_at.unwrap_or(row.proposed_at),
            })
        })
        .collect::<Result<_, StorageError>>()?;
    Ok((active, retired))
}

/// Every key, optionally only in one state, by key id.
pub fn list(
    storage: &Storage,
    state: Option<&str>,
    page: Page,
) -> Result<Vec<IdAuthorityRow>, StorageError> {
    storage.transaction(|tx| table::list(tx.sql(), state, page))
}

pub fn get(storage: &Storage, kid: &str) -> Result<Option<IdAuthorityRow>, StorageError> {
    storage.transaction(|tx| table::get(tx.sql(), kid.trim()))
}
