//! Storage: one [`Tx`] interface over two backends, embedded SQLite (the
//! default) and PostgreSQL (for several server instances over one database).
//!
//! The domain logic (ingest, enrolment, keys, issuance) is written once
//! against `&mut dyn Tx`, and so are the queries: `Tx`'s methods are default
//! methods over [`sql::Sql`], in one module per area. A backend supplies the
//! connection, the transaction, the migration runner (with a version table)
//! and four bulk statements that PostgreSQL runs over arrays.
//!
//! Both backends are synchronous (`rusqlite`, and the blocking `postgres`
//! client); the HTTP layer runs every transaction on tokio's blocking pool,
//! which also means a transaction runs to its end even when the client that
//! caused it hangs up.
//!
//! Architecture invariant: every method that changes state runs inside the
//! caller's transaction, so an error rolls everything back.

pub mod audit;
mod cases;
mod devices;
mod documents;
mod entries;
pub mod floats;
pub mod id_authorities;
pub mod jobs;
mod keys;
pub mod ledger;
mod limits;
pub mod overview;
pub mod payments;
pub mod people;
mod postgres;
pub mod proposals;
pub mod registry;
mod rows;
pub mod sql;
mod sqlite;
mod vouchers;

use std::collections::HashMap;
use std::path::PathBuf;

use lastmile_shared::id::{
    BeneficiaryId, DeviceId, EntitlementId, IdError, IssuerId, KeyId, MerchantId, ProgrammeId,
    SiteId, VoucherId,
};
use lastmile_shared::money::{Currency, CurrencyError, Money};
use lastmile_shared::roster::Entitlement;
use lastmile_shared::rules::OfflineLimits;
use lastmile_shared::trust_list::IssuerKey;
use lastmile_shared::voucher::RedemptionMode;
use serde::Serialize;

pub use self::postgres::PostgresStore;
pub use self::sqlite::SqliteStore;

/// Most connections one server instance opens to PostgreSQL.
pub const POSTGRES_CONNECTIONS_MAX: usize = 16;
/// How long SQLite waits for another process's write lock, in milliseconds.
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("the database holds an invalid value in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("the database URL {0:?} is neither a postgres:// URL nor a SQLite path")]
    BadUrl(String),
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("migration {version} failed: {detail}")]
    Migration { version: i64, detail: String },
    #[error("the database worker stopped unexpectedly")]
    WorkerGone,
}

impl StorageError {
    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<IdError> for StorageError {
    fn from(e: IdError) -> Self {
        Self::corrupt("an id column", e)
    }
}

impl From<CurrencyError> for StorageError {
    fn from(e: CurrencyError) -> Self {
        Self::corrupt("a currency column", e)
    }
}

/// Where the data lives, parsed from `--database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite:PATH` or a
    /// plain path is a SQLite file.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = text.strip_prefix("sqlite:").unwrap_or(text);
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() || path.contains("://") {
            return Err(StorageError::BadUrl(text.to_owned()));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// For logs: the backend and where, without a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite {}", path.display()),
            Self::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or("");
                format!("PostgreSQL {host}")
            }
        }
    }
}

/// An open database, either backend.
pub enum Storage {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Storage {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(url: &DatabaseUrl) -> Result<Self, StorageError> {
        Ok(match url {
            DatabaseUrl::Sqlite(path) => Self::Sqlite(SqliteStore::open(path)?),
            DatabaseUrl::Postgres(url) => Self::Postgres(PostgresStore::open(url)?),
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`,
    /// rolled back when it returns `Err`.
    pub fn transaction<R, E: From<StorageError>>(
        &self,
        work: impl FnOnce(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E> {
        match self {
            Self::Sqlite(store) => store.transaction(work),
            Self::Postgres(store) => store.transaction(work),
        }
    }
}

/// The root key's public half as stored.
#[derive(Debug, Clone)]
pub struct RootKeyRow {
    pub kid: KeyId,
    pub public_key: [u8; 32],
    pub created_at: i64,
}

/// An unused or used enrolment code.
#[derive(Debug, Clone)]
pub struct EnrolmentCodeRow {
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// An enrolled terminal.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub device: DeviceId,
    pub kid: KeyId,
    #[serde(with = "hex_bytes")]
    pub public_key: [u8; 32],
    pub label: String,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    /// The last sequence held and its entry's hash.
    pub head_seq: u64,
    #[serde(with = "hex_bytes")]
    pub head_hash: [u8; 32],
    pub last_seen_at: Option<i64>,
}

/// A log entry ready to be stored, with the columns the server indexes.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub seq: u64,
    pub hash: [u8; 32],
    pub bytes: Vec<u8>,
    pub kind: &'static str,
    pub voucher: Option<VoucherId>,
    pub amount: Option<Money>,
    pub at: i64,
}

/// A voucher as the server knows it.
#[derive(Debug, Clone, Serialize)]
pub struct VoucherRow {
    pub voucher: VoucherId,
    pub issuer: IssuerId,
    pub programme: ProgrammeId,
    pub value: Money,
    pub mode: RedemptionMode,
    pub valid_from: i64,
    pub valid_until: i64,
    pub beneficiary: Option<String>,
    pub credential: String,
    /// Issued by this server (rather than learnt from a terminal's upload).
    pub issued_here: bool,
    pub revoked_at: Option<i64>,
    pub redeemed_minor: i64,
    /// The latest redemption that counted: (device, sequence).
    pub winner: Option<(DeviceId, u64)>,
}

/// What is redeemed and counted: a voucher, or an entitlement from a roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Voucher(VoucherId),
    Entitlement(EntitlementId),
}

impl Credential {
    /// The column (and, plural, the table) that holds this kind's id.
    pub(crate) fn column(&self) -> &'static str {
        match self {
            Self::Voucher(_) => "voucher",
            Self::Entitlement(_) => "entitlement",
        }
    }

    pub(crate) fn id(&self) -> &str {
        match self {
            Self::Voucher(id) => id.as_str(),
            Self::Entitlement(id) => id.as_str(),
        }
    }

    /// The voucher's id, as stored in a voucher column.
    pub(crate) fn voucher_id(&self) -> Option<&str> {
        match self {
            Self::Voucher(id) => Some(id.as_str()),
            Self::Entitlement(_) => None,
        }
    }

    /// The entitlement's id, as stored in an entitlement column.
    pub(crate) fn entitlement_id(&self) -> Option<&str> {
        match self {
            Self::Entitlement(id) => Some(id.as_str()),
            Self::Voucher(_) => None,
        }
    }
}

/// A voucher's or entitlement's new redeemed total and winner.
#[derive(Debug, Clone)]
pub struct NewTotal {
    pub credential: Credential,
    pub redeemed_minor: i64,
    pub winner: Option<(DeviceId, u64)>,
}

/// An entitlement as the server knows it from the rosters it published.
#[derive(Debug, Clone)]
pub struct EntitlementRow {
    pub entitlement: EntitlementId,
    pub beneficiary: BeneficiaryId,
    pub programme: ProgrammeId,
    pub value: Money,
    pub mode: RedemptionMode,
    pub redeemed_minor: i64,
    /// The latest redemption or payout that counted: (device, sequence).
    pub winner: Option<(DeviceId, u64)>,
}

/// A double-spend case to open.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub subject: Credential,
    pub reason: &'static str,
    pub first: Option<(DeviceId, u64)>,
    pub second: (DeviceId, u64),
    pub amount: Money,
    pub redeemed_before_minor: i64,
    pub value_minor: i64,
    pub opened_at: i64,
}

/// A case with both devices' signed evidence.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRow {
    pub id: u64,
    /// The voucher double spent, or else the roster entitlement.
    pub voucher: Option<VoucherId>,
    pub entitlement: Option<EntitlementId>,
    pub reason: String,
    pub first_device: Option<DeviceId>,
    pub first_seq: Option<u64>,
    /// The first redemption's signed log entry (COSE_Sign1), base64.
    pub first_entry: Option<String>,
    pub second_device: DeviceId,
    pub second_seq: u64,
    pub second_entry: String,
    pub amount: Money,
    pub redeemed_before_minor: i64,
    pub value_minor: i64,
    pub opened_at: i64,
    /// `open`, or `resolved` once a person closed it.
    pub status: String,
    /// `recovered`, `written_off` or `dismissed`, with a note and when.
    pub resolution: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<i64>,
}

/// Something a person must look at that is not a double spend.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmRow {
    pub id: u64,
    pub kind: String,
    pub device: Option<DeviceId>,
    pub seq: Option<u64>,
    pub detail: String,
    /// The offending bytes, base64, if any.
    pub evidence: Option<String>,
    pub raised_at: i64,
}

/// An alarm to raise.
#[derive(Debug, Clone)]
pub struct NewAlarm {
    pub kind: &'static str,
    pub device: Option<DeviceId>,
    pub seq: Option<u64>,
    pub detail: String,
    pub evidence: Option<Vec<u8>>,
    pub raised_at: i64,
}

/// One row of the balance feed (vouchers and entitlements).
#[derive(Debug, Clone)]
pub struct BalanceRow {
    pub credential: Credential,
    pub redeemed: Money,
    pub position: u64,
}

/// Revoked things, for the revocation list.
#[derive(Debug, Clone, Default)]
pub struct RevokedSets {
    pub vouchers: Vec<VoucherId>,
    pub devices: Vec<DeviceId>,
    pub merchants: Vec<MerchantId>,
}

/// The operations the domain needs, inside one transaction.
pub trait Tx {
    /// The transaction as a runner of SQL written once for both backends.
    fn sql(&mut self) -> &mut dyn sql::Sql;

    // Counters and documents.
    /// Increments and returns a named counter (creating it at 1). Holds the
    /// counter's row lock until the transaction ends, so values are handed
    /// out in commit order.
    fn next_counter(&mut self, name: &str) -> Result<u64, StorageError> {
        documents::next_counter(self.sql(), name)
    }
    fn put_document(
        &mut self,
        kind: &str,
        scope: &str,
        version: u64,
        bytes: &[u8],
        now: i64,
    ) -> Result<(), StorageError> {
        documents::put_document(self.sql(), kind, scope, version, bytes, now)
    }
    fn document(
        &mut self,
        kind: &str,
        scope: &str,
    ) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        documents::document(self.sql(), kind, scope)
    }
    /// Every stored document of `kind`: (scope, version, bytes), by scope.
    fn documents(&mut self, kind: &str) -> Result<Vec<(String, u64, Vec<u8>)>, StorageError> {
        documents::documents(self.sql(), kind)
    }

    // Keys.
    fn root_key(&mut self) -> Result<Option<RootKeyRow>, StorageError> {
        keys::root_key(self.sql())
    }
    /// Stores the root key, replacing the previous one (root rotation).
    fn put_root_key(&mut self, row: &RootKeyRow) -> Result<(), StorageError> {
        keys::put_root_key(self.sql(), row)
    }
    fn issuer_keys(&mut self) -> Result<Vec<IssuerKey>, StorageError> {
        keys::issuer_keys(self.sql())
    }
    fn insert_issuer_key(&mut self, key: &IssuerKey, now: i64) -> Result<(), StorageError> {
        keys::insert_issuer_key(self.sql(), key, now)
    }
    /// Returns false when there is no such key.
    fn set_issuer_key_status(
        &mut self,
        kid: &KeyId,
        status: lastmile_shared::trust_list::KeyStatus,
    ) -> Result<bool, StorageError> {
        keys::set_issuer_key_status(self.sql(), kid, status)
    }

    // Terminals.
    fn insert_enrolment_code(
        &mut self,
        code_hash: &[u8; 32],
        merchant: Option<&MerchantId>,
        site: Option<&SiteId>,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        devices::insert_enrolment_code(self.sql(), code_hash, merchant, site, now, expires_at)
    }
    /// Reads a code, locking it until the transaction ends.
    fn lock_enrolment_code(
        &mut self,
        code_hash: &[u8; 32],
    ) -> Result<Option<EnrolmentCodeRow>, StorageError> {
        devices::lock_enrolment_code(self.sql(), code_hash)
    }
    fn use_enrolment_code(
        &mut self,
        code_hash: &[u8; 32],
        device: &DeviceId,
        now: i64,
    ) -> Result<(), StorageError> {
        devices::use_enrolment_code(self.sql(), code_hash, device, now)
    }
    fn public_key_enrolled(&mut self, public_key: &[u8; 32]) -> Result<bool, StorageError> {
        devices::public_key_enrolled(self.sql(), public_key)
    }
    fn insert_device(&mut self, row: &DeviceRow) -> Result<(), StorageError> {
        devices::insert_device(self.sql(), row)
    }
    fn device_by_kid(&mut self, kid: &KeyId) -> Result<Option<DeviceRow>, StorageError> {
        devices::device_by_kid(self.sql(), kid)
    }
    /// Reads a device, locking its row until the transaction ends: this is
    /// what serialises one device's uploads across server instances.
    fn lock_device(&mut self, device: &DeviceId) -> Result<Option<DeviceRow>, StorageError> {
        devices::lock_device(self.sql(), device)
    }
    fn devices(&mut self) -> Result<Vec<DeviceRow>, StorageError> {
        devices::devices(self.sql())
    }
    fn revoke_device(&mut self, device: &DeviceId, now: i64) -> Result<bool, StorageError> {
        devices::revoke_device(self.sql(), device, now)
    }
    /// Suspends a merchant; false if it already was.
    fn revoke_merchant(
        &mut self,
        merchant: &MerchantId,
        reason: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        devices::revoke_merchant(self.sql(), merchant, reason, now)
    }
    fn assign_device(
        &mut self,
        device: &DeviceId,
        merchant: Option<&MerchantId>,
        site: Option<&SiteId>,
    ) -> Result<bool, StorageError> {
        devices::assign_device(self.sql(), device, merchant, site)
    }
    /// Records a request nonce; false when this key already used it.
    fn insert_nonce(
        &mut self,
        kid: &KeyId,
        nonce: &str,
        created: i64,
    ) -> Result<bool, StorageError> {
        devices::insert_nonce(self.sql(), kid, nonce, created)
    }
    fn prune_nonces(&mut self, created_before: i64) -> Result<u64, StorageError> {
        devices::prune_nonces(self.sql(), created_before)
    }

    // Sync.
    /// Stored entries of a device with `from <= seq <= to`, by sequence.
    fn entries(
        &mut self,
        device: &DeviceId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        entries::entries(self.sql(), device, from, to)
    }
    fn entry_bytes(
        &mut self,
        device: &DeviceId,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        entries::entry_bytes(self.sql(), device, seq)
    }
    fn insert_entries(
        &mut self,
        device: &DeviceId,
        entries: &[StoredEntry],
        now: i64,
    ) -> Result<(), StorageError> {
        entries::insert_entries(self.sql(), device, entries, now)
    }
    fn set_device_head(
        &mut self,
        device: &DeviceId,
        seq: u64,
        hash: &[u8; 32],
        now: i64,
    ) -> Result<(), StorageError> {
        devices::set_device_head(self.sql(), device, seq, hash, now)
    }
    fn touch_device(&mut self, device: &DeviceId, now: i64) -> Result<(), StorageError> {
        devices::touch_device(self.sql(), device, now)
    }
    /// Which of these vouchers the server knows.
    fn known_vouchers(&mut self, ids: &[VoucherId]) -> Result<Vec<VoucherId>, StorageError> {
        vouchers::known_vouchers(self.sql(), ids)
    }
    /// Reads vouchers, locking their rows (in id order) until the
    /// transaction ends.
    fn lock_vouchers(
        &mut self,
        ids: &[VoucherId],
    ) -> Result<HashMap<VoucherId, VoucherRow>, StorageError>;
    fn voucher(&mut self, id: &VoucherId) -> Result<Option<VoucherRow>, StorageError> {
        vouchers::voucher(self.sql(), id)
    }
    /// Vouchers issued here that may still be redeemed at `now` (not revoked,
    /// not expired, not wholly redeemed), in id order, at most `limit`: their
    /// ids and signed texts, for voucher books.
    fn redeemable_vouchers(
        &mut self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(VoucherId, String)>, StorageError> {
        vouchers::redeemable_vouchers(self.sql(), now, limit)
    }
    /// Inserts a voucher unless one with its id exists; true if inserted.
    fn insert_voucher(&mut self, row: &VoucherRow, now: i64) -> Result<bool, StorageError> {
        vouchers::insert_voucher(self.sql(), row, now)
    }
    /// Stores new redeemed totals and winners, all at one feed position.
    fn update_redemptions(
        &mut self,
        rows: &[NewTotal],
        feed_position: u64,
    ) -> Result<(), StorageError>;
    fn revoke_voucher(&mut self, id: &VoucherId, now: i64) -> Result<bool, StorageError> {
        vouchers::revoke_voucher(self.sql(), id, now)
    }
    fn revoked(&mut self) -> Result<RevokedSets, StorageError> {
        vouchers::revoked(self.sql())
    }
    /// Records the entitlements a roster of `scope` lists (with their
    /// beneficiaries): definitions are inserted or updated, what was redeemed
    /// is kept, and the scope lists exactly these from now on.
    fn publish_entitlements(
        &mut self,
        scope: &str,
        listed: &[(&BeneficiaryId, &Entitlement)],
        now: i64,
    ) -> Result<(), StorageError>;
    /// Reads entitlements, locking their rows (in id order) until the
    /// transaction ends.
    fn lock_entitlements(
        &mut self,
        ids: &[EntitlementId],
    ) -> Result<HashMap<EntitlementId, EntitlementRow>, StorageError>;
    /// Balance changes after `position`, oldest first, at most `limit` rows:
    /// every voucher's, and the entitlements listed by the roster of `scope`.
    fn balances_after(
        &mut self,
        position: u64,
        scope: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BalanceRow>, StorageError> {
        vouchers::balances_after(self.sql(), position, scope, limit)
    }
    /// Inserts new beneficiaries of an import, in chunks of
    /// [`registry::CHUNK_ROWS`]: one multi-row `INSERT` per chunk (SQLite),
    /// one `INSERT … SELECT FROM unnest(…)` over arrays (PostgreSQL).
    fn insert_beneficiaries(
        &mut self,
        rows: &[registry::BeneficiaryRow],
    ) -> Result<(), StorageError> {
        registry::insert_beneficiaries(self.sql(), rows)
    }
    /// The stored rows of these beneficiaries (at most
    /// [`registry::CHUNK_ROWS`] ids): a fixed-size `IN (…)` (SQLite), `= ANY`
    /// of one array (PostgreSQL).
    fn beneficiaries_by_id(
        &mut self,
        programme: &str,
        ids: &[&str],
    ) -> Result<Vec<registry::BeneficiaryRow>, StorageError> {
        registry::beneficiaries_by_id(self.sql(), programme, ids)
    }
    /// Who in the programme holds these national IDs (at most
    /// [`registry::CHUNK_ROWS`]): `(national_id, beneficiary)`.
    fn national_id_holders(
        &mut self,
        programme: &str,
        national_ids: &[&str],
    ) -> Result<Vec<(String, String)>, StorageError> {
        registry::national_id_holders(self.sql(), programme, national_ids)
    }
    fn insert_case(&mut self, case: &NewCase) -> Result<u64, StorageError> {
        cases::insert_case(self.sql(), case)
    }
    /// The cases opened for `device`'s entries `from..=to`: (sequence, case).
    fn cases_of_entries(
        &mut self,
        device: &DeviceId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, u64)>, StorageError> {
        cases::cases_of_entries(self.sql(), device, from, to)
    }
    fn cases(&mut self) -> Result<Vec<CaseRow>, StorageError> {
        cases::cases(self.sql())
    }
    fn case_exists(&mut self, id: u64) -> Result<bool, StorageError> {
        cases::case_exists(self.sql(), id)
    }
    /// How case `id` was closed and when, if it is closed and `device`'s
    /// entry is its disputed (second) side.
    fn case_resolution(
        &mut self,
        device: &DeviceId,
        id: u64,
    ) -> Result<Option<(String, i64)>, StorageError> {
        cases::case_resolution(self.sql(), device, id)
    }
    /// Closes an open case; false if it was not open.
    fn resolve_case(
        &mut self,
        id: u64,
        resolution: &str,
        note: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        cases::resolve_case(self.sql(), id, resolution, note, now)
    }
    fn insert_alarm(&mut self, alarm: &NewAlarm) -> Result<u64, StorageError> {
        cases::insert_alarm(self.sql(), alarm)
    }
    fn alarms(&mut self) -> Result<Vec<AlarmRow>, StorageError> {
        cases::alarms(self.sql())
    }
    fn entry_count(&mut self) -> Result<u64, StorageError> {
        entries::entry_count(self.sql())
    }

    // Limits.
    fn limits(&mut self) -> Result<Vec<OfflineLimits>, StorageError> {
        limits::limits(self.sql())
    }
    fn set_limits(&mut self, limits: &OfflineLimits) -> Result<(), StorageError> {
        limits::set_limits(self.sql(), limits)
    }
}

/// Text columns back to typed values.
pub(crate) fn mode_from_text(text: &str) -> Result<RedemptionMode, StorageError> {
    match text {
        "single_use" => Ok(RedemptionMode::SingleUse),
        "partial" => Ok(RedemptionMode::Partial),
        other => Err(StorageError::corrupt("a mode column", other)),
    }
}

pub(crate) fn mode_to_text(mode: RedemptionMode) -> &'static str {
    match mode {
        RedemptionMode::SingleUse => "single_use",
        RedemptionMode::Partial => "partial",
    }
}

pub(crate) fn key_status_to_text(
    status: lastmile_shared::trust_list::KeyStatus,
) -> (&'static str, Option<i64>) {
    use lastmile_shared::trust_list::KeyStatus;
    match status {
        KeyStatus::Active => ("active", None),
        KeyStatus::Retired { since } => ("retired", Some(since)),
        KeyStatus::Revoked { since } => ("revoked", Some(since)),
    }
}

pub(crate) fn key_status_from_text(
    status: &str,
    since: Option<i64>,
) -> Result<lastmile_shared::trust_list::KeyStatus, StorageError> {
    use lastmile_shared::trust_list::KeyStatus;
    match (status, since) {
        ("active", _) => Ok(KeyStatus::Active),
        ("retired", Some(since)) => Ok(KeyStatus::Retired { since }),
        ("revoked", Some(since)) => Ok(KeyStatus::Revoked { since }),
        _ => Err(StorageError::corrupt("issuer_keys.status", status)),
    }
}

pub(crate) fn key32(bytes: Vec<u8>, what: &'static str) -> Result<[u8; 32], StorageError> {
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| StorageError::corrupt(what, format!("{} bytes", b.len())))
}

pub(crate) fn money(minor: i64, currency: &str) -> Result<Money, StorageError> {
    Ok(Money::new(minor, Currency::parse(currency)?))
}

pub(crate) fn seq_from(value: i64) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|_| StorageError::corrupt("a sequence column", value))
}

/// Sequences and counters are u64 on the wire and BIGINT in the databases;
/// they stay far below 2^63 (one entry a millisecond for 292 million years).
pub(crate) fn seq_to(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn opt_id<T>(
    text: Option<String>,
    parse: fn(&str) -> Result<T, IdError>,
) -> Result<Option<T>, StorageError> {
    text.map(|t| parse(&t)).transpose().map_err(Into::into)
}

/// Migrations embedded in the binary, per backend, in version order.
pub(crate) struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// The migrations both backends run, from 0005 on (one file each, in
/// `migrations/common/`), after each backend's own 0001–0004.
pub(crate) const COMMON_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 5,
        sql: include_str!("../../migrations/common/0005_people_audit_proposals.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/common/0006_jobs.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../../migrations/common/0007_registry.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("../../migrations/common/0008_id_authorities.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("../../migrations/common/0009_ledger.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("../../migrations/common/0010_cycle_amounts.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("../../migrations/common/0011_beneficiary_indexes.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../../migrations/common/0012_payments.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../../migrations/common/0013_cash_sessions.sql"),
    },
];

mod hex_bytes {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }
}
