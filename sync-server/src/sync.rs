//! The sync protocol, server side: ingesting a terminal's log entries, and
//! answering a pull with everything newer than the terminal's cursor.
//!
//! Ingest, for one upload:
//! 1. every entry is parsed, must be signed with this device's key id and
//!    name this device; the signatures are checked together with Ed25519
//!    batch verification (one at a time only to find a bad one);
//! 2. vouchers the server has not seen (issued elsewhere) are learnt from
//!    their credentials, verified against the server's trust list;
//! 3. in one transaction, under the device's row lock: entries at or below
//!    the stored head must equal the stored bytes (a duplicate, answered as
//!    such) or the upload is refused as a sequence conflict and an alarm
//!    raised; new entries must continue the chain from the stored head
//!    (next sequence, previous hash); redemptions are counted against their
//!    vouchers (locked), conflicting ones open double-spend cases; the
//!    entries and the new head are stored.
//!
//! Either the whole upload is applied or nothing is; the answer names the
//! highest sequence held, so a retry after a lost answer is harmless.

use std::collections::{BTreeSet, HashMap};

use ed25519_dalek::{Signature, VerifyingKey};
use lastmile_shared::device_log::{EntryHash, LogEntry, LogEvent};
use lastmile_shared::envelope::{self, Envelope};
use lastmile_shared::id::{DeviceId, VoucherId};
use lastmile_shared::money::Money;
use lastmile_shared::sync::{
    EntryOutcome, PULL_BALANCES_MAX, PullResponse, SyncCursor, UPLOAD_ENTRIES_MAX, UploadResponse,
    VoucherBalance,
};
use lastmile_shared::trust_list::{TrustList, TrustStore};
use lastmile_shared::voucher;
use serde_bytes::ByteBuf;

use crate::device_auth::{self, AuthError, SignedRequest};
use crate::documents::{self, GLOBAL_SCOPE};
use crate::double_spend::{self, Verdict};
use crate::storage::{
    BalanceRow, NewAlarm, NewCase, Storage, StorageError, StoredEntry, Tx, VoucherRow,
};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("the upload holds {0} entries; at most {UPLOAD_ENTRIES_MAX} are accepted at once")]
    TooManyEntries(usize),
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
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage_error",
            Self::Auth(e) => e.code(),
            Self::TooManyEntries(_) => "too_many_entries",
            Self::BadEntry { .. } => "bad_entry",
            Self::BadEntrySignature { .. } => "bad_entry_signature",
            Self::SequenceGap { .. } => "sequence_gap",
            Self::ChainBroken { .. } => "chain_broken",
            Self::SequenceConflict { .. } => "sequence_conflict",
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
        let entry: LogEntry =
            envelope::decode_cbor(envelope.payload()).map_err(|e| bad(e.to_string()))?;
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
/// Runs in its own short transaction before the ingest: inserting a voucher
/// definition twice is harmless, and it keeps the ingest's locks ordered.
fn learn_vouchers(
    storage: &Storage,
    entries: &[CheckedEntry],
    now: i64,
) -> Result<(), StorageError> {
    let ids: Vec<VoucherId> = entries
        .iter()
        .filter_map(|c| redemption(&c.entry).map(|(v, _, _)| v.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    storage.transaction(|tx| {
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
        for checked in entries {
            let Some((id, _, credential)) = redemption(&checked.entry) else {
                continue;
            };
            if known.contains(id) {
                continue;
            }
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
    })
}

/// Ingests one upload (see the module documentation). On a sequence
/// conflict nothing is applied and an alarm is recorded.
pub fn upload(
    storage: &Storage,
    request: &SignedRequest,
    entries: Vec<ByteBuf>,
    now: i64,
) -> Result<UploadResponse, SyncError> {
    let key = envelope::verifying_key(&request.device.public_key)
        .ok_or(SyncError::Auth(AuthError::UnknownDevice))?;
    let checked = check_entries(entries, &request.device.device, &request.device.kid, &key)?;
    learn_vouchers(storage, &checked, now)?;
    let result = storage.transaction(|tx| apply(tx, request, &checked, now));
    if let Err(SyncError::SequenceConflict { seq, offered }) = &result {
        let device = request.device.device.clone();
        storage.transaction(|tx| {
            tx.insert_alarm(&NewAlarm {
                kind: "sequence_conflict",
                device: Some(device),
                seq: Some(*seq),
                detail: format!(
                    "the terminal sent a different entry {seq} than the one already held; \
                     evidence is the offered entry"
                ),
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
    now: i64,
) -> Result<UploadResponse, SyncError> {
    let device = device_auth::admit(tx, request)?;
    let id = &device.device;
    let held_seq = device.head_seq;
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
    if fresh.is_empty() {
        tx.touch_device(id, now)?;
        return Ok(UploadResponse {
            acknowledged_seq: head_seq,
            outcomes,
        });
    }
    let stored_entries: Vec<StoredEntry> = fresh.iter().map(|c| stored_entry(c)).collect();
    tx.insert_entries(id, &stored_entries, now)?;
    let cases = count_redemptions(tx, id, &fresh, now)?;
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

/// Counts each new redemption against its voucher, opening a case for each
/// conflicting one. Returns the case opened per sequence number.
fn count_redemptions(
    tx: &mut dyn Tx,
    device: &DeviceId,
    fresh: &[&CheckedEntry],
    now: i64,
) -> Result<HashMap<u64, u64>, StorageError> {
    let ids: Vec<VoucherId> = fresh
        .iter()
        .filter_map(|c| redemption(&c.entry).map(|(v, _, _)| v.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut cases = HashMap::new();
    if ids.is_empty() {
        return Ok(cases);
    }
    let mut vouchers = tx.lock_vouchers(&ids)?;
    let mut changed: BTreeSet<VoucherId> = BTreeSet::new();
    for checked in fresh {
        let Some((id, amount, credential)) = redemption(&checked.entry) else {
            continue;
        };
        let seq = checked.entry.seq;
        let Some(row) = vouchers.get_mut(id) else {
            tx.insert_alarm(&NewAlarm {
                kind: "unverifiable_voucher",
                device: Some(device.clone()),
                seq: Some(seq),
                detail: format!(
                    "voucher {id} was redeemed but is not known here and its credential does \
                     not verify against the server's trust list"
                ),
                evidence: Some(checked.bytes.clone()),
                raised_at: now,
            })?;
            continue;
        };
        if row.credential != credential {
            tx.insert_alarm(&NewAlarm {
                kind: "credential_mismatch",
                device: Some(device.clone()),
                seq: Some(seq),
                detail: format!("the credential redeemed as voucher {id} is not the one issued"),
                evidence: Some(checked.bytes.clone()),
                raised_at: now,
            })?;
        }
        if let Some(revoked_at) = row.revoked_at
            && checked.entry.at >= revoked_at
        {
            tx.insert_alarm(&NewAlarm {
                kind: "revoked_voucher_redeemed",
                device: Some(device.clone()),
                seq: Some(seq),
                detail: format!(
                    "voucher {id} was redeemed after HQ revoked it (the terminal had not synced)"
                ),
                evidence: Some(checked.bytes.clone()),
                raised_at: now,
            })?;
        }
        match double_spend::judge(row, amount) {
            Verdict::Counted => {
                // `judge` checked that the sum does not overflow.
                row.redeemed_minor += amount.minor;
                row.winner = Some((device.clone(), seq));
                changed.insert(id.clone());
            }
            Verdict::Conflict(reason) => {
                let case = tx.insert_case(&NewCase {
                    voucher: id.clone(),
                    reason: reason.code(),
                    first: row.winner.clone(),
                    second: (device.clone(), seq),
                    amount,
                    redeemed_before_minor: row.redeemed_minor,
                    value_minor: row.value.minor,
                    opened_at: now,
                })?;
                cases.insert(seq, case);
            }
        }
    }
    if !changed.is_empty() {
        // Taken last and held to commit: feed positions follow commit order,
        // so a pull never skips a change that commits later.
        let position = tx.next_counter("balances_feed")?;
        let rows: Vec<&VoucherRow> = changed.iter().filter_map(|id| vouchers.get(id)).collect();
        tx.update_redemptions(&rows, position)?;
    }
    Ok(cases)
}

/// Answers a pull: documents newer than the cursor, balance changes after
/// its position, and the highest sequence held for the device.
pub fn pull(
    storage: &Storage,
    request: &SignedRequest,
    cursor: SyncCursor,
    now: i64,
) -> Result<PullResponse, SyncError> {
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
        let roster = match documents::roster_scope(device.site.as_ref(), device.merchant.as_ref()) {
            Some(scope) => newer(documents::ROSTER, &scope, cursor.roster)?,
            None => None,
        };
        let policy = newer(
            documents::POLICY,
            &documents::policy_scope(&device.device),
            cursor.policy,
        )?;
        let mut rows = tx.balances_after(cursor.balances, PULL_BALANCES_MAX)?;
        trim_to_whole_positions(&mut rows, PULL_BALANCES_MAX);
        let balances_cursor = rows.last().map_or(cursor.balances, |r| r.position);
        Ok(PullResponse {
            server_time: now,
            trust_list,
            revocations,
            roster,
            policy,
            balances: rows
                .into_iter()
                .map(|r| VoucherBalance {
                    voucher: r.voucher,
                    redeemed: r.redeemed,
                })
                .collect(),
            balances_cursor,
            acknowledged_seq: device.head_seq,
        })
    })
}

/// A full page may end in the middle of one feed position (one upload's
/// changes share a position); drop that tail so the cursor never skips it.
fn trim_to_whole_positions(rows: &mut Vec<BalanceRow>, limit: usize) {
    if rows.len() < limit {
        return;
    }
    let Some(last) = rows.last().map(|r| r.position) else {
        return;
    };
    let keep = rows.iter().take_while(|r| r.position != last).count();
    if keep > 0 {
        rows.truncate(keep);
    }
}
