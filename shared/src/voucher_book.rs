//! The voucher book: the vouchers a site (or a merchant without a site) may
//! redeem, each as its full signed text, root-signed and versioned like the
//! roster, so that a terminal can redeem by typed code
//! ([`crate::voucher_code`]) with no network (`docs/voucher-format.md` §7).
//!
//! The book only finds the text; the text then goes through the same
//! verification and `rules::decide` as a scanned QR. A code is derived from
//! the text it names, so neither a forged book nor a tampered copy on the
//! terminal can make a code redeem anything but the voucher it was printed
//! for.
//!
//! Terminals fetch it from `POST /v1/terminal/voucher-book` in chunks of at
//! most [`VOUCHER_BOOK_CHUNK_BYTES_MAX`], each answer naming the version and
//! the offset, so a download cut off by a dropped connection resumes where
//! it stopped, and a new version restarts it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::id::{MerchantId, SiteId};
use crate::trust_list::{DocumentError, RootKey, RootSigned};
use crate::voucher::{self, VOUCHER_TEXT_BYTES_MAX, VoucherError};
use crate::voucher_code::VoucherCode;

/// Most vouchers in one book (one site's or one merchant's): about 300
/// bytes each, so a full book is about 6 MB.
pub const VOUCHER_BOOK_VOUCHERS_MAX: usize = 20_000;
/// Largest signed book, in bytes: the most vouchers at their longest.
pub const VOUCHER_BOOK_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most bytes of a book in one answer.
pub const VOUCHER_BOOK_CHUNK_BYTES_MAX: usize = 256 * 1024;
/// The route terminals fetch it from.
pub const ROUTE_VOUCHER_BOOK: &str = "/v1/terminal/voucher-book";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherBook {
    pub version: u64,
    pub issued_at: i64,
    /// The site whose terminals hold it, or else the merchant's.
    pub site: Option<SiteId>,
    pub merchant: Option<MerchantId>,
    /// Voucher texts (`LM1:…`), exactly as issued.
    pub vouchers: Vec<String>,
}

impl RootSigned for VoucherBook {
    fn version(&self) -> u64 {
        self.version
    }
}

/// Why a voucher book was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherBookError {
    #[error("voucher book: {0}")]
    Document(#[from] DocumentError),
    #[error("the voucher book is {0} bytes; the limit is {VOUCHER_BOOK_BYTES_MAX}")]
    Oversize(usize),
    #[error("the voucher book holds {0} vouchers; the limit is {VOUCHER_BOOK_VOUCHERS_MAX}")]
    TooManyVouchers(usize),
    #[error("the voucher book is for another site or merchant")]
    WrongScope,
    #[error("voucher {index} of the voucher book is not a voucher: {error}")]
    BadVoucher { index: usize, error: VoucherError },
    #[error("two vouchers of the voucher book have the code {0}")]
    DuplicateCode(VoucherCode),
}

impl VoucherBook {
    /// Whether terminals of `site` / `merchant` hold this book (the same
    /// choice as their roster: the site's, or else the merchant's).
    pub fn is_for(&self, site: Option<&SiteId>, merchant: Option<&MerchantId>) -> bool {
        match (&self.site, &self.merchant) {
            (Some(own), _) => site == Some(own),
            (None, Some(own)) => site.is_none() && merchant == Some(own),
            (None, None) => false,
        }
    }

    /// Opens a signed book for a terminal of `site` / `merchant`: right
    /// root, newer than `held_version`, for this terminal, within limits,
    /// every entry a well-formed voucher and every code distinct. Returns
    /// the book and each voucher's code (index into `vouchers`). Signatures
    /// of the vouchers are checked when one is redeemed, against the trust
    /// list of that moment.
    pub fn open_for(
        bytes: &[u8],
        root: &RootKey,
        held_version: Option<u64>,
        site: Option<&SiteId>,
        merchant: Option<&MerchantId>,
    ) -> Result<(VoucherBook, HashMap<VoucherCode, usize>), VoucherBookError> {
        if bytes.len() > VOUCHER_BOOK_BYTES_MAX {
            return Err(VoucherBookError::Oversize(bytes.len()));
        }
        let book = <VoucherBook as RootSigned>::open(bytes, root, held_version)?;
        if !book.is_for(site, merchant) {
            return Err(VoucherBookError::WrongScope);
        }
        let codes = book.codes()?;
        Ok((book, codes))
    }

    /// Each voucher's code, after checking the limits and that every entry
    /// is a voucher.
    pub fn codes(&self) -> Result<HashMap<VoucherCode, usize>, VoucherBookError> {
        if self.vouchers.len() > VOUCHER_BOOK_VOUCHERS_MAX {
            return Err(VoucherBookError::TooManyVouchers(self.vouchers.len()));
        }
        let mut codes = HashMap::with_capacity(self.vouchers.len());
        for (index, text) in self.vouchers.iter().enumerate() {
            if text.len() > VOUCHER_TEXT_BYTES_MAX {
                return Err(VoucherBookError::BadVoucher {
                    index,
                    error: VoucherError::Oversize { len: text.len() },
                });
            }
            voucher::decode(text).map_err(|error| VoucherBookError::BadVoucher { index, error })?;
            let code = VoucherCode::of_voucher(text);
            if codes.insert(code, index).is_some() {
                return Err(VoucherBookError::DuplicateCode(code));
            }
        }
        Ok(codes)
    }
}

/// What a terminal holds of the book: the complete version it has, and how
/// far it got with a newer one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherBookRequest {
    /// The version held complete (0: none).
    pub held_version: u64,
    /// The version being downloaded (0: none), and its bytes received.
    pub partial_version: u64,
    pub partial_bytes: u64,
}

/// One piece of the current book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherBookChunk {
    /// The current version (0: the server has no book for this terminal).
    /// Equal to the held version: nothing to fetch.
    pub version: u64,
    /// Size of the whole signed book.
    pub total_bytes: u64,
    /// Where `bytes` start in it: the partial download's length when it is
    /// of this version, else 0.
    pub offset: u64,
    /// At most [`VOUCHER_BOOK_CHUNK_BYTES_MAX`] bytes.
    pub bytes: ByteBuf,
}
