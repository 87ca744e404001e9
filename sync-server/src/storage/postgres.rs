//! The PostgreSQL backend, for several server instances over one database.
//!
//! Connections come from a small pool of blocking `postgres` clients (each
//! with its own prepared-statement cache). Work that must not interleave
//! across instances takes row locks: `SELECT … FOR UPDATE` on the device row
//! serialises one device's uploads, voucher rows are locked in id order, and
//! the balance-feed counter is locked last, so positions are handed out in
//! commit order. The `(device, seq)` primary key is the last line of defence.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, OnceLock};

use lastmile_shared::id::{BeneficiaryId, EntitlementId, VoucherId};
use lastmile_shared::roster::Entitlement;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use super::sql::{Dialect, Row as SqlRow, Sql, Value};

use super::registry::{BENEFICIARY_COLUMNS, BeneficiaryRow, CHUNK_ROWS, beneficiary_row};
use super::rows::{EntitlementRowRaw, VoucherRowRaw};
use super::{
    EntitlementRow, Migration, NewTotal, POSTGRES_CONNECTIONS_MAX, StorageError, Tx, VoucherRow,
    mode_to_text, seq_to,
};

/// This backend's own migrations; from 0005 on, both share
/// [`COMMON_MIGRATIONS`](super::COMMON_MIGRATIONS).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/postgres/0002_case_resolution.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/postgres/0003_entitlements.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/postgres/0004_merchant_revocations.sql"),
    },
];
/// The advisory lock that serialises migrations across instances.
const MIGRATION_LOCK_KEY: i64 = 0x4c4d_5345_5256;

type Res<T> = Result<T, StorageError>;

/// A connection and the statements prepared on it.
struct Connection {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

pub struct PostgresStore {
    url: String,
    idle: Mutex<Pool>,
    returned: Condvar,
}

struct Pool {
    idle: Vec<Connection>,
    open: usize,
}

/// A connection borrowed from the pool; returned on drop unless broken.
struct Lease<'a> {
    store: &'a PostgresStore,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self
            .store
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.conn.take() {
            Some(conn) if !conn.client.is_closed() => pool.idle.push(conn),
            _ => pool.open -= 1,
        }
        self.store.returned.notify_one();
    }
}

impl PostgresStore {
    pub fn open(url: &str) -> Res<Self> {
        let store = Self {
            url: url.to_owned(),
            idle: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn lease(&self) -> Res<Lease<'_>> {
        let mut pool = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(Lease {
                    store: self,
                    conn: Some(conn),
                });
            }
            if pool.open < POSTGRES_CONNECTIONS_MAX {
                pool.open += 1;
                drop(pool);
                return match Client::connect(&self.url, NoTls) {
                    Ok(client) => Ok(Lease {
                        store: self,
                        conn: Some(Connection {
                            client,
                            statements: HashMap::new(),
                        }),
                    }),
                    Err(e) => {
                        let mut pool = self
                            .idle
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        pool.open -= 1;
                        Err(e.into())
                    }
                };
            }
            pool = self
                .returned
                .wait(pool)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn migrate(&self) -> Res<()> {
        let mut lease = self.lease()?;
        let conn = lease.conn.as_mut().ok_or(StorageError::WorkerGone)?;
        let mut tx = conn.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        let applied: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )?
            .try_get(0)?;
        for migration in MIGRATIONS
            .iter()
            .chain(super::COMMON_MIGRATIONS)
            .filter(|m| m.version > applied)
        {
            tx.batch_execute(migration.sql)
                .map_err(|e| StorageError::Migration {
                    version: migration.version,
                    detail: e.to_string(),
                })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at)
                 VALUES ($1, extract(epoch from now())::bigint)",
                &[&migration.version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn transaction<R, E: From<StorageError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E> {
        let mut lease = self.lease()?;
        let conn = lease.conn.as_mut().ok_or(StorageError::WorkerGone)?;
        let tx = conn.client.transaction().map_err(StorageError::from)?;
        let mut handle = PgTx {
            tx,
            statements: &mut conn.statements,
        };
        let result = work(&mut handle)?;
        handle.tx.commit().map_err(StorageError::from)?;
        Ok(result)
    }
}

struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

impl PgTx<'_> {
    /// The statement for `sql`, prepared once per connection.
    fn statement(&mut self, sql: &'static str) -> Res<Statement> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Res<Vec<Row>> {
        let statement = self.statement(sql)?;
        Ok(self.tx.query(&statement, params)?)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Res<u64> {
        let statement = self.statement(sql)?;
        Ok(self.tx.execute(&statement, params)?)
    }
}

fn voucher_row(r: &Row) -> Res<VoucherRow> {
    VoucherRowRaw {
        voucher: r.try_get(0)?,
        issuer: r.try_get(1)?,
        programme: r.try_get(2)?,
        value_minor: r.try_get(3)?,
        currency: r.try_get(4)?,
        mode: r.try_get(5)?,
        valid_from: r.try_get(6)?,
        valid_until: r.try_get(7)?,
        beneficiary: r.try_get(8)?,
        credential: r.try_get(9)?,
        issued_here: r.try_get(10)?,
        revoked_at: r.try_get(11)?,
        redeemed_minor: r.try_get(12)?,
        winner_device: r.try_get(13)?,
        winner_seq: r.try_get(14)?,
    }
    .parse()
}

fn entitlement_row(r: &Row) -> Res<EntitlementRow> {
    EntitlementRowRaw {
        entitlement: r.try_get(0)?,
        beneficiary: r.try_get(1)?,
        programme: r.try_get(2)?,
        value_minor: r.try_get(3)?,
        currency: r.try_get(4)?,
        mode: r.try_get(5)?,
        redeemed_minor: r.try_get(6)?,
        winner_device: r.try_get(7)?,
        winner_seq: r.try_get(8)?,
    }
    .parse()
}

impl Sql for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &'static str, params: &[Value]) -> Res<u64> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        PgTx::execute(self, sql, &params)
    }

    fn query(
        &mut self,
        source: &'static str,
        sql: &'static str,
        params: &[Value],
    ) -> Res<Vec<SqlRow>> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        PgTx::query(self, sql, &params)?
            .iter()
            .map(|row| sql_row(row, source))
            .collect()
    }
}

/// A PostgreSQL row as a [`SqlRow`], for the row mappings written once.
fn sql_row(row: &Row, source: &'static str) -> Res<SqlRow> {
    let values = (0..row.len())
        .map(|i| from_postgres(row, i, source))
        .collect::<Res<Vec<Value>>>()?;
    Ok(SqlRow::new(values, source))
}

/// A PostgreSQL column as a [`Value`], by its type.
fn from_postgres(row: &Row, i: usize, source: &'static str) -> Res<Value> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_();
    let value = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::from),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
        _ => {
            return Err(StorageError::corrupt(
                source,
                format!("column {i} has type {ty}"),
            ));
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(t) => t.as_str().to_sql(ty, out),
            Value::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl Tx for PgTx<'_> {
    fn sql(&mut self) -> &mut dyn Sql {
        self
    }

    fn lock_vouchers(&mut self, ids: &[VoucherId]) -> Res<HashMap<VoucherId, VoucherRow>> {
        let ids: Vec<&str> = ids.iter().map(VoucherId::as_str).collect();
        // Sorted before locking, so two transactions never wait on each other
        // in opposite orders.
        let rows = self.query(
            "SELECT voucher, issuer, programme, value_minor, currency, mode, valid_from,
                 valid_until, beneficiary, credential, issued_here, revoked_at, redeemed_minor,
                 winner_device, winner_seq
             FROM vouchers WHERE voucher = ANY($1) ORDER BY voucher FOR UPDATE",
            &[&ids],
        )?;
        rows.iter()
            .map(|r| {
                let row = voucher_row(r)?;
                Ok((row.voucher.clone(), row))
            })
            .collect()
    }

    fn update_redemptions(&mut self, rows: &[NewTotal], feed_position: u64) -> Res<()> {
        let kinds: Vec<&str> = rows.iter().map(|r| r.credential.column()).collect();
        let ids: Vec<&str> = rows.iter().map(|r| r.credential.id()).collect();
        let redeemed: Vec<i64> = rows.iter().map(|r| r.redeemed_minor).collect();
        let devices: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.winner.as_ref().map(|(d, _)| d.as_str()))
            .collect();
        let seqs: Vec<Option<i64>> = rows
            .iter()
            .map(|r| r.winner.as_ref().map(|(_, s)| seq_to(*s)))
            .collect();
        // One statement for both tables; their rows are already locked.
        self.execute(
            "WITH u AS (
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[],
                                      $5::bigint[]) AS u(kind, id, redeemed, device, seq)),
             v AS (
                 UPDATE vouchers t SET redeemed_minor = u.redeemed, winner_device = u.device,
                     winner_seq = u.seq, feed_position = $6
                 FROM u WHERE u.kind = 'voucher' AND t.voucher = u.id)
             UPDATE entitlements t SET redeemed_minor = u.redeemed, winner_device = u.device,
                 winner_seq = u.seq, feed_position = $6
             FROM u WHERE u.kind = 'entitlement' AND t.entitlement = u.id",
            &[
                &kinds,
                &ids,
                &redeemed,
                &devices,
                &seqs,
                &seq_to(feed_position),
            ],
        )?;
        Ok(())
    }

    fn publish_entitlements(
        &mut self,
        scope: &str,
        listed: &[(&BeneficiaryId, &Entitlement)],
        now: i64,
    ) -> Res<()> {
        self.execute("DELETE FROM entitlement_scopes WHERE scope = $1", &[&scope])?;
        let ids: Vec<&str> = listed.iter().map(|(_, e)| e.id.as_str()).collect();
        let beneficiaries: Vec<&str> = listed.iter().map(|(b, _)| b.as_str()).collect();
        let programmes: Vec<&str> = listed.iter().map(|(_, e)| e.programme.as_str()).collect();
        let values: Vec<i64> = listed.iter().map(|(_, e)| e.value.minor).collect();
        let currencies: Vec<&str> = listed
            .iter()
            .map(|(_, e)| e.value.currency.code())
            .collect();
        let modes: Vec<&str> = listed.iter().map(|(_, e)| mode_to_text(e.mode)).collect();
        // Rows are written (and so locked) in id order, like the ingest's
        // `lock_entitlements`, so the two never wait on each other in a cycle.
        self.execute(
            "INSERT INTO entitlements (entitlement, beneficiary, programme, value_minor,
                 currency, mode, created_at)
             SELECT u.entitlement, u.beneficiary, u.programme, u.value, u.currency, u.mode, $7
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                         $6::text[])
                  AS u(entitlement, beneficiary, programme, value, currency, mode)
             ORDER BY u.entitlement
             ON CONFLICT (entitlement) DO UPDATE SET beneficiary = excluded.beneficiary,
                 programme = excluded.programme, value_minor = excluded.value_minor,
                 currency = excluded.currency, mode = excluded.mode",
            &[
                &ids,
                &beneficiaries,
                &programmes,
                &values,
                &currencies,
                &modes,
                &now,
            ],
        )?;
        self.execute(
            "INSERT INTO entitlement_scopes (scope, entitlement)
             SELECT $1, u.entitlement FROM unnest($2::text[]) AS u(entitlement)
             ON CONFLICT DO NOTHING",
            &[&scope, &ids],
        )?;
        Ok(())
    }

    fn insert_beneficiaries(&mut self, rows: &[BeneficiaryRow]) -> Res<()> {
        // One statement per chunk, 18 array parameters whatever its size: a
        // multi-row `VALUES` of 4 608 parameters cost a plan of its own for
        // every chunk.
        for chunk in rows.chunks(CHUNK_ROWS) {
            let text = |f: fn(&BeneficiaryRow) -> &str| chunk.iter().map(f).collect::<Vec<_>>();
            let opt =
                |f: fn(&BeneficiaryRow) -> Option<&str>| chunk.iter().map(f).collect::<Vec<_>>();
            let int = |f: fn(&BeneficiaryRow) -> i64| chunk.iter().map(f).collect::<Vec<_>>();
            self.execute(
                "INSERT INTO beneficiaries (programme, beneficiary, name, national_id, phone,
                     household, head, site, channels, channel, channel_kind, account, wallet,
                     active, digest, import_id, created_at, updated_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                     $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[],
                     $16::bigint[], $17::bigint[], $18::bigint[])",
                &[
                    &text(|b| &b.programme),
                    &text(|b| &b.beneficiary),
                    &text(|b| &b.name),
                    &text(|b| &b.national_id),
                    &opt(|b| b.phone.as_deref()),
                    &opt(|b| b.household.as_deref()),
                    &int(|b| i64::from(b.head)),
                    &opt(|b| b.site.as_deref()),
                    &text(|b| &b.channels),
                    &text(|b| &b.channel),
                    &text(|b| &b.channel_kind),
                    &opt(|b| b.account.as_deref()),
                    &opt(|b| b.wallet.as_deref()),
                    &int(|b| i64::from(b.active)),
                    &text(|b| &b.digest),
                    &int(|b| b.import_id),
                    &int(|b| b.created_at),
                    &int(|b| b.updated_at),
                ],
            )?;
        }
        Ok(())
    }

    // Each id is one probe of the primary key (a `LATERAL … LIMIT 1` is
    // planned per id, and a key matched whole is unique): while an import
    // grows the table in its own transaction there are no statistics, and
    // `beneficiary = ANY($2)` was planned as a scan of every row of the
    // programme through another `(programme, …)` index, once per chunk.
    fn beneficiaries_by_id(&mut self, programme: &str, ids: &[&str]) -> Res<Vec<BeneficiaryRow>> {
        static SQL: OnceLock<String> = OnceLock::new();
        let query = SQL.get_or_init(|| {
            format!(
                "SELECT b.* FROM unnest($2::text[]) AS u(id)
                 CROSS JOIN LATERAL (SELECT {BENEFICIARY_COLUMNS} FROM beneficiaries
                                     WHERE programme = $1 AND beneficiary = u.id LIMIT 1) b"
            )
        });
        PgTx::query(self, query, &[&programme, &ids])?
            .iter()
            .map(|row| beneficiary_row(&sql_row(row, "beneficiaries")?))
            .collect()
    }

    fn national_id_holders(
        &mut self,
        programme: &str,
        national_ids: &[&str],
    ) -> Res<Vec<(String, String)>> {
        PgTx::query(
            self,
            "SELECT n.national_id, n.beneficiary FROM unnest($2::text[]) AS u(national_id)
             CROSS JOIN LATERAL (SELECT national_id, beneficiary FROM beneficiaries
                                 WHERE programme = $1 AND national_id = u.national_id
                                 LIMIT 1) n",
            &[&programme, &national_ids],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    fn lock_entitlements(
        &mut self,
        ids: &[EntitlementId],
    ) -> Res<HashMap<EntitlementId, EntitlementRow>> {
        let ids: Vec<&str> = ids.iter().map(EntitlementId::as_str).collect();
        // Sorted before locking, so two transactions never wait on each other
        // in opposite orders.
        let rows = self.query(
            "SELECT entitlement, beneficiary, programme, value_minor, currency, mode,
                 redeemed_minor, winner_device, winner_seq
             FROM entitlements WHERE entitlement = ANY($1) ORDER BY entitlement FOR UPDATE",
            &[&ids],
        )?;
        rows.iter()
            .map(|r| {
                let row = entitlement_row(r)?;
                Ok((row.entitlement.clone(), row))
            })
            .collect()
    }
}
