//! Double-spend cases and alarms, written once for both backends.

use lastmile_shared::id::DeviceId;

use super::rows::{CASE_QUERY, CaseRowRaw, parse_alarm};
use super::sql::Sql;
use super::{AlarmRow, CaseRow, NewAlarm, NewCase, StorageError, seq_from, seq_to};

type Res<T> = Result<T, StorageError>;

pub fn insert_case(sql: &mut dyn Sql, case: &NewCase) -> Res<u64> {
    let row = sql.query_one(
        "double_spend_cases",
        "INSERT INTO double_spend_cases (voucher, reason, first_device, first_seq,
             second_device, second_seq, amount_minor, currency, redeemed_before_minor,
             value_minor, opened_at, entitlement)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        &[
            case.subject.voucher_id().into(),
            case.reason.into(),
            case.first.as_ref().map(|(d, _)| d.as_str()).into(),
            case.first.as_ref().map(|(_, s)| seq_to(*s)).into(),
            case.second.0.as_str().into(),
            seq_to(case.second.1).into(),
            case.amount.minor.into(),
            case.amount.currency.code().into(),
            case.redeemed_before_minor.into(),
            case.value_minor.into(),
            case.opened_at.into(),
            case.subject.entitlement_id().into(),
        ],
    )?;
    seq_from(row.int(0)?)
}

pub fn cases_of_entries(
    sql: &mut dyn Sql,
    device: &DeviceId,
    from: u64,
    to: u64,
) -> Res<Vec<(u64, u64)>> {
    sql.query(
        "double_spend_cases",
        "SELECT second_seq, id FROM double_spend_cases
         WHERE second_device = $1 AND second_seq BETWEEN $2 AND $3 ORDER BY second_seq",
        &[
            device.as_str().into(),
            seq_to(from).into(),
            seq_to(to).into(),
        ],
    )?
    .iter()
    .map(|r| Ok((seq_from(r.int(0)?)?, seq_from(r.int(1)?)?)))
    .collect()
}

pub fn cases(sql: &mut dyn Sql) -> Res<Vec<CaseRow>> {
    sql.query("double_spend_cases", CASE_QUERY, &[])?
        .iter()
        .map(|r| {
            CaseRowRaw {
                id: r.int(0)?,
                voucher: r.opt_text(1)?,
                reason: r.text(2)?,
                first_device: r.opt_text(3)?,
                first_seq: r.opt_int(4)?,
                first_entry: r.opt_bytes(5)?,
                second_device: r.text(6)?,
                second_seq: r.int(7)?,
                second_entry: r.opt_bytes(8)?,
                amount_minor: r.int(9)?,
                currency: r.text(10)?,
                redeemed_before_minor: r.int(11)?,
                value_minor: r.int(12)?,
                opened_at: r.int(13)?,
                status: r.text(14)?,
                resolution: r.opt_text(15)?,
                resolution_note: r.opt_text(16)?,
                resolved_at: r.opt_int(17)?,
                entitlement: r.opt_text(18)?,
            }
            .parse()
        })
        .collect()
}

pub fn case_exists(sql: &mut dyn Sql, id: u64) -> Res<bool> {
    Ok(sql
        .query_opt(
            "double_spend_cases",
            "SELECT 1 FROM double_spend_cases WHERE id = $1",
            &[seq_to(id).into()],
        )?
        .is_some())
}

pub fn case_resolution(
    sql: &mut dyn Sql,
    device: &DeviceId,
    id: u64,
) -> Res<Option<(String, i64)>> {
    sql.query_opt(
        "double_spend_cases",
        "SELECT resolution, resolved_at FROM double_spend_cases
         WHERE id = $1 AND second_device = $2
           AND resolution IS NOT NULL AND resolved_at IS NOT NULL",
        &[seq_to(id).into(), device.as_str().into()],
    )?
    .map(|r| Ok((r.text(0)?, r.int(1)?)))
    .transpose()
}

pub fn resolve_case(
    sql: &mut dyn Sql,
    id: u64,
    resolution: &str,
    note: &str,
    now: i64,
) -> Res<bool> {
    Ok(sql.execute(
        "UPDATE double_spend_cases
         SET status = 'resolved', resolution = $2, resolution_note = $3, resolved_at = $4
         WHERE id = $1 AND status = 'open'",
        &[
            seq_to(id).into(),
            resolution.into(),
            note.into(),
            now.into(),
        ],
    )? == 1)
}

pub fn insert_alarm(sql: &mut dyn Sql, alarm: &NewAlarm) -> Res<u64> {
    let row = sql.query_one(
        "alarms",
        "INSERT INTO alarms (kind, device, seq, detail, evidence, raised_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            alarm.kind.into(),
            alarm.device.as_ref().map(DeviceId::as_str).into(),
            alarm.seq.map(seq_to).into(),
            alarm.detail.as_str().into(),
            alarm.evidence.as_deref().into(),
            alarm.raised_at.into(),
        ],
    )?;
    seq_from(row.int(0)?)
}

pub fn alarms(sql: &mut dyn Sql) -> Res<Vec<AlarmRow>> {
    sql.query(
        "alarms",
        "SELECT id, kind, device, seq, detail, evidence, raised_at FROM alarms ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| {
        parse_alarm(
            r.int(0)?,
            r.text(1)?,
            r.opt_text(2)?,
            r.opt_int(3)?,
            r.text(4)?,
            r.opt_bytes(5)?,
            r.int(6)?,
        )
    })
    .collect()
}
