//! The embedded SQLite backend: one connection in WAL mode behind a mutex.
//! SQLite has one writer at a time anyway; `BEGIN IMMEDIATE` takes the write
//! lock up front so a transaction never fails half-way on a lock upgrade.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use lastmile_shared::id::{BeneficiaryId, DeviceId, EntitlementId, MerchantId, VoucherId};
use lastmile_shared::roster::Entitlement;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::sql::{Dialect, Row as SqlRow, Sql, Value, sqlite_placeholders};

use super::rows::{
    BALANCES_QUERY, CASE_QUERY, CaseRowRaw, ENTITLEMENT_COLUMNS, EntitlementRowRaw, VoucherRowRaw,
    parse_alarm, parse_balance,
};
use super::{
    AlarmRow, BalanceRow, CaseRow, EntitlementRow, Migration, NewAlarm, NewCase, NewTotal,
    RevokedSets, SQLITE_BUSY_TIMEOUT_MS, StorageError, StoredEntry, Tx, VoucherRow, mode_to_text,
    seq_from, seq_to,
};

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
    Migration {
        version: 5,
        sql: include_str!("../../migrations/common/0005_people_audit_proposals.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/common/0006_jobs.sql"),
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
        for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
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

    fn entries(&mut self, device: &DeviceId, from: u64, to: u64) -> Res<Vec<(u64, Vec<u8>)>> {
        let mut statement = self.tx.prepare_cached(
            "SELECT seq, bytes FROM log_entries WHERE device = ?1 AND seq BETWEEN ?2 AND ?3
             ORDER BY seq",
        )?;
        let rows = statement
            .query_map(params![device.as_str(), seq_to(from), seq_to(to)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
        rows.map(|r| {
            let (seq, bytes) = r?;
            Ok((seq_from(seq)?, bytes))
        })
        .collect()
    }

    fn entry_bytes(&mut self, device: &DeviceId, seq: u64) -> Res<Option<Vec<u8>>> {
        Ok(self
            .tx
            .prepare_cached("SELECT bytes FROM log_entries WHERE device = ?1 AND seq = ?2")?
            .query_row(params![device.as_str(), seq_to(seq)], |r| r.get(0))
            .optional()?)
    }

    fn insert_entries(&mut self, device: &DeviceId, entries: &[StoredEntry], now: i64) -> Res<()> {
        let mut statement = self.tx.prepare_cached(
            "INSERT INTO log_entries
             (device, seq, hash, bytes, kind, voucher, amount_minor, currency, at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for entry in entries {
            statement.execute(params![
                device.as_str(),
                seq_to(entry.seq),
                &entry.hash[..],
                entry.bytes,
                entry.kind,
                entry.voucher.as_ref().map(VoucherId::as_str),
                entry.amount.map(|m| m.minor),
                entry.amount.map(|m| m.currency.code()),
                entry.at,
                now
            ])?;
        }
        Ok(())
    }

    fn known_vouchers(&mut self, ids: &[VoucherId]) -> Res<Vec<VoucherId>> {
        let mut statement = self
            .tx
            .prepare_cached("SELECT 1 FROM vouchers WHERE voucher = ?1")?;
        let mut known = Vec::new();
        for id in ids {
            if statement.exists([id.as_str()])? {
                known.push(id.clone());
            }
        }
        Ok(known)
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

    fn voucher(&mut self, id: &VoucherId) -> Res<Option<VoucherRow>> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {VOUCHER_COLUMNS} FROM vouchers WHERE voucher = ?1"
            ))?
            .query_row([id.as_str()], voucher_row)
            .optional()?
            .map(VoucherRowRaw::parse)
            .transpose()
    }

    fn insert_voucher(&mut self, row: &VoucherRow, now: i64) -> Res<bool> {
        let n = self.tx.execute(
            "INSERT INTO vouchers (voucher, issuer, programme, value_minor, currency, mode,
                 valid_from, valid_until, beneficiary, credential, issued_here, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (voucher) DO NOTHING",
            params![
                row.voucher.as_str(),
                row.issuer.as_str(),
                row.programme.as_str(),
                row.value.minor,
                row.value.currency.code(),
                mode_to_text(row.mode),
                row.valid_from,
                row.valid_until,
                row.beneficiary,
                row.credential,
                i64::from(row.issued_here),
                now
            ],
        )?;
        Ok(n == 1)
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

    fn redeemable_vouchers(&mut self, now: i64, limit: usize) -> Res<Vec<(VoucherId, String)>> {
        let mut statement = self.tx.prepare_cached(
            "SELECT voucher, credential FROM vouchers
             WHERE issued_here = 1 AND revoked_at IS NULL AND valid_until > ?1
               AND redeemed_minor < value_minor
             ORDER BY voucher LIMIT ?2",
        )?;
        let rows = statement.query_map(
            params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?;
        rows.map(|r| {
            let (id, text) = r?;
            Ok((VoucherId::parse(&id)?, text))
        })
        .collect()
    }

    fn revoke_voucher(&mut self, id: &VoucherId, now: i64) -> Res<bool> {
        let n = self.tx.execute(
            "UPDATE vouchers SET revoked_at = coalesce(revoked_at, ?2) WHERE voucher = ?1",
            params![id.as_str(), now],
        )?;
        Ok(n > 0)
    }

    fn revoked(&mut self) -> Res<RevokedSets> {
        let mut sets = RevokedSets::default();
        let mut statement = self.tx.prepare(
            "SELECT voucher FROM vouchers WHERE revoked_at IS NOT NULL ORDER BY voucher",
        )?;
        for id in statement.query_map([], |r| r.get::<_, String>(0))? {
            sets.vouchers.push(VoucherId::parse(&id?)?);
        }
        let mut statement = self
            .tx
            .prepare("SELECT device FROM devices WHERE revoked_at IS NOT NULL ORDER BY device")?;
        for id in statement.query_map([], |r| r.get::<_, String>(0))? {
            sets.devices.push(DeviceId::parse(&id?)?);
        }
        let mut statement = self
            .tx
            .prepare("SELECT merchant FROM revoked_merchants ORDER BY merchant")?;
        for id in statement.query_map([], |r| r.get::<_, String>(0))? {
            sets.merchants.push(MerchantId::parse(&id?)?);
        }
        Ok(sets)
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

    fn balances_after(
        &mut self,
        position: u64,
        scope: Option<&str>,
        limit: usize,
    ) -> Res<Vec<BalanceRow>> {
        let mut statement = self.tx.prepare_cached(BALANCES_QUERY)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![seq_to(position), scope, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        rows.map(|r| {
            let (kind, id, minor, currency, position) = r?;
            parse_balance(&kind, &id, minor, &currency, position)
        })
        .collect()
    }

    fn insert_case(&mut self, case: &NewCase) -> Res<u64> {
        let id: i64 = self.tx.query_row(
            "INSERT INTO double_spend_cases (voucher, reason, first_device, first_seq,
                 second_device, second_seq, amount_minor, currency, redeemed_before_minor,
                 value_minor, opened_at, entitlement)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
            params![
                case.subject.voucher_id(),
                case.reason,
                case.first.as_ref().map(|(d, _)| d.as_str()),
                case.first.as_ref().map(|(_, s)| seq_to(*s)),
                case.second.0.as_str(),
                seq_to(case.second.1),
                case.amount.minor,
                case.amount.currency.code(),
                case.redeemed_before_minor,
                case.value_minor,
                case.opened_at,
                case.subject.entitlement_id()
            ],
            |r| r.get(0),
        )?;
        seq_from(id)
    }

    fn cases_of_entries(&mut self, device: &DeviceId, from: u64, to: u64) -> Res<Vec<(u64, u64)>> {
        let mut statement = self.tx.prepare_cached(
            "SELECT second_seq, id FROM double_spend_cases
             WHERE second_device = ?1 AND second_seq BETWEEN ?2 AND ?3 ORDER BY second_seq",
        )?;
        let rows = statement
            .query_map(params![device.as_str(), seq_to(from), seq_to(to)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
        rows.map(|r| {
            let (seq, id) = r?;
            Ok((seq_from(seq)?, seq_from(id)?))
        })
        .collect()
    }

    fn cases(&mut self) -> Res<Vec<CaseRow>> {
        let mut statement = self.tx.prepare(CASE_QUERY)?;
        let rows = statement.query_map([], |r| {
            Ok(CaseRowRaw {
                id: r.get(0)?,
                voucher: r.get(1)?,
                reason: r.get(2)?,
                first_device: r.get(3)?,
                first_seq: r.get(4)?,
                first_entry: r.get(5)?,
                second_device: r.get(6)?,
                second_seq: r.get(7)?,
                second_entry: r.get(8)?,
                amount_minor: r.get(9)?,
                currency: r.get(10)?,
                redeemed_before_minor: r.get(11)?,
                value_minor: r.get(12)?,
                opened_at: r.get(13)?,
                status: r.get(14)?,
                resolution: r.get(15)?,
                resolution_note: r.get(16)?,
                resolved_at: r.get(17)?,
                entitlement: r.get(18)?,
            })
        })?;
        rows.map(|r| r?.parse()).collect()
    }

    fn case_exists(&mut self, id: u64) -> Res<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM double_spend_cases WHERE id = ?1",
                [seq_to(id)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn case_resolution(&mut self, device: &DeviceId, id: u64) -> Res<Option<(String, i64)>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT resolution, resolved_at FROM double_spend_cases
                 WHERE id = ?1 AND second_device = ?2
                   AND resolution IS NOT NULL AND resolved_at IS NOT NULL",
            )?
            .query_row(params![seq_to(id), device.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    fn resolve_case(&mut self, id: u64, resolution: &str, note: &str, now: i64) -> Res<bool> {
        let n = self.tx.execute(
            "UPDATE double_spend_cases
             SET status = 'resolved', resolution = ?2, resolution_note = ?3, resolved_at = ?4
             WHERE id = ?1 AND status = 'open'",
            params![seq_to(id), resolution, note, now],
        )?;
        Ok(n == 1)
    }

    fn insert_alarm(&mut self, alarm: &NewAlarm) -> Res<u64> {
        let id: i64 = self.tx.query_row(
            "INSERT INTO alarms (kind, device, seq, detail, evidence, raised_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![
                alarm.kind,
                alarm.device.as_ref().map(DeviceId::as_str),
                alarm.seq.map(seq_to),
                alarm.detail,
                alarm.evidence,
                alarm.raised_at
            ],
            |r| r.get(0),
        )?;
        seq_from(id)
    }

    fn alarms(&mut self) -> Res<Vec<AlarmRow>> {
        let mut statement = self.tx.prepare(
            "SELECT id, kind, device, seq, detail, evidence, raised_at FROM alarms ORDER BY id",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.map(|r| {
            let (id, kind, device, seq, detail, evidence, raised_at) = r?;
            parse_alarm(id, kind, device, seq, detail, evidence, raised_at)
        })
        .collect()
    }

    fn entry_count(&mut self) -> Res<u64> {
        let n: i64 = self
            .tx
            .query_row("SELECT count(*) FROM log_entries", [], |r| r.get(0))?;
        seq_from(n)
    }
}
