//! The sync protocol, server side: ingesting a terminal's log entries, and
//! answering a pull with everything newer than the terminal's cursor.
//!
//! Ingest, for one upload:
//! 1. every entry is parsed, must be signed with this device's key id and
//!    name this device; the signatures are checked together with Ed25519
//!    batch verification (one at a time only to find a bad one);
//! 2. in one transaction, under the device's row lock: entries at or below
//!    the stored head must equal the stored bytes (a duplicate, answered as
//!    such) or the upload is refused as a sequence conflict and an alarm
//!    raised; new entries must continue the chain from the stored head
//!    (next sequence, previous hash); vouchers the server has not seen
//!    (issued elsewhere) are learnt from their credentials, verified
//!    against the server's trust list; voucher redemptions are counted
//!    against their vouchers, entitlement redemptions and cash payouts
//!    against the entitlements of the published rosters (rows locked),
//!    conflicting ones open double-spend cases; the entries and the new head
//!    are stored.
//!
//! Either the whole upload is applied or nothing is (a refusal, whatever
//! its reason, writes nothing but the alarm of a sequence conflict); the
//! answer names the highest sequence held, so a retry after a lost answer
//! is harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ed25519_dalek::{Signature, VerifyingKey};
use lastmile_shared::device_log::{EntryHash, LogEntry, LogEvent, SignedEntry};
use lastmile_shared::envelope::{self, Envelope};
use lastmile_shared::id::{BeneficiaryId, DeviceId, EntitlementId, ProgrammeId, VoucherId};
use lastmile_shared::money::Money;
use lastmile_shared::sync::{
    CaseOutcome, CaseResolution, EntitlementBalance, EntryOutcome, OPEN_CASES_MAX,
    PULL_BALANCES_MAX, PULL_BALANCES_PAGE_MIN, PullRequest, PullResponse, UPLOAD_ENTRIES_MAX,
    UploadRequest, UploadResponse, VoucherBalance,
};
use lastmile_shared::trust_list::{TrustList, TrustStore};
use lastmile_shared::voucher::{self, RedemptionMode};
use serde_bytes::ByteBuf;

use crate::device_auth::{self, AuthError, SignedRequest};
use crate::documents::{self, GLOBAL_SCOPE};
use crate::double_spend::{self, Tally, Verdict};
use crate::ledger::LedgerError;
use crate::ledger::postings::{self, Delivery, Session};
use crate::storage::{
    BalanceRow, Credential, DeviceRow, EntitlementRow, NewAlarm, NewCase, NewTotal, Storage,
    StorageError, StoredEntry, Tx, VoucherRow,
};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the upload holds {0} entries; at most {UPLOAD_ENTRIES_MAX} are accepted at once")]
    TooManyEntries(usize),
    #[error("the pull asks about {0} cases; at most {OPEN_CASES_MAX} are answered at once")]
    TooManyCases(usize),
    #[error("entry {index} of the upload is not a valid log entry of this device: {reason}")]
    BadEntry { index: usize, reason: String },
    #[error("entry {index} of the upload has a signature that does not verify with the device key")]
    BadEntrySignature { index: usize },
    #[error("sequence {found} does not follow the server's head; send from sequence {expected}")]
    SequenceGap { expected: u64, found: u64 },
    #[error("entry {seq} does not link to the previous entry's hash: the log was altered")]
    ChainBroken { seq: u64 },
    #[error(
        "the server already holds a different entry {seq} from this terminal; the upload was refused and HQ alerted"
    )]
    SequenceConflict { seq: u64, offered: Vec<u8> },
    #[error(
        "entry {seq} redeems voucher {voucher} with a text that is not byte for byte the one \
         held for it; the upload was refused and HQ alerted"
    )]
    CredentialMismatch {
        seq: u64,
        voucher: VoucherId,
        offered: Vec<u8>,
    },
    /// Recording what the upload counted in the ledger failed: a bug (an
    /// invariant would break) or storage; the upload was refused whole.
    #[error("the upload could not be recorded in the ledger: {0}; HQ was alerted")]
    Ledger(#[from] LedgerError),
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage_error",
            Self::Auth(e) => e.code(),
            Self::TooManyEntries(_) => "too_many_entries",
            Self::TooManyCases(_) => "too_many_cases",
            Self::BadEntry { .. } => "bad_entry",
            Self::BadEntrySignature { .. } => "bad_entry_signature",
            Self::SequenceGap { .. } => "sequence_gap",
            Self::ChainBroken { .. } => "chain_broken",
            Self::SequenceConflict { .. } => "sequence_conflict",
            Self::CredentialMismatch { .. } => "credential_mismatch",
            Self::Ledger(_) => "ledger_refused",
        }
    }
}

/// An entry whose signature and device were checked.
#[derive(Debug, Clone)]
pub struct CheckedEntry {
    pub entry: LogEntry,
    pub bytes: Vec<u8>,
    pub hash: EntryHash,
}

/// Parses every entry and verifies all signatures against the device key.
/// Returns the entries sorted by sequence number.
pub fn check_entries(
    entries: Vec<ByteBuf>,
    device: &DeviceId,
    kid: &lastmile_shared::id::KeyId,
    key: &VerifyingKey,
) -> Result<Vec<CheckedEntry>, SyncError> {
    if entries.len() > UPLOAD_ENTRIES_MAX {
        return Err(SyncError::TooManyEntries(entries.len()));
    }
    let mut parsed = Vec::with_capacity(entries.len());
    for (index, bytes) in entries.into_iter().enumerate() {
        let bad = |reason: String| SyncError::BadEntry { index, reason };
        let bytes = bytes.into_vec();
        let envelope = Envelope::parse(&bytes, lastmile_shared::device_log::LOG_ENTRY_BYTES_MAX)
            .map_err(|e| bad(e.to_string()))?;
        if envelope.kid() != kid {
            return Err(bad(format!(
                "signed by key {}, not by this device's key {kid}",
                envelope.kid()
            )));
        }
        let entry: LogEntry = envelope
            .payload_unverified()
            .map_err(|e| bad(e.to_string()))?;
        if &entry.device != device {
            return Err(bad(format!("it names device {}", entry.device)));
        }
        if entry.seq == 0 {
            return Err(bad("sequence numbers start at 1".to_owned()));
        }
        parsed.push((envelope, entry, bytes));
    }
    let messages: Vec<&[u8]> = parsed.iter().map(|(e, _, _)| e.to_be_signed()).collect();
    let signatures: Vec<Signature> = parsed.iter().map(|(e, _, _)| *e.signature()).collect();
    let keys = vec![*key; parsed.len()];
    // Batch verification accepts exactly the signatures that single
    // verification does for a non-weak key (checked at enrolment); a failed
    // batch is re-checked one by one to name the bad entry.
    if !parsed.is_empty() && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
        for (index, (envelope, _, _)) in parsed.iter().enumerate() {
            if envelope.verify(key).is_err() {
                return Err(SyncError::BadEntrySignature { index });
            }
        }
    }
    let mut checked: Vec<CheckedEntry> = parsed
        .into_iter()
        .map(|(_, entry, bytes)| CheckedEntry {
            hash: EntryHash::of(&bytes),
            entry,
            bytes,
        })
        .collect();
    checked.sort_by_key(|c| c.entry.seq);
    Ok(checked)
}

fn redemption(entry: &LogEntry) -> Option<(&VoucherId, Money, &str)> {
    match &entry.event {
        LogEvent::VoucherRedeemed {
            voucher,
            amount,
            credential,
            ..
        } => Some((voucher, *amount, credential)),
        _ => None,
    }
}

fn stored_entry(checked: &CheckedEntry) -> StoredEntry {
    let (kind, voucher, amount) = match &checked.entry.event {
        LogEvent::VoucherRedeemed {
            voucher, amount, ..
        } => ("voucher_redeemed", Some(voucher.clone()), Some(*amount)),
        LogEvent::EntitlementRedeemed { amount, .. } => {
            ("entitlement_redeemed", None, Some(*amount))
        }
        LogEvent::CashSessionOpened { .. } => ("cash_session_opened", None, None),
        LogEvent::CashPaidOut { amount, .. } => ("cash_paid_out", None, Some(*amount)),
        LogEvent::CashSessionClosed { .. } => ("cash_session_closed", None, None),
    };
    StoredEntry {
        seq: checked.entry.seq,
        hash: checked.hash.0,
        bytes: checked.bytes.clone(),
        kind,
        voucher,
        amount,
        at: checked.entry.at,
    }
}

/// Learns vouchers the server has not issued from their credentials, when
/// they verify against the server's trust list at the time of redemption.
/// Runs inside the ingest transaction, once the upload is admitted and its
/// sequence checked, so a refused upload learns nothing; vouchers are
/// inserted in id order, the order the ingest then locks them in.
fn learn_vouchers(
    tx: &mut dyn Tx,
    entries: &[&CheckedEntry],
    now: i64,
) -> Result<(), StorageError> {
    let ids: Vec<VoucherId> = sorted_ids(entries.iter().copied(), |e| {
        redemption(e).map(|(v, _, _)| v)
    });
    if ids.is_empty() {
        return Ok(());
    }
    let known: BTreeSet<VoucherId> = tx.known_vouchers(&ids)?.into_iter().collect();
    if known.len() == ids.len() {
        return Ok(());
    }
    let trust = TrustStore::new(&TrustList {
        version: 0,
        issued_at: now,
        keys: tx.issuer_keys()?,
    })
    .map_err(|e| StorageError::corrupt("issuer_keys", e))?;
    let mut unknown: BTreeMap<&VoucherId, &CheckedEntry> = BTreeMap::new();
    for &checked in entries {
        if let Some((id, _, _)) = redemption(&checked.entry)
            && !known.contains(id)
        {
            unknown.entry(id).or_insert(checked);
        }
    }
    for (id, checked) in unknown {
        let Some((_, _, credential)) = redemption(&checked.entry) else {
            continue;
        };
        let Ok(verified) = voucher::verify(credential, &trust, checked.entry.at) else {
            continue;
        };
        let claims = verified.claims;
        if &claims.id != id {
            continue;
        }
        tx.insert_voucher(
            &VoucherRow {
                voucher: claims.id,
                issuer: claims.issuer,
                programme: claims.programme,
                value: claims.value,
                mode: claims.mode,
                valid_from: claims.valid_from,
                valid_until: claims.valid_until,
                beneficiary: None,
                credential: credential.to_owned(),
                issued_here: false,
                revoked_at: None,
                redeemed_minor: 0,
                winner: None,
            },
            now,
        )?;
    }
    Ok(())
}

/// Ingests one upload (see the module documentation). On a sequence
/// conflict nothing is applied and an alarm is recorded.
pub fn upload(
    storage: &Storage,
    request: &SignedRequest,
    upload: UploadRequest,
    now: i64,
) -> Result<UploadResponse, SyncError> {
    let key = envelope::verifying_key(&request.device.public_key)
        .ok_or(SyncError::Auth(AuthError::UnknownDevice))?;
    let claimed = upload.acknowledged_seq;
    let checked = check_entries(
        upload.entries,
        &request.device.device,
        &request.device.kid,
        &key,
    )?;
    let result = storage.transaction(|tx| apply(tx, request, &checked, claimed, now));
    let refused = match &result {
        Err(SyncError::SequenceConflict { seq, offered }) => Some((
            "sequence_conflict",
            *seq,
            format!(
                "the terminal sent a different entry {seq} than the one already held; \
                 evidence is the offered entry"
            ),
            offered,
        )),
        Err(SyncError::CredentialMismatch {
            seq,
            voucher,
            offered,
        }) => Some((
            "credential_mismatch",
            *seq,
            format!(
                "entry {seq} redeems voucher {voucher} with a text that is not the one held \
                 for it (a re-encoded or altered voucher); evidence is the offered entry"
            ),
            offered,
        )),
        _ => None,
    };
    if let Err(SyncError::Ledger(error)) = &result {
        let device = request.device.device.clone();
        let detail = format!("an upload was refused: {error}");
        storage.transaction(|tx| {
            tx.insert_alarm(&NewAlarm {
                kind: "ledger_refused",
                device: Some(device),
                seq: None,
                detail,
                evidence: None,
                raised_at: now,
            })
        })?;
    }
    // Raised after the refused transaction rolled back, in its own.
    if let Some((kind, seq, detail, offered)) = refused {
        let device = request.device.device.clone();
        storage.transaction(|tx| {
            tx.insert_alarm(&NewAlarm {
                kind,
                device: Some(device),
                seq: Some(seq),
                detail,
                evidence: Some(offered.clone()),
                raised_at: now,
            })
        })?;
    }
    result
}

fn apply(
    tx: &mut dyn Tx,
    request: &SignedRequest,
    checked: &[CheckedEntry],
    claimed: u64,
    now: i64,
) -> Result<UploadResponse, SyncError> {
    let device = device_auth::admit(tx, request)?;
    let id = &device.device;
    let held_seq = device.head_seq;
    // The terminal was told this server held more than it does: the server
    // was restored from an older copy. Its head is the answer, so that the
    // terminal re-sends every entry after it (its log still holds them).
    if claimed > held_seq && checked.first().is_some_and(|c| c.entry.seq > held_seq + 1) {
        tx.touch_device(id, now)?;
        return Ok(UploadResponse {
            acknowledged_seq: held_seq,
            outcomes: Vec::new(),
        });
    }
    let mut head_seq = device.head_seq;
    let mut head_hash = EntryHash(device.head_hash);
    let stored: HashMap<u64, Vec<u8>> = match checked.first() {
        Some(first) if first.entry.seq <= held_seq => tx
            .entries(id, first.entry.seq, held_seq)?
            .into_iter()
            .collect(),
        _ => HashMap::new(),
    };
    let mut outcomes = Vec::with_capacity(checked.len());
    let mut fresh: Vec<&CheckedEntry> = Vec::new();
    let mut fresh_hashes: HashMap<u64, EntryHash> = HashMap::new();
    for entry in checked {
        let seq = entry.entry.seq;
        if seq <= head_seq {
            let same = if seq <= held_seq {
                stored.get(&seq).map(|bytes| bytes == &entry.bytes)
            } else {
                fresh_hashes.get(&seq).map(|hash| *hash == entry.hash)
            };
            match same {
                Some(true) => outcomes.push(EntryOutcome::Duplicate { seq }),
                _ => {
                    return Err(SyncError::SequenceConflict {
                        seq,
                        offered: entry.bytes.clone(),
                    });
                }
            }
        } else if seq == head_seq + 1 {
            if entry.entry.prev != head_hash {
                return Err(SyncError::ChainBroken { seq });
            }
            head_seq = seq;
            head_hash = entry.hash;
            fresh_hashes.insert(seq, entry.hash);
            fresh.push(entry);
            outcomes.push(EntryOutcome::Applied { seq });
        } else {
            return Err(SyncError::SequenceGap {
                expected: head_seq + 1,
                found: seq,
            });
        }
    }
    // A retried upload whose first answer was lost: entries held already
    // that were double spends are named again, so the terminal learns it.
    if let Some(first) = checked.first().map(|c| c.entry.seq)
        && first <= held_seq
    {
        let cases: HashMap<u64, u64> = tx
            .cases_of_entries(id, first, held_seq)?
            .into_iter()
            .collect();
        for outcome in &mut outcomes {
            if let EntryOutcome::Duplicate { seq } = *outcome
                && let Some(case) = cases.get(&seq)
            {
                *outcome = EntryOutcome::DoubleSpend { seq, case: *case };
            }
        }
    }
    if fresh.is_empty() {
        tx.touch_device(id, now)?;
        return Ok(UploadResponse {
            acknowledged_seq: head_seq,
            outcomes,
        });
    }
    learn_vouchers(tx, &fresh, now)?;
    let stored_entries: Vec<StoredEntry> = fresh.iter().map(|c| stored_entry(c)).collect();
    tx.insert_entries(id, &stored_entries, now)?;
    flag_recovered(tx, id, held_seq, claimed, head_seq, now)?;
    flag_clock_set_back(tx, id, held_seq, &fresh, now)?;
    // In the ledger: floats drawn, then what was counted, then the closes.
    let (opened, closed): (Vec<Session>, Vec<Session>) = sessions_of(&fresh)
        .into_iter()
        .partition(|s| matches!(s, Session::Opened { .. }));
    postings::sessions(tx.sql(), &device, &opened, now)?;
    let Counted { cases, delivered } = count_redemptions(tx, &device, &fresh, now)?;
    postings::sessions(tx.sql(), &device, &closed, now)?;
    let logged: Vec<&LogEntry> = fresh.iter().map(|c| &c.entry).collect();
    crate::payments::floats::record(tx.sql(), &device, &logged, &delivered, now)?;
    for outcome in &mut outcomes {
        if let EntryOutcome::Applied { seq } = *outcome
            && let Some(case) = cases.get(&seq)
        {
            *outcome = EntryOutcome::DoubleSpend { seq, case: *case };
        }
    }
    tx.set_device_head(id, head_seq, &head_hash.0, now)?;
    Ok(UploadResponse {
        acknowledged_seq: head_seq,
        outcomes,
    })
}

/// Raises the alarm for entries this server had acknowledged, lost (it was
/// restored from an older copy) and has now received again: entries after
/// `held` up to what the terminal was told (`claimed`) and now `head`.
fn flag_recovered(
    tx: &mut dyn Tx,
    device: &DeviceId,
    held: u64,
    claimed: u64,
    head: u64,
    now: i64,
) -> Result<(), StorageError> {
    if claimed <= held {
        return Ok(());
    }
    let (first, last) = (held + 1, claimed.min(head));
    tx.insert_alarm(&NewAlarm {
        kind: "log_recovered",
        device: Some(device.clone()),
        seq: Some(first),
        detail: format!(
            "terminal {device} had been told this server held its entries up to {claimed}, \
             but it held only up to {held} (restored from an older copy?); entries \
             {first} to {last} were recovered from the terminal's log"
        ),
        evidence: None,
        raised_at: now,
    })?;
    Ok(())
}

/// Raises an alarm for each new entry dated before the entry it follows: the
/// terminal's clock was set back (its own guard refuses to redeem then, so
/// this is a terminal without it, or a forged log).
fn flag_clock_set_back(
    tx: &mut dyn Tx,
    device: &DeviceId,
    held: u64,
    fresh: &[&CheckedEntry],
    now: i64,
) -> Result<(), StorageError> {
    let mut previous = match held {
        0 => None,
        seq => tx
            .entry_bytes(device, seq)?
            .and_then(|bytes| SignedEntry::parse_unverified(&bytes).ok())
            .map(|(_, entry)| (seq, entry.at)),
    };
    for checked in fresh {
        let (seq, at) = (checked.entry.seq, checked.entry.at);
        if let Some((before, before_at)) = previous
            && at < before_at
        {
            tx.insert_alarm(&NewAlarm {
                kind: "clock_set_back",
                device: Some(device.clone()),
                seq: Some(seq),
                detail: format!(
                    "entry {seq} is dated {at}, {} s before entry {before} ({before_at}): the \
                     terminal's clock went back",
                    before_at - at
                ),
                evidence: Some(checked.bytes.clone()),
                raised_at: now,
            })?;
        }
        previous = Some((seq, at));
    }
    Ok(())
}

/// What one upload's counting found: the case each conflicting entry
/// opened, and the entries counted as delivered (posted to the ledger), by
/// sequence number. An entry in neither named what HQ does not know.
struct Counted {
    cases: HashMap<u64, u64>,
    delivered: HashSet<u64>,
}

/// Counts each new redemption against its voucher, and each entitlement
/// redemption or cash payout against its entitlement, opening a case for each
/// conflicting one.
fn count_redemptions(
    tx: &mut dyn Tx,
    device_row: &DeviceRow,
    fresh: &[&CheckedEntry],
    now: i64,
) -> Result<Counted, SyncError> {
    let device = &device_row.device;
    let mut counting = Counting {
        device,
        now,
        cases: HashMap::new(),
        deliveries: Vec::new(),
    };
    let mut totals = Vec::new();
    // Rows are locked in a fixed order: vouchers, entitlements (each by id),
    // then the feed counter.
    let ids = sorted_ids(fresh.iter().copied(), |e| redemption(e).map(|(v, _, _)| v));
    if !ids.is_empty() {
        let mut rows = tx.lock_vouchers(&ids)?;
        // A voucher has one valid text: any other is refused whole (and the
        // caller rolls back the entries stored so far).
        for checked in fresh {
            if let Some((id, _, credential)) = redemption(&checked.entry)
                && rows.get(id).is_some_and(|row| row.credential != credential)
            {
                return Err(SyncError::CredentialMismatch {
                    seq: checked.entry.seq,
                    voucher: id.clone(),
                    offered: checked.bytes.clone(),
                });
            }
        }
        let spend = |e: &LogEntry| redemption(e).map(|(id, amount, _)| (id.clone(), amount));
        totals.extend(count_each(
            tx,
            &mut counting,
            fresh,
            &mut rows,
            spend,
            voucher_alarms,
        )?);
    }
    let ids = sorted_ids(fresh.iter().copied(), |e| {
        entitlement_spend(e).map(|(id, _, _, _)| id)
    });
    if !ids.is_empty() {
        let mut rows = tx.lock_entitlements(&ids)?;
        let spend =
            |e: &LogEntry| entitlement_spend(e).map(|(id, _, _, amount)| (id.clone(), amount));
        totals.extend(count_each(
            tx,
            &mut counting,
            fresh,
            &mut rows,
            spend,
            entitlement_alarms,
        )?);
    }
    if !totals.is_empty() {
        // Taken last and held to commit: feed positions follow commit order,
        // so a pull never skips a change that commits later.
        let position = tx.next_counter("balances_feed")?;
        tx.update_redemptions(&totals, position)?;
        // What the registry released as these closes once fully redeemed.
        let paid_by = format!("terminal:{}", device_row.device.as_str());
        for total in &totals {
            let closed = crate::storage::registry::close_delivered(
                tx.sql(),
                total.credential.id(),
                total.redeemed_minor,
                now,
            )?;
            // A cash payment on a roster is paid once its payout synced
            // (never before): the entitlement it pays just closed.
            if closed > 0 {
                crate::storage::payments::close_cash_payment(
                    tx.sql(),
                    total.credential.id(),
                    &paid_by,
                    "{}",
                    now,
                )?;
            }
        }
    }
    counting.deliveries.sort_by_key(|d| d.seq);
    postings::deliveries(tx.sql(), device_row, &counting.deliveries, now)?;
    Ok(Counted {
        delivered: counting.deliveries.iter().map(|d| d.seq).collect(),
        cases: counting.cases,
    })
}

/// What an entry counted as delivered, for the ledger.
fn delivery(entry: &LogEntry, value: Money, amount: Money) -> Option<Delivery> {
    let (credential, programme, cash) = match &entry.event {
        LogEvent::VoucherRedeemed {
            voucher, programme, ..
        } => (voucher.as_str(), programme, false),
        LogEvent::EntitlementRedeemed {
            entitlement,
            programme,
            ..
        } => (entitlement.as_str(), programme, false),
        LogEvent::CashPaidOut {
            entitlement,
            programme,
            ..
        } => (entitlement.as_str(), programme, true),
        _ => return None,
    };
    Some(Delivery {
        seq: entry.seq,
        credential: credential.to_owned(),
        programme: programme.as_str().to_owned(),
        value,
        amount,
        cash,
    })
}

/// The cash sessions the fresh entries opened and closed, in log order.
fn sessions_of(fresh: &[&CheckedEntry]) -> Vec<Session> {
    fresh
        .iter()
        .filter_map(|c| match &c.entry.event {
            LogEvent::CashSessionOpened { float, .. } => Some(Session::Opened {
                seq: c.entry.seq,
                float: *float,
            }),
            LogEvent::CashSessionClosed {
                expected, counted, ..
            } => Some(Session::Closed {
                seq: c.entry.seq,
                expected: *expected,
                counted: *counted,
            }),
            _ => None,
        })
        .collect()
}

/// The distinct ids the entries name, sorted (the order rows are locked in).
fn sorted_ids<'e, T: Ord + Clone + 'e>(
    entries: impl IntoIterator<Item = &'e CheckedEntry>,
    id: impl Fn(&'e LogEntry) -> Option<&'e T>,
) -> Vec<T> {
    entries
        .into_iter()
        .filter_map(|c| id(&c.entry).cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// One upload's counting: who sent it, when, and the cases it opened by
/// sequence number.
struct Counting<'a> {
    device: &'a DeviceId,
    now: i64,
    cases: HashMap<u64, u64>,
    /// What was counted, for the ledger.
    deliveries: Vec<Delivery>,
}

/// An alarm to raise about one entry: its kind and what happened.
type EntryAlarm = (&'static str, String);

/// A row's value and mode, and its redeemed total and winner to update.
type Parts<'a> = (
    Money,
    RedemptionMode,
    &'a mut i64,
    &'a mut Option<(DeviceId, u64)>,
);

/// A voucher or entitlement row, as counting sees it.
trait Countable {
    fn credential(&self) -> Credential;
    fn parts(&mut self) -> Parts<'_>;
}

impl Countable for VoucherRow {
    fn credential(&self) -> Credential {
        Credential::Voucher(self.voucher.clone())
    }
    fn parts(&mut self) -> Parts<'_> {
        (
            self.value,
            self.mode,
            &mut self.redeemed_minor,
            &mut self.winner,
        )
    }
}

impl Countable for EntitlementRow {
    fn credential(&self) -> Credential {
        Credential::Entitlement(self.entitlement.clone())
    }
    fn parts(&mut self) -> Parts<'_> {
        (
            self.value,
            self.mode,
            &mut self.redeemed_minor,
            &mut self.winner,
        )
    }
}

/// Counts each fresh entry that `spend` recognises against its row from
/// `rows` (locked by the caller): the first to arrive wins, a conflicting
/// one opens a case holding both entries. `alarms` names what else is wrong
/// with an entry given its row (`None`: unknown here, so not counted).
/// Returns the new totals of the rows that changed.
fn count_each<Id: Ord + std::hash::Hash, R: Countable>(
    tx: &mut dyn Tx,
    counting: &mut Counting<'_>,
    fresh: &[&CheckedEntry],
    rows: &mut HashMap<Id, R>,
    spend: impl Fn(&LogEntry) -> Option<(Id, Money)>,
    alarms: impl Fn(&LogEntry, &Id, Option<&R>) -> Vec<EntryAlarm>,
) -> Result<Vec<NewTotal>, StorageError> {
    let mut changed: BTreeMap<Id, NewTotal> = BTreeMap::new();
    for checked in fresh {
        let Some((id, amount)) = spend(&checked.entry) else {
            continue;
        };
        let seq = checked.entry.seq;
        let row = rows.get_mut(&id);
        for (kind, detail) in alarms(&checked.entry, &id, row.as_deref()) {
            tx.insert_alarm(&NewAlarm {
                kind,
                device: Some(counting.device.clone()),
                seq: Some(seq),
                detail,
                evidence: Some(checked.bytes.clone()),
                raised_at: counting.now,
            })?;
        }
        let Some(row) = row else {
            continue;
        };
        let credential = row.credential();
        let (value, mode, redeemed_minor, winner) = row.parts();
        let tally = Tally {
            value,
            mode,
            redeemed_minor: *redeemed_minor,
        };
        match double_spend::judge(&tally, amount) {
            Verdict::Counted => {
                counting
                    .deliveries
                    .extend(delivery(&checked.entry, value, amount));
                // `judge` checked that the sum does not overflow.
                *redeemed_minor += amount.minor;
                *winner = Some((counting.device.clone(), seq));
                let total = NewTotal {
                    credential,
                    redeemed_minor: *redeemed_minor,
                    winner: winner.clone(),
                };
                changed.insert(id, total);
            }
            Verdict::Conflict(reason) => {
                let case = tx.insert_case(&NewCase {
                    subject: credential,
                    reason: reason.code(),
                    first: winner.clone(),
                    second: (counting.device.clone(), seq),
                    amount,
                    redeemed_before_minor: tally.redeemed_minor,
                    value_minor: value.minor,
                    opened_at: counting.now,
                })?;
                counting.cases.insert(seq, case);
            }
        }
    }
    Ok(changed.into_values().collect())
}

/// What is wrong with a voucher redemption besides a double spend (a text
/// other than the one held was refused before counting).
fn voucher_alarms(entry: &LogEntry, id: &VoucherId, row: Option<&VoucherRow>) -> Vec<EntryAlarm> {
    let Some(row) = row else {
        return vec![(
            "unverifiable_voucher",
            format!(
                "voucher {id} was redeemed but is not known here and its credential does \
                 not verify against the server's trust list"
            ),
        )];
    };
    let mut alarms = Vec::new();
    if row
        .revoked_at
        .is_some_and(|revoked_at| entry.at >= revoked_at)
    {
        alarms.push((
            "revoked_voucher_redeemed",
            format!("voucher {id} was redeemed after HQ revoked it (the terminal had not synced)"),
        ));
    }
    alarms
}

/// An entitlement redeemed by ID at a shop or paid out in cash: the
/// entitlement, the beneficiary and programme the entry names, the amount.
fn entitlement_spend(
    entry: &LogEntry,
) -> Option<(&EntitlementId, &BeneficiaryId, &ProgrammeId, Money)> {
    match &entry.event {
        LogEvent::EntitlementRedeemed {
            entitlement,
            beneficiary,
            programme,
            amount,
            ..
        }
        | LogEvent::CashPaidOut {
            entitlement,
            beneficiary,
            programme,
            amount,
            ..
        } => Some((entitlement, beneficiary, programme, *amount)),
        _ => None,
    }
}

/// What is wrong with an entitlement redemption or payout besides a double
/// spend.
fn entitlement_alarms(
    entry: &LogEntry,
    id: &EntitlementId,
    row: Option<&EntitlementRow>,
) -> Vec<EntryAlarm> {
    let Some(row) = row else {
        return vec![(
            "unknown_entitlement",
            format!(
                "entitlement {id} was redeemed or paid out but no roster published here lists it"
            ),
        )];
    };
    match entitlement_spend(entry) {
        Some((_, beneficiary, programme, _))
            if (&row.beneficiary, &row.programme) != (beneficiary, programme) =>
        {
            vec![(
                "entitlement_mismatch",
                format!(
                    "entitlement {id} was paid to {beneficiary} in programme {programme}; the \
                     roster gives it to {} in programme {}",
                    row.beneficiary, row.programme
                ),
            )]
        }
        _ => Vec::new(),
    }
}

/// Answers a pull: documents newer than the cursor, balance changes after
/// its position (every voucher's; the entitlements of the device's roster),
/// and the highest sequence held for the device.
pub fn pull(
    storage: &Storage,
    request: &SignedRequest,
    pull: &PullRequest,
    now: i64,
) -> Result<PullResponse, SyncError> {
    if pull.open_cases.len() > OPEN_CASES_MAX {
        return Err(SyncError::TooManyCases(pull.open_cases.len()));
    }
    let cursor = pull.cursor;
    let page = pull.balances_max.map_or(PULL_BALANCES_MAX, |n| {
        (n as usize).clamp(PULL_BALANCES_PAGE_MIN, PULL_BALANCES_MAX)
    });
    storage.transaction(|tx| {
        let device = device_auth::admit(tx, request)?;
        tx.touch_device(&device.device, now)?;
        let mut newer = |kind: &str, scope: &str, held: u64| -> Result<_, StorageError> {
            Ok(tx
                .document(kind, scope)?
                .filter(|(version, _)| *version > held)
                .map(|(_, bytes)| ByteBuf::from(bytes)))
        };
        let trust_list = newer(documents::TRUST_LIST, GLOBAL_SCOPE, cursor.trust_list)?;
        let revocations = newer(documents::REVOCATIONS, GLOBAL_SCOPE, cursor.revocations)?;
        let scope = documents::roster_scope(device.site.as_ref(), device.merchant.as_ref());
        let roster = match &scope {
            Some(scope) => newer(documents::ROSTER, scope, cursor.roster)?,
            None => None,
        };
        let policy = newer(
            documents::POLICY,
            &documents::policy_scope(&device.device),
            cursor.policy,
        )?;
        let mut rows = tx.balances_after(cursor.balances, scope.as_deref(), page + 1)?;
        let balances_more = whole_positions(&mut rows, page);
        let balances_cursor = rows.last().map_or(cursor.balances, |r| r.position);
        let mut balances = Vec::new();
        let mut entitlement_balances = Vec::new();
        for row in rows {
            match row.credential {
                Credential::Voucher(voucher) => balances.push(VoucherBalance {
                    voucher,
                    redeemed: row.redeemed,
                }),
                Credential::Entitlement(entitlement) => {
                    entitlement_balances.push(EntitlementBalance {
                        entitlement,
                        redeemed: row.redeemed,
                    });
                }
            }
        }
        let root_handovers = documents::root_handovers(tx)?
            .into_iter()
            .map(ByteBuf::from)
            .collect();
        Ok(PullResponse {
            server_time: now,
            root_handovers,
            trust_list,
            revocations,
            roster,
            policy,
            balances,
            entitlement_balances,
            balances_cursor,
            balances_more,
            acknowledged_seq: device.head_seq,
            case_outcomes: case_outcomes(tx, &device.device, &pull.open_cases)?,
        })
    })
}

/// The outcomes of the cases HQ closed among `open`, those this device's
/// entries are the disputed side of (asking about another terminal's cases
/// gets nothing).
fn case_outcomes(
    tx: &mut dyn Tx,
    device: &DeviceId,
    open: &[u64],
) -> Result<Vec<CaseOutcome>, StorageError> {
    let mut outcomes = Vec::new();
    for &case in open {
        if let Some((code, resolved_at)) = tx.case_resolution(device, case)? {
            let resolution = CaseResolution::parse(&code)
                .ok_or_else(|| StorageError::corrupt("double_spend_cases", &code))?;
            outcomes.push(CaseOutcome {
                case,
                resolution,
                resolved_at,
            });
        }
    }
    Ok(outcomes)
}

/// Cuts `rows` (read `limit + 1` at most) to a page of at most `limit` that
/// ends on a whole feed position (one upload's changes share a position, at
/// most [`PULL_BALANCES_PAGE_MIN`] of them), so the cursor never skips the
/// rest of one. Returns whether more rows wait.
fn whole_positions(rows: &mut Vec<BalanceRow>, limit: usize) -> bool {
    if rows.len() <= limit {
        return false;
    }
    let split = rows[limit].position;
    rows.truncate(limit);
    let keep = rows.iter().take_while(|r| r.position != split).count();
    // `limit` is at least one position's worth, so a page is never emptied.
    debug_assert!(keep > 0, "one feed position holds more than a page");
    if keep > 0 {
        rows.truncate(keep);
    }
    true
}
