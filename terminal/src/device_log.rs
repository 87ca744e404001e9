//! The device log on disk: append-only, hash-chained, signed by the device
//! key, and the sync outbox. Entries are only appended inside a caller's
//! transaction, together with the derived state they change.

use std::fmt;
use std::io::Write;

use lastmile_shared::device_log::{
    ChainHead, EntryHash, LogEntry, LogEvent, SignedEntry, verify_chain,
};
use lastmile_shared::id::OperatorId;
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::sync::CaseResolution;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::device_key::DeviceKey;
use crate::enrolment::Enrolment;
use crate::error::Error;
use crate::receipt::ReceiptStatus;
use crate::redemption::{entitlement_key, voucher_key};
use crate::terminal::Terminal;

/// Entries read per step when verifying or exporting the whole log.
const LOG_READ_CHUNK_ENTRIES: i64 = 1024;
/// Most balance differences `verify_log` names (a wholesale damaged table would list
/// thousands).
pub const BALANCE_DIFFERENCES_REPORTED_MAX: usize = 20;

/// A stored entry, with whether the server has confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntry {
    pub entry: LogEntry,
    pub hash: EntryHash,
    /// The signed COSE_Sign1 bytes exactly as stored and uploaded.
    pub bytes: Vec<u8>,
    /// Pending, confirmed by the server, or under review in a double-spend case.
    pub status: ReceiptStatus,
}

/// The double-spend case the server opened for entry `seq`, if any, and
/// how HQ closed it once it has.
pub(crate) fn disputed_case(
    conn: &Connection,
    seq: u64,
) -> Result<Option<(u64, Option<CaseResolution>)>, Error> {
    let row: Option<(u64, Option<String>)> = conn
        .query_row(
            "SELECT case_id, resolution FROM disputes WHERE seq = ?1",
            [seq],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(case, code)| match code {
        None => Ok((case, None)),
        Some(code) => CaseResolution::parse(&code)
            .map(|r| (case, Some(r)))
            .ok_or_else(|| Error::LogDamaged {
                seq,
                reason: format!("the stored case outcome {code:?} is not one HQ gives"),
            }),
    })
    .transpose()
}

/// What a receipt says of entry `seq`, as this terminal knows it now.
pub(crate) fn entry_status(conn: &Connection, seq: u64) -> Result<ReceiptStatus, Error> {
    Ok(match disputed_case(conn, seq)? {
        Some((case, None)) => ReceiptStatus::UnderReview { case },
        Some((case, Some(resolution))) => ReceiptStatus::CaseClosed { case, resolution },
        None if seq <= acknowledged_seq(conn)? => ReceiptStatus::Confirmed,
        None => ReceiptStatus::AcceptedOfflinePending,
    })
}

/// Entries under review at HQ: (sequence, case), oldest first.
pub(crate) fn disputes(conn: &Connection) -> Result<Vec<(u64, u64)>, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, case_id FROM disputes WHERE resolution IS NULL ORDER BY seq",
    )?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Cases HQ has not closed yet (as far as this terminal knows), oldest
/// first, at most `max`: what a pull asks about.
pub(crate) fn open_cases(conn: &Connection, max: usize) -> Result<Vec<u64>, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT case_id FROM disputes WHERE resolution IS NULL ORDER BY case_id LIMIT ?1",
    )?;
    let rows = statement.query_map([max], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Entries whose case HQ closed: (sequence, case, outcome), oldest first.
pub(crate) fn closed_cases(conn: &Connection) -> Result<Vec<(u64, u64, CaseResolution)>, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, case_id, resolution FROM disputes WHERE resolution IS NOT NULL ORDER BY seq",
    )?;
    let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
    rows.map(|row| {
        let (seq, case, code) = row?;
        let resolution = CaseResolution::parse(&code).ok_or_else(|| Error::LogDamaged {
            seq,
            reason: format!("the stored case outcome {code:?} is not one HQ gives"),
        })?;
        Ok((seq, case, resolution))
    })
    .collect()
}

/// The result of a successful `verify_log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogCheck {
    pub entries: u64,
    /// Hex SHA-256 of the last entry, if any.
    pub head_hash: Option<String>,
    /// Entries not yet confirmed by the server, and the value they move per currency, as
    /// recomputed from the signed entries (and found equal to the stored balances).
    pub pending_count: u64,
    pub pending_value: Vec<Money>,
}

/// One way the stored balances (the `credentials` table, the acknowledgement mark) disagree
/// with what the signed log adds up to. Amounts in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BalanceDifference {
    /// What was spent on one voucher (`voucher:ID`) or entitlement (`entitlement:ID`).
    Credential {
        credential: String,
        currency: String,
        confirmed_in_log: i64,
        confirmed_stored: i64,
        pending_in_log: i64,
        pending_stored: i64,
    },
    /// The total waiting for the server in one currency.
    PendingValue {
        currency: String,
        in_log: i64,
        stored: i64,
    },
    /// The server's acknowledgement lies beyond the last entry, so the pending count is wrong.
    AcknowledgedBeyondLog { acknowledged: u64, head: u64 },
}

/// The differences found, at most [`BALANCE_DIFFERENCES_REPORTED_MAX`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BalanceDifferences(pub Vec<BalanceDifference>);

/// `minor` in `currency` for people, also when the stored currency code is damaged.
fn amount(minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(currency) => Money::new(minor, currency).to_string(),
        Err(_) => format!("{minor} minor units of {currency:?}"),
    }
}

impl fmt::Display for BalanceDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BalanceDifference::Credential {
                credential,
                currency,
                confirmed_in_log,
                confirmed_stored,
                pending_in_log,
                pending_stored,
            } => {
                write!(f, "{credential}:")?;
                if confirmed_in_log != confirmed_stored {
                    write!(
                        f,
                        " confirmed {} in the log, {} stored",
                        amount(*confirmed_in_log, currency),
                        amount(*confirmed_stored, currency)
                    )?;
                }
                if pending_in_log != pending_stored {
                    write!(
                        f,
                        " pending {} in the log, {} stored",
                        amount(*pending_in_log, currency),
                        amount(*pending_stored, currency)
                    )?;
                }
                Ok(())
            }
            BalanceDifference::PendingValue {
                currency,
                in_log,
                stored,
            } => write!(
                f,
                "pending value: {} in the log, {} stored",
                amount(*in_log, currency),
                amount(*stored, currency)
            ),
            BalanceDifference::AcknowledgedBeyondLog { acknowledged, head } => write!(
                f,
                "the server's acknowledgement ({acknowledged}) is beyond the last entry ({head})"
            ),
        }
    }
}

impl fmt::Display for BalanceDifferences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, difference) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{difference}")?;
        }
        if self.0.len() >= BALANCE_DIFFERENCES_REPORTED_MAX {
            write!(f, " (the first {BALANCE_DIFFERENCES_REPORTED_MAX})")?;
        }
        Ok(())
    }
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

/// The credential and amount a signed event moves money against, if any: what the
/// `credential`, `amount_minor` and `currency` columns index.
fn event_movement(event: &LogEvent) -> Option<(String, Money)> {
    match event {
        LogEvent::VoucherRedeemed {
            voucher, amount, ..
        } => Some((voucher_key(voucher), *amount)),
        LogEvent::EntitlementRedeemed {
            entitlement,
            amount,
            ..
        }
        | LogEvent::CashPaidOut {
            entitlement,
            amount,
            ..
        } => Some((entitlement_key(entitlement), *amount)),
        LogEvent::CashSessionOpened { .. } | LogEvent::CashSessionClosed { .. } => None,
    }
}

/// Unconfirmed value per currency: the running sums of `pending_totals`, which
/// `append` and the sync client's acknowledgement keep in step with the log
/// (and `verify_log` checks against it).
pub(crate) fn pending_value(conn: &Connection) -> Result<Vec<Money>, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT currency, minor FROM pending_totals WHERE minor > 0 ORDER BY currency",
    )?;
    statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .map(|row| {
            let (code, minor) = row?;
            let currency = Currency::parse(&code).map_err(|e| Error::LogDamaged {
                seq: 0,
                reason: format!("the pending total has an invalid currency: {e}"),
            })?;
            Ok(Money::new(minor, currency))
        })
        .collect()
}

/// The running sum of unconfirmed value in one currency, in minor units.
pub(crate) fn pending_minor(conn: &Connection, currency: Currency) -> Result<i64, Error> {
    Ok(conn
        .prepare_cached("SELECT minor FROM pending_totals WHERE currency = ?1")?
        .query_row([currency.code()], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Compares the `credentials` table and the acknowledgement mark with what the log's
/// entries add up to (their indexed columns, already checked against the signed bytes).
fn balance_differences(
    conn: &Connection,
    head: u64,
    acknowledged: u64,
) -> Result<Vec<BalanceDifference>, Error> {
    let limit = BALANCE_DIFFERENCES_REPORTED_MAX as i64;
    let mut differences = Vec::new();
    if acknowledged > head {
        differences.push(BalanceDifference::AcknowledgedBeyondLog { acknowledged, head });
    }
    let mut credentials = conn.prepare(
        "WITH logged AS (
             SELECT credential, min(currency) AS currency,
                    sum(CASE WHEN seq <= ?1 THEN amount_minor ELSE 0 END) AS confirmed,
                    sum(CASE WHEN seq > ?1 THEN amount_minor ELSE 0 END) AS pending
             FROM log_entries WHERE credential IS NOT NULL GROUP BY credential)
         SELECT coalesce(l.credential, c.credential), coalesce(l.currency, c.currency),
                coalesce(l.confirmed, 0), coalesce(c.local_confirmed_minor, 0),
                coalesce(l.pending, 0), coalesce(c.local_pending_minor, 0)
         FROM logged AS l FULL OUTER JOIN credentials AS c ON c.credential = l.credential
         WHERE coalesce(l.confirmed, 0) != coalesce(c.local_confirmed_minor, 0)
            OR coalesce(l.pending, 0) != coalesce(c.local_pending_minor, 0)
         ORDER BY 1 LIMIT ?2",
    )?;
    let rows = credentials.query_map(params![acknowledged, limit], |r| {
        Ok(BalanceDifference::Credential {
            credential: r.get(0)?,
            currency: r.get(1)?,
            confirmed_in_log: r.get(2)?,
            confirmed_stored: r.get(3)?,
            pending_in_log: r.get(4)?,
            pending_stored: r.get(5)?,
        })
    })?;
    for row in rows {
        differences.push(row?);
    }
    let mut pending = conn.prepare(
        "WITH logged AS (
             SELECT currency, sum(amount_minor) AS minor FROM log_entries
             WHERE seq > ?1 AND currency IS NOT NULL GROUP BY currency),
         stored AS (SELECT currency, minor FROM pending_totals WHERE minor != 0)
         SELECT coalesce(l.currency, s.currency), coalesce(l.minor, 0), coalesce(s.minor, 0)
         FROM logged AS l FULL OUTER JOIN stored AS s ON s.currency = l.currency
         WHERE coalesce(l.minor, 0) != coalesce(s.minor, 0)
         ORDER BY 1 LIMIT ?2",
    )?;
    let rows = pending.query_map(params![acknowledged, limit], |r| {
        Ok(BalanceDifference::PendingValue {
            currency: r.get(0)?,
            in_log: r.get(1)?,
            stored: r.get(2)?,
        })
    })?;
    for row in rows {
        differences.push(row?);
    }
    differences.truncate(BALANCE_DIFFERENCES_REPORTED_MAX);
    Ok(differences)
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
    // Time never runs back past an entry (`Terminal::entry_time`).
    tx.prepare_cached(
        "UPDATE sync_state SET latest_seen_at = max(latest_seen_at, ?1) WHERE id = 1",
    )?
    .execute([at])?;
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
        tx.prepare_cached(
            "INSERT INTO pending_totals (currency, minor) VALUES (?1, ?2)
             ON CONFLICT (currency) DO UPDATE SET minor = minor + excluded.minor",
        )?
        .execute(params![
            movement.amount.currency.code(),
            movement.amount.minor
        ])?;
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

/// A `log_entries` row: the signed bytes and the columns indexing them.
struct StoredRow {
    seq: u64,
    hash: Vec<u8>,
    bytes: Vec<u8>,
    credential: Option<String>,
    amount_minor: Option<i64>,
    currency: Option<String>,
}

impl StoredRow {
    /// The indexed columns (which balances and the pending value are computed from) say
    /// what the signed entry says.
    fn check_index(&self) -> Result<(), Error> {
        let damaged = |reason: &str| Error::LogDamaged {
            seq: self.seq,
            reason: reason.into(),
        };
        let (_, entry) =
            SignedEntry::parse_unverified(&self.bytes).map_err(|e| damaged(&e.to_string()))?;
        if entry.seq != self.seq || EntryHash::of(&self.bytes).0.as_slice() != self.hash.as_slice()
        {
            return Err(damaged("the stored index does not match the signed entry"));
        }
        let signed = event_movement(&entry.event)
            .map(|(credential, amount)| (credential, amount.minor, amount.currency.code()));
        let stored = match (&self.credential, self.amount_minor, &self.currency) {
            (Some(credential), Some(minor), Some(currency)) => {
                Some((credential.clone(), minor, currency.as_str()))
            }
            (None, None, None) => None,
            _ => return Err(damaged("the stored credential and amount are incomplete")),
        };
        if signed != stored {
            return Err(damaged(
                "the stored credential and amount do not match the signed entry",
            ));
        }
        Ok(())
    }
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
            status: entry_status(&self.conn, seq)?,
        })
    }

    /// The sequence number of the newest entry (0 when the log is empty).
    pub fn log_head_seq(&self) -> Result<u64, Error> {
        Ok(head(&self.conn)?.seq)
    }

    /// Verifies the whole log: every signature, every link, no gaps, that
    /// the stored sequence, hash, credential and amount columns match the
    /// signed bytes, and that the stored balances (spent and pending per
    /// voucher and entitlement, pending value per currency, the server's
    /// acknowledgement) are what the entries add up to. A damaged entry is
    /// named by its sequence number; balance differences are listed.
    pub fn verify_log(&self) -> Result<LogCheck, Error> {
        let (enrolment, key) = self.enrolled()?;
        let public = key.public();
        let mut head = ChainHead::GENESIS;
        let mut statement = self.conn.prepare(
            "SELECT seq, hash, bytes, credential, amount_minor, currency FROM log_entries
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        loop {
            let rows: Vec<StoredRow> = statement
                .query_map(params![head.seq, LOG_READ_CHUNK_ENTRIES], |r| {
                    Ok(StoredRow {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                        bytes: r.get(2)?,
                        credential: r.get(3)?,
                        amount_minor: r.get(4)?,
                        currency: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let Some(last) = rows.last() else { break };
            let last_seq = last.seq;
            let checked = verify_chain(
                rows.iter().map(|row| row.bytes.as_slice()),
                &enrolment.device,
                &enrolment.device_kid,
                &public,
                head,
            );
            let new_head = match checked {
                Ok(new_head) => new_head,
                Err(error) => {
                    return Err(Error::LogDamaged {
                        seq: rows.get(error.index).map_or(error.seq, |row| row.seq),
                        reason: error.kind.to_string(),
                    });
                }
            };
            for row in &rows {
                row.check_index()?;
            }
            debug_assert_eq!(new_head.seq, last_seq);
            head = new_head;
        }
        let acknowledged = acknowledged_seq(&self.conn)?;
        let differences = balance_differences(&self.conn, head.seq, acknowledged)?;
        if !differences.is_empty() {
            return Err(Error::BalancesDiffer(BalanceDifferences(differences)));
        }
        Ok(LogCheck {
            entries: head.seq,
            head_hash: (head.seq > 0).then(|| head.hash.to_hex()),
            pending_count: head.seq - acknowledged,
            pending_value: pending_value(&self.conn)?,
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
