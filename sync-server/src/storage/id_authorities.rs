//! ID authorities' keys (`src/id_authorities.rs` holds the rules), written
//! once for both backends.

use super::StorageError;
use super::sql::{Page, Row, Sql};

type Res<T> = Result<T, StorageError>;

/// An ID authority's key as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdAuthorityRow {
    pub kid: String,
    pub name: String,
    /// `Ed25519` or `ES256`.
    pub algorithm: String,
    /// Hexadecimal.
    pub public_key: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    /// `proposed`, `active`, `retired` or `rejected`.
    pub state: String,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    pub retired_by: Option<String>,
    pub retired_at: Option<i64>,
}

fn row(r: &Row) -> Res<IdAuthorityRow> {
    Ok(IdAuthorityRow {
        kid: r.text(0)?,
        name: r.text(1)?,
        algorithm: r.text(2)?,
        public_key: r.text(3)?,
        valid_from: r.int(4)?,
        valid_until: r.opt_int(5)?,
        state: r.text(6)?,
        proposed_by: r.text(7)?,
        proposed_at: r.int(8)?,
        approved_by: r.opt_text(9)?,
        approved_at: r.opt_int(10)?,
        retired_by: r.opt_text(11)?,
        retired_at: r.opt_int(12)?,
    })
}

/// A proposed key to store.
pub struct NewIdAuthority<'a> {
    pub kid: &'a str,
    pub name: &'a str,
    pub algorithm: &'a str,
    pub public_key: &'a str,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub proposed_by: &'a str,
    pub proposed_at: i64,
}

/// Stores a proposed key; `false` when the key id is taken (by a key that
/// is proposed, active or retired; a rejected one is replaced).
pub fn insert(sql: &mut dyn Sql, a: &NewIdAuthority<'_>) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO id_authorities (kid, name, algorithm, public_key, valid_from, valid_until,
             state, proposed_by, proposed_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'proposed', $7, $8)
         ON CONFLICT (kid) DO UPDATE SET name = excluded.name, algorithm = excluded.algorithm,
             public_key = excluded.public_key, valid_from = excluded.valid_from,
             valid_until = excluded.valid_until, state = 'proposed',
             proposed_by = excluded.proposed_by, proposed_at = excluded.proposed_at,
             approved_by = NULL, approved_at = NULL
         WHERE id_authorities.state = 'rejected'",
        &[
            a.kid.into(),
            a.name.into(),
            a.algorithm.into(),
            a.public_key.into(),
            a.valid_from.into(),
            a.valid_until.into(),
            a.proposed_by.into(),
            a.proposed_at.into(),
        ],
    )? == 1)
}

const COLUMNS: &str = "SELECT kid, name, algorithm, public_key, valid_from, valid_until, state, \
     proposed_by, proposed_at, approved_by, approved_at, retired_by, retired_at FROM id_authorities";

pub fn get(sql: &mut dyn Sql, kid: &str) -> Res<Option<IdAuthorityRow>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let query = SQL.get_or_init(|| format!("{COLUMNS} WHERE kid = $1"));
    sql.query_opt("id_authorities", query, &[kid.into()])?
        .map(|r| row(&r))
        .transpose()
}

/// Every key, optionally only in one state, by key id.
pub fn list(sql: &mut dyn Sql, state: Option<&str>, page: Page) -> Res<Vec<IdAuthorityRow>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "{COLUMNS} WHERE CAST($1 AS TEXT) IS NULL OR state = $1 \
             ORDER BY kid LIMIT $2 OFFSET $3"
        )
    });
    let [limit, offset] = page.params();
    sql.query("id_authorities", query, &[state.into(), limit, offset])?
        .iter()
        .map(row)
        .collect()
}

/// The active keys whose validity has not ended at `now`, by key id, at
/// most `max`.
pub fn usable(sql: &mut dyn Sql, now: i64, max: usize) -> Res<Vec<IdAuthorityRow>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!(
            "{COLUMNS} WHERE state = 'active' AND (valid_until IS NULL OR valid_until > $1) \
             ORDER BY kid LIMIT $2"
        )
    });
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    sql.query("id_authorities", query, &[now.into(), max.into()])?
        .iter()
        .map(row)
        .collect()
}

/// The retired keys, newest retirement first, at most `max`.
pub fn retired(sql: &mut dyn Sql, max: usize) -> Res<Vec<IdAuthorityRow>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let query = SQL.get_or_init(|| {
        format!("{COLUMNS} WHERE state = 'retired' ORDER BY retired_at DESC, kid LIMIT $1")
    });
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    sql.query("id_authorities", query, &[max.into()])?
        .iter()
        .map(row)
        .collect()
}

/// How many keys are in `state`.
pub fn count(sql: &mut dyn Sql, state: &str) -> Res<i64> {
    sql.query_one(
        "id_authorities",
        "SELECT count(*) FROM id_authorities WHERE state = $1",
        &[state.into()],
    )?
    .int(0)
}

/// A proposed key becomes active; `false` if it was not proposed.
pub fn activate(sql: &mut dyn Sql, kid: &str, approved_by: &str, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE id_authorities SET state = 'active', approved_by = $2, approved_at = $3
         WHERE kid = $1 AND state = 'proposed'",
        &[kid.into(), approved_by.into(), now.into()],
    )? == 1)
}

/// A proposed key's proposal was rejected; `false` if it was not proposed.
pub fn reject(sql: &mut dyn Sql, kid: &str) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE id_authorities SET state = 'rejected' WHERE kid = $1 AND state = 'proposed'",
        &[kid.into()],
    )? == 1)
}

/// An active key is retired; `false` if it was not active.
pub fn retire(sql: &mut dyn Sql, kid: &str, retired_by: &str, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE id_authorities SET state = 'retired', retired_by = $2, retired_at = $3
         WHERE kid = $1 AND state = 'active'",
        &[kid.into(), retired_by.into(), now.into()],
    )? == 1)
}
