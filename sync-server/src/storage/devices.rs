//! Enrolment codes, enrolled terminals, request nonces and suspended
//! merchants, written once for both backends. The two reads that lock a
//! row (`lock_enrolment_code`, `lock_device`) add `FOR UPDATE` on
//! PostgreSQL; SQLite's transaction already holds its single write lock.

use lastmile_shared::id::{DeviceId, KeyId, MerchantId, SiteId};

use super::rows::DeviceRowRaw;
use super::sql::{Dialect, Row, Sql, Value};
use super::{DeviceRow, EnrolmentCodeRow, StorageError, opt_id, seq_to};

type Res<T> = Result<T, StorageError>;

macro_rules! device_select {
    ($where:literal) => {
        concat!(
            "SELECT device, kid, public_key, label, merchant, site, enrolled_at, revoked_at, \
             head_seq, head_hash, last_seen_at FROM devices ",
            $where
        )
    };
}

fn device(r: &Row) -> Res<DeviceRow> {
    DeviceRowRaw {
        device: r.text(0)?,
        kid: r.text(1)?,
        public_key: r.bytes(2)?,
        label: r.text(3)?,
        merchant: r.opt_text(4)?,
        site: r.opt_text(5)?,
        enrolled_at: r.int(6)?,
        revoked_at: r.opt_int(7)?,
        head_seq: r.int(8)?,
        head_hash: r.bytes(9)?,
        last_seen_at: r.opt_int(10)?,
    }
    .parse()
}

pub fn insert_enrolment_code(
    sql: &mut dyn Sql,
    code_hash: &[u8; 32],
    merchant: Option<&MerchantId>,
    site: Option<&SiteId>,
    now: i64,
    expires_at: i64,
) -> Res<()> {
    sql.execute(
        "INSERT INTO enrolment_codes (code_hash, merchant, site, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            code_hash.as_slice().into(),
            merchant.map(MerchantId::as_str).into(),
            site.map(SiteId::as_str).into(),
            now.into(),
            expires_at.into(),
        ],
    )?;
    Ok(())
}

pub fn lock_enrolment_code(
    sql: &mut dyn Sql,
    code_hash: &[u8; 32],
) -> Res<Option<EnrolmentCodeRow>> {
    const SELECT: &str =
        "SELECT merchant, site, expires_at, used_at FROM enrolment_codes WHERE code_hash = $1";
    const LOCK: &str = "SELECT merchant, site, expires_at, used_at FROM enrolment_codes \
         WHERE code_hash = $1 FOR UPDATE";
    let query = match sql.dialect() {
        Dialect::Sqlite => SELECT,
        Dialect::Postgres => LOCK,
    };
    sql.query_opt("enrolment_codes", query, &[code_hash.as_slice().into()])?
        .map(|r| {
            Ok(EnrolmentCodeRow {
                merchant: opt_id(r.opt_text(0)?, MerchantId::parse)?,
                site: opt_id(r.opt_text(1)?, SiteId::parse)?,
                expires_at: r.int(2)?,
                used_at: r.opt_int(3)?,
            })
        })
        .transpose()
}

pub fn use_enrolment_code(
    sql: &mut dyn Sql,
    code_hash: &[u8; 32],
    device: &DeviceId,
    now: i64,
) -> Res<()> {
    sql.execute(
        "UPDATE enrolment_codes SET used_at = $2, device = $3 WHERE code_hash = $1",
        &[
            code_hash.as_slice().into(),
            now.into(),
            device.as_str().into(),
        ],
    )?;
    Ok(())
}

pub fn public_key_enrolled(sql: &mut dyn Sql, public_key: &[u8; 32]) -> Res<bool> {
    Ok(sql
        .query_opt(
            "devices",
            "SELECT 1 FROM devices WHERE public_key = $1",
            &[public_key.as_slice().into()],
        )?
        .is_some())
}

pub fn insert_device(sql: &mut dyn Sql, row: &DeviceRow) -> Res<()> {
    sql.execute(
        "INSERT INTO devices (device, kid, public_key, label, merchant, site, enrolled_at,
             revoked_at, head_seq, head_hash, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            row.device.as_str().into(),
            row.kid.as_str().into(),
            row.public_key.as_slice().into(),
            row.label.as_str().into(),
            row.merchant.as_ref().map(MerchantId::as_str).into(),
            row.site.as_ref().map(SiteId::as_str).into(),
            row.enrolled_at.into(),
            row.revoked_at.into(),
            seq_to(row.head_seq).into(),
            row.head_hash.as_slice().into(),
            row.last_seen_at.into(),
        ],
    )?;
    Ok(())
}

pub fn device_by_kid(sql: &mut dyn Sql, kid: &KeyId) -> Res<Option<DeviceRow>> {
    sql.query_opt(
        "devices",
        device_select!("WHERE kid = $1"),
        &[kid.as_str().into()],
    )?
    .map(|r| device(&r))
    .transpose()
}

/// Reads a device, locking its row until the transaction ends: what
/// serialises one device's uploads across server instances.
pub fn lock_device(sql: &mut dyn Sql, id: &DeviceId) -> Res<Option<DeviceRow>> {
    let query = match sql.dialect() {
        Dialect::Sqlite => device_select!("WHERE device = $1"),
        Dialect::Postgres => device_select!("WHERE device = $1 FOR UPDATE"),
    };
    sql.query_opt("devices", query, &[id.as_str().into()])?
        .map(|r| device(&r))
        .transpose()
}

pub fn devices(sql: &mut dyn Sql) -> Res<Vec<DeviceRow>> {
    sql.query(
        "devices",
        device_select!("ORDER BY enrolled_at, device"),
        &[],
    )?
    .iter()
    .map(device)
    .collect()
}

pub fn revoke_device(sql: &mut dyn Sql, id: &DeviceId, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, $2) WHERE device = $1",
        &[id.as_str().into(), now.into()],
    )? > 0)
}

pub fn assign_device(
    sql: &mut dyn Sql,
    id: &DeviceId,
    merchant: Option<&MerchantId>,
    site: Option<&SiteId>,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE devices SET merchant = $2, site = $3 WHERE device = $1",
        &[
            id.as_str().into(),
            merchant.map(MerchantId::as_str).into(),
            site.map(SiteId::as_str).into(),
        ],
    )? > 0)
}

pub fn set_device_head(
    sql: &mut dyn Sql,
    id: &DeviceId,
    seq: u64,
    hash: &[u8; 32],
    now: i64,
) -> Res<()> {
    sql.execute(
        "UPDATE devices SET head_seq = $2, head_hash = $3, last_seen_at = $4 WHERE device = $1",
        &[
            id.as_str().into(),
            seq_to(seq).into(),
            hash.as_slice().into(),
            now.into(),
        ],
    )?;
    Ok(())
}

pub fn touch_device(sql: &mut dyn Sql, id: &DeviceId, now: i64) -> Res<()> {
    sql.execute(
        "UPDATE devices SET last_seen_at = $2 WHERE device = $1",
        &[id.as_str().into(), now.into()],
    )?;
    Ok(())
}

pub fn insert_nonce(sql: &mut dyn Sql, kid: &KeyId, nonce: &str, created: i64) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO request_nonces (kid, nonce, created_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[kid.as_str().into(), nonce.into(), created.into()],
    )? == 1)
}

pub fn prune_nonces(sql: &mut dyn Sql, created_before: i64) -> Res<u64> {
    sql.execute(
        "DELETE FROM request_nonces WHERE created_at < $1",
        &[Value::Int(created_before)],
    )
}

pub fn revoke_merchant(
    sql: &mut dyn Sql,
    merchant: &MerchantId,
    reason: &str,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO revoked_merchants (merchant, reason, revoked_at) VALUES ($1, $2, $3)
         ON CONFLICT (merchant) DO NOTHING",
        &[merchant.as_str().into(), reason.into(), now.into()],
    )? == 1)
}
