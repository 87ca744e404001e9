//! Voucher books (`lastmile_shared::voucher_book`): for each site (or
//! merchant without a site) that has terminals, the vouchers issued here
//! that its terminals may redeem, as their full signed texts, sealed with
//! the root key. A terminal redeems a typed voucher code against it offline.
//!
//! Books are resealed after every issuance and root handover, and built the
//! first time a terminal of a new scope asks; a terminal fetches its book in
//! bounded chunks ([`chunk`]).

use std::collections::{BTreeMap, HashSet};

use lastmile_shared::id::{MerchantId, SiteId};
use lastmile_shared::trust_list::RootSigned;
use lastmile_shared::voucher::{self, VoucherClaims};
use lastmile_shared::voucher_book::{
    VOUCHER_BOOK_CHUNK_BYTES_MAX, VOUCHER_BOOK_VOUCHERS_MAX, VoucherBook, VoucherBookChunk,
    VoucherBookRequest,
};
use lastmile_shared::voucher_code::VoucherCode;
use serde_bytes::ByteBuf;

use crate::documents::roster_scope;
use crate::keys::{self, KeyDir, KeyError, Signer};
use crate::storage::{DeviceRow, Storage, StorageError, Tx};

/// The document kind of voucher books; scoped like rosters.
pub const VOUCHER_BOOK: &str = "voucher_book";
/// Most redeemable vouchers read to build books (all scopes together).
pub const BOOKED_VOUCHERS_READ_MAX: usize = 500_000;

#[derive(Debug, thiserror::Error)]
pub enum VoucherBookError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Whether a terminal of `site` (or, with no site, of `merchant`) may
/// redeem the voucher: the same restrictions `rules::decide` applies, read
/// for the book's scope.
fn admits(claims: &VoucherClaims, site: Option<&SiteId>, merchant: Option<&MerchantId>) -> bool {
    match (site, merchant) {
        (Some(site), _) => claims.sites.is_empty() || claims.sites.contains(site),
        (None, Some(merchant)) => {
            claims.sites.is_empty()
                && (claims.merchants.is_empty() || claims.merchants.contains(merchant))
        }
        (None, None) => false,
    }
}

/// A voucher that may still be redeemed, decoded once for every scope.
struct Booked {
    text: String,
    claims: VoucherClaims,
}

fn redeemable(tx: &mut dyn Tx, now: i64) -> Result<Vec<Booked>, StorageError> {
    tx.redeemable_vouchers(now, BOOKED_VOUCHERS_READ_MAX)?
        .into_iter()
        .map(|(id, text)| {
            let claims = voucher::decode(&text)
                .map_err(|e| StorageError::corrupt("vouchers", format!("{id}: {e}")))?
                .claims()
                .clone();
            Ok(Booked { text, claims })
        })
        .collect()
}

/// Seals the book of one scope; `None` when more vouchers qualify than a
/// book may hold (the previous version stays, and HQ is told in the log).
fn seal(
    tx: &mut dyn Tx,
    root: &Signer,
    site: Option<&SiteId>,
    merchant: Option<&MerchantId>,
    vouchers: &[Booked],
    now: i64,
) -> Result<Option<u64>, StorageError> {
    let Some(scope) = roster_scope(site, merchant) else {
        return Ok(None);
    };
    let mut codes = HashSet::new();
    let mut texts = Vec::new();
    for booked in vouchers
        .iter()
        .filter(|b| admits(&b.claims, site, merchant))
    {
        // 55-bit codes: two alike in one book are about one chance in ten
        // million for a full book. The later voucher is left out (it still
        // scans); its code would be ambiguous.
        if !codes.insert(VoucherCode::of_voucher(&booked.text)) {
            tracing::warn!(scope, voucher = %booked.claims.id,
                "voucher code already used in this book; left out of it");
            continue;
        }
        texts.push(booked.text.clone());
    }
    if texts.len() > VOUCHER_BOOK_VOUCHERS_MAX {
        tracing::error!(
            scope,
            vouchers = texts.len(),
            max = VOUCHER_BOOK_VOUCHERS_MAX,
            "too many vouchers for one voucher book: restrict vouchers to sites; the book was not updated"
        );
        return Ok(None);
    }
    let version = tx.next_counter(&format!("document:{VOUCHER_BOOK}"))?;
    let book = VoucherBook {
        version,
        issued_at: now,
        site: site.cloned(),
        merchant: if site.is_some() {
            None
        } else {
            merchant.cloned()
        },
        vouchers: texts,
    };
    tx.put_document(
        VOUCHER_BOOK,
        &scope,
        version,
        &book.seal(&root.kid, &root.key),
        now,
    )?;
    Ok(Some(version))
}

/// Reseals the book of every scope that has an active terminal (after an
/// issuance, or under a new root). Returns how many books were sealed.
pub fn publish_all(tx: &mut dyn Tx, root: &Signer, now: i64) -> Result<usize, StorageError> {
    let scopes: BTreeMap<String, (Option<SiteId>, Option<MerchantId>)> = tx
        .devices()?
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .filter_map(|d| {
            let scope = roster_scope(d.site.as_ref(), d.merchant.as_ref())?;
            Some((scope, (d.site, d.merchant)))
        })
        .collect();
    if scopes.is_empty() {
        return Ok(0);
    }
    let vouchers = redeemable(tx, now)?;
    let mut sealed = 0;
    for (site, merchant) in scopes.values() {
        if seal(tx, root, site.as_ref(), merchant.as_ref(), &vouchers, now)?.is_some() {
            sealed += 1;
        }
    }
    Ok(sealed)
}

/// The next piece of a terminal's book after what it holds (see
/// [`VoucherBookChunk`]). A scope's first book is built on this request.
pub fn chunk(
    storage: &Storage,
    keys: &KeyDir,
    device: &DeviceRow,
    request: VoucherBookRequest,
    now: i64,
) -> Result<VoucherBookChunk, VoucherBookError> {
    let nothing = VoucherBookChunk {
        version: 0,
        total_bytes: 0,
        offset: 0,
        bytes: ByteBuf::new(),
    };
    let (site, merchant) = (device.site.as_ref(), device.merchant.as_ref());
    let Some(scope) = roster_scope(site, merchant) else {
        return Ok(nothing);
    };
    let held = storage.transaction(|tx| tx.document(VOUCHER_BOOK, &scope))?;
    let (version, bytes) = match held {
        Some(book) => book,
        None => {
            let built = storage.transaction(|tx| {
                let root = keys::root_signer(tx, keys)?;
                let vouchers = redeemable(tx, now)?;
                seal(tx, &root, site, merchant, &vouchers, now)?;
                Ok::<_, VoucherBookError>(tx.document(VOUCHER_BOOK, &scope)?)
            })?;
            match built {
                Some(book) => book,
                None => return Ok(nothing),
            }
        }
    };
    let total = bytes.len();
    let offset = if version == request.held_version {
        total
    } else if version == request.partial_version {
        usize::try_from(request.partial_bytes)
            .map_or(0, |held| if held <= total { held } else { 0 })
    } else {
        0
    };
    let end = total.min(offset + VOUCHER_BOOK_CHUNK_BYTES_MAX);
    Ok(VoucherBookChunk {
        version,
        total_bytes: total as u64,
        offset: offset as u64,
        bytes: ByteBuf::from(bytes[offset..end].to_vec()),
    })
}
