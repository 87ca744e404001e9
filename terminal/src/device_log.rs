//! The device log on disk: append-only, hash-chained, signed by the device
//! key, and the sync outbox. Entries are only appended inside a caller's
//! transaction, together with the derived state they change.

use std::io::Write;

use lastmile_shared::device_log::{
    ChainHead, EntryHash, LogEntry, LogEvent, SignedEntry, verify_chain,
};
use lastmile_shared::id::OperatorId;
use lastmile_shared::money::Money;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::device_key::DeviceKey;
use crate::enrolment::Enrolment;
use crate::error::Error;
use crate::terminal::Terminal;

/// Entries read per step when verifying or exporting the whole log.
const LOG_READ_CHUNK_ENTRIES: i64 = 1024;

/// A stored entry, with whether the server has confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntry {
    pub entry: LogEntry,
    pub hash: EntryHash,
    /// The signed COSE_Sign1 bytes exactly as stored and uploaded.
    pub bytes: Vec<u8>,
    pub confirmed: bool,
}

/// The result of a successful `verify_log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogCheck {
    pub entries: u64,
    /// Hex SHA-256 of the last entry, if any.
    pub head_hash: Option<String>,
}

/// A stable name for each event kind (the `kind` column and JSON exports).
pub fn event_kind(event: &LogEvent) -> &'static str {
    match event {
        LogEvent::VoucherRedeemed { .. } => "voucher_redeemed",
        LogEvent::EntitlementRedeemed { .. } => "entitlement_redeemed",
        LogEvent::CashSessionOpened { .. } => "cash_session_opened",
        LogEvent::CashPaidOut { .. } => "cash_paid_out",
        LogEvent::CashSessionClosed { .. } => "cash_session_closed",
    }
}

pub(crate) fn head(conn: &Connection) -> Result<ChainHead, Error> {
    let row = conn
        .query_row(
            "SELECT seq, hash FROM log_entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(ChainHead::GENESIS),
        Some((seq, hash)) => {
            let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| Error::LogDamaged {
                seq,
                reason: "the stored hash is not 32 bytes".into(),
            })?;
            Ok(ChainHead {
                seq,
                hash: EntryHash(hash),
            })
        }
    }
}

/// Money an entry moves against one voucher or entitlement.
pub(crate) struct Movement<'a> {
    pub credential: &'a str,
    pub amount: Money,
}

/// Signs `event` as the next entry and appends it, updating the pending
/// balance of the credential it moves money against. Runs in the caller's
/// transaction: nothing is visible until the caller commits.
pub(crate) fn append(
    tx: &Transaction<'_>,
    enrolment: &Enrolment,
    key: &DeviceKey,
    operator: &OperatorId,
    at: i64,
    event: LogEvent,
    movement: Option<Movement<'_>>,
) -> Result<SignedEntry, Error> {
    let head = head(tx)?;
    let kind = event_kind(&event);
    let entry = LogEntry {
        seq: head.seq + 1,
        prev: head.hash,
        device: enrolment.device.clone(),
        operator: operator.clone(),
        merchant: enrolment.merchant.clone(),
        site: enrolment.site.clone(),
        at,
        event,
    };
    let signed = SignedEntry::sign(entry, &enrolment.device_kid, key.signing());
    tx.execute(
        "INSERT INTO log_entries (seq, hash, bytes, at, operator, kind, credential, amount_minor, currency)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            signed.entry.seq,
            signed.hash.0.as_slice(),
            signed.bytes,
            at,
            operator.as_str(),
            kind,
            movement.as_ref().map(|m| m.credential),
            movement.as_ref().map(|m| m.amount.minor),
            movement.as_ref().map(|m| m.amount.currency.code()),
        ],
    )?;
    if let Some(movement) = movement {
        tx.execute(
            "INSERT INTO credentials (credential, currency, local_pending_minor) VALUES (?1, ?2, ?3)
             ON CONFLICT (credential) DO UPDATE
             SET local_pending_minor = local_pending_minor + excluded.local_pending_minor",
            params![
                movement.credential,
                movement.amount.currency.code(),
                movement.amount.minor
            ],
        )?;
    }
    Ok(signed)
}

pub(crate) fn acknowledged_seq(conn: &Connection) -> Result<u64, Error> {
    Ok(conn.query_row(
        "SELECT acknowledged_seq FROM sync_state WHERE id = 1",
        [],
        |r| r.get(0),
    )?)
}

impl Terminal {
    /// One entry, verified against the device key.
    pub fn log_entry(&self, seq: u64) -> Result<LoggedEntry, Error> {
        let (enrolment, key) = self.enrolled()?;
        let bytes: Vec<u8> = self
            .conn
            .query_row("SELECT bytes FROM log_entries WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or(Error::NoSuchEntry(seq))?;
        let signed =
            SignedEntry::open(&bytes, &enrolment.device_kid, &key.public()).map_err(|e| {
                Error::LogDamaged {
                    seq,
                    reason: e.to_string(),
                }
            })?;
        Ok(LoggedEntry {
            entry: signed.entry,
            hash: signed.hash,
            bytes,
            confirmed: seq <= acknowledged_seq(&self.conn)?,
        })
    }

    /// The sequence number of the newest entry (0 when the log is empty).
    pub fn log_head_seq(&self) -> Result<u64, Error> {
        Ok(head(&self.conn)?.seq)
    }

    /// Verifies the whole log: every signature, every link, no gaps, and
    /// that the stored sequence and hash columns match the signed bytes.
    /// A damaged entry is named by its sequence number.
    pub fn verify_log(&self) -> Result<LogCheck, Error> {
        let (enrolment, key) = self.enrolled()?;
        let public = key.public();
        let mut head = ChainHead::GENESIS;
        let mut statement = self.conn.prepare(
            "SELECT seq, hash, bytes FROM log_entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        loop {
            let rows: Vec<(u64, Vec<u8>, Vec<u8>)> = statement
                .query_map(params![head.seq, LOG_READ_CHUNK_ENTRIES], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            let Some(last) = rows.last() else { break };
            let last_seq = last.0;
            let checked = verify_chain(
                rows.iter().map(|(_, _, bytes)| bytes.as_slice()),
                &enrolment.device,
                &enrolment.device_kid,
                &public,
                head,
            );
            let new_head = match checked {
                Ok(new_head) => new_head,
                Err(error) => {
                    return Err(Error::LogDamaged {
                        seq: rows.get(error.index).map_or(error.seq, |row| row.0),
                        reason: error.kind.to_string(),
                    });
                }
            };
            for (seq, hash, bytes) in &rows {
                let (_, entry) =
                    SignedEntry::parse_unverified(bytes).map_err(|e| Error::LogDamaged {
                        seq: *seq,
                        reason: e.to_string(),
                    })?;
                if entry.seq != *seq || EntryHash::of(bytes).0.as_slice() != hash.as_slice() {
                    return Err(Error::LogDamaged {
                        seq: *seq,
                        reason: "the stored index does not match the signed entry".into(),
                    });
                }
            }
            debug_assert_eq!(new_head.seq, last_seq);
            head = new_head;
        }
        Ok(LogCheck {
            entries: head.seq,
            head_hash: (head.seq > 0).then(|| head.hash.to_hex()),
        })
    }

    /// Writes every entry as one JSON object per line, oldest first, with
    /// the signed bytes in hex so anyone can re-verify them. Returns the
    /// number of entries written.
    pub fn export_log(&self, out: &mut dyn Write) -> Result<u64, Error> {
        let acknowledged = acknowledged_seq(&self.conn)?;
        let mut statement = self
            .conn
            .prepare("SELECT seq, bytes FROM log_entries WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let mut after = 0u64;
        loop {
            let rows: Vec<(u64, Vec<u8>)> = statement
                .query_map(params![after, LOG_READ_CHUNK_ENTRIES], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            if rows.is_empty() {
                break;
            }
            for (seq, bytes) in rows {
                let (kid, entry) =
                    SignedEntry::parse_unverified(&bytes).map_err(|e| Error::LogDamaged {
                        seq,
                        reason: e.to_string(),
                    })?;
                let line = serde_json::json!({
                    "seq": entry.seq,
                    "hash": EntryHash::of(&bytes).to_hex(),
                    "prev": entry.prev.to_hex(),
                    "at": entry.at,
                    "device": entry.device,
                    "kid": kid,
                    "operator": entry.operator,
                    "merchant": entry.merchant,
                    "site": entry.site,
                    "status": if seq <= acknowledged { "confirmed" } else { "pending" },
                    "event": entry.event,
                    "signed_hex": hex::encode(&bytes),
                });
                writeln!(out, "{line}").map_err(|e| Error::io(std::path::Path::new("-"), e))?;
                after = seq;
            }
        }
        out.flush()
            .map_err(|e| Error::io(std::path::Path::new("-"), e))?;
        Ok(after)
    }
}
