//! The sync protocol's wire messages, shared by terminal and server.
//!
//! Bodies are CBOR (`application/cbor`). Every request except enrolment is
//! signed with the device key per [`crate::http_signature`]. Routes:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /v1/terminal/enroll` | [`EnrollRequest`] | [`EnrollResponse`] |
//! | `POST /v1/terminal/upload` | [`UploadRequest`] | [`UploadResponse`] |
//! | `POST /v1/terminal/pull` | [`PullRequest`] | [`PullResponse`] |
//!
//! Upload is idempotent by `(device, seq)`: the same entry twice is one
//! entry; a different entry with a sequence number already held is refused
//! and raised as an alarm. Pull returns everything newer than the cursor.
//!
//! Every answer, refusals included, carries the server's clock in the HTTP
//! `Date` header (RFC 9110): a terminal keeps the offset to it and signs
//! with corrected time, so a board with a wrong clock can still sync.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::id::{DeviceId, EntitlementId, KeyId, MerchantId, SiteId, VoucherId};
use crate::id_card::{IdAuthorities, IdIssuerKey, RetiredIdIssuer};
use crate::money::Money;
use crate::rules::OfflineLimits;
use crate::trust_list::RootSigned;

/// Most log entries in one upload.
pub const UPLOAD_ENTRIES_MAX: usize = 1000;
/// Largest request body the server reads, in bytes.
pub const REQUEST_BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most CBOR data items in one request body, counted before it is decoded
/// (`cbor_limits::check`): room for a full upload whose entries are small
/// structures, far below the millions of items 8 MB can declare.
pub const REQUEST_CBOR_ITEMS_MAX: usize = 64 * UPLOAD_ENTRIES_MAX;
/// Deepest nesting of a request body's CBOR.
pub const REQUEST_CBOR_DEPTH_MAX: usize = 16;
/// The limits every request body is scanned against before it is decoded.
pub const REQUEST_CBOR_LIMITS: crate::cbor_limits::CborLimits = crate::cbor_limits::CborLimits {
    items_max: REQUEST_CBOR_ITEMS_MAX,
    depth_max: REQUEST_CBOR_DEPTH_MAX,
};
/// Most balance updates (vouchers and entitlements together) in one pull
/// answer; more come next pull.
pub const PULL_BALANCES_MAX: usize = 10_000;
/// Fewest balance updates a pull page holds when more wait: one upload's
/// changes share a feed position and a page never splits one, so a page
/// holds at least as many as one upload can change (one per entry).
pub const PULL_BALANCES_PAGE_MIN: usize = UPLOAD_ENTRIES_MAX;
/// Most open cases a pull may ask about; a terminal with more asks about
/// the oldest first, the rest at later pulls.
pub const OPEN_CASES_MAX: usize = 256;
/// The media type of every sync body.
pub const CONTENT_TYPE: &str = "application/cbor";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code HQ gave the operator.
    pub code: String,
    /// The new device key's Ed25519 public key.
    pub device_public_key: ByteBuf,
    /// A label for people ("Shop 12 counter").
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device: DeviceId,
    /// The key id the device signs with (log entries and requests).
    pub device_kid: KeyId,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub root_kid: KeyId,
    pub root_public_key: ByteBuf,
    pub server_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    /// Signed log entries in sequence order, starting after the last
    /// sequence the server acknowledged.
    pub entries: Vec<ByteBuf>,
    /// The highest sequence this terminal was ever told the server holds.
    /// A server whose head is below it was restored from an older copy: it
    /// answers with its head instead of `sequence_gap` so that the terminal
    /// re-sends from there, and raises an alarm naming the range recovered.
    #[serde(default)]
    pub acknowledged_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum EntryOutcome {
    /// Stored now.
    Applied { seq: u64 },
    /// Already held, byte for byte.
    Duplicate { seq: u64 },
    /// Stored (now, or by an earlier upload this one retries), but the
    /// credential had already been redeemed elsewhere: double-spend case
    /// `case` holds it. Never counted.
    DoubleSpend { seq: u64, case: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// The highest sequence number the server holds for this device; every
    /// entry at or below it is confirmed.
    pub acknowledged_seq: u64,
    pub outcomes: Vec<EntryOutcome>,
}

/// Versions the terminal holds; the server sends what is newer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor {
    pub trust_list: u64,
    pub revocations: u64,
    pub roster: u64,
    pub policy: u64,
    /// Position in the server's feed of voucher and entitlement balance changes.
    pub balances: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub cursor: SyncCursor,
    /// Most balance updates wanted in this answer (taken within
    /// [`PULL_BALANCES_PAGE_MIN`]..=[`PULL_BALANCES_MAX`]; `None` = the
    /// most): a terminal on a slow link asks for pages it can receive in
    /// time, each one kept as it arrives.
    #[serde(default)]
    pub balances_max: Option<u32>,
    /// Double-spend cases this terminal still shows as under review (at most
    /// [`OPEN_CASES_MAX`]); the answer says which of them HQ has closed.
    #[serde(default)]
    pub open_cases: Vec<u64>,
}

/// How HQ closed a double-spend case (`lastmile-server cases resolve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseResolution {
    /// The money was recovered from whoever received it twice.
    Recovered,
    /// The loss was accepted.
    WrittenOff,
    /// It was not a double spend after all.
    Dismissed,
}

impl CaseResolution {
    /// The stable code (as HQ's API and database write it).
    pub fn code(self) -> &'static str {
        match self {
            Self::Recovered => "recovered",
            Self::WrittenOff => "written_off",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Self::Recovered, Self::WrittenOff, Self::Dismissed]
            .into_iter()
            .find(|r| r.code() == code)
    }
}

/// A case a terminal asked about, closed at HQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOutcome {
    pub case: u64,
    pub resolution: CaseResolution,
    pub resolved_at: i64,
}

/// How much of a voucher has been redeemed across all terminals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherBalance {
    pub voucher: VoucherId,
    pub redeemed: Money,
}

/// How much of a roster entitlement has been redeemed or paid out across all
/// terminals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementBalance {
    pub entitlement: EntitlementId,
    pub redeemed: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    pub server_time: i64,
    /// Every root handover (`RootHandover`, each signed by the root it
    /// replaces), oldest first: a terminal enrolled under an older root
    /// follows them to the current one before opening the documents below.
    #[serde(default)]
    pub root_handovers: Vec<ByteBuf>,
    /// Signed documents newer than the cursor (COSE_Sign1 bytes, root-signed).
    pub trust_list: Option<ByteBuf>,
    pub revocations: Option<ByteBuf>,
    pub roster: Option<ByteBuf>,
    pub policy: Option<ByteBuf>,
    /// Balance changes after `cursor.balances`, and the new position.
    pub balances: Vec<VoucherBalance>,
    /// Entitlement balance changes after `cursor.balances`, for the
    /// entitlements of the terminal's roster (same feed, same position;
    /// absent from servers that predate it).
    #[serde(default)]
    pub entitlement_balances: Vec<EntitlementBalance>,
    pub balances_cursor: u64,
    /// Whether more balance changes wait after `balances_cursor` (the page
    /// was full): the terminal pulls again from there.
    #[serde(default)]
    pub balances_more: bool,
    /// The highest sequence the server holds for this device.
    pub acknowledged_seq: u64,
    /// Which of the request's `open_cases` HQ has closed, and how.
    #[serde(default)]
    pub case_outcomes: Vec<CaseOutcome>,
}

/// Per-terminal settings, signed by the root key: the offline limits only a
/// sync refills, and the ID authorities whose cards the terminal accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalPolicy {
    pub version: u64,
    pub issued_at: i64,
    pub device: DeviceId,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub limits: Vec<OfflineLimits>,
    /// The ID authority keys whose Claim 169 cards the terminal accepts
    /// (at most [`crate::id_card::ID_AUTHORITIES_MAX`]).
    pub id_authorities: Vec<IdIssuerKey>,
    /// Keys HQ retired (at most
    /// [`crate::id_card::ID_AUTHORITIES_RETIRED_MAX`]), so that their cards
    /// are refused as retired. Written only when there are some, so a
    /// policy without any encodes as before the field existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_authorities_retired: Vec<RetiredIdIssuer>,
}

impl TerminalPolicy {
    /// The ID authorities this policy names, for [`crate::id_card::read`].
    pub fn id_authorities(&self) -> IdAuthorities<'_> {
        IdAuthorities {
            active: &self.id_authorities,
            retired: &self.id_authorities_retired,
        }
    }
}

impl RootSigned for TerminalPolicy {
    fn version(&self) -> u64 {
        self.version
    }
}

/// A problem report in every non-2xx answer (RFC 9457 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A stable code, e.g. `sequence_conflict`, `unknown_device`.
    pub code: String,
    pub title: String,
    pub detail: String,
    /// With `device_revoked`: the current root-signed revocation list, which
    /// names the terminal, so that it learns verifiably that it may no
    /// longer redeem even though it can no longer sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocations: Option<ByteBuf>,
}

/// Encodes a sync message as CBOR.
pub fn to_cbor<T: Serialize>(message: &T) -> Vec<u8> {
    crate::envelope::encode_cbor(message)
}

/// Decodes a sync message from CBOR.
pub fn from_cbor<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, crate::envelope::EnvelopeError> {
    crate::envelope::decode_cbor(bytes)
}
