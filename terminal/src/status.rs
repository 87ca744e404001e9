//! What the terminal can tell an operator or a script at a glance: what is
//! waiting for the server, when it last synced, and how much of each
//! offline limit is left, and whether the server answers at all.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use lastmile_shared::id::{DeviceId, MerchantId, SiteId};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::sync::{CaseResolution, SyncCursor};
use serde::Serialize;

use crate::cash::CashSession;
use crate::device_log;
use crate::error::Error;
use crate::operator::{self, Login};
use crate::terminal::Terminal;

/// Longest wait for the server to accept a reachability probe's connection.
pub const REACHABILITY_PROBE_TIMEOUT_MS: u64 = 1_500;
/// Most addresses a probe tries for one server name.
const REACHABILITY_PROBE_ADDRESSES_MAX: usize = 4;

/// Whether the server at `url` accepts a TCP connection within `timeout`:
/// the connection badge's probe. It sends no request (no TLS, no data, a
/// few packets), so it can run every few seconds on a metered link; a sync
/// tells the rest. A name that does not resolve, or a malformed address,
/// is unreachable.
pub fn server_reachable(url: &str, timeout: Duration) -> bool {
    let Ok(uri) = url.trim().parse::<ureq::http::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(addresses) = (host, port).to_socket_addrs() else {
        return false;
    };
    addresses
        .take(REACHABILITY_PROBE_ADDRESSES_MAX)
        .any(|address| TcpStream::connect_timeout(&address, timeout).is_ok())
}

/// What is left of one currency's offline limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitStatus {
    pub currency: Currency,
    /// Most that may be redeemed offline against one voucher or entitlement.
    pub credential_value_max: Money,
    /// Unconfirmed value that may still be added before a sync is needed.
    pub unsynced_value_left: Money,
    /// Unconfirmed entries that may still be added (all currencies).
    pub unsynced_count_left: u64,
    /// Seconds until the terminal must sync before redeeming again.
    pub offline_seconds_left: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub now: i64,
    pub enrolled: bool,
    pub device: Option<DeviceId>,
    /// The device key's public half in hex: what HQ needs to readmit this
    /// terminal (`lastmile-server terminals readmit`) after losing it.
    pub device_public_key: Option<String>,
    pub merchant: Option<MerchantId>,
    pub site: Option<SiteId>,
    pub server_url: Option<String>,
    pub operator: Option<Login>,
    /// Entries in the device log.
    pub log_entries: u64,
    pub acknowledged_seq: u64,
    /// Entries not yet confirmed by the server, and their value per currency.
    pub pending_count: u64,
    pub pending_value: Vec<Money>,
    /// Entries HQ stored but did not count (double spends), oldest first.
    pub under_review: Vec<UnderReview>,
    /// Entries whose case HQ has closed (recovered, written off, dismissed).
    pub cases_closed: Vec<CaseClosed>,
    /// The last successful sync (or enrolment), if any.
    pub last_sync_at: Option<i64>,
    pub last_sync_attempt_at: Option<i64>,
    pub last_sync_error: Option<String>,
    pub limits: Vec<LimitStatus>,
    /// Versions of the signed documents held (0 = none).
    pub documents: SyncCursor,
    pub cash_session: Option<CashSession>,
}

/// A log entry whose double-spend case HQ closed, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseClosed {
    pub seq: u64,
    pub case: u64,
    pub resolution: CaseResolution,
}

/// A log entry under review at HQ: the server opened double-spend `case` for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnderReview {
    pub seq: u64,
    pub case: u64,
}

impl Terminal {
    pub fn status(&self) -> Result<Status, Error> {
        let now = self.now()?;
        let head = device_log::head(&self.conn)?.seq;
        let (acknowledged, last_sync_at, balances, attempt, last_error): (
            u64,
            i64,
            u64,
            Option<i64>,
            Option<String>,
        ) = self.conn.query_row(
            "SELECT acknowledged_seq, last_sync_at, balances_cursor, last_attempt_at, last_error
             FROM sync_state WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        let pending_value = device_log::pending_value(&self.conn)?;
        let pending_count = head.saturating_sub(acknowledged);
        let enrolled = self.enrolment.is_some();
        let limits = self
            .documents
            .policy
            .iter()
            .flat_map(|policy| &policy.limits)
            .map(|limit| {
                let pending = pending_value
                    .iter()
                    .find(|m| m.currency == limit.currency)
                    .map_or(0, |m| m.minor);
                LimitStatus {
                    currency: limit.currency,
                    credential_value_max: Money::new(
                        limit.credential_value_max_minor,
                        limit.currency,
                    ),
                    unsynced_value_left: Money::new(
                        limit
                            .unsynced_value_max_minor
                            .saturating_sub(pending)
                            .max(0),
                        limit.currency,
                    ),
                    unsynced_count_left: u64::from(limit.unsynced_count_max)
                        .saturating_sub(pending_count),
                    offline_seconds_left: limit
                        .offline_seconds_max
                        .saturating_sub(now.saturating_sub(last_sync_at))
                        .max(0),
                }
            })
            .collect();
        let under_review = device_log::disputes(&self.conn)?
            .into_iter()
            .map(|(seq, case)| UnderReview { seq, case })
            .collect();
        let cases_closed = device_log::closed_cases(&self.conn)?
            .into_iter()
            .map(|(seq, case, resolution)| CaseClosed {
                seq,
                case,
                resolution,
            })
            .collect();
        let enrolment = self.enrolment.as_ref();
        Ok(Status {
            under_review,
            cases_closed,
            now,
            enrolled,
            device: enrolment.map(|e| e.device.clone()),
            device_public_key: enrolment.map(|e| hex::encode(e.device_public_key)),
            merchant: enrolment.and_then(|e| e.merchant.clone()),
            site: enrolment.and_then(|e| e.site.clone()),
            server_url: enrolment.and_then(|e| e.server_url.clone()),
            operator: operator::current(&self.conn, now)?,
            log_entries: head,
            acknowledged_seq: acknowledged,
            pending_count,
            pending_value,
            last_sync_at: (enrolled && last_sync_at > 0).then_some(last_sync_at),
            last_sync_attempt_at: attempt,
            last_sync_error: last_error,
            limits,
            documents: self.documents.cursor(balances),
            cash_session: self.cash_session()?,
        })
    }
}
