//! The embedded SQLite backend: one connection in WAL mode behind a mutex.
//! SQLite has one writer at a time anyway; `BEGIN IMMEDIATE` takes the write
//! lock up front so a transaction never fails half-way on a lock upgrade.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, KeyId, MerchantId, SiteId, VoucherId,
};
use lastmile_shared::roster::Entitlement;
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::trust_list::{IssuerKey, KeyStatus};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::sql::{Dialect, Row as SqlRow, Sql, Value, sqlite_placeholders};

use super::rows::{
    BALANCES_QUERY, CASE_QUERY, CaseRowRaw, DeviceRowRaw, ENTITLEMENT_COLUMNS, EntitlementRowRaw,
    VoucherRowRaw, parse_alarm, parse_balance, parse_issuer_key, parse_limits,
};
use super::{
    AlarmRow, BalanceRow, CaseRow, DeviceRow, EnrolmentCodeRow, EntitlementRow, Migration,
    NewAlarm, NewCase, NewTotal, RevokedSets, RootKeyRow, SQLITE_BUSY_TIMEOUT_MS, StorageError,
    StoredEntry, Tx, VoucherRow, key_status_to_text, key32, mode_to_text, opt_id, seq_from, seq_to,
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

fn device_row(r: &Row<'_>) -> rusqlite::Result<DeviceRowRaw> {
    Ok(DeviceRowRaw {
        device: r.get(0)?,
        kid: r.get(1)?,
        public_key: r.get(2)?,
        label: r.get(3)?,
        merchant: r.get(4)?,
        site: r.get(5)?,
        enrolled_at: r.get(6)?,
        revoked_at: r.get(7)?,
        head_seq: r.get(8)?,
        head_hash: r.get(9)?,
        last_seen_at: r.get(10)?,
    })
}

const DEVICE_COLUMNS: &str = "device, kid, public_key, label, merchant, site, enrolled_at, \
     revoked_at, head_seq, head_hash, last_seen_at";

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

    fn next_counter(&mut self, name: &str) -> Res<u64> {
        let value: i64 = self.tx.query_row(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            [name],
            |r| r.get(0),
        )?;
        seq_from(value)
    }

    fn put_document(
        &mut self,
        kind: &str,
        scope: &str,
        version: u64,
        bytes: &[u8],
        now: i64,
    ) -> Res<()> {
        self.tx.execute(
            "INSERT INTO documents (kind, scope, version, bytes, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, scope) DO UPDATE
             SET version = excluded.version, bytes = excluded.bytes, created_at = excluded.created_at",
            params![kind, scope, seq_to(version), bytes, now],
        )?;
        Ok(())
    }

    fn document(&mut self, kind: &str, scope: &str) -> Res<Option<(u64, Vec<u8>)>> {
        let row: Option<(i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT version, bytes FROM documents WHERE kind = ?1 AND scope = ?2")?
            .query_row([kind, scope], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(v, b)| Ok((seq_from(v)?, b))).transpose()
    }

    fn documents(&mut self, kind: &str) -> Res<Vec<(String, u64, Vec<u8>)>> {
        let mut statement = self.tx.prepare_cached(
            "SELECT scope, version, bytes FROM documents WHERE kind = ?1 ORDER BY scope",
        )?;
        let rows = statement.query_map([kind], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?))
        })?;
        rows.map(|r| {
            let (scope, version, bytes) = r?;
            Ok((scope, seq_from(version)?, bytes))
        })
        .collect()
    }

    fn root_key(&mut self) -> Res<Option<RootKeyRow>> {
        let row: Option<(String, Vec<u8>, i64)> = self
            .tx
            .query_row(
                "SELECT kid, public_key, created_at FROM root_key WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(kid, pk, created_at)| {
            Ok(RootKeyRow {
                kid: KeyId::parse(&kid)?,
                public_key: key32(pk, "root_key.public_key")?,
                created_at,
            })
        })
        .transpose()
    }

    fn put_root_key(&mut self, row: &RootKeyRow) -> Res<()> {
        self.tx.execute(
            "INSERT INTO root_key (id, kid, public_key, created_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE
             SET kid = excluded.kid, public_key = excluded.public_key,
                 created_at = excluded.created_at",
            params![row.kid.as_str(), &row.public_key[..], row.created_at],
        )?;
        Ok(())
    }

    fn issuer_keys(&mut self) -> Res<Vec<IssuerKey>> {
        let mut statement = self.tx.prepare_cached(
            "SELECT kid, issuer, public_key, valid_from, valid_until, status, status_since
             FROM issuer_keys ORDER BY created_at, kid",
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
        rows.map(|row| {
            let (kid, issuer, pk, from, until, status, since) = row?;
            parse_issuer_key(kid, issuer, pk, from, until, status, since)
        })
        .collect()
    }

    fn insert_issuer_key(&mut self, key: &IssuerKey, now: i64) -> Res<()> {
        let (status, since) = key_status_to_text(key.status);
        self.tx.execute(
            "INSERT INTO issuer_keys
             (kid, issuer, public_key, valid_from, valid_until, status, status_since, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                key.kid.as_str(),
                key.issuer.as_str(),
                &key.public_key[..],
                key.valid_from,
                key.valid_until,
                status,
                since,
                now
            ],
        )?;
        Ok(())
    }

    fn set_issuer_key_status(&mut self, kid: &KeyId, status: KeyStatus) -> Res<bool> {
        let (status, since) = key_status_to_text(status);
        let n = self.tx.execute(
            "UPDATE issuer_keys SET status = ?2, status_since = ?3 WHERE kid = ?1",
            params![kid.as_str(), status, since],
        )?;
        Ok(n > 0)
    }

    fn insert_enrolment_code(
        &mut self,
        code_hash: &[u8; 32],
        merchant: Option<&MerchantId>,
        site: Option<&SiteId>,
        now: i64,
        expires_at: i64,
    ) -> Res<()> {
        self.tx.execute(
            "INSERT INTO enrolment_codes (code_hash, merchant, site, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &code_hash[..],
                merchant.map(MerchantId::as_str),
                site.map(SiteId::as_str),
                now,
                expires_at
            ],
        )?;
        Ok(())
    }

    fn lock_enrolment_code(&mut self, code_hash: &[u8; 32]) -> Res<Option<EnrolmentCodeRow>> {
        // The transaction already holds SQLite's single write lock.
        let mut statement = self.tx.prepare_cached(
            "SELECT merchant, site, expires_at, used_at FROM enrolment_codes
             WHERE code_hash = ?1",
        )?;
        let mut rows = statement.query([&code_hash[..]])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        Ok(Some(EnrolmentCodeRow {
            merchant: opt_id(r.get(0)?, MerchantId::parse)?,
            site: opt_id(r.get(1)?, SiteId::parse)?,
            expires_at: r.get(2)?,
            used_at: r.get(3)?,
        }))
    }

    fn use_enrolment_code(&mut self, code_hash: &[u8; 32], device: &DeviceId, now: i64) -> Res<()> {
        self.tx.execute(
            "UPDATE enrolment_codes SET used_at = ?2, device = ?3 WHERE code_hash = ?1",
            params![&code_hash[..], now, device.as_str()],
        )?;
        Ok(())
    }

    fn public_key_enrolled(&mut self, public_key: &[u8; 32]) -> Res<bool> {
        let found: Option<i64> = self
            .tx
            .query_row(
                "SELECT 1 FROM devices WHERE public_key = ?1",
                [&public_key[..]],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    fn insert_device(&mut self, row: &DeviceRow) -> Res<()> {
        self.tx.execute(
            &format!(
                "INSERT INTO devices ({DEVICE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                row.device.as_str(),
                row.kid.as_str(),
                &row.public_key[..],
                row.label,
                row.merchant.as_ref().map(MerchantId::as_str),
                row.site.as_ref().map(SiteId::as_str),
                row.enrolled_at,
                row.revoked_at,
                seq_to(row.head_seq),
                &row.head_hash[..],
                row.last_seen_at
            ],
        )?;
        Ok(())
    }

    fn device_by_kid(&mut self, kid: &KeyId) -> Res<Option<DeviceRow>> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE kid = ?1"
            ))?
            .query_row([kid.as_str()], device_row)
            .optional()?
            .map(DeviceRowRaw::parse)
            .transpose()
    }

    fn lock_device(&mut self, device: &DeviceId) -> Res<Option<DeviceRow>> {
        // The transaction already holds SQLite's single write lock.
        self.tx
            .prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE device = ?1"
            ))?
            .query_row([device.as_str()], device_row)
            .optional()?
            .map(DeviceRowRaw::parse)
            .transpose()
    }

    fn devices(&mut self) -> Res<Vec<DeviceRow>> {
        let mut statement = self.tx.prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY enrolled_at, device"
        ))?;
        let rows = statement.query_map([], device_row)?;
        rows.map(|r| r?.parse()).collect()
    }

    fn revoke_merchant(&mut self, merchant: &MerchantId, reason: &str, now: i64) -> Res<bool> {
        let n = self.tx.execute(
            "INSERT INTO revoked_merchants (merchant, reason, revoked_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (merchant) DO NOTHING",
            params![merchant.as_str(), reason, now],
        )?;
        Ok(n == 1)
    }

    fn revoke_device(&mut self, device: &DeviceId, now: i64) -> Res<bool> {
        let n = self.tx.execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE device = ?1",
            params![device.as_str(), now],
        )?;
        Ok(n > 0)
    }

    fn assign_device(
        &mut self,
        device: &DeviceId,
        merchant: Option<&MerchantId>,
        site: Option<&SiteId>,
    ) -> Res<bool> {
        let n = self.tx.execute(
            "UPDATE devices SET merchant = ?2, site = ?3 WHERE device = ?1",
            params![
                device.as_str(),
                merchant.map(MerchantId::as_str),
                site.map(SiteId::as_str)
            ],
        )?;
        Ok(n > 0)
    }

    fn insert_nonce(&mut self, kid: &KeyId, nonce: &str, created: i64) -> Res<bool> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT INTO request_nonces (kid, nonce, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![kid.as_str(), nonce, created])?;
        Ok(n == 1)
    }

    fn prune_nonces(&mut self, created_before: i64) -> Res<u64> {
        let n = self.tx.execute(
            "DELETE FROM request_nonces WHERE created_at < ?1",
            [created_before],
        )?;
        Ok(n as u64)
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

    fn set_device_head(
        &mut self,
        device: &DeviceId,
        seq: u64,
        hash: &[u8; 32],
        now: i64,
    ) -> Res<()> {
        self.tx
            .prepare_cached(
                "UPDATE devices SET head_seq = ?2, head_hash = ?3, last_seen_at = ?4
                 WHERE device = ?1",
            )?
            .execute(params![device.as_str(), seq_to(seq), &hash[..], now])?;
        Ok(())
    }

    fn touch_device(&mut self, device: &DeviceId, now: i64) -> Res<()> {
        self.tx
            .prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE device = ?1")?
            .execute(params![device.as_str(), now])?;
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

    fn limits(&mut self) -> Res<Vec<OfflineLimits>> {
        let mut statement = self.tx.prepare(
            "SELECT currency, credential_value_max_minor, unsynced_value_max_minor,
                 unsynced_count_max, offline_seconds_max
             FROM offline_limits ORDER BY currency",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.map(|r| {
            let (currency, a, b, c, d) = r?;
            parse_limits(currency, a, b, c, d)
        })
        .collect()
    }

    fn set_limits(&mut self, limits: &OfflineLimits) -> Res<()> {
        self.tx.execute(
            "INSERT INTO offline_limits (currency, credential_value_max_minor,
                 unsynced_value_max_minor, unsynced_count_max, offline_seconds_max)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (currency) DO UPDATE SET
                 credential_value_max_minor = excluded.credential_value_max_minor,
                 unsynced_value_max_minor = excluded.unsynced_value_max_minor,
                 unsynced_count_max = excluded.unsynced_count_max,
                 offline_seconds_max = excluded.offline_seconds_max",
            params![
                limits.currency.code(),
                limits.credential_value_max_minor,
                limits.unsynced_value_max_minor,
                i64::from(limits.unsynced_count_max),
                limits.offline_seconds_max
            ],
        )?;
        Ok(())
    }
}
