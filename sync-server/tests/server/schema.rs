//! Schema parity: a fresh, migrated database of each backend has the same
//! tables, the same columns, each with the same NOT NULL-ness, type class
//! (integer, text, bytes) and primary-key position, and the same explicit
//! indexes. SQLite from `sqlite_master` and `pragma_table_info`,
//! PostgreSQL from `information_schema` and `pg_catalog` (schema `public`).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::Backend;
use lastmile_server::storage::sql::{Dialect, Sql};
use lastmile_server::storage::{Storage, StorageError};

/// What is compared of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    class: String,
    not_null: bool,
    /// 1-based position in the primary key, 0 if not in it.
    pk: i64,
}

#[derive(Debug, Default)]
struct Schema {
    /// (table, column) → column.
    columns: BTreeMap<(String, String), Column>,
    /// index name → (table, unique).
    indexes: BTreeMap<String, (String, bool)>,
}

impl Schema {
    fn tables(&self) -> BTreeSet<&str> {
        self.columns.keys().map(|(t, _)| t.as_str()).collect()
    }
}

/// SQLite's type affinity of a declared type (§3.1 of its datatype page).
fn sqlite_class(declared: &str) -> String {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "integer"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "text"
    } else if t.contains("BLOB") || t.is_empty() {
        "bytes"
    } else {
        return format!("other ({declared})");
    }
    .to_owned()
}

fn postgres_class(data_type: &str) -> String {
    match data_type {
        "smallint" | "integer" | "bigint" => "integer",
        "text" | "character varying" | "character" => "text",
        "bytea" => "bytes",
        other => return format!("other ({other})"),
    }
    .to_owned()
}

fn sqlite_schema(sql: &mut dyn Sql) -> Result<Schema, StorageError> {
    let mut schema = Schema::default();
    let rows = sql.query(
        "schema",
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk
         FROM sqlite_master m JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'
         ORDER BY m.name, p.cid",
        &[],
    )?;
    // A table's primary key is a rowid alias, which cannot be NULL, only
    // when it is one column declared exactly INTEGER; any other primary-key
    // column takes NULL unless declared NOT NULL (SQLite's documented
    // legacy behaviour, "CREATE TABLE", section "PRIMARY KEY").
    let mut pk_columns: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for row in &rows {
        if row.int(4)? > 0 {
            pk_columns
                .entry(row.text(0)?)
                .or_default()
                .push((row.text(1)?, row.text(2)?.to_ascii_uppercase()));
        }
    }
    for row in &rows {
        let (table, column, declared) = (row.text(0)?, row.text(1)?, row.text(2)?);
        let rowid_alias = pk_columns
            .get(&table)
            .is_some_and(|pk| pk.len() == 1 && pk[0].0 == column && pk[0].1 == "INTEGER");
        schema.columns.insert(
            (table, column),
            Column {
                class: sqlite_class(&declared),
                not_null: row.flag(3)? || rowid_alias,
                pk: row.int(4)?,
            },
        );
    }
    for row in sql.query(
        "schema",
        "SELECT name, tbl_name, sql FROM sqlite_master
         WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        &[],
    )? {
        let unique = row
            .text(2)?
            .to_ascii_uppercase()
            .starts_with("CREATE UNIQUE");
        schema.indexes.insert(row.text(0)?, (row.text(1)?, unique));
    }
    Ok(schema)
}

fn postgres_schema(sql: &mut dyn Sql) -> Result<Schema, StorageError> {
    let mut schema = Schema::default();
    let pk: BTreeMap<(String, String), i64> = sql
        .query(
            "schema",
            "SELECT CAST(k.table_name AS TEXT), CAST(k.column_name AS TEXT),
                    CAST(k.ordinal_position AS BIGINT)
             FROM information_schema.table_constraints c
             JOIN information_schema.key_column_usage k
               ON k.constraint_schema = c.constraint_schema
              AND k.constraint_name = c.constraint_name
             WHERE c.table_schema = 'public' AND c.constraint_type = 'PRIMARY KEY'",
            &[],
        )?
        .iter()
        .map(|r| Ok(((r.text(0)?, r.text(1)?), r.int(2)?)))
        .collect::<Result<_, StorageError>>()?;
    for row in sql.query(
        "schema",
        "SELECT CAST(c.table_name AS TEXT), CAST(c.column_name AS TEXT),
                CAST(c.data_type AS TEXT), CAST(c.is_nullable AS TEXT)
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
         ORDER BY 1, c.ordinal_position",
        &[],
    )? {
        let key = (row.text(0)?, row.text(1)?);
        let column = Column {
            class: postgres_class(&row.text(2)?),
            not_null: row.text(3)? == "NO",
            pk: pk.get(&key).copied().unwrap_or(0),
        };
        schema.columns.insert(key, column);
    }
    // Indexes made by CREATE INDEX, not those behind a primary key or a
    // UNIQUE constraint (SQLite does not list those in sqlite_master).
    for row in sql.query(
        "schema",
        "SELECT CAST(c.relname AS TEXT), CAST(t.relname AS TEXT), i.indisunique
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                           WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
         ORDER BY 1",
        &[],
    )? {
        schema
            .indexes
            .insert(row.text(0)?, (row.text(1)?, row.flag(2)?));
    }
    Ok(schema)
}

fn schema_of(backend: Backend) -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(&common::fresh_database(backend, dir.path())).unwrap();
    storage
        .transaction(|tx| {
            let sql = tx.sql();
            match sql.dialect() {
                Dialect::Sqlite => sqlite_schema(sql),
                Dialect::Postgres => postgres_schema(sql),
            }
        })
        .unwrap()
}

/// Known differences, each `table.column: what`. All are one SQLite quirk:
/// a PRIMARY KEY column that is not a rowid alias (a single column declared
/// exactly INTEGER) and not declared NOT NULL accepts NULL on SQLite
/// (even several rows of it), while on PostgreSQL a primary key is always
/// NOT NULL. The code never writes a NULL key, but the databases would
/// take one. Listed here rather than fixed: migrations are not edited once
/// written (a fix is a new SQLite migration that rebuilds these tables with
/// `NOT NULL` keys, as 0003 did for `double_spend_cases`).
const KNOWN_DIFFERENCES: &[&str] = &[
    // 0001_init.sql (SQLite), the hand-written one.
    "counters.name: SQLite NULL allowed, PostgreSQL NOT NULL",
    "devices.device: SQLite NULL allowed, PostgreSQL NOT NULL",
    "enrolment_codes.code_hash: SQLite NULL allowed, PostgreSQL NOT NULL",
    "issuer_keys.kid: SQLite NULL allowed, PostgreSQL NOT NULL",
    "offline_limits.currency: SQLite NULL allowed, PostgreSQL NOT NULL",
    "vouchers.voucher: SQLite NULL allowed, PostgreSQL NOT NULL",
    // 0003_entitlements.sql (SQLite).
    "entitlements.entitlement: SQLite NULL allowed, PostgreSQL NOT NULL",
    // 0004_merchant_revocations.sql (SQLite).
    "revoked_merchants.merchant: SQLite NULL allowed, PostgreSQL NOT NULL",
];

fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    let nullness = |not_null: bool| if not_null { "NOT NULL" } else { "NULL allowed" };
    for (key, s) in &sqlite.columns {
        let name = format!("{}.{}", key.0, key.1);
        let Some(p) = postgres.columns.get(key) else {
            found.push(format!("{name}: only on SQLite"));
            continue;
        };
        if s.class != p.class {
            found.push(format!(
                "{name}: SQLite {}, PostgreSQL {}",
                s.class, p.class
            ));
        }
        if s.not_null != p.not_null {
            found.push(format!(
                "{name}: SQLite {}, PostgreSQL {}",
                nullness(s.not_null),
                nullness(p.not_null)
            ));
        }
        if s.pk != p.pk {
            found.push(format!(
                "{name}: primary key position {} on SQLite, {} on PostgreSQL",
                s.pk, p.pk
            ));
        }
    }
    for key in postgres.columns.keys() {
        if !sqlite.columns.contains_key(key) {
            found.push(format!("{}.{}: only on PostgreSQL", key.0, key.1));
        }
    }
    for (name, s) in &sqlite.indexes {
        match postgres.indexes.get(name) {
            None => found.push(format!("index {name}: only on SQLite")),
            Some(p) if p != s => {
                found.push(format!("index {name}: SQLite {s:?}, PostgreSQL {p:?}"))
            }
            Some(_) => {}
        }
    }
    for name in postgres.indexes.keys() {
        if !sqlite.indexes.contains_key(name) {
            found.push(format!("index {name}: only on PostgreSQL"));
        }
    }
    found.sort();
    found
}

#[test]
fn both_backends_migrate_to_the_same_schema() {
    let sqlite = schema_of(Backend::Sqlite);
    let postgres = schema_of(Backend::Postgres);

    // The readers saw the schema at all: every table the code uses.
    for table in [
        "counters",
        "root_key",
        "issuer_keys",
        "documents",
        "enrolment_codes",
        "devices",
        "request_nonces",
        "log_entries",
        "vouchers",
        "double_spend_cases",
        "alarms",
        "offline_limits",
        "entitlements",
        "entitlement_scopes",
        "revoked_merchants",
        "users",
        "sessions",
        "api_tokens",
        "audit",
        "proposals",
        "schema_migrations",
    ] {
        assert!(sqlite.tables().contains(table), "SQLite has no {table}");
        assert!(
            postgres.tables().contains(table),
            "PostgreSQL has no {table}"
        );
    }
    assert_eq!(sqlite.tables(), postgres.tables(), "the same tables");
    // Spot checks that each reader reads what it should.
    let users_id = ("users".to_owned(), "id".to_owned());
    assert_eq!(postgres.columns[&users_id].class, "integer");
    assert_eq!(postgres.columns[&users_id].pk, 1);
    let hash = ("log_entries".to_owned(), "hash".to_owned());
    assert_eq!(
        (
            sqlite.columns[&hash].class.as_str(),
            sqlite.columns[&hash].not_null
        ),
        ("bytes", true)
    );
    assert_eq!(postgres.columns[&hash].class, "bytes");
    let case_id = ("double_spend_cases".to_owned(), "id".to_owned());
    assert!(
        sqlite.columns[&case_id].not_null,
        "an INTEGER PRIMARY KEY is never NULL"
    );
    assert!(sqlite.indexes.contains_key("proposals_one_pending"));
    assert_eq!(
        postgres.indexes["proposals_one_pending"],
        ("proposals".to_owned(), true)
    );

    let found = differences(&sqlite, &postgres);
    let mut known: Vec<String> = KNOWN_DIFFERENCES.iter().map(|d| (*d).to_owned()).collect();
    known.sort();
    let new: Vec<&String> = found.iter().filter(|d| !known.contains(d)).collect();
    let gone: Vec<&String> = known.iter().filter(|d| !found.contains(d)).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "the schemas differ in ways not listed:\n  {}\nlisted differences no longer found \
         (remove them from KNOWN_DIFFERENCES):\n  {}",
        new.iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        gone.iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
    );
}
