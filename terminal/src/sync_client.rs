//! One sync round with the server: upload the unconfirmed part of the
//! device log in batches, then pull what changed (documents, balances).
//!
//! Slow links: batches are sized to the link, by bytes and by time (each
//! aims at [`SYNC_REQUEST_SECONDS_TARGET`] from the rate the last one
//! achieved, and a timed-out one is halved), each acknowledged batch is kept,
//! and each request is signed when it is sent; the pull's balance pages are
//! sized the same way. [`SyncProgress`] reports each step.
//!
//! Clocks: every answer's HTTP `Date` is the server's time; the offset to it
//! is kept (`sync_state.clock_offset_s`) and requests are signed, entries
//! stamped, in corrected time. A request refused as `stale_request` is
//! signed again once with the offset that refusal taught.
//!
//! A restored server: the upload tells the server how far it was
//! acknowledged; a server that holds less answers with its head, and the
//! round re-sends everything after it from the log.
//!
//! Every request after enrolment is signed with the device key (RFC 9421 via
//! `http_signature::sign`); bodies are CBOR. Upload is idempotent on the
//! server by `(device, seq)`, so an unknown outcome (a timeout after the
//! request left) is simply resolved by the next round re-sending the same
//! entries. Documents are applied only after `RootSigned::open` against the
//! enrolled root key, and only if newer than what the terminal holds.
//!
//! TLS: a terminal enrolled with a programme's CA certificate ([`ServerCa`],
//! `enroll --ca-cert`) trusts only that CA for its server, on every request;
//! otherwise it trusts the webpki (Mozilla) roots. Plain `http://` is for a
//! loopback server unless enrolment explicitly allows it
//! ([`ServerTrust::allow_plain_http`]).

use std::cell::Cell;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use lastmile_shared::envelope::EnvelopeError;
use lastmile_shared::http_signature;
use lastmile_shared::id::KeyId;
use lastmile_shared::sync::{
    self, CONTENT_TYPE, CaseOutcome, CaseResolution, EnrollRequest, EnrollResponse, EntryOutcome,
    OPEN_CASES_MAX, PULL_BALANCES_MAX, PULL_BALANCES_PAGE_MIN, Problem, PullRequest, PullResponse,
    UPLOAD_ENTRIES_MAX, UploadRequest, UploadResponse,
};
use lastmile_shared::trust_list::{RootHandover, RootKey};
use rand_core::{OsRng, RngCore};
use rusqlite::{TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_bytes::ByteBuf;

use crate::clock::Clock;
use crate::device_log;
use crate::enrolment::{self, Accepted, DocumentKind, Enrolment};
use crate::error::Error;
use crate::redemption::{entitlement_key, voucher_key};
use crate::terminal::Terminal;

/// Route of the enrolment request.
pub const ROUTE_ENROLL: &str = "/v1/terminal/enroll";
/// Route of the log upload.
pub const ROUTE_UPLOAD: &str = "/v1/terminal/upload";
/// Route of the pull.
pub const ROUTE_PULL: &str = "/v1/terminal/pull";
/// Longest wait to open a connection.
pub const SYNC_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Longest wait for a whole request and its answer.
pub const SYNC_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// How long one upload batch or pull page should take; well inside
/// [`SYNC_REQUEST_TIMEOUT_MS`], so a link that slows down still answers.
pub const SYNC_REQUEST_SECONDS_TARGET: u64 = 15;
/// Size of the first upload batch of a round, in signed-entry bytes (4 s at
/// 8 KB/s, a 2G link).
pub const UPLOAD_BATCH_BYTES_START: usize = 32 * 1024;
/// Smallest upload batch the sizing goes down to (always at least one entry).
pub const UPLOAD_BATCH_BYTES_MIN: usize = 2 * 1024;
/// Largest upload batch, in signed-entry bytes.
pub const UPLOAD_BATCH_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Balance updates asked for in the first pull page of a round (about
/// 100 KB; the server's smallest page is `PULL_BALANCES_PAGE_MIN`).
pub const PULL_PAGE_BALANCES_START: u32 = 2_000;
/// Most pull pages per round, so a round always ends.
pub const PULL_PAGES_PER_ROUND_MAX: usize = 1_000;
/// Attempts per request (transport failures and 5xx answers are retried).
pub const SYNC_ATTEMPTS_MAX: u32 = 3;
/// Wait before the first retry; doubled for each further one.
pub const SYNC_RETRY_BACKOFF_MS: u64 = 500;
/// Largest answer read: a pull may carry a roster of up to
/// `ENVELOPE_BYTES_MAX` plus the other documents.
pub const SYNC_RESPONSE_BYTES_MAX: u64 = 40 * 1024 * 1024;
/// Most upload batches per round, so a round always ends: enough for a full
/// offline backlog in the smallest batches (each batch must be acknowledged
/// or the round stops).
pub const UPLOAD_BATCHES_PER_ROUND_MAX: usize = 10_000;
/// The problem code of a request signed too far from the server's time.
const STALE_REQUEST: &str = "stale_request";
/// Random bytes in a request signature's nonce.
const NONCE_BYTES: usize = 16;
/// Largest CA certificate file (PEM) a terminal pins; a CA bundle of a few
/// certificates is well under it.
pub const SERVER_CA_PEM_BYTES_MAX: usize = 64 * 1024;
/// Most certificates in a pinned CA file.
pub const SERVER_CA_CERTIFICATES_MAX: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the server address {0:?} is not a valid http:// or https:// URL")]
    BadUrl(String),
    #[error("this terminal was provisioned offline and has no server; it cannot sync")]
    NoServer,
    #[error(
        "refusing plain http:// to {0}, which is not a loopback address: use https:// \
         (or `enroll --allow-plain-http` on a network you control)"
    )]
    PlainHttp(String),
    #[error("a pinned CA certificate needs an https:// server address, not {0}")]
    CaNeedsHttps(String),
    #[error("could not reach the server at {url}: {reason}; check the network and try again")]
    Unreachable { url: String, reason: String },
    #[error(
        "the server at {url} did not answer within {SYNC_REQUEST_TIMEOUT_MS} ms; the link is \
         slow or down: try again (smaller parts are sent after a timeout)"
    )]
    TimedOut { url: String },
    #[error(
        "the TLS connection to {url} failed: {reason}; this terminal does not accept the \
         server's certificate: it must be issued for this address by a CA the terminal trusts \
         (the programme's CA, given to `enroll --ca-cert`, or a public one)"
    )]
    Tls { url: String, reason: String },
    #[error("the server refused the request (HTTP {status}, {code}): {detail}")]
    Refused {
        status: u16,
        code: String,
        detail: String,
        /// With `device_revoked`: the signed revocation list naming this terminal.
        revocations: Option<Vec<u8>>,
    },
    #[error("the server's answer could not be read: {0}")]
    BadResponse(String),
    #[error(
        "the server acknowledged sequence {acknowledged}, but this terminal's log ends at {head}"
    )]
    AckBeyondHead { acknowledged: u64, head: u64 },
}

/// Where a round is, reported after each request (CLI and GUI progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SyncProgress {
    /// Entries up to `acknowledged_seq` are held by the server, of `head`.
    Upload {
        acknowledged_seq: u64,
        head: u64,
        /// Bytes of signed entries sent so far this round.
        bytes_sent: u64,
    },
    /// A pull page was applied; `more` if the server has further balances.
    Pull { balances: usize, more: bool },
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Entries sent (including re-sent ones).
    pub uploaded: u64,
    /// Set when the server held fewer entries than it had acknowledged (it
    /// was restored from an older copy): the sequence re-sent from.
    pub resent_from: Option<u64>,
    /// The server's clock minus this terminal's, in seconds, as last heard.
    pub clock_offset_s: i64,
    /// Cases HQ closed that this terminal had under review: (case, outcome).
    pub cases_closed: Vec<(u64, CaseResolution)>,
    /// Every entry at or below this sequence is now confirmed.
    pub acknowledged_seq: u64,
    /// Entries that became confirmed in this round.
    pub newly_confirmed: u64,
    /// Entries the server stored but flagged as double spends: (seq, case).
    pub double_spends: Vec<(u64, u64)>,
    /// Documents that were updated ("trust list", "roster", ...).
    pub updated: Vec<&'static str>,
    /// Documents the server sent that were refused, and why.
    pub refused: Vec<String>,
    /// Voucher and entitlement balance updates applied.
    pub balances: usize,
    pub server_time: i64,
}

/// Why a CA certificate file cannot be pinned.
#[derive(Debug, thiserror::Error)]
pub enum ServerCaError {
    #[error("cannot read the CA certificate file: {0}")]
    Io(String),
    #[error(
        "the CA certificate file is larger than {SERVER_CA_PEM_BYTES_MAX} bytes; give only the CA certificate(s)"
    )]
    TooLarge,
    #[error("the CA certificate file is not valid PEM: {0}")]
    Malformed(String),
    #[error(
        "the CA certificate file holds a private key; give only the CA certificate, and keep keys off terminals"
    )]
    PrivateKey,
    #[error(
        "the CA certificate file holds no certificate (a PEM block \"-----BEGIN CERTIFICATE-----\")"
    )]
    NoCertificate,
    #[error("the CA certificate file holds more than {SERVER_CA_CERTIFICATES_MAX} certificates")]
    TooMany,
    #[error("certificate {0} in the CA certificate file is not a DER-encoded X.509 certificate")]
    NotDer(usize),
}

/// The CA certificate(s) a terminal pins as the only roots it trusts for
/// its server: the PEM as given at enrolment (stored with the enrolment)
/// and the DER certificates in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCa {
    pem: Vec<u8>,
    certificates: Vec<Vec<u8>>,
}

impl ServerCa {
    /// Reads a PEM file of at most [`SERVER_CA_PEM_BYTES_MAX`] bytes.
    pub fn read(path: &Path) -> Result<Self, ServerCaError> {
        let file = std::fs::File::open(path).map_err(|e| ServerCaError::Io(e.to_string()))?;
        let mut pem = Vec::new();
        file.take(SERVER_CA_PEM_BYTES_MAX as u64 + 1)
            .read_to_end(&mut pem)
            .map_err(|e| ServerCaError::Io(e.to_string()))?;
        Self::from_pem(&pem)
    }

    /// Parses PEM holding one or more certificates and nothing secret.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ServerCaError> {
        if pem.len() > SERVER_CA_PEM_BYTES_MAX {
            return Err(ServerCaError::TooLarge);
        }
        let mut certificates = Vec::new();
        for item in ureq::tls::parse_pem(pem) {
            match item.map_err(|e| ServerCaError::Malformed(e.to_string()))? {
                ureq::tls::PemItem::Certificate(certificate) => {
                    if certificates.len() == SERVER_CA_CERTIFICATES_MAX {
                        return Err(ServerCaError::TooMany);
                    }
                    if !is_der_sequence(certificate.der()) {
                        return Err(ServerCaError::NotDer(certificates.len() + 1));
                    }
                    certificates.push(certificate.der().to_vec());
                }
                ureq::tls::PemItem::PrivateKey(_) => return Err(ServerCaError::PrivateKey),
                // Other PEM kinds ureq may add later carry nothing to trust.
                _ => {}
            }
        }
        if certificates.is_empty() {
            return Err(ServerCaError::NoCertificate);
        }
        Ok(Self {
            pem: pem.to_vec(),
            certificates,
        })
    }

    /// The PEM exactly as given.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    fn root_certs(&self) -> ureq::tls::RootCerts {
        self.certificates
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
            .into()
    }
}

/// Whether `der` is one whole DER SEQUENCE (an X.509 certificate's outer
/// shape); TLS verification checks the rest.
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (length, content) = match *first {
        short @ 0..=0x7f => (usize::from(short), rest),
        long @ 0x81..=0x84 => {
            let octets = usize::from(long & 0x7f);
            if rest.len() < octets {
                return false;
            }
            let (length, content) = rest.split_at(octets);
            let length = length
                .iter()
                .fold(0usize, |n, &b| (n << 8) | usize::from(b));
            (length, content)
        }
        _ => return false,
    };
    length == content.len()
}

/// How a terminal reaches and trusts its server, fixed at enrolment.
#[derive(Debug, Clone, Default)]
pub struct ServerTrust {
    /// The only roots trusted for the server; `None` = the webpki roots.
    pub ca: Option<ServerCa>,
    /// Allows `http://` to a host that is not a loopback address (a lab
    /// network): requests are signed, but answers travel unprotected.
    pub allow_plain_http: bool,
}

/// Whether `host` (as in a URL; IPv6 in brackets) is this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why the TLS handshake failed, if that is how a request failed. rustls
/// reports a refused handshake (an untrusted or mismatched certificate)
/// through the socket as invalid data.
fn tls_failure(error: &ureq::Error) -> Option<String> {
    match error {
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => Some(e.to_string()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => Some(error.to_string()),
        _ => None,
    }
}

/// The one HTTP client setup for talking to the sync server.
pub(crate) struct HttpClient {
    agent: ureq::Agent,
    base_url: String,
    base_path: String,
    /// Attempts per request: one when the caller gave a deadline.
    attempts_max: u32,
    /// The caller gave a deadline (a sale waiting to print): a timeout ends
    /// the round instead of sending less and trying again.
    within_deadline: bool,
}

/// Who signs a request, and the clock it signs with.
pub(crate) struct RequestSigner<'a> {
    kid: &'a KeyId,
    key: &'a SigningKey,
    clock: &'a ServerClock,
}

/// This terminal's clock corrected to the server's during a round: every
/// answer's `Date` moves the offset, so each request is signed with the time
/// at which it is sent, in the server's time.
pub(crate) struct ServerClock {
    clock: Arc<dyn Clock>,
    offset: Cell<i64>,
    /// The last server time heard, and the offset it gave.
    heard: Cell<Option<i64>>,
}

impl ServerClock {
    pub(crate) fn new(clock: Arc<dyn Clock>, offset: i64) -> Self {
        Self {
            clock,
            offset: Cell::new(offset),
            heard: Cell::new(None),
        }
    }

    /// Now, in the server's time.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now().saturating_add(self.offset.get())
    }

    /// Takes `server_time` as the server's now; returns whether the offset
    /// changed.
    fn hear(&self, server_time: i64) -> bool {
        let offset = server_time.saturating_sub(self.clock.now());
        self.heard.set(Some(server_time));
        self.offset.replace(offset) != offset
    }

    /// The offset, and the last server time heard this round (if any).
    fn learnt(&self) -> (i64, Option<i64>) {
        (self.offset.get(), self.heard.get())
    }
}

/// The server's time from an answer's `Date` header (RFC 9110 §6.6.1).
fn date_header(headers: &ureq::http::HeaderMap) -> Option<i64> {
    let text = headers.get("date")?.to_str().ok()?;
    let time = httpdate::parse_http_date(text).ok()?;
    let seconds = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(seconds).ok()
}

/// Stores what the server's clock taught: the offset (server minus this
/// terminal, seconds) the engine's time is corrected by, and the server's
/// time as a time seen, which the engine's time never runs back past.
pub(crate) fn record_server_clock(
    conn: &rusqlite::Connection,
    offset_s: i64,
    server_time: i64,
) -> Result<(), Error> {
    conn.execute(
        "UPDATE sync_state SET clock_offset_s = ?1, latest_seen_at = max(latest_seen_at, ?2)
         WHERE id = 1",
        params![offset_s, server_time],
    )?;
    Ok(())
}

impl HttpClient {
    pub fn new(base_url: &str, trust: &ServerTrust) -> Result<Self, SyncError> {
        Self::within(base_url, trust, None)
    }

    /// A client whose every request gets at most `deadline` (connection
    /// included) and one attempt; `None` = the usual timeouts and retries.
    pub fn within(
        base_url: &str,
        trust: &ServerTrust,
        deadline: Option<Duration>,
    ) -> Result<Self, SyncError> {
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        let uri: ureq::http::Uri = base_url
            .parse()
            .map_err(|_| SyncError::BadUrl(base_url.clone()))?;
        let (Some(scheme @ ("http" | "https")), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return Err(SyncError::BadUrl(base_url));
        };
        if scheme == "http" {
            if trust.ca.is_some() {
                return Err(SyncError::CaNeedsHttps(base_url));
            }
            if !trust.allow_plain_http && !is_loopback(host) {
                return Err(SyncError::PlainHttp(base_url));
            }
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &trust.ca {
            tls = tls.root_certs(ca.root_certs());
        }
        let bounded = |ms: u64| {
            Some(deadline.map_or(Duration::from_millis(ms), |d| {
                d.min(Duration::from_millis(ms))
            }))
        };
        let config = ureq::Agent::config_builder()
            .timeout_connect(bounded(SYNC_CONNECT_TIMEOUT_MS))
            .timeout_global(bounded(SYNC_REQUEST_TIMEOUT_MS))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build();
        Ok(Self {
            agent: ureq::Agent::new_with_config(config),
            base_url,
            base_path,
            attempts_max: if deadline.is_some() {
                1
            } else {
                SYNC_ATTEMPTS_MAX
            },
            within_deadline: deadline.is_some(),
        })
    }

    /// Posts a CBOR message and decodes the CBOR answer. Retries transport
    /// failures and 5xx answers up to `attempts` times with back-off; a
    /// timeout is returned at once (the caller sends less). Each attempt is
    /// signed when sent; a `stale_request` refusal whose `Date` corrected the
    /// clock is signed and sent again once.
    pub(crate) fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        route: &str,
        message: &Q,
        signer: Option<RequestSigner<'_>>,
        attempts: u32,
    ) -> Result<A, SyncError> {
        let body = sync::to_cbor(message);
        let url = format!("{}{route}", self.base_url);
        let path = format!("{}{route}", self.base_path);
        let mut backoff_ms = SYNC_RETRY_BACKOFF_MS;
        let mut attempt = 1;
        let mut resigned = false;
        loop {
            let mut request = self
                .agent
                .post(&url)
                .header("content-type", CONTENT_TYPE)
                .header("accept", CONTENT_TYPE);
            if let Some(signer) = &signer {
                // A fresh nonce per attempt: the server rejects replays.
                let mut nonce = [0u8; NONCE_BYTES];
                OsRng.fill_bytes(&mut nonce);
                let headers = http_signature::sign(
                    "POST",
                    &path,
                    &body,
                    signer.kid,
                    signer.key,
                    signer.clock.now(),
                    &hex::encode(nonce),
                );
                request = request
                    .header("content-digest", headers.content_digest)
                    .header("signature-input", headers.signature_input)
                    .header("signature", headers.signature);
            }
            let outcome = request.send(&body[..]);
            let retryable = match outcome {
                Ok(mut response) => {
                    let corrected = match (&signer, date_header(response.headers())) {
                        (Some(signer), Some(server_time)) => signer.clock.hear(server_time),
                        _ => false,
                    };
                    let status = response.status().as_u16();
                    let bytes = response
                        .body_mut()
                        .with_config()
                        .limit(SYNC_RESPONSE_BYTES_MAX)
                        .read_to_vec();
                    match (status, bytes) {
                        (200..=299, Ok(bytes)) => {
                            return sync::from_cbor(&bytes)
                                .map_err(|e: EnvelopeError| SyncError::BadResponse(e.to_string()));
                        }
                        (200..=299, Err(ureq::Error::Timeout(_))) => {
                            return Err(SyncError::TimedOut { url });
                        }
                        (200..=299, Err(e)) => SyncError::Unreachable {
                            url: url.clone(),
                            reason: e.to_string(),
                        },
                        (status, bytes) => {
                            let problem: Option<Problem> =
                                bytes.ok().and_then(|b| sync::from_cbor(&b).ok());
                            let (code, detail, revocations) = problem.map_or_else(
                                || ("http_error".to_owned(), "no details".to_owned(), None),
                                |p| (p.code, p.detail, p.revocations.map(ByteBuf::into_vec)),
                            );
                            if code == STALE_REQUEST && corrected && !resigned {
                                // Signed with a wrong clock; the refusal told
                                // the right one.
                                resigned = true;
                                continue;
                            }
                            let error = SyncError::Refused {
                                status,
                                code,
                                detail,
                                revocations,
                            };
                            if status < 500 {
                                return Err(error);
                            }
                            error
                        }
                    }
                }
                Err(ureq::Error::Timeout(_)) => return Err(SyncError::TimedOut { url }),
                Err(e) => match tls_failure(&e) {
                    // Retrying cannot make an untrusted certificate trusted.
                    Some(reason) => return Err(SyncError::Tls { url, reason }),
                    None => SyncError::Unreachable {
                        url: url.clone(),
                        reason: e.to_string(),
                    },
                },
            };
            if attempt >= attempts.min(self.attempts_max) {
                return Err(retryable);
            }
            std::thread::sleep(Duration::from_millis(backoff_ms));
            backoff_ms = backoff_ms.saturating_mul(2);
            attempt += 1;
        }
    }
}

/// Sends the enrolment request once: a one-time code must not be retried
/// blindly, since a lost answer would leave it spent.
pub(crate) fn enroll(
    client: &HttpClient,
    request: &EnrollRequest,
) -> Result<EnrollResponse, Error> {
    Ok(client.post(ROUTE_ENROLL, request, None, 1)?)
}

/// Marks entries up to `acknowledged` confirmed and moves their amounts from
/// pending to confirmed. Returns how many entries became confirmed.
fn apply_acknowledgement(tx: &rusqlite::Transaction<'_>, acknowledged: u64) -> Result<u64, Error> {
    let held = device_log::acknowledged_seq(tx)?;
    let head = device_log::head(tx)?.seq;
    if acknowledged > head {
        return Err(SyncError::AckBeyondHead { acknowledged, head }.into());
    }
    // A server that reports less than it once acknowledged (a restored
    // backup) cannot un-confirm entries: keep the higher mark.
    if acknowledged <= held {
        return Ok(0);
    }
    tx.execute(
        "UPDATE credentials
         SET local_pending_minor = local_pending_minor - moved.amount,
             local_confirmed_minor = local_confirmed_minor + moved.amount
         FROM (SELECT credential, sum(amount_minor) AS amount FROM log_entries
               WHERE seq > ?1 AND seq <= ?2 AND credential IS NOT NULL
               GROUP BY credential) AS moved
         WHERE credentials.credential = moved.credential",
        params![held, acknowledged],
    )?;
    tx.execute(
        "UPDATE pending_totals SET minor = minor - moved.amount
         FROM (SELECT currency, sum(amount_minor) AS amount FROM log_entries
               WHERE seq > ?1 AND seq <= ?2 AND currency IS NOT NULL
               GROUP BY currency) AS moved
         WHERE pending_totals.currency = moved.currency",
        params![held, acknowledged],
    )?;
    tx.execute(
        "UPDATE sync_state SET acknowledged_seq = ?1 WHERE id = 1",
        [acknowledged],
    )?;
    Ok(acknowledged - held)
}

/// Records the entries the server flagged as double spends, so they are
/// shown "under review" instead of confirmed. Only entries this upload sent
/// (after `held`) and that exist here are accepted from the answer.
fn record_disputes(
    tx: &rusqlite::Transaction<'_>,
    disputed: &[(u64, u64)],
    held: u64,
    now: i64,
) -> Result<(), Error> {
    let head = device_log::head(tx)?.seq;
    for &(seq, case) in disputed {
        if seq <= held || seq > head || case == 0 {
            return Err(SyncError::BadResponse(format!(
                "the server flagged entry {seq} (case {case}), which this upload did not send"
            ))
            .into());
        }
        tx.execute(
            "INSERT INTO disputes (seq, case_id, recorded_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (seq) DO NOTHING",
            params![seq, case, now],
        )?;
    }
    Ok(())
}

/// Records how HQ closed cases this terminal had under review. Returns the
/// cases that changed here: (case, outcome).
fn record_case_outcomes(
    tx: &rusqlite::Transaction<'_>,
    outcomes: &[CaseOutcome],
) -> Result<Vec<(u64, CaseResolution)>, Error> {
    let mut statement = tx.prepare_cached(
        "UPDATE disputes SET resolution = ?1, resolved_at = ?2
         WHERE case_id = ?3 AND resolution IS NULL",
    )?;
    let mut closed = Vec::new();
    for outcome in outcomes {
        let changed = statement.execute(params![
            outcome.resolution.code(),
            outcome.resolved_at,
            outcome.case
        ])?;
        if changed > 0 {
            closed.push((outcome.case, outcome.resolution));
        }
    }
    Ok(closed)
}

/// Stores what the server says has been redeemed of each voucher and
/// entitlement across all terminals, so a credential spent elsewhere is
/// refused here (`credential_state`). Returns how many balances it applied.
fn apply_balances(tx: &rusqlite::Transaction<'_>, answer: &PullResponse) -> Result<usize, Error> {
    let vouchers = answer
        .balances
        .iter()
        .map(|b| (voucher_key(&b.voucher), b.redeemed));
    let entitlements = answer
        .entitlement_balances
        .iter()
        .map(|b| (entitlement_key(&b.entitlement), b.redeemed));
    let mut statement = tx.prepare_cached(
        "INSERT INTO credentials (credential, currency, server_redeemed_minor)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (credential) DO UPDATE SET server_redeemed_minor = excluded.server_redeemed_minor
         WHERE credentials.currency = excluded.currency",
    )?;
    let mut applied = 0;
    for (credential, redeemed) in vouchers.chain(entitlements) {
        statement.execute(params![
            credential,
            redeemed.currency.code(),
            redeemed.minor.max(0)
        ])?;
        applied += 1;
    }
    Ok(applied)
}

/// Most root handovers a pull may carry (one per rotation at HQ).
const ROOT_HANDOVERS_MAX: usize = 64;

/// Follows the server's root handovers from the root this terminal trusts:
/// each one signed by the current root moves trust to its successor. Returns
/// the new root if it changed. Handovers from other roots (older ones this
/// terminal has passed, or forgeries) are skipped.
fn follow_root(root: &RootKey, handovers: &[ByteBuf]) -> Result<Option<RootKey>, Error> {
    if handovers.len() > ROOT_HANDOVERS_MAX {
        return Err(SyncError::BadResponse(format!(
            "{} root handovers; at most {ROOT_HANDOVERS_MAX} are accepted",
            handovers.len()
        ))
        .into());
    }
    let mut current = root.clone();
    for bytes in handovers {
        if let Ok(next) = RootHandover::follow(bytes, &current) {
            current = next;
        }
    }
    Ok((current.kid != root.kid).then_some(current))
}

impl Terminal {
    /// Runs one sync round: upload, then pull. On failure the error is
    /// recorded for `status` and returned; nothing already confirmed or
    /// stored is undone.
    pub fn sync(&mut self) -> Result<SyncReport, Error> {
        self.sync_with_progress(None, &mut |_| {})
    }

    /// [`Terminal::sync`] with each request bounded by `deadline` and tried
    /// once (a redemption waiting for its confirmation before it prints).
    pub fn sync_within(&mut self, deadline: Option<Duration>) -> Result<SyncReport, Error> {
        self.sync_with_progress(deadline, &mut |_| {})
    }

    /// [`Terminal::sync`], each request bounded by `deadline` when one is
    /// given, calling `progress` after each request.
    pub fn sync_with_progress(
        &mut self,
        deadline: Option<Duration>,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport, Error> {
        let offset: i64 = self.conn.query_row(
            "SELECT clock_offset_s FROM sync_state WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let clock = ServerClock::new(self.clock.clone(), offset);
        let result = self.sync_round(&clock, deadline, progress);
        // What the server's answers said of its clock is kept, failure or
        // not: a refused round still corrects the next one.
        if let (offset, Some(server_time)) = clock.learnt() {
            record_server_clock(&self.conn, offset, server_time)?;
        }
        let now = clock.now();
        if let Err(Error::Sync(SyncError::Refused {
            code,
            revocations: Some(bytes),
            ..
        })) = &result
            && code == "device_revoked"
        {
            self.learn_own_revocation(bytes, now)?;
        }
        let error = result.as_ref().err().map(ToString::to_string);
        self.conn.execute(
            "UPDATE sync_state SET last_attempt_at = ?1, last_error = ?2 WHERE id = 1",
            params![now, error],
        )?;
        result.map(|mut report| {
            report.clock_offset_s = clock.learnt().0;
            report
        })
    }

    /// Stores the revocation list a server sent with `device_revoked`, if it
    /// verifies against this terminal's root, is newer than the one held and
    /// names this terminal: from then on it refuses to redeem or pay out
    /// (`device_revoked` in the rules), network or not. Anything else in
    /// that answer is ignored.
    fn learn_own_revocation(&mut self, bytes: &[u8], now: i64) -> Result<(), Error> {
        let Some(enrolment) = &self.enrolment else {
            return Ok(());
        };
        let held = self.documents.held_version(DocumentKind::Revocations);
        let Ok(accepted) = enrolment::verify(DocumentKind::Revocations, bytes, enrolment, held)
        else {
            return Ok(());
        };
        let names_me = matches!(&accepted, Accepted::Revocations(list)
            if list.devices.contains(&enrolment.device));
        if !names_me {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        enrolment::store_document(&tx, &accepted, bytes, now)?;
        tx.commit()?;
        self.documents.install(accepted);
        Ok(())
    }

    fn sync_round(
        &mut self,
        clock: &ServerClock,
        deadline: Option<Duration>,
        progress: &mut dyn FnMut(&SyncProgress),
    ) -> Result<SyncReport, Error> {
        let (Some(enrolment), Some(key)) = (&self.enrolment, &self.key) else {
            return Err(Error::NotEnrolled);
        };
        let url = enrolment.server_url.as_deref().ok_or(SyncError::NoServer)?;
        // The address was accepted at enrolment (plain HTTP included).
        let trust = ServerTrust {
            ca: enrolment.server_ca.clone(),
            allow_plain_http: true,
        };
        let client = HttpClient::within(url, &trust, deadline)?;
        // Owned, so that applying a pull can borrow the terminal mutably.
        let (kid, signing) = (enrolment.device_kid.clone(), key.signing().clone());
        let signer = || RequestSigner {
            kid: &kid,
            key: &signing,
            clock,
        };
        let mut report = SyncReport::default();
        let acknowledged = device_log::acknowledged_seq(&self.conn)?;
        upload(
            &mut self.conn,
            &client,
            &signer,
            acknowledged + 1,
            &mut report,
            progress,
        )?;
        let mut server_head = u64::MAX;
        let mut page = PULL_PAGE_BALANCES_START;
        for first in (0..PULL_PAGES_PER_ROUND_MAX).map(|n| n == 0) {
            let started = Instant::now();
            let balances_cursor: u64 = self.conn.query_row(
                "SELECT balances_cursor FROM sync_state WHERE id = 1",
                [],
                |r| r.get(0),
            )?;
            let open_cases = if first {
                device_log::open_cases(&self.conn, OPEN_CASES_MAX)?
            } else {
                Vec::new()
            };
            let pull = PullRequest {
                cursor: self.documents.cursor(balances_cursor),
                balances_max: Some(page),
                open_cases,
            };
            let answer: PullResponse =
                match client.post(ROUTE_PULL, &pull, Some(signer()), SYNC_ATTEMPTS_MAX) {
                    Err(SyncError::TimedOut { .. })
                        if !client.within_deadline && page as usize > PULL_BALANCES_PAGE_MIN =>
                    {
                        page = (page / 2).max(PULL_BALANCES_PAGE_MIN as u32);
                        continue;
                    }
                    answer => answer?,
                };
            let more = answer.balances_more;
            server_head = server_head.min(answer.acknowledged_seq);
            let applied = self.apply_pull(answer, &mut report)?;
            progress(&SyncProgress::Pull {
                balances: report.balances,
                more,
            });
            if !more || applied == 0 {
                break;
            }
            page = next_size(
                page as usize,
                started.elapsed(),
                PULL_BALANCES_PAGE_MIN,
                PULL_BALANCES_MAX,
            ) as u32;
        }
        // A server that holds less than it acknowledged (restored from an
        // older copy) with nothing pending here: re-send from its head.
        if server_head < acknowledged && report.resent_from.is_none() {
            report.resent_from = Some(server_head + 1);
            upload(
                &mut self.conn,
                &client,
                &signer,
                server_head + 1,
                &mut report,
                progress,
            )?;
        }
        // The voucher book is fetched last and on its own: a failure leaves
        // the rest of the round done and resumes next round.
        if let Some(enrolment) = &self.enrolment {
            match crate::voucher_book::pull(
                &mut self.conn,
                &client,
                enrolment,
                &signer,
                clock.now(),
            ) {
                Ok(Some(_)) => report.updated.push("voucher book"),
                Ok(None) => {}
                Err(error) => report.refused.push(error.to_string()),
            }
        }
        Ok(report)
    }

    /// Applies one pull answer in one transaction: root handovers, documents,
    /// balances, acknowledgement, case outcomes. Returns the balances applied.
    fn apply_pull(
        &mut self,
        answer: PullResponse,
        report: &mut SyncReport,
    ) -> Result<usize, Error> {
        let (Some(enrolment), conn, documents) =
            (&self.enrolment, &mut self.conn, &mut self.documents)
        else {
            return Err(Error::NotEnrolled);
        };
        report.server_time = answer.server_time;
        // Follow root handovers first: after a rotation every document below
        // is signed by the new root.
        let successor = follow_root(&enrolment.root, &answer.root_handovers)?;
        let trusted = match &successor {
            Some(root) => &Enrolment {
                root: root.clone(),
                ..enrolment.clone()
            },
            None => enrolment,
        };
        let offered = [
            (DocumentKind::TrustList, &answer.trust_list),
            (DocumentKind::Revocations, &answer.revocations),
            (DocumentKind::Roster, &answer.roster),
            (DocumentKind::Policy, &answer.policy),
        ];
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for (kind, bytes) in offered {
            let Some(bytes) = bytes else { continue };
            match enrolment::verify(kind, bytes, trusted, documents.held_version(kind)) {
                Ok(document) => accepted.push((kind, document, bytes)),
                Err(error) => refused.push(error.to_string()),
            }
        }
        if successor.is_some() && !refused.is_empty() {
            // Switching roots with a document left under the old one would
            // leave a store that no longer verifies: keep both as they are.
            return Err(SyncError::BadResponse(format!(
                "the server handed the root over but sent documents this terminal refused: {}",
                refused.join("; ")
            ))
            .into());
        }
        report.refused.extend(refused);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(root) = &successor {
            enrolment::store_root(&tx, root)?;
            report.updated.push("root key");
        }
        for (_, document, bytes) in &accepted {
            enrolment::store_document(&tx, document, bytes, answer.server_time)?;
        }
        let applied = apply_balances(&tx, &answer)?;
        report.balances += applied;
        report.newly_confirmed += apply_acknowledgement(&tx, answer.acknowledged_seq)?;
        report
            .cases_closed
            .extend(record_case_outcomes(&tx, &answer.case_outcomes)?);
        // The pull's server time is when this terminal last synced: the
        // offline window runs from it, in the server's time.
        tx.execute(
            "UPDATE sync_state SET last_sync_at = max(last_sync_at, ?1),
                                   balances_cursor = max(balances_cursor, ?2),
                                   latest_seen_at = max(latest_seen_at, ?1)
             WHERE id = 1",
            params![answer.server_time, answer.balances_cursor],
        )?;
        report.acknowledged_seq = device_log::acknowledged_seq(&tx)?;
        tx.commit()?;
        for (kind, document, _) in accepted {
            report.updated.push(kind.what());
            documents.install(document);
        }
        if let (Some(root), Some(enrolment)) = (successor, self.enrolment.as_mut()) {
            enrolment.root = root;
        }
        Ok(applied)
    }
}

/// The next batch or page size: what the last one achieved scaled to
/// [`SYNC_REQUEST_SECONDS_TARGET`], at most doubling, within `min..=max`.
fn next_size(last: usize, took: Duration, min: usize, max: usize) -> usize {
    let target_ms = u128::from(SYNC_REQUEST_SECONDS_TARGET) * 1000;
    let took_ms = took.as_millis().max(1);
    let scaled = (last as u128).saturating_mul(target_ms) / took_ms;
    usize::try_from(scaled)
        .unwrap_or(usize::MAX)
        .min(last.saturating_mul(2))
        .clamp(min, max)
}

/// Uploads the log from sequence `from` on, in batches sized to the link;
/// each acknowledged batch is committed before the next is sent.
fn upload<'a>(
    conn: &mut rusqlite::Connection,
    client: &HttpClient,
    signer: &dyn Fn() -> RequestSigner<'a>,
    from: u64,
    report: &mut SyncReport,
    progress: &mut dyn FnMut(&SyncProgress),
) -> Result<(), Error> {
    let acknowledged = device_log::acknowledged_seq(conn)?;
    let head = device_log::head(conn)?.seq;
    // The next sequence to send: after what this terminal was told is held,
    // or after the server's head if it turns out to hold less (a restore).
    let mut next = from;
    let mut batch_bytes = UPLOAD_BATCH_BYTES_START;
    let mut bytes_sent = 0u64;
    for _ in 0..UPLOAD_BATCHES_PER_ROUND_MAX {
        let entries = batch(conn, next, batch_bytes)?;
        if entries.is_empty() {
            break;
        }
        let size: usize = entries.iter().map(|e| e.len()).sum();
        let count = entries.len() as u64;
        let started = Instant::now();
        let request = UploadRequest {
            entries,
            acknowledged_seq: acknowledged,
        };
        let answer: UploadResponse =
            match client.post(ROUTE_UPLOAD, &request, Some(signer()), SYNC_ATTEMPTS_MAX) {
                Err(SyncError::TimedOut { .. })
                    if !client.within_deadline && batch_bytes > UPLOAD_BATCH_BYTES_MIN =>
                {
                    batch_bytes = (batch_bytes / 2).max(UPLOAD_BATCH_BYTES_MIN);
                    continue;
                }
                answer => answer?,
            };
        report.uploaded += count;
        bytes_sent += size as u64;
        if answer.acknowledged_seq < next - 1 {
            // The server holds less than this terminal was told: it was
            // restored from an older copy. Send again from its head, once.
            if report.resent_from.is_some() {
                return Err(SyncError::BadResponse(format!(
                    "the server went back to sequence {} again during one round",
                    answer.acknowledged_seq
                ))
                .into());
            }
            next = answer.acknowledged_seq + 1;
            report.resent_from = Some(next);
            continue;
        }
        let disputed: Vec<(u64, u64)> = answer
            .outcomes
            .iter()
            .filter_map(|o| match o {
                EntryOutcome::DoubleSpend { seq, case } => Some((*seq, *case)),
                _ => None,
            })
            .collect();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        record_disputes(&tx, &disputed, next - 1, signer().clock.now())?;
        report.double_spends.extend(disputed);
        report.newly_confirmed += apply_acknowledgement(&tx, answer.acknowledged_seq)?;
        // The mark here, which a server re-sent to only catches up with.
        report.acknowledged_seq = device_log::acknowledged_seq(&tx)?;
        tx.commit()?;
        if answer.acknowledged_seq < next {
            return Err(SyncError::BadResponse(format!(
                "the upload was answered but nothing from sequence {next} on was acknowledged"
            ))
            .into());
        }
        next = answer.acknowledged_seq + 1;
        progress(&SyncProgress::Upload {
            acknowledged_seq: answer.acknowledged_seq,
            head,
            bytes_sent,
        });
        batch_bytes = next_size(
            batch_bytes,
            started.elapsed(),
            UPLOAD_BATCH_BYTES_MIN,
            UPLOAD_BATCH_BYTES_MAX,
        );
    }
    Ok(())
}

/// Signed entries from sequence `from` on, as many as fit in `bytes` (at
/// least one) and at most [`UPLOAD_ENTRIES_MAX`].
fn batch(conn: &rusqlite::Connection, from: u64, bytes: usize) -> Result<Vec<ByteBuf>, Error> {
    let mut statement =
        conn.prepare_cached("SELECT bytes FROM log_entries WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
    let mut rows = statement.query(params![from, UPLOAD_ENTRIES_MAX])?;
    let mut entries = Vec::new();
    let mut total = 0;
    while let Some(row) = rows.next()? {
        let entry: Vec<u8> = row.get(0)?;
        if !entries.is_empty() && total + entry.len() > bytes {
            break;
        }
        total += entry.len();
        entries.push(ByteBuf::from(entry));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    /// A self-signed CA certificate and its key, both PEM.
    fn ca_pem() -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn a_ca_file_holds_certificates_and_nothing_secret() {
        let (first, key) = ca_pem();
        let (second, _) = ca_pem();
        let bundle = format!("# programme CAs\n{first}{second}");
        let ca = ServerCa::from_pem(bundle.as_bytes()).unwrap();
        assert_eq!(ca.certificates.len(), 2);
        assert_eq!(ca.pem(), bundle.as_bytes());

        let error = |pem: &[u8]| ServerCa::from_pem(pem).unwrap_err();
        assert!(matches!(error(b""), ServerCaError::NoCertificate));
        assert!(matches!(
            error(b"HQ is at 10.0.0.1\n"),
            ServerCaError::NoCertificate
        ));
        assert!(matches!(
            error(format!("{first}{key}").as_bytes()),
            ServerCaError::PrivateKey
        ));
        assert!(matches!(
            error(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            ServerCaError::Malformed(_)
        ));
        // 0x30 0x05 0x00: a SEQUENCE that claims more than it holds.
        assert!(matches!(
            error(
                format!("{first}-----BEGIN CERTIFICATE-----\nMAUA\n-----END CERTIFICATE-----\n")
                    .as_bytes()
            ),
            ServerCaError::NotDer(2)
        ));
        let many = first.repeat(SERVER_CA_CERTIFICATES_MAX + 1);
        assert!(matches!(error(many.as_bytes()), ServerCaError::TooMany));
        let padded = format!("{first}{}", "#".repeat(SERVER_CA_PEM_BYTES_MAX));
        assert!(matches!(error(padded.as_bytes()), ServerCaError::TooLarge));
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed_and_never_with_a_ca() {
        let (pem, _) = ca_pem();
        let pinned = ServerTrust {
            ca: Some(ServerCa::from_pem(pem.as_bytes()).unwrap()),
            allow_plain_http: false,
        };
        let lab = ServerTrust {
            ca: None,
            allow_plain_http: true,
        };
        let default = ServerTrust::default();
        let refusal = |url: &str, trust: &ServerTrust| HttpClient::new(url, trust).err();
        for url in [
            "http://127.0.0.1:8470",
            "http://localhost:8470/",
            "http://[::1]:8470",
            "https://hq.example.org",
        ] {
            assert!(refusal(url, &default).is_none(), "{url}");
        }
        assert!(refusal("https://hq.example.org/sync", &pinned).is_none());
        assert!(refusal("http://10.0.0.5:8470", &lab).is_none());
        assert!(matches!(
            refusal("http://10.0.0.5:8470", &default),
            Some(SyncError::PlainHttp(_))
        ));
        assert!(matches!(
            refusal("http://hq.example.org", &default),
            Some(SyncError::PlainHttp(_))
        ));
        assert!(matches!(
            refusal("http://127.0.0.1:8470", &pinned),
            Some(SyncError::CaNeedsHttps(_))
        ));
        assert!(matches!(
            refusal("ftp://127.0.0.1", &default),
            Some(SyncError::BadUrl(_))
        ));
    }

    fn root(seed: u8) -> (KeyId, SigningKey, RootKey) {
        let kid = KeyId::parse(&format!("root-{seed}")).unwrap();
        let key = SigningKey::from_bytes(&[seed; 32]);
        let public = RootKey {
            kid: kid.clone(),
            key: key.verifying_key(),
        };
        (kid, key, public)
    }

    fn handover(version: u64, from: u8, to: u8) -> ByteBuf {
        use lastmile_shared::trust_list::RootSigned;
        let (from_kid, from_key, _) = root(from);
        let (to_kid, to_key, _) = root(to);
        ByteBuf::from(
            RootHandover {
                version,
                issued_at: 0,
                from: from_kid.clone(),
                to: to_kid,
                to_public_key: to_key.verifying_key().to_bytes().to_vec(),
            }
            .seal(&from_kid, &from_key),
        )
    }

    #[test]
    fn a_terminal_follows_a_chain_of_root_handovers_and_nothing_else() {
        let (_, _, first) = root(1);
        let (_, _, third) = root(3);
        // 1 → 2 → 3, with a stranger's handover (9 → 8) in between.
        let chain = [handover(1, 1, 2), handover(9, 9, 8), handover(2, 2, 3)];
        assert_eq!(follow_root(&first, &chain).unwrap(), Some(third.clone()));
        // Already on the newest root: nothing changes.
        assert_eq!(follow_root(&third, &chain).unwrap(), None);
        // A handover "from root 1" signed by another key is not followed.
        let (_, stranger, _) = root(7);
        let (one_kid, _, _) = root(1);
        let forged = {
            use lastmile_shared::trust_list::RootSigned;
            ByteBuf::from(
                RootHandover {
                    version: 1,
                    issued_at: 0,
                    from: one_kid.clone(),
                    to: KeyId::parse("root-7").unwrap(),
                    to_public_key: stranger.verifying_key().to_bytes().to_vec(),
                }
                .seal(&one_kid, &stranger),
            )
        };
        assert_eq!(follow_root(&first, &[forged]).unwrap(), None);
        let flood = vec![handover(1, 1, 2); ROOT_HANDOVERS_MAX + 1];
        assert!(follow_root(&first, &flood).is_err());
    }
}
