//! Offline limits per currency, written once for both backends.

use lastmile_shared::rules::OfflineLimits;

use super::StorageError;
use super::rows::parse_limits;
use super::sql::Sql;

type Res<T> = Result<T, StorageError>;

pub fn limits(sql: &mut dyn Sql) -> Res<Vec<OfflineLimits>> {
    sql.query(
        "offline_limits",
        "SELECT currency, credential_value_max_minor, unsynced_value_max_minor,
             unsynced_count_max, offline_seconds_max
         FROM offline_limits ORDER BY currency",
        &[],
    )?
    .iter()
    .map(|r| parse_limits(r.text(0)?, r.int(1)?, r.int(2)?, r.int(3)?, r.int(4)?))
    .collect()
}

pub fn set_limits(sql: &mut dyn Sql, limits: &OfflineLimits) -> Res<()> {
    sql.execute(
        "INSERT INTO offline_limits (currency, credential_value_max_minor,
             unsynced_value_max_minor, unsynced_count_max, offline_seconds_max)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (currency) DO UPDATE SET
             credential_value_max_minor = excluded.credential_value_max_minor,
             unsynced_value_max_minor = excluded.unsynced_value_max_minor,
             unsynced_count_max = excluded.unsynced_count_max,
             offline_seconds_max = excluded.offline_seconds_max",
        &[
            limits.currency.code().into(),
            limits.credential_value_max_minor.into(),
            limits.unsynced_value_max_minor.into(),
            i64::from(limits.unsynced_count_max).into(),
            limits.offline_seconds_max.into(),
        ],
    )?;
    Ok(())
}
