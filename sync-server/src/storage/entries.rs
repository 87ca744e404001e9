//! Terminals' log entries as stored, written once for both backends.

use lastmile_shared::id::{DeviceId, VoucherId};

use super::sql::{Sql, Value};
use super::{StorageError, StoredEntry, seq_from, seq_to};

type Res<T> = Result<T, StorageError>;

pub fn entries(
    sql: &mut dyn Sql,
    device: &DeviceId,
    from: u64,
    to: u64,
) -> Res<Vec<(u64, Vec<u8>)>> {
    sql.query(
        "log_entries",
        "SELECT seq, bytes FROM log_entries WHERE device = $1 AND seq BETWEEN $2 AND $3
         ORDER BY seq",
        &[
            device.as_str().into(),
            seq_to(from).into(),
            seq_to(to).into(),
        ],
    )?
    .iter()
    .map(|r| Ok((seq_from(r.int(0)?)?, r.bytes(1)?)))
    .collect()
}

pub fn entry_bytes(sql: &mut dyn Sql, device: &DeviceId, seq: u64) -> Res<Option<Vec<u8>>> {
    sql.query_opt(
        "log_entries",
        "SELECT bytes FROM log_entries WHERE device = $1 AND seq = $2",
        &[device.as_str().into(), seq_to(seq).into()],
    )?
    .map(|r| r.bytes(0))
    .transpose()
}

pub fn insert_entries(
    sql: &mut dyn Sql,
    device: &DeviceId,
    entries: &[StoredEntry],
    now: i64,
) -> Res<()> {
    for entry in entries {
        sql.execute(
            "INSERT INTO log_entries
             (device, seq, hash, bytes, kind, voucher, amount_minor, currency, at, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                device.as_str().into(),
                seq_to(entry.seq).into(),
                entry.hash.as_slice().into(),
                entry.bytes.as_slice().into(),
                entry.kind.into(),
                entry.voucher.as_ref().map(VoucherId::as_str).into(),
                entry.amount.map(|m| m.minor).into(),
                entry.amount.map(|m| m.currency.code()).into(),
                entry.at.into(),
                Value::Int(now),
            ],
        )?;
    }
    Ok(())
}

pub fn entry_count(sql: &mut dyn Sql) -> Res<u64> {
    seq_from(
        sql.query_one("log_entries", "SELECT count(*) FROM log_entries", &[])?
            .int(0)?,
    )
}
