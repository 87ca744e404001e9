//! Counters and the newest root-signed document per kind and scope,
//! written once for both backends.

use super::sql::Sql;
use super::{StorageError, seq_from, seq_to};

type Res<T> = Result<T, StorageError>;

pub fn next_counter(sql: &mut dyn Sql, name: &str) -> Res<u64> {
    let row = sql.query_one(
        "counters",
        "INSERT INTO counters (name, value) VALUES ($1, 1)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        &[name.into()],
    )?;
    seq_from(row.int(0)?)
}

pub fn put_document(
    sql: &mut dyn Sql,
    kind: &str,
    scope: &str,
    version: u64,
    bytes: &[u8],
    now: i64,
) -> Res<()> {
    sql.execute(
        "INSERT INTO documents (kind, scope, version, bytes, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, scope) DO UPDATE
         SET version = excluded.version, bytes = excluded.bytes, created_at = excluded.created_at",
        &[
            kind.into(),
            scope.into(),
            seq_to(version).into(),
            bytes.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

pub fn document(sql: &mut dyn Sql, kind: &str, scope: &str) -> Res<Option<(u64, Vec<u8>)>> {
    sql.query_opt(
        "documents",
        "SELECT version, bytes FROM documents WHERE kind = $1 AND scope = $2",
        &[kind.into(), scope.into()],
    )?
    .map(|r| Ok((seq_from(r.int(0)?)?, r.bytes(1)?)))
    .transpose()
}

pub fn documents(sql: &mut dyn Sql, kind: &str) -> Res<Vec<(String, u64, Vec<u8>)>> {
    sql.query(
        "documents",
        "SELECT scope, version, bytes FROM documents WHERE kind = $1 ORDER BY scope",
        &[kind.into()],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, seq_from(r.int(1)?)?, r.bytes(2)?)))
    .collect()
}
