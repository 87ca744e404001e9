//! SQL written once for both backends.
//!
//! A query is one `&'static str` in the subset both SQLite and PostgreSQL
//! speak (`INSERT … ON CONFLICT`, `RETURNING`, `coalesce`, `LIMIT $n`), with
//! PostgreSQL's numbered placeholders `$1 … $n`; [`Sql`] runs it on either
//! backend (SQLite's placeholders are rewritten to `?n`, which SQLite binds
//! by number too). Parameters and results are owned [`Value`]s, so every
//! row is mapped to a domain type by one function ([`Row`]'s getters), not
//! once per driver. The few places where the dialects differ (row locks) ask
//! [`Sql::dialect`].
//!
//! Architecture invariant: the modules of `storage/` that sit on this layer
//! have no backend-specific code besides a `dialect()` test where the
//! databases differ (row locks, a collation, `SKIP LOCKED`, the plan cache of a long import).
//! Bulk statements that only one dialect can write well live in the backends
//! as `Tx` methods whose default is the written-once SQL here: the sync
//! ingest's locks and totals, a roster's publication, and the beneficiary
//! import's insert and lookups per chunk (PostgreSQL binds each column as
//! one array to `unnest` / `= ANY`, where a multi-row `VALUES` of 4 608
//! parameters or an `IN` of 256 is planned again for every chunk).

use super::StorageError;

/// Which SQL a backend speaks, where it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Self::Bytes(v.to_vec())
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// One result row; each getter says which column was not what it expected.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
    /// The table or query, for the corruption error.
    source: &'static str,
}

impl Row {
    pub fn new(values: Vec<Value>, source: &'static str) -> Self {
        Self { values, source }
    }

    fn get(&self, index: usize) -> Result<&Value, StorageError> {
        self.values
            .get(index)
            .ok_or_else(|| StorageError::corrupt(self.source, format!("no column {index}")))
    }

    fn wrong(&self, index: usize, expected: &str) -> StorageError {
        StorageError::corrupt(
            self.source,
            format!(
                "column {index} is {:?}, not {expected}",
                self.values.get(index)
            ),
        )
    }

    pub fn int(&self, index: usize) -> Result<i64, StorageError> {
        match self.get(index)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.wrong(index, "an integer")),
        }
    }

    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, StorageError> {
        match self.get(index)? {
            Value::Null => Ok(None),
            _ => self.int(index).map(Some),
        }
    }

    pub fn text(&self, index: usize) -> Result<String, StorageError> {
        match self.get(index)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(self.wrong(index, "text")),
        }
    }

    pub fn opt_text(&self, index: usize) -> Result<Option<String>, StorageError> {
        match self.get(index)? {
            Value::Null => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    pub fn bytes(&self, index: usize) -> Result<Vec<u8>, StorageError> {
        match self.get(index)? {
            Value::Bytes(v) => Ok(v.clone()),
            _ => Err(self.wrong(index, "bytes")),
        }
    }

    /// A 32-byte column (a hash or a key).
    pub fn bytes32(&self, index: usize) -> Result<[u8; 32], StorageError> {
        let bytes = self.bytes(index)?;
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| self.wrong(index, "32 bytes"))
    }

    pub fn opt_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, StorageError> {
        match self.get(index)? {
            Value::Null => Ok(None),
            _ => self.bytes(index).map(Some),
        }
    }

    pub fn flag(&self, index: usize) -> Result<bool, StorageError> {
        Ok(self.int(index)? != 0)
    }
}

/// Runs SQL written once on the backend of the transaction it belongs to.
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &'static str, params: &[Value]) -> Result<u64, StorageError>;
    /// Runs a query; `source` names it in a corruption error.
    fn query(
        &mut self,
        source: &'static str,
        sql: &'static str,
        params: &[Value],
    ) -> Result<Vec<Row>, StorageError>;

    /// The first row, if any.
    fn query_opt(
        &mut self,
        source: &'static str,
        sql: &'static str,
        params: &[Value],
    ) -> Result<Option<Row>, StorageError> {
        Ok(self.query(source, sql, params)?.into_iter().next())
    }

    /// Exactly one row.
    fn query_one(
        &mut self,
        source: &'static str,
        sql: &'static str,
        params: &[Value],
    ) -> Result<Row, StorageError> {
        self.query_opt(source, sql, params)?
            .ok_or_else(|| StorageError::corrupt(source, "the query returned no row"))
    }
}

/// `head` then `rows` groups of `columns` numbered placeholders, from `$1`:
/// `values_list("INSERT INTO t (a, b) VALUES ", 2, 2)` is
/// `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)`. For a statement that
/// writes many rows at once; its call site builds it once (a `OnceLock`),
/// so it stays one `&'static str` like every other query.
pub fn values_list(head: &str, columns: usize, rows: usize) -> String {
    let mut out = String::from(head);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", row * columns + column + 1));
        }
        out.push(')');
    }
    out
}

/// `count` numbered placeholders from `$first`, comma-separated: the list
/// of an `IN (…)` of a fixed size (unused places are bound to NULL, which
/// matches nothing).
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For the rest of the transaction, on PostgreSQL: plan each statement for
/// its own parameters. A generic plan made while a table was small (or
/// while the transaction's own rows had no statistics) keeps scanning it
/// whole for look-ups an index serves. SQLite has no plan cache to steer.
pub fn plan_for_parameters(sql: &mut dyn Sql) -> Result<(), StorageError> {
    if sql.dialect() == Dialect::Postgres {
        sql.execute("SET LOCAL plan_cache_mode = force_custom_plan", &[])?;
    }
    Ok(())
}

/// PostgreSQL's `$n` placeholders as SQLite's `?n`, outside string literals.
pub fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '$' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('?'),
            _ => out.push(c),
        }
    }
    out
}

/// A page of a list: at most `limit` rows (capped at [`PAGE_ROWS_MAX`]) after
/// skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

/// Most rows one page of any list returns.
pub const PAGE_ROWS_MAX: u32 = 500;
/// Rows in a page when the caller does not say.
pub const PAGE_ROWS_DEFAULT: u32 = 50;

impl Page {
    pub fn new(limit: Option<u32>, offset: Option<u64>) -> Self {
        Self {
            limit: limit.unwrap_or(PAGE_ROWS_DEFAULT).clamp(1, PAGE_ROWS_MAX),
            offset: offset.unwrap_or(0),
        }
    }

    pub fn first(limit: u32) -> Self {
        Self::new(Some(limit), None)
    }

    /// This page of a list already in memory (the lists storage does not
    /// page itself yet).
    pub fn slice<T>(self, items: Vec<T>) -> Vec<T> {
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        items
            .into_iter()
            .skip(skip)
            .take(self.limit as usize)
            .collect()
    }

    /// `LIMIT` and `OFFSET` as parameters.
    pub fn params(self) -> [Value; 2] {
        [
            Value::Int(i64::from(self.limit)),
            Value::Int(i64::try_from(self.offset).unwrap_or(i64::MAX)),
        ]
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::new(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_lists_number_every_place_once() {
        assert_eq!(
            values_list("INSERT INTO t (a, b) VALUES ", 2, 3),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
    }

    #[test]
    fn placeholders_are_renumbered_outside_literals_only() {
        assert_eq!(
            sqlite_placeholders("SELECT a FROM t WHERE b = $2 AND c = '$1' AND d = $10"),
            "SELECT a FROM t WHERE b = ?2 AND c = '$1' AND d = ?10"
        );
        assert_eq!(sqlite_placeholders("SELECT '$' || $1"), "SELECT '$' || ?1");
    }

    #[test]
    fn a_page_is_always_bounded() {
        assert_eq!(Page::new(Some(0), None).limit, 1);
        assert_eq!(Page::new(Some(1_000_000), None).limit, PAGE_ROWS_MAX);
        assert_eq!(Page::new(None, Some(7)).offset, 7);
    }

    #[test]
    fn a_getter_names_the_column_it_did_not_find() {
        let row = Row::new(vec![Value::Int(3), Value::Null], "users");
        assert_eq!(row.int(0).unwrap(), 3);
        assert_eq!(row.opt_text(1).unwrap(), None);
        let error = row.text(0).unwrap_err().to_string();
        assert!(
            error.contains("users") && error.contains("column 0"),
            "{error}"
        );
        assert!(row.int(5).is_err());
    }
}
