//! The voucher book on the terminal: finds the voucher a typed code names
//! (`lastmile_shared::voucher_code`), so that a voucher whose QR will not
//! scan is still redeemed offline, under the same rules as a scan.
//!
//! The book (`lastmile_shared::voucher_book`) is fetched after each sync in
//! chunks, each stored as it arrives so a cut-off download resumes, and is
//! installed only after `VoucherBook::open_for` accepted the whole document
//! (the enrolled root's signature, a newer version, this terminal's site).
//! Only the index is kept (code → signed text). Looking a code up gives the
//! voucher's text, which the caller then verifies and redeems as if it had
//! been scanned: signature, key, dates, revocations and `rules::decide` are
//! applied at that moment, and the code is recomputed from the text, so a
//! tampered index can neither forge a voucher nor swap one for another.

use std::collections::HashMap;

use lastmile_shared::voucher_book::{
    ROUTE_VOUCHER_BOOK, VOUCHER_BOOK_BYTES_MAX, VOUCHER_BOOK_CHUNK_BYTES_MAX, VoucherBook,
    VoucherBookChunk, VoucherBookRequest,
};
use lastmile_shared::voucher_code::VoucherCode;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::enrolment::Enrolment;
use crate::error::Error;
use crate::sync_client::{HttpClient, RequestSigner, SYNC_ATTEMPTS_MAX, SyncError};
use crate::terminal::Terminal;

/// Most chunk requests in one sync: enough for the largest book
/// (`VOUCHER_BOOK_BYTES_MAX` / `VOUCHER_BOOK_CHUNK_BYTES_MAX` = 32), so a
/// round always ends.
pub const VOUCHER_BOOK_REQUESTS_PER_SYNC_MAX: usize = 40;

const WHAT: &str = "voucher book";

/// The version held complete (0: none).
fn held_version(conn: &Connection) -> Result<u64, Error> {
    Ok(conn
        .query_row("SELECT version FROM voucher_book WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0))
}

/// The download in progress: (version, total bytes, bytes received).
fn download(conn: &Connection) -> Result<Option<(u64, u64, u64)>, Error> {
    let row: Option<(u64, u64)> = conn
        .query_row(
            "SELECT version, total_bytes FROM voucher_book_download WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((version, total)) = row else {
        return Ok(None);
    };
    let received: u64 = conn.query_row(
        "SELECT coalesce(sum(length(bytes)), 0) FROM voucher_book_chunks",
        [],
        |r| r.get(0),
    )?;
    Ok(Some((version, total, received)))
}

fn forget_download(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch("DELETE FROM voucher_book_chunks; DELETE FROM voucher_book_download;")?;
    Ok(())
}

fn refused(reason: impl ToString) -> Error {
    Error::Document {
        what: WHAT,
        reason: reason.to_string(),
    }
}

/// A book that was opened and checked, ready to store.
pub(crate) struct OpenedBook {
    book: VoucherBook,
    codes: HashMap<VoucherCode, usize>,
}

/// Opens a complete book for this terminal, newer than `held` (0: none).
pub(crate) fn open(bytes: &[u8], enrolment: &Enrolment, held: u64) -> Result<OpenedBook, Error> {
    let (book, codes) = VoucherBook::open_for(
        bytes,
        &enrolment.root,
        (held > 0).then_some(held),
        enrolment.site.as_ref(),
        enrolment.merchant.as_ref(),
    )
    .map_err(refused)?;
    Ok(OpenedBook { book, codes })
}

/// Replaces the held book's index with `opened`, in the caller's
/// transaction. Returns its version.
pub(crate) fn store(tx: &Connection, opened: &OpenedBook, now: i64) -> Result<u64, Error> {
    let OpenedBook { book, codes } = opened;
    tx.execute("DELETE FROM voucher_codes", [])?;
    let mut insert =
        tx.prepare_cached("INSERT INTO voucher_codes (code, voucher) VALUES (?1, ?2)")?;
    for (code, index) in codes {
        insert.execute(params![code.as_str(), book.vouchers[*index]])?;
    }
    tx.execute(
        "INSERT INTO voucher_book (id, version, vouchers, issued_at, stored_at)
         VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version,
             vouchers = excluded.vouchers, issued_at = excluded.issued_at,
             stored_at = excluded.stored_at",
        params![book.version, codes.len(), book.issued_at, now],
    )?;
    forget_download(tx)?;
    Ok(book.version)
}

/// Opens a complete book and replaces the held one with it, in one
/// transaction. Returns its version.
fn install(
    conn: &mut Connection,
    bytes: &[u8],
    enrolment: &Enrolment,
    now: i64,
) -> Result<u64, Error> {
    let opened = open(bytes, enrolment, held_version(conn)?)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = store(&tx, &opened, now)?;
    tx.commit()?;
    Ok(version)
}

/// Fetches what is new of the book, chunk by chunk, and installs it once
/// complete. Returns the version installed, if one was.
pub(crate) fn pull<'s>(
    conn: &mut Connection,
    client: &HttpClient,
    enrolment: &Enrolment,
    signer: &dyn Fn() -> RequestSigner<'s>,
    now: i64,
) -> Result<Option<u64>, Error> {
    for _ in 0..VOUCHER_BOOK_REQUESTS_PER_SYNC_MAX {
        let held = held_version(conn)?;
        let partial = download(conn)?;
        let (partial_version, partial_bytes) = partial.map_or((0, 0), |(v, _, got)| (v, got));
        let request = VoucherBookRequest {
            held_version: held,
            partial_version,
            partial_bytes,
        };
        let chunk: VoucherBookChunk = client.post(
            ROUTE_VOUCHER_BOOK,
            &request,
            Some(signer()),
            SYNC_ATTEMPTS_MAX,
        )?;
        if chunk.version == 0 || chunk.version == held {
            return Ok(None);
        }
        let bad =
            |what: String| Error::Sync(SyncError::BadResponse(format!("voucher book: {what}")));
        let total = usize::try_from(chunk.total_bytes).unwrap_or(usize::MAX);
        if total > VOUCHER_BOOK_BYTES_MAX {
            return Err(bad(format!(
                "{total} bytes; at most {VOUCHER_BOOK_BYTES_MAX} are accepted"
            )));
        }
        if chunk.bytes.len() > VOUCHER_BOOK_CHUNK_BYTES_MAX {
            return Err(bad(format!("a chunk of {} bytes", chunk.bytes.len())));
        }
        // The server continues our download of this version, or starts over.
        let resumes = chunk.version == partial_version && chunk.offset == partial_bytes;
        if !resumes && chunk.offset != 0 {
            return Err(bad(format!(
                "a chunk at offset {} that was not asked for",
                chunk.offset
            )));
        }
        let received = (if resumes { partial_bytes } else { 0 }) + chunk.bytes.len() as u64;
        if received > chunk.total_bytes || (chunk.bytes.is_empty() && received < chunk.total_bytes)
        {
            return Err(bad(format!(
                "{received} of {} bytes after offset {}",
                chunk.total_bytes, chunk.offset
            )));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !resumes {
            forget_download(&tx)?;
            tx.execute(
                "INSERT INTO voucher_book_download (id, version, total_bytes) VALUES (1, ?1, ?2)",
                params![chunk.version, chunk.total_bytes],
            )?;
        }
        tx.execute(
            "INSERT INTO voucher_book_chunks (offset, bytes) VALUES (?1, ?2)",
            params![chunk.offset, chunk.bytes.as_slice()],
        )?;
        tx.commit()?;
        if received < chunk.total_bytes {
            continue;
        }
        let bytes: Vec<u8> = {
            let mut statement =
                conn.prepare("SELECT bytes FROM voucher_book_chunks ORDER BY offset")?;
            let parts = statement.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            let mut whole = Vec::with_capacity(total);
            for part in parts {
                whole.extend(part?);
            }
            whole
        };
        return match install(conn, &bytes, enrolment, now) {
            Ok(version) => Ok(Some(version)),
            Err(error) => {
                // A refused book is not resumed: the next sync starts over.
                forget_download(conn)?;
                Err(error)
            }
        };
    }
    Ok(None)
}

/// What the terminal holds of the voucher book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct VoucherBookStatus {
    pub version: u64,
    pub vouchers: u64,
    pub issued_at: i64,
}

impl Terminal {
    /// The voucher book held, if any.
    pub fn voucher_book(&self) -> Result<Option<VoucherBookStatus>, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT version, vouchers, issued_at FROM voucher_book WHERE id = 1",
                [],
                |r| {
                    Ok(VoucherBookStatus {
                        version: r.get(0)?,
                        vouchers: r.get(1)?,
                        issued_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// The voucher text a typed code names, from the voucher book: a typo
    /// is refused before any lookup, as is the printed `V-…` reference
    /// (typing it must not stand in for holding the voucher). Verify and
    /// redeem the text as a scanned QR.
    pub fn voucher_for_code(&self, typed: &str) -> Result<String, Error> {
        let code = VoucherCode::parse(typed)?;
        self.enrolled()?;
        if self.voucher_book()?.is_none() {
            return Err(Error::NotProvisioned(WHAT));
        }
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT voucher FROM voucher_codes WHERE code = ?1",
                [code.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        match text {
            Some(text) if VoucherCode::of_voucher(&text) == code => Ok(text),
            Some(_) => Err(refused(format!(
                "its entry for code {code} holds another voucher; sync to fetch the book again"
            ))),
            None => Err(Error::CodeNotFound(code.to_string())),
        }
    }
}
