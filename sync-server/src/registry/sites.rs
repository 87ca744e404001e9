//! Distribution sites: the places where cash is handed out and terminals
//! work. A beneficiary's site must be one of them.

use lastmile_shared::id::SiteId;
use lastmile_shared::text::{Lines, PlainText};

use super::RegistryError;
use crate::audit::{self, Actor};
use crate::storage::Storage;
use crate::storage::registry::{self as table, SiteRow};
use crate::storage::sql::Page;

/// Most sites HQ keeps (an import holds them all in memory).
pub const SITES_MAX: i64 = 100_000;
/// Longest site name, in characters.
pub const NAME_CHARS_MAX: usize = 120;

/// Registers a site.
pub fn create(
    storage: &Storage,
    actor: &Actor,
    site: &str,
    name: &str,
    now: i64,
) -> Result<SiteRow, RegistryError> {
    let site = SiteId::parse(site.trim()).map_err(|source| RegistryError::BadId {
        field: "site id",
        source,
    })?;
    let name = PlainText::parse(name, Lines::One, NAME_CHARS_MAX).map_err(|source| {
        RegistryError::BadText {
            field: "site name",
            source,
        }
    })?;
    let row = SiteRow {
        site: site.to_string(),
        name: name.as_str().to_owned(),
        created_by: actor.label(),
        created_at: now,
    };
    storage.transaction(|tx| {
        if !table::insert_site(tx.sql(), &row)? {
            return Err(RegistryError::SiteTaken(row.site.clone()));
        }
        audit::record(
            tx,
            actor,
            "site.created",
            &format!("site:{}", row.site),
            serde_json::json!({ "name": row.name }),
            now,
        )?;
        Ok(row)
    })
}

pub fn list(storage: &Storage, page: Page) -> Result<Vec<SiteRow>, RegistryError> {
    Ok(storage.transaction(|tx| table::sites(tx.sql(), page))?)
}
