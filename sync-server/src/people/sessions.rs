//! Browser sessions: a random secret in a `Secure`, `HttpOnly`,
//! `SameSite=Strict` cookie, stored only as its SHA-256; a CSRF token per
//! session that every form carries; idle and absolute expiry; logout.

use crate::audit;
use crate::storage::Storage;
use crate::storage::people as table;

use super::{Caller, PeopleError, random_secret, same_secret, secret_hash};

/// A session unused for this long ends, in seconds.
pub const IDLE_SECONDS: i64 = 30 * 60;
/// A session ends this long after login whatever happens, in seconds.
pub const ABSOLUTE_SECONDS: i64 = 12 * 3600;
/// How stale `last_seen_at` may get before a request refreshes it, in
/// seconds (a page view does not write on every request).
const TOUCH_SECONDS: i64 = 60;
/// The cookie's name.
pub const COOKIE: &str = "lastmile_session";

/// A session just opened: the cookie's secret and the CSRF token.
#[derive(Debug, Clone)]
pub struct Opened {
    pub secret: String,
    pub csrf: String,
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl Session {
    /// Whether a form's CSRF token is this session's.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        same_secret(self.csrf.as_bytes(), presented.as_bytes())
    }
}

/// Opens a session for someone who just authenticated.
pub fn open(storage: &Storage, caller: &Caller, now: i64) -> Result<Opened, PeopleError> {
    let opened = Opened {
        secret: random_secret(),
        csrf: random_secret(),
    };
    storage.transaction(|tx| {
        table::insert_session(
            tx.sql(),
            &secret_hash(&opened.secret),
            caller.id,
            &opened.csrf,
            now,
        )
    })?;
    Ok(opened)
}

/// The live session a cookie's secret names, if any: not ended, not idle
/// past [`IDLE_SECONDS`], not older than [`ABSOLUTE_SECONDS`], and its user
/// not disabled.
pub fn find(storage: &Storage, secret: &str, now: i64) -> Result<Option<Session>, PeopleError> {
    let id_hash = secret_hash(secret);
    storage.transaction(|tx| {
        let Some(row) = table::session(tx.sql(), &id_hash)? else {
            return Ok(None);
        };
        let expired =
            now - row.last_seen_at > IDLE_SECONDS || now - row.created_at > ABSOLUTE_SECONDS;
        if row.ended_at.is_some() || row.user.disabled_at.is_some() {
            return Ok(None);
        }
        if expired {
            table::end_session(tx.sql(), &id_hash, now)?;
            return Ok(None);
        }
        if now - row.last_seen_at >= TOUCH_SECONDS {
            table::touch_session(tx.sql(), &id_hash, now)?;
        }
        Ok(Some(Session {
            caller: Caller::from_row(&row.user)?,
            csrf: row.csrf,
        }))
    })
}

/// Ends a session (logout).
pub fn close(
    storage: &Storage,
    caller: &Caller,
    secret: &str,
    now: i64,
) -> Result<(), PeopleError> {
    storage.transaction(|tx| {
        if table::end_session(tx.sql(), &secret_hash(secret), now)? {
            audit::record(
                tx,
                &caller.actor(),
                "logout",
                &format!("user:{}", caller.username),
                serde_json::json!({}),
                now,
            )?;
        }
        Ok(())
    })
}
