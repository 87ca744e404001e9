//! The embedded SQLite backend: one connection in WAL mode behind a mutex.
//! SQLite has one writer at a time anyway; `BEGIN IMMEDIATE` takes the write
//! lock up front so a transaction never fails half-way on a lock upgrade.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use lastmile_shared::id::{BeneficiaryId, EntitlementId, VoucherId};
use lastmile_shared::roster::Entitlement;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::sql::{Dialect, Row as SqlRow, Sql, Value, sqlite_placeholders};

use super::rows::{ENTITLEMENT_COLUMNS, EntitlementRowRaw, VoucherRowRaw};
use super::{
    EntitlementRow, Migration, NewTotal, SQLITE_BUSY_TIMEOUT_MS, StorageError, Tx, VoucherRow,
    mode_to_text, seq_to,
};

/// This backend's own migrations; from 0005 on, both share
/// [`COMMON_MIGRATIONS`](super::COMMON_MIGRATIONS).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/sqlite/0002_case_resolution.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/sqlite/0003_entitlements.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/sqlite/0004_merchant_revocations.sql"),
    },
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StorageError::Directory {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS))?;
        // WAL with FULL sync: an acknowledged upload survives a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 64 MiB of page cache (the default is 2 MiB): a large import or
        // cycle writes several indexes at once, which thrash a small cache.
        conn.pragma_update(None, "cache_size", -65_536)?;
        let store = Self {
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StorageError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )?;
        let applied: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        for migration in MIGRATIONS
            .iter()
            .chain(super::COMMON_MIGRATIONS)
            .filter(|m| m.version > applied)
        {
            tx.execute_batch(migration.sql)
                .map_err(|e| StorageError::Migration {
                    version: migration.version,
                    detail: e.to_string(),
                })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, unixepoch())",
                [migration.version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind
        // (rusqlite rolls back on drop), so the connection is still usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn transaction<R, E: From<StorageError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StorageError::from)?;
        let mut handle = SqliteTx { tx: &tx };
        let result = work(&mut handle)?;
        tx.commit().map_err(StorageError::from)?;
        Ok(result)
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

type Res<T> = Result<T, StorageError>;

const VOUCHER_COLUMNS: &str = "voucher, issuer, programme, value_minor, currency, mode, \
     valid_from, valid_until, beneficiary, credential, issued_here, revoked_at, redeemed_minor, \
     winner_device, winner_seq";

fn voucher_row(r: &Row<'_>) -> rusqlite::Result<VoucherRowRaw> {
    Ok(VoucherRowRaw {
        voucher: r.get(0)?,
        issuer: r.get(1)?,
        programme: r.get(2)?,
        value_minor: r.get(3)?,
        currency: r.get(4)?,
        mode: r.get(5)?,
        valid_from: r.get(6)?,
        valid_until: r.get(7)?,
        beneficiary: r.get(8)?,
        credential: r.get(9)?,
        issued_here: r.get(10)?,
        revoked_at: r.get(11)?,
        redeemed_minor: r.get(12)?,
        winner_device: r.get(13)?,
        winner_seq: r.get(14)?,
    })
}

impl Sql for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &'static str, params: &[Value]) -> Res<u64> {
        let mut statement = self.tx.prepare_cached(&sqlite_placeholders(sql))?;
        let changed =
            statement.execute(rusqlite::params_from_iter(params.iter().map(to_sqlite)))?;
        Ok(changed as u64)
    }

    fn query(
        &mut self,
        source: &'static str,
        sql: &'static str,
        params: &[Value],
    ) -> Res<Vec<SqlRow>> {
        let mut statement = self.tx.prepare_cached(&sqlite_placeholders(sql))?;
        let columns = statement.column_count();
        let rows = statement.query_map(
            rusqlite::params_from_iter(params.iter().map(to_sqlite)),
            |r| {
                (0..columns)
                    .map(|i| match r.get_ref(i)? {
                        ValueRef::Null => Ok(Value::Null),
                        ValueRef::Integer(v) => Ok(Value::Int(v)),
                        ValueRef::Text(t) => {
                            Ok(Value::Text(String::from_utf8_lossy(t).into_owned()))
                        }
                        ValueRef::Blob(b) => Ok(Value::Bytes(b.to_vec())),
                        ValueRef::Real(_) => Err(rusqlite::Error::InvalidColumnType(
                            i,
                            String::new(),
                            rusqlite::types::Type::Real,
                        )),
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
            },
        )?;
        rows.map(|r| Ok(SqlRow::new(r?, source))).collect()
    }
}

fn to_sqlite(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(v) => rusqlite::types::Value::Integer(*v),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Value::Bytes(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

impl Tx for SqliteTx<'_> {
    fn sql(&mut self) -> &mut dyn Sql {
        self
    }

    fn lock_vouchers(&mut self, ids: &[VoucherId]) -> Res<HashMap<VoucherId, VoucherRow>> {
        let mut statement = self.tx.prepare_cached(&format!(
            "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE voucher = ?1"
        ))?;
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(raw) = statement.query_row([id.as_str()], voucher_row).optional()? {
                let row = raw.parse()?;
                found.insert(row.voucher.clone(), row);
            }
        }
        Ok(found)
    }

    fn update_redemptions(&mut self, rows: &[NewTotal], feed_position: u64) -> Res<()> {
        for row in rows {
            let column = row.credential.column();
            self.tx
                .prepare_cached(&format!(
                    "UPDATE {column}s SET redeemed_minor = ?2, winner_device = ?3,
                         winner_seq = ?4, feed_position = ?5
                     WHERE {column} = ?1"
                ))?
                .execute(params![
                    row.credential.id(),
                    row.redeemed_minor,
                    row.winner.as_ref().map(|(d, _)| d.as_str()),
                    row.winner.as_ref().map(|(_, s)| seq_to(*s)),
                    seq_to(feed_position)
                ])?;
        }
        Ok(())
    }

    fn publish_entitlements(
        &mut self,
        scope: &str,
        listed: &[(&BeneficiaryId, &Entitlement)],
        now: i64,
    ) -> Res<()> {
        self.tx
            .execute("DELETE FROM entitlement_scopes WHERE scope = ?1", [scope])?;
        let mut define = self.tx.prepare_cached(
            "INSERT INTO entitlements (entitlement, beneficiary, programme, value_minor,
                 currency, mode, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (entitlement) DO UPDATE SET beneficiary = excluded.beneficiary,
                 programme = excluded.programme, value_minor = excluded.value_minor,
                 currency = excluded.currency, mode = excluded.mode",
        )?;
        let mut list = self.tx.prepare_cached(
            "INSERT INTO entitlement_scopes (scope, entitlement) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
        )?;
        for (beneficiary, entitlement) in listed {
            define.execute(params![
                entitlement.id.as_str(),
                beneficiary.as_str(),
                entitlement.programme.as_str(),
                entitlement.value.minor,
                entitlement.value.currency.code(),
                mode_to_text(entitlement.mode),
                now
            ])?;
            list.execute(params![scope, entitlement.id.as_str()])?;
        }
        Ok(())
    }

    fn lock_entitlements(
        &mut self,
        ids: &[EntitlementId],
    ) -> Res<HashMap<EntitlementId, EntitlementRow>> {
        // The transaction already holds SQLite's single write lock.
        let mut statement = self.tx.prepare_cached(&format!(
            "SELECT {ENTITLEMENT_COLUMNS} FROM entitlements WHERE entitlement = ?1"
        ))?;
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            let raw = statement
                .query_row([id.as_str()], |r| {
                    Ok(EntitlementRowRaw {
                        entitlement: r.get(0)?,
                        beneficiary: r.get(1)?,
                        programme: r.get(2)?,
                        value_minor: r.get(3)?,
                        currency: r.get(4)?,
                        mode: r.get(5)?,
                        redeemed_minor: r.get(6)?,
                        winner_device: r.get(7)?,
                        winner_seq: r.get(8)?,
                    })
                })
                .optional()?;
            if let Some(raw) = raw {
                let row = raw.parse()?;
                found.insert(row.entitlement.clone(), row);
            }
        }
        Ok(found)
    }
}
