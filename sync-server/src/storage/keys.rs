//! The root key's public half and the issuer keys, written once for both
//! backends.

use lastmile_shared::id::KeyId;
use lastmile_shared::trust_list::{IssuerKey, KeyStatus};

use super::rows::parse_issuer_key;
use super::sql::Sql;
use super::{RootKeyRow, StorageError, key_status_to_text, key32};

type Res<T> = Result<T, StorageError>;

pub fn root_key(sql: &mut dyn Sql) -> Res<Option<RootKeyRow>> {
    sql.query_opt(
        "root_key",
        "SELECT kid, public_key, created_at FROM root_key WHERE id = 1",
        &[],
    )?
    .map(|r| {
        Ok(RootKeyRow {
            kid: KeyId::parse(&r.text(0)?)?,
            public_key: key32(r.bytes(1)?, "root_key.public_key")?,
            created_at: r.int(2)?,
        })
    })
    .transpose()
}

pub fn put_root_key(sql: &mut dyn Sql, row: &RootKeyRow) -> Res<()> {
    sql.execute(
        "INSERT INTO root_key (id, kid, public_key, created_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE
         SET kid = excluded.kid, public_key = excluded.public_key,
             created_at = excluded.created_at",
        &[
            row.kid.as_str().into(),
            row.public_key.as_slice().into(),
            row.created_at.into(),
        ],
    )?;
    Ok(())
}

pub fn issuer_keys(sql: &mut dyn Sql) -> Res<Vec<IssuerKey>> {
    sql.query(
        "issuer_keys",
        "SELECT kid, issuer, public_key, valid_from, valid_until, status, status_since
         FROM issuer_keys ORDER BY created_at, kid",
        &[],
    )?
    .iter()
    .map(|r| {
        parse_issuer_key(
            r.text(0)?,
            r.text(1)?,
            r.bytes(2)?,
            r.int(3)?,
            r.int(4)?,
            r.text(5)?,
            r.opt_int(6)?,
        )
    })
    .collect()
}

pub fn insert_issuer_key(sql: &mut dyn Sql, key: &IssuerKey, now: i64) -> Res<()> {
    let (status, since) = key_status_to_text(key.status);
    sql.execute(
        "INSERT INTO issuer_keys
         (kid, issuer, public_key, valid_from, valid_until, status, status_since, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            key.kid.as_str().into(),
            key.issuer.as_str().into(),
            key.public_key.as_slice().into(),
            key.valid_from.into(),
            key.valid_until.into(),
            status.into(),
            since.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

pub fn set_issuer_key_status(sql: &mut dyn Sql, kid: &KeyId, status: KeyStatus) -> Res<bool> {
    let (status, since) = key_status_to_text(status);
    Ok(sql.execute(
        "UPDATE issuer_keys SET status = $2, status_since = $3 WHERE kid = $1",
        &[kid.as_str().into(), status.into(), since.into()],
    )? > 0)
}
