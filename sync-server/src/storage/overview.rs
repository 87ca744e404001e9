//! What the console's dashboard and voucher page read, written once for
//! both backends: counts in one round trip, and a voucher's redemptions as
//! the terminals' logs reported them.

use lastmile_shared::id::DeviceId;
use serde::Serialize;

use super::StorageError;
use super::sql::{Row, Sql};

/// The dashboard's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub terminals: i64,
    pub terminals_online: i64,
    pub terminals_stale: i64,
    pub entries: i64,
    pub open_cases: i64,
    pub pending_proposals: i64,
    pub alarms: i64,
    /// The latest sync of any terminal, Unix seconds.
    pub last_sync_at: Option<i64>,
}

/// `online_since`: a terminal seen since then is online; `stale_before`:
/// one not seen since then (and not revoked) is stale.
pub fn counts(
    sql: &mut dyn Sql,
    online_since: i64,
    stale_before: i64,
) -> Result<Counts, StorageError> {
    let r = sql.query_one(
        "overview",
        "SELECT (SELECT count(*) FROM devices),
                (SELECT count(*) FROM devices WHERE revoked_at IS NULL AND last_seen_at >= $1),
                (SELECT count(*) FROM devices
                  WHERE revoked_at IS NULL AND coalesce(last_seen_at, enrolled_at) < $2),
                (SELECT count(*) FROM log_entries),
                (SELECT count(*) FROM double_spend_cases WHERE resolution IS NULL),
                (SELECT count(*) FROM proposals WHERE state = 'pending'),
                (SELECT count(*) FROM alarms),
                (SELECT max(last_seen_at) FROM devices)",
        &[online_since.into(), stale_before.into()],
    )?;
    Ok(Counts {
        terminals: r.int(0)?,
        terminals_online: r.int(1)?,
        terminals_stale: r.int(2)?,
        entries: r.int(3)?,
        open_cases: r.int(4)?,
        pending_proposals: r.int(5)?,
        alarms: r.int(6)?,
        last_sync_at: r.opt_int(7)?,
    })
}

/// One redemption of a voucher as a terminal logged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redemption {
    pub device: DeviceId,
    pub seq: u64,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    /// The terminal's clock.
    pub at: i64,
    pub received_at: i64,
}

fn redemption(r: &Row) -> Result<Redemption, StorageError> {
    Ok(Redemption {
        device: DeviceId::parse(&r.text(0)?)?,
        seq: u64::try_from(r.int(1)?).map_err(|e| StorageError::corrupt("log_entries.seq", e))?,
        amount_minor: r.opt_int(2)?,
        currency: r.opt_text(3)?,
        at: r.int(4)?,
        received_at: r.int(5)?,
    })
}

/// A voucher's redemptions on every terminal, in the order HQ received them.
pub fn redemptions(
    sql: &mut dyn Sql,
    voucher: &str,
    limit: u32,
) -> Result<Vec<Redemption>, StorageError> {
    sql.query(
        "log_entries",
        "SELECT device, seq, amount_minor, currency, at, received_at FROM log_entries
         WHERE voucher = $1 ORDER BY received_at, device, seq LIMIT $2",
        &[voucher.into(), i64::from(limit).into()],
    )?
    .iter()
    .map(redemption)
    .collect()
}
