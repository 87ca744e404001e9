//! HQ people: users with Argon2id passwords and a role, lockout after
//! repeated failed logins, browser [`sessions`] and API [`tokens`].
//!
//! Every change here appends to the audit trail in its own transaction;
//! a failed login is audited too, naming the username tried.

pub mod roles;
pub mod sessions;
pub mod tokens;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use lastmile_shared::text::{Lines, PlainText};
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::storage::people::{self as table, UserRow};
use crate::storage::sql::Page;
use crate::storage::{Storage, StorageError, Tx};

pub use roles::{Permission, Role};

/// Shortest password accepted, in characters.
pub const PASSWORD_CHARS_MIN: usize = 12;
/// Longest password accepted, in bytes (Argon2 hashes it whole).
pub const PASSWORD_BYTES_MAX: usize = 256;
/// Failed logins in a row that lock an account.
pub const LOGIN_FAILURES_MAX: i64 = 5;
/// How long a locked account stays locked, in seconds.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// Longest display name, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 80;
/// Longest username, in characters.
pub const USERNAME_CHARS_MAX: usize = 32;

/// The language a person reads the console in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::En),
            "fr" => Some(Self::Fr),
            _ => None,
        }
    }
}

/// The person behind a request, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub language: Language,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id,
            username: self.username.clone(),
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    fn from_row(row: &UserRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: row.id,
            username: row.username.clone(),
            display_name: row.display_name.clone(),
            role: Role::parse(&row.role)
                .ok_or_else(|| StorageError::corrupt("users.role", &row.role))?,
            language: Language::parse(&row.language)
                .ok_or_else(|| StorageError::corrupt("users.language", &row.language))?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error(
        "a username is 3 to {USERNAME_CHARS_MAX} characters: lower-case letters, digits, '.', '-' \
         or '_', starting with a letter"
    )]
    BadUsername,
    #[error("the username {0:?} is taken")]
    UsernameTaken(String),
    #[error("the display name is not usable: {0}")]
    BadDisplayName(lastmile_shared::text::TextError),
    #[error(
        "a password is at least {PASSWORD_CHARS_MIN} characters and at most {PASSWORD_BYTES_MAX} bytes"
    )]
    WeakPassword,
    #[error("there is no user {0:?}")]
    UnknownUser(String),
    #[error("the username or the password is wrong")]
    WrongCredentials,
    #[error("too many failed logins: the account is locked for {minutes} more minutes")]
    Locked { minutes: i64 },
    #[error("this account is disabled")]
    Disabled,
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl PeopleError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadUsername => "bad_username",
            Self::UsernameTaken(_) => "username_taken",
            Self::BadDisplayName(_) => "bad_display_name",
            Self::WeakPassword => "weak_password",
            Self::UnknownUser(_) => "unknown_user",
            Self::WrongCredentials => "wrong_credentials",
            Self::Locked { .. } => "account_locked",
            Self::Disabled => "account_disabled",
            Self::Hash(_) => "password_hash",
            Self::Storage(_) => "storage_error",
        }
    }
}

/// A user as listed: never the password hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub language: String,
    pub created_at: i64,
    pub created_by: String,
    pub disabled_at: Option<i64>,
    pub locked_until: Option<i64>,
}

impl From<&UserRow> for UserView {
    fn from(row: &UserRow) -> Self {
        Self {
            id: row.id,
            username: row.username.clone(),
            display_name: row.display_name.clone(),
            role: row.role.clone(),
            language: row.language.clone(),
            created_at: row.created_at,
            created_by: row.created_by.clone(),
            disabled_at: row.disabled_at,
            locked_until: row.locked_until,
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub language: Language,
    pub password: &'a str,
}

fn check_username(name: &str) -> Result<(), PeopleError> {
    let ok = (3..=USERNAME_CHARS_MAX).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PeopleError::BadUsername)
    }
}

fn check_password(password: &str) -> Result<(), PeopleError> {
    if password.chars().count() < PASSWORD_CHARS_MIN || password.len() > PASSWORD_BYTES_MAX {
        return Err(PeopleError::WeakPassword);
    }
    Ok(())
}

/// An Argon2id hash (OWASP's parameters, the crate's defaults) in PHC form.
pub fn hash_password(password: &str) -> Result<String, PeopleError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PeopleError::Hash(e.to_string()))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, verified against when the username is
/// unknown so that the answer takes as long as for a known one.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that no user has").unwrap_or_default())
}

/// A user checked and their password hashed, ready to store.
pub(crate) struct Checked {
    username: String,
    display_name: PlainText,
    role: Role,
    language: Language,
    password_hash: String,
}

impl Checked {
    pub(crate) fn new(user: &NewUser<'_>) -> Result<Self, PeopleError> {
        check_username(user.username)?;
        let display_name = PlainText::parse(user.display_name, Lines::One, DISPLAY_NAME_CHARS_MAX)
            .map_err(PeopleError::BadDisplayName)?;
        check_password(user.password)?;
        Ok(Self {
            username: user.username.to_owned(),
            display_name,
            role: user.role,
            language: user.language,
            password_hash: hash_password(user.password)?,
        })
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }
}

/// Creates a user; the first one is always an admin.
pub fn create_user(
    storage: &Storage,
    actor: &Actor,
    user: &NewUser<'_>,
    now: i64,
) -> Result<UserView, PeopleError> {
    let checked = Checked::new(user)?;
    storage.transaction(|tx| insert_in(tx, actor, &checked, false, now))
}

/// Stores a checked user, `held` (disabled from the start, until an
/// approval enables it) or not.
pub(crate) fn insert_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    user: &Checked,
    held: bool,
    now: i64,
) -> Result<UserView, PeopleError> {
    let role = if table::user_count(tx.sql())? == 0 {
        Role::Admin
    } else {
        user.role
    };
    let id = i64::try_from(tx.next_counter("users")?)
        .map_err(|e| StorageError::corrupt("counters.users", e))?;
    let row = UserRow {
        id,
        username: user.username.clone(),
        display_name: user.display_name.as_str().to_owned(),
        role: role.code().to_owned(),
        language: user.language.code().to_owned(),
        password_hash: user.password_hash.clone(),
        created_at: now,
        created_by: actor.label(),
        disabled_at: held.then_some(now),
        failed_logins: 0,
        locked_until: None,
    };
    if !table::insert_user(tx.sql(), &row)? {
        return Err(PeopleError::UsernameTaken(user.username.clone()));
    }
    audit::record(
        tx,
        actor,
        "user.created",
        &format!("user:{}", row.username),
        serde_json::json!({ "role": row.role, "display_name": row.display_name, "held": held }),
        now,
    )?;
    Ok(UserView::from(&row))
}

/// Enables a disabled (or held) user: what an approved
/// `user.activate` proposal does.
pub(crate) fn enable_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    username: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), PeopleError> {
    let row = table::user_by_name(tx.sql(), username)?
        .ok_or_else(|| PeopleError::UnknownUser(username.to_owned()))?;
    table::set_disabled(tx.sql(), row.id, None)?;
    table::set_login_state(tx.sql(), row.id, 0, None)?;
    audit::record(
        tx,
        actor,
        "user.enabled",
        &format!("user:{username}"),
        detail,
        now,
    )?;
    Ok(())
}

/// The person a username names (for work done on their behalf, as the
/// demo does).
pub fn caller(storage: &Storage, username: &str) -> Result<Caller, PeopleError> {
    let row = storage
        .transaction(|tx| table::user_by_name(tx.sql(), username))?
        .ok_or_else(|| PeopleError::UnknownUser(username.to_owned()))?;
    Ok(Caller::from_row(&row)?)
}

/// Every user, by username, one page.
pub fn list_users(storage: &Storage, page: Page) -> Result<Vec<UserView>, StorageError> {
    storage.transaction(|tx| {
        Ok(table::users(tx.sql(), page)?
            .iter()
            .map(UserView::from)
            .collect())
    })
}

/// Checks a username and password, with lockout: after
/// [`LOGIN_FAILURES_MAX`] failures in a row the account refuses every login
/// for [`LOCKOUT_SECONDS`]. Every attempt is audited.
///
/// Only the right password learns that an account is locked or disabled:
/// any wrong one gets [`PeopleError::WrongCredentials`], as an unknown
/// username does, and takes as long, so the answers tell nobody which
/// usernames exist.
pub fn authenticate(
    storage: &Storage,
    username: &str,
    password: &str,
    now: i64,
) -> Result<Caller, PeopleError> {
    let found = storage.transaction(|tx| table::user_by_name(tx.sql(), username))?;
    let Some(row) = found else {
        // As long as for a known user, so the answer tells nothing.
        let _ = password_matches(password, decoy_hash());
        storage.transaction(|tx| {
            audit::record(
                tx,
                &Actor::Anonymous,
                "login.failed",
                // Escaped: the name tried may hold what no database takes (a NUL).
                &format!(
                    "user:{}",
                    username
                        .chars()
                        .take(USERNAME_CHARS_MAX)
                        .flat_map(char::escape_debug)
                        .collect::<String>()
                ),
                serde_json::json!({ "reason": "unknown_user" }),
                now,
            )
        })?;
        return Err(PeopleError::WrongCredentials);
    };
    let caller = Caller::from_row(&row)?;
    let object = format!("user:{}", row.username);
    let matches = password_matches(password, &row.password_hash);
    // The refusal of a wrong password is the transaction's `Ok` value, not
    // its `Err`: an `Err` would roll back the failure count (so no account
    // would ever lock) and its audit entry.
    storage.transaction(|tx| -> Result<Result<Caller, PeopleError>, PeopleError> {
        // Read again under the transaction: while the password was hashed,
        // other attempts may have locked the account, or an admin disabled it.
        let current = table::user_by_name(tx.sql(), username)?
            .ok_or_else(|| PeopleError::UnknownUser(username.to_owned()))?;
        let refusal = if current.disabled_at.is_some() {
            Some(PeopleError::Disabled)
        } else {
            current
                .locked_until
                .filter(|until| *until > now)
                .map(|until| PeopleError::Locked {
                    minutes: (until - now + 59) / 60,
                })
        };
        if let Some(refusal) = refusal {
            // Neither counted nor lengthened: the account is shut already.
            audit::record(
                tx,
                &Actor::Anonymous,
                "login.refused",
                &object,
                serde_json::json!({ "reason": refusal.code(), "password_right": matches }),
                now,
            )?;
            return Ok(Err(if matches {
                refusal
            } else {
                PeopleError::WrongCredentials
            }));
        }
        if matches {
            table::set_login_state(tx.sql(), current.id, 0, None)?;
            audit::record(tx, &caller.actor(), "login.succeeded", &object, serde_json::json!({}), now)?;
            return Ok(Ok(caller.clone()));
        }
        // Counted by the database (which holds the row until commit), so
        // concurrent failures all count.
        let failures = table::count_failed_login(tx.sql(), current.id)?;
        let locked_until = (failures >= LOGIN_FAILURES_MAX).then_some(now + LOCKOUT_SECONDS);
        if locked_until.is_some() {
            table::set_login_state(tx.sql(), current.id, 0, locked_until)?;
        }
        audit::record(
            tx,
            &Actor::Anonymous,
            "login.failed",
            &object,
            serde_json::json!({ "reason": "wrong_password", "failures": failures, "locked": locked_until.is_some() }),
            now,
        )?;
        Ok(Err(PeopleError::WrongCredentials))
    })?
}

/// Disables a user: their sessions end and their tokens are revoked.
pub fn disable_user(
    storage: &Storage,
    actor: &Actor,
    username: &str,
    now: i64,
) -> Result<(), PeopleError> {
    storage.transaction(|tx| {
        let row = table::user_by_name(tx.sql(), username)?
            .ok_or_else(|| PeopleError::UnknownUser(username.to_owned()))?;
        table::set_disabled(tx.sql(), row.id, Some(now))?;
        let sessions = table::end_sessions_of(tx.sql(), row.id, now)?;
        let tokens = table::revoke_tokens_of(tx.sql(), row.id, now)?;
        audit::record(
            tx,
            actor,
            "user.disabled",
            &format!("user:{username}"),
            serde_json::json!({ "sessions_ended": sessions, "tokens_revoked": tokens }),
            now,
        )?;
        Ok(())
    })
}

/// Sets a new password (and lifts a lockout); every session of the user
/// ends and every API token of theirs is revoked.
pub fn set_password(
    storage: &Storage,
    actor: &Actor,
    username: &str,
    password: &str,
    now: i64,
) -> Result<(), PeopleError> {
    check_password(password)?;
    let hash = hash_password(password)?;
    storage.transaction(|tx| {
        let row = table::user_by_name(tx.sql(), username)?
            .ok_or_else(|| PeopleError::UnknownUser(username.to_owned()))?;
        table::set_password(tx.sql(), row.id, &hash)?;
        // A new password is often the answer to a stolen one: whatever was
        // signed in or minted with the old one stops working.
        let sessions = table::end_sessions_of(tx.sql(), row.id, now)?;
        let tokens = table::revoke_tokens_of(tx.sql(), row.id, now)?;
        audit::record(
            tx,
            actor,
            "user.password_set",
            &format!("user:{username}"),
            serde_json::json!({ "sessions_ended": sessions, "tokens_revoked": tokens }),
            now,
        )?;
        Ok(())
    })
}

/// A random secret of 32 bytes, URL-safe base64 without padding.
pub(crate) fn random_secret() -> String {
    use argon2::password_hash::rand_core::RngCore;
    use base64::Engine;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret, hex: what is stored instead of it.
pub(crate) fn secret_hash(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Compares in time independent of where the first difference is.
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain() {
        assert!(check_username("amina.k").is_ok());
        assert!(check_username("ab").is_err());
        assert!(check_username("9lives").is_err());
        assert!(check_username("Amina").is_err());
        assert!(check_username("a b c").is_err());
    }

    #[test]
    fn a_password_matches_only_itself() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse batterx", &hash));
        assert!(!password_matches("anything", decoy_hash()));
    }
}
