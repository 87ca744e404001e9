//! API tokens for scripts: `lmt_<id>_<secret>`, shown once, stored as the
//! secret's SHA-256, revocable, acting with their user's role.

use serde::Serialize;

use crate::audit::{self, Actor};
use crate::storage::people::{self as table, TokenRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError};

use super::{Caller, PeopleError, random_secret, same_secret, secret_hash};

/// How stale `last_used_at` may get before a request refreshes it, in seconds.
const TOUCH_SECONDS: i64 = 60;
/// Longest token label, in characters.
pub const LABEL_CHARS_MAX: usize = 80;
const PREFIX: &str = "lmt_";

/// A token just created: the whole token is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub id: i64,
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not one of this server's")]
    Invalid,
    #[error("there is no token {0}")]
    Unknown(i64),
    #[error("the label is not usable: {0}")]
    BadLabel(lastmile_shared::text::TextError),
    #[error(transparent)]
    People(#[from] PeopleError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Creates a token for `username`.
pub fn create(
    storage: &Storage,
    actor: &Actor,
    username: &str,
    label: &str,
    now: i64,
) -> Result<Created, TokenError> {
    use lastmile_shared::text::{Lines, PlainText};
    let label =
        PlainText::parse(label, Lines::One, LABEL_CHARS_MAX).map_err(TokenError::BadLabel)?;
    let secret = random_secret();
    storage.transaction(|tx| {
        let user = table::user_by_name(tx.sql(), username)?
            .ok_or_else(|| PeopleError::UnknownUser(username.to_owned()))?;
        if user.disabled_at.is_some() {
            return Err(PeopleError::Disabled.into());
        }
        let id = i64::try_from(tx.next_counter("api_tokens")?)
            .map_err(|e| StorageError::corrupt("counters.api_tokens", e))?;
        table::insert_token(
            tx.sql(),
            &TokenRow {
                id,
                user_id: user.id,
                label: label.as_str().to_owned(),
                secret_hash: secret_hash(&secret),
                created_at: now,
                created_by: actor.label(),
                last_used_at: None,
                revoked_at: None,
            },
        )?;
        audit::record(
            tx,
            actor,
            "token.created",
            &format!("token:{id}"),
            serde_json::json!({ "user": username, "label": label.as_str() }),
            now,
        )?;
        Ok(Created {
            id,
            token: format!("{PREFIX}{id}_{secret}"),
        })
    })
}

/// The caller a presented token acts for, if it is live and its user is
/// not disabled.
pub fn authenticate(storage: &Storage, presented: &str, now: i64) -> Result<Caller, TokenError> {
    let (id, secret) = presented
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(id, secret)| Some((id.parse::<i64>().ok()?, secret)))
        .ok_or(TokenError::Invalid)?;
    storage.transaction(|tx| {
        let token = table::token_by_id(tx.sql(), id)?.ok_or(TokenError::Invalid)?;
        if token.revoked_at.is_some()
            || !same_secret(token.secret_hash.as_bytes(), secret_hash(secret).as_bytes())
        {
            return Err(TokenError::Invalid);
        }
        let user = table::user_by_id(tx.sql(), token.user_id)?
            .ok_or_else(|| StorageError::corrupt("api_tokens.user_id", token.user_id))?;
        if user.disabled_at.is_some() {
            return Err(TokenError::Invalid);
        }
        if token
            .last_used_at
            .is_none_or(|at| now - at >= TOUCH_SECONDS)
        {
            table::touch_token(tx.sql(), id, now)?;
        }
        Ok(Caller::from_row(&user)?)
    })
}

/// A user's tokens (never their secrets), one page.
pub fn list(storage: &Storage, user_id: i64, page: Page) -> Result<Vec<TokenRow>, StorageError> {
    storage.transaction(|tx| table::tokens_of(tx.sql(), user_id, page))
}

/// Revokes a token. With `only_of` set, only a token of that user (a
/// person revoking their own; an admin or the server's shell passes `None`).
pub fn revoke(
    storage: &Storage,
    actor: &Actor,
    id: i64,
    only_of: Option<i64>,
    now: i64,
) -> Result<(), TokenError> {
    storage.transaction(|tx| {
        let token = table::token_by_id(tx.sql(), id)?.ok_or(TokenError::Unknown(id))?;
        if only_of.is_some_and(|user| user != token.user_id) {
            return Err(TokenError::Unknown(id));
        }
        if table::revoke_token(tx.sql(), id, now)? {
            audit::record(
                tx,
                actor,
                "token.revoked",
                &format!("token:{id}"),
                serde_json::json!({}),
                now,
            )?;
        }
        Ok(())
    })
}
