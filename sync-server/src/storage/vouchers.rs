//! Vouchers as HQ holds them, what is revoked, and the balance feed,
//! written once for both backends. (Locking many vouchers or entitlements
//! at once and storing a batch's new totals stay per backend: PostgreSQL
//! does each in one statement over arrays, SQLite row by row.)

use lastmile_shared::id::{DeviceId, MerchantId, VoucherId};

use super::rows::{BALANCES_QUERY, VoucherRowRaw, parse_balance};
use super::sql::{Row, Sql};
use super::{BalanceRow, RevokedSets, StorageError, VoucherRow, mode_to_text, seq_to};

type Res<T> = Result<T, StorageError>;

pub(crate) fn voucher_row(r: &Row) -> Res<VoucherRow> {
    VoucherRowRaw {
        voucher: r.text(0)?,
        issuer: r.text(1)?,
        programme: r.text(2)?,
        value_minor: r.int(3)?,
        currency: r.text(4)?,
        mode: r.text(5)?,
        valid_from: r.int(6)?,
        valid_until: r.int(7)?,
        beneficiary: r.opt_text(8)?,
        credential: r.text(9)?,
        issued_here: r.int(10)?,
        revoked_at: r.opt_int(11)?,
        redeemed_minor: r.int(12)?,
        winner_device: r.opt_text(13)?,
        winner_seq: r.opt_int(14)?,
    }
    .parse()
}

pub fn voucher(sql: &mut dyn Sql, id: &VoucherId) -> Res<Option<VoucherRow>> {
    sql.query_opt(
        "vouchers",
        "SELECT voucher, issuer, programme, value_minor, currency, mode, valid_from,
             valid_until, beneficiary, credential, issued_here, revoked_at, redeemed_minor,
             winner_device, winner_seq
         FROM vouchers WHERE voucher = $1",
        &[id.as_str().into()],
    )?
    .map(|r| voucher_row(&r))
    .transpose()
}

pub fn known_vouchers(sql: &mut dyn Sql, ids: &[VoucherId]) -> Res<Vec<VoucherId>> {
    let mut known = Vec::new();
    for id in ids {
        let found = sql.query_opt(
            "vouchers",
            "SELECT 1 FROM vouchers WHERE voucher = $1",
            &[id.as_str().into()],
        )?;
        if found.is_some() {
            known.push(id.clone());
        }
    }
    Ok(known)
}

pub fn redeemable_vouchers(
    sql: &mut dyn Sql,
    now: i64,
    limit: usize,
) -> Res<Vec<(VoucherId, String)>> {
    sql.query(
        "vouchers",
        "SELECT voucher, credential FROM vouchers
         WHERE issued_here = 1 AND revoked_at IS NULL AND valid_until > $1
           AND redeemed_minor < value_minor
         ORDER BY voucher LIMIT $2",
        &[now.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
    )?
    .iter()
    .map(|r| Ok((VoucherId::parse(&r.text(0)?)?, r.text(1)?)))
    .collect()
}

pub fn revoke_voucher(sql: &mut dyn Sql, id: &VoucherId, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE vouchers SET revoked_at = coalesce(revoked_at, $2) WHERE voucher = $1",
        &[id.as_str().into(), now.into()],
    )? > 0)
}

pub fn revoked(sql: &mut dyn Sql) -> Res<RevokedSets> {
    let ids = |sql: &mut dyn Sql, query: &'static str| -> Res<Vec<String>> {
        sql.query("revoked", query, &[])?
            .iter()
            .map(|r| r.text(0))
            .collect()
    };
    Ok(RevokedSets {
        vouchers: ids(
            sql,
            "SELECT voucher FROM vouchers WHERE revoked_at IS NOT NULL ORDER BY voucher",
        )?
        .iter()
        .map(|id| Ok(VoucherId::parse(id)?))
        .collect::<Res<_>>()?,
        devices: ids(
            sql,
            "SELECT device FROM devices WHERE revoked_at IS NOT NULL ORDER BY device",
        )?
        .iter()
        .map(|id| Ok(DeviceId::parse(id)?))
        .collect::<Res<_>>()?,
        merchants: ids(
            sql,
            "SELECT merchant FROM revoked_merchants ORDER BY merchant",
        )?
        .iter()
        .map(|id| Ok(MerchantId::parse(id)?))
        .collect::<Res<_>>()?,
    })
}

pub fn insert_voucher(sql: &mut dyn Sql, row: &VoucherRow, now: i64) -> Res<bool> {
    Ok(sql.execute(
        "INSERT INTO vouchers (voucher, issuer, programme, value_minor, currency, mode,
             valid_from, valid_until, beneficiary, credential, issued_here, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (voucher) DO NOTHING",
        &[
            row.voucher.as_str().into(),
            row.issuer.as_str().into(),
            row.programme.as_str().into(),
            row.value.minor.into(),
            row.value.currency.code().into(),
            mode_to_text(row.mode).into(),
            row.valid_from.into(),
            row.valid_until.into(),
            row.beneficiary.as_deref().into(),
            row.credential.as_str().into(),
            row.issued_here.into(),
            now.into(),
        ],
    )? == 1)
}

/// Vouchers' and entitlements' totals that changed after `position`, in feed order.
pub fn balances_after(
    sql: &mut dyn Sql,
    position: u64,
    scope: Option<&str>,
    limit: usize,
) -> Res<Vec<BalanceRow>> {
    sql.query(
        "the balance feed",
        BALANCES_QUERY,
        &[
            seq_to(position).into(),
            scope.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )?
    .iter()
    .map(|r| parse_balance(&r.text(0)?, &r.text(1)?, r.int(2)?, &r.text(3)?, r.int(4)?))
    .collect()
}
