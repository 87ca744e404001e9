//! Users, browser sessions and API tokens, written once for both backends.

use super::StorageError;
use super::sql::{Dialect, Page, Row, Sql};

/// A user as stored (the role and language as their codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub language: String,
    pub password_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub disabled_at: Option<i64>,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
}

/// A session joined with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
}

/// An API token as stored (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The user columns in [`user`]'s order, then `$rest`.
macro_rules! user_select {
    ($rest:literal) => {
        concat!(
            "SELECT u.id, u.username, u.display_name, u.role, u.language, u.password_hash, \
             u.created_at, u.created_by, u.disabled_at, u.failed_logins, u.locked_until",
            $rest
        )
    };
}

fn user(r: &Row, at: usize) -> Result<UserRow, StorageError> {
    Ok(UserRow {
        id: r.int(at)?,
        username: r.text(at + 1)?,
        display_name: r.text(at + 2)?,
        role: r.text(at + 3)?,
        language: r.text(at + 4)?,
        password_hash: r.text(at + 5)?,
        created_at: r.int(at + 6)?,
        created_by: r.text(at + 7)?,
        disabled_at: r.opt_int(at + 8)?,
        failed_logins: r.int(at + 9)?,
        locked_until: r.opt_int(at + 10)?,
    })
}

pub fn insert_user(sql: &mut dyn Sql, row: &UserRow) -> Result<bool, StorageError> {
    let changed = sql.execute(
        "INSERT INTO users (id, username, display_name, role, language, password_hash,
             created_at, created_by, disabled_at, failed_logins, locked_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (username) DO NOTHING",
        &[
            row.id.into(),
            row.username.as_str().into(),
            row.display_name.as_str().into(),
            row.role.as_str().into(),
            row.language.as_str().into(),
            row.password_hash.as_str().into(),
            row.created_at.into(),
            row.created_by.as_str().into(),
            row.disabled_at.into(),
            row.failed_logins.into(),
            row.locked_until.into(),
        ],
    )?;
    Ok(changed == 1)
}

pub fn user_count(sql: &mut dyn Sql) -> Result<i64, StorageError> {
    sql.query_one("users", "SELECT count(*) FROM users", &[])?
        .int(0)
}

pub fn user_by_name(sql: &mut dyn Sql, username: &str) -> Result<Option<UserRow>, StorageError> {
    // PostgreSQL text cannot hold a NUL (it refuses the parameter), SQLite
    // would look it up: no user has one, so both answer none.
    if username.contains('\0') {
        return Ok(None);
    }
    const SQL: &str = user_select!(" FROM users u WHERE u.username = $1");
    sql.query_opt("users", SQL, &[username.into()])?
        .map(|r| user(&r, 0))
        .transpose()
}

pub fn user_by_id(sql: &mut dyn Sql, id: i64) -> Result<Option<UserRow>, StorageError> {
    const SQL: &str = user_select!(" FROM users u WHERE u.id = $1");
    sql.query_opt("users", SQL, &[id.into()])?
        .map(|r| user(&r, 0))
        .transpose()
}

pub fn users(sql: &mut dyn Sql, page: Page) -> Result<Vec<UserRow>, StorageError> {
    // By username in byte order on both: SQLite's default; PostgreSQL's
    // default is the database's collation, which under a linguistic locale
    // (en_US.UTF-8) sorts `_`, `-` and `.` otherwise.
    const SQLITE: &str = user_select!(" FROM users u ORDER BY u.username LIMIT $1 OFFSET $2");
    const POSTGRES: &str =
        user_select!(" FROM users u ORDER BY u.username COLLATE \"C\" LIMIT $1 OFFSET $2");
    let query = match sql.dialect() {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    };
    sql.query("users", query, &page.params())?
        .iter()
        .map(|r| user(r, 0))
        .collect()
}

/// Records a login attempt's outcome: failures counted (and a lock set),
/// a success clears both.
pub fn set_login_state(
    sql: &mut dyn Sql,
    id: i64,
    failed_logins: i64,
    locked_until: Option<i64>,
) -> Result<(), StorageError> {
    sql.execute(
        "UPDATE users SET failed_logins = $2, locked_until = $3 WHERE id = $1",
        &[id.into(), failed_logins.into(), locked_until.into()],
    )?;
    Ok(())
}

/// Counts one more failed login; returns the count.
pub fn count_failed_login(sql: &mut dyn Sql, id: i64) -> Result<i64, StorageError> {
    sql.query_one(
        "users",
        "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
        &[id.into()],
    )?
    .int(0)
}

pub fn set_password(sql: &mut dyn Sql, id: i64, password_hash: &str) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1",
        &[id.into(), password_hash.into()],
    )? == 1)
}

pub fn set_disabled(sql: &mut dyn Sql, id: i64, at: Option<i64>) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE users SET disabled_at = $2 WHERE id = $1",
        &[id.into(), at.into()],
    )? == 1)
}

pub fn insert_session(
    sql: &mut dyn Sql,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    now: i64,
) -> Result<(), StorageError> {
    sql.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $4)",
        &[id_hash.into(), user_id.into(), csrf.into(), now.into()],
    )?;
    Ok(())
}

pub fn session(sql: &mut dyn Sql, id_hash: &str) -> Result<Option<SessionRow>, StorageError> {
    const SQL: &str = user_select!(
        ", s.csrf, s.created_at, s.last_seen_at, s.ended_at \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1"
    );
    sql.query_opt("sessions", SQL, &[id_hash.into()])?
        .map(|r| {
            Ok(SessionRow {
                user: user(&r, 0)?,
                csrf: r.text(11)?,
                created_at: r.int(12)?,
                last_seen_at: r.int(13)?,
                ended_at: r.opt_int(14)?,
            })
        })
        .transpose()
}

pub fn touch_session(sql: &mut dyn Sql, id_hash: &str, now: i64) -> Result<(), StorageError> {
    sql.execute(
        "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1",
        &[id_hash.into(), now.into()],
    )?;
    Ok(())
}

pub fn end_session(sql: &mut dyn Sql, id_hash: &str, now: i64) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL",
        &[id_hash.into(), now.into()],
    )? == 1)
}

/// Ends every open session of a user (disabled, or password changed).
pub fn end_sessions_of(sql: &mut dyn Sql, user_id: i64, now: i64) -> Result<u64, StorageError> {
    sql.execute(
        "UPDATE sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
        &[user_id.into(), now.into()],
    )
}

fn token(r: &Row) -> Result<TokenRow, StorageError> {
    Ok(TokenRow {
        id: r.int(0)?,
        user_id: r.int(1)?,
        label: r.text(2)?,
        secret_hash: r.text(3)?,
        created_at: r.int(4)?,
        created_by: r.text(5)?,
        last_used_at: r.opt_int(6)?,
        revoked_at: r.opt_int(7)?,
    })
}

pub fn insert_token(sql: &mut dyn Sql, row: &TokenRow) -> Result<(), StorageError> {
    sql.execute(
        "INSERT INTO api_tokens (id, user_id, label, secret_hash, created_at, created_by,
             last_used_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            row.id.into(),
            row.user_id.into(),
            row.label.as_str().into(),
            row.secret_hash.as_str().into(),
            row.created_at.into(),
            row.created_by.as_str().into(),
            row.last_used_at.into(),
            row.revoked_at.into(),
        ],
    )?;
    Ok(())
}

pub fn token_by_id(sql: &mut dyn Sql, id: i64) -> Result<Option<TokenRow>, StorageError> {
    const SQL: &str = "SELECT id, user_id, label, secret_hash, created_at, created_by, \
         last_used_at, revoked_at FROM api_tokens WHERE id = $1";
    sql.query_opt("api_tokens", SQL, &[id.into()])?
        .map(|r| token(&r))
        .transpose()
}

pub fn tokens_of(
    sql: &mut dyn Sql,
    user_id: i64,
    page: Page,
) -> Result<Vec<TokenRow>, StorageError> {
    const SQL: &str = "SELECT id, user_id, label, secret_hash, created_at, created_by, \
         last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id LIMIT $2 OFFSET $3";
    let [limit, offset] = page.params();
    sql.query("api_tokens", SQL, &[user_id.into(), limit, offset])?
        .iter()
        .map(token)
        .collect()
}

pub fn touch_token(sql: &mut dyn Sql, id: i64, now: i64) -> Result<(), StorageError> {
    sql.execute(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
        &[id.into(), now.into()],
    )?;
    Ok(())
}

pub fn revoke_token(sql: &mut dyn Sql, id: i64, now: i64) -> Result<bool, StorageError> {
    Ok(sql.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[id.into(), now.into()],
    )? == 1)
}

/// Revokes every live token of a user (when the user is disabled).
pub fn revoke_tokens_of(sql: &mut dyn Sql, user_id: i64, now: i64) -> Result<u64, StorageError> {
    sql.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        &[user_id.into(), now.into()],
    )
}
