//! The audit table, written once for both backends.

use super::StorageError;
use super::sql::{Page, Row, Sql, Value};

/// One stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    /// JSON text.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// What to list: every field optional; `object` matches exactly.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub object: Option<String>,
}

fn row(r: &Row) -> Result<AuditRow, StorageError> {
    Ok(AuditRow {
        seq: u64::try_from(r.int(0)?).map_err(|e| StorageError::corrupt("audit.seq", e))?,
        at: r.int(1)?,
        actor: r.text(2)?,
        action: r.text(3)?,
        object: r.text(4)?,
        detail: r.text(5)?,
        prev_hash: r.text(6)?,
        hash: r.text(7)?,
    })
}

pub fn insert(sql: &mut dyn Sql, entry: &AuditRow) -> Result<(), StorageError> {
    sql.execute(
        "INSERT INTO audit (seq, at, actor, action, object, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            Value::Int(
                i64::try_from(entry.seq).map_err(|e| StorageError::corrupt("audit.seq", e))?,
            ),
            entry.at.into(),
            entry.actor.as_str().into(),
            entry.action.as_str().into(),
            entry.object.as_str().into(),
            entry.detail.as_str().into(),
            entry.prev_hash.as_str().into(),
            entry.hash.as_str().into(),
        ],
    )?;
    Ok(())
}

/// The hash of entry `seq`, if it exists.
pub fn hash_of(sql: &mut dyn Sql, seq: u64) -> Result<Option<String>, StorageError> {
    let seq = i64::try_from(seq).map_err(|e| StorageError::corrupt("audit.seq", e))?;
    sql.query_opt(
        "audit",
        "SELECT hash FROM audit WHERE seq = $1",
        &[seq.into()],
    )?
    .map(|r| r.text(0))
    .transpose()
}

/// Entries from `after` (exclusive), in order, at most `limit`.
pub fn from(sql: &mut dyn Sql, after: u64, limit: u32) -> Result<Vec<AuditRow>, StorageError> {
    const SQL: &str = "SELECT seq, at, actor, action, object, detail, prev_hash, hash
         FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2";
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    sql.query("audit", SQL, &[after.into(), i64::from(limit).into()])?
        .iter()
        .map(row)
        .collect()
}

/// The newest entries first, filtered, one page.
pub fn list(
    sql: &mut dyn Sql,
    filter: &AuditFilter,
    page: Page,
) -> Result<Vec<AuditRow>, StorageError> {
    // An absent filter is NULL, and `$n IS NULL OR column = $n` lets one
    // statement (and one prepared plan) serve every combination.
    const SQL: &str = "SELECT seq, at, actor, action, object, detail, prev_hash, hash FROM audit
         WHERE (CAST($1 AS TEXT) IS NULL OR actor = $1)
           AND (CAST($2 AS TEXT) IS NULL OR action = $2)
           AND (CAST($3 AS TEXT) IS NULL OR object = $3)
         ORDER BY seq DESC LIMIT $4 OFFSET $5";
    // PostgreSQL text cannot hold a NUL (it refuses the parameter), SQLite
    // would compare it: no entry has one, so both list nothing.
    let fields = [&filter.actor, &filter.action, &filter.object];
    if fields
        .iter()
        .any(|f| f.as_deref().is_some_and(|f| f.contains('\0')))
    {
        return Ok(Vec::new());
    }
    let [limit, offset] = page.params();
    sql.query(
        "audit",
        SQL,
        &[
            filter.actor.clone().into(),
            filter.action.clone().into(),
            filter.object.clone().into(),
            limit,
            offset,
        ],
    )?
    .iter()
    .map(row)
    .collect()
}
