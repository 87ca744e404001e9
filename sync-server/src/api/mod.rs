//! The HTTP API: terminal sync routes (CBOR, device-signed) under
//! `/v1/terminal/*`, the HQ JSON API (a person's API token, checked against
//! the route's [`Permission`]) under `/v1/hq/*`, the OpenAPI document at
//! `/openapi.yaml` and a liveness probe at `/health`.
//!
//! Every refusal carries a [`Problem`] with a stable code, in CBOR on the
//! terminal routes and in JSON elsewhere, including the ones axum makes
//! itself (405, a body over its limit): [`documented_refusals`] rewrites
//! those, and refuses a request whose head is over [`HEADER_FIELDS_MAX`]
//! or [`HEADER_BYTES_MAX`] with `431`. Database work runs on tokio's
//! blocking pool, so a client hanging up never cuts a transaction short.
//!
//! Architecture invariant: the route table in [`routes`] is the only list of
//! routes; the router is built from it, and a test holds `openapi.yaml` to it.

mod hq;
mod id_authorities;
pub(crate) mod ledger;
mod payments;
pub mod problems;
mod registry;
mod terminal;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use lastmile_shared::id::IssuerId;
use lastmile_shared::sync::{self, Problem};
use serde::Serialize;

use crate::clock::{self, SharedClock};
use crate::keys::KeyDir;
use crate::people::Permission;
use crate::storage::Storage;

/// The OpenAPI document, kept in the repository beside the code.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Most header fields in one request.
pub const HEADER_FIELDS_MAX: usize = 64;
/// Largest request head (target and header fields), in bytes.
pub const HEADER_BYTES_MAX: usize = 16 * 1024;
/// Longest refusal text of axum's own that is carried into a problem, in
/// bytes.
const FOREIGN_REFUSAL_BYTES_MAX: usize = 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Storage>,
    pub keys: KeyDir,
    pub clock: SharedClock,
    /// Whose issuer keys this server makes (`issuer` in the configuration).
    pub issuer: IssuerId,
    /// Whether this server terminates TLS itself (its cookies are `Secure`).
    pub tls: bool,
    /// The budget of request bodies in memory at once, in KiB
    /// (`terminal::BODY_BUFFER_KIB_MAX` permits).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// How long a client has to send a whole body.
    pub body_read_timeout: Duration,
}

impl AppState {
    pub fn new(storage: Arc<Storage>, keys: KeyDir, body_read_timeout: Duration) -> Self {
        Self {
            storage,
            keys,
            clock: clock::system(),
            issuer: IssuerId::parse(crate::config::ISSUER_DEFAULT)
                .expect("the default issuer id is valid"),
            tls: false,
            body_budget: Arc::new(tokio::sync::Semaphore::new(terminal::BODY_BUFFER_KIB_MAX)),
            body_read_timeout,
        }
    }

    /// The same, serving over TLS (or not).
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// The same, for another issuer.
    pub fn with_issuer(mut self, issuer: IssuerId) -> Self {
        self.issuer = issuer;
        self
    }

    /// The same, on another clock (tests set and advance it).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// Which kind of caller a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Terminal,
    /// A person at HQ whose role has this permission.
    Hq(Permission),
    /// The same, sending a file as the body (streamed, not buffered).
    HqFile(Permission),
}

/// The route table: method, path (axum syntax), audience, handler.
pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    let mut all = vec![
        (
            Method::GET,
            "/health",
            Audience::Public,
            get(|| async { "ok" }),
        ),
        (
            Method::GET,
            "/openapi.yaml",
            Audience::Public,
            get(|| async { ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML) }),
        ),
    ];
    all.extend(terminal::routes());
    all.extend(hq::routes());
    all.extend(registry::routes());
    all.extend(ledger::routes());
    all.extend(id_authorities::routes());
    all.extend(payments::routes());
    all
}

/// `(METHOD, path)` of every route, for the OpenAPI check.
pub fn route_table() -> Vec<(String, &'static str)> {
    routes()
        .into_iter()
        .map(|(method, path, _, _)| (method.to_string(), path))
        .collect()
}

/// Builds the application.
pub fn router(state: AppState) -> Router {
    let mut open = Router::new();
    let mut hq = Router::new();
    let mut files = Router::new();
    for (_, path, audience, handler) in routes() {
        match audience {
            Audience::Hq(permission) => {
                let guard =
                    axum::middleware::from_fn_with_state((state.clone(), permission), hq::guard);
                hq = hq.route(path, handler.route_layer(guard));
            }
            Audience::HqFile(permission) => {
                let guard = axum::middleware::from_fn_with_state(
                    (state.clone(), permission),
                    hq::file_guard,
                );
                files = files.route(path, handler.route_layer(guard));
            }
            Audience::Public | Audience::Terminal => open = open.route(path, handler),
        }
    }
    let hq = hq.layer(axum::extract::DefaultBodyLimit::max(hq::HQ_BODY_BYTES_MAX));
    open.merge(hq)
        .merge(files)
        .merge(crate::console::router(state.clone()))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/console") }),
        )
        .fallback(|| async {
            ApiProblem::json(StatusCode::NOT_FOUND, "not_found", "no such route")
        })
        .layer(axum::middleware::from_fn(documented_refusals))
        .with_state(state)
}

/// Refuses a request head over its limits, and turns every refusal that is
/// not already a problem (axum's own: 405 with its `Allow` header, 413, a
/// path that does not parse) into one, in the encoding of the route.
async fn documented_refusals(request: Request, next: Next) -> Response {
    let cbor = request.uri().path().starts_with("/v1/terminal/");
    let fields = request.headers().len();
    if fields > HEADER_FIELDS_MAX {
        let detail = format!(
            "the request has {fields} header fields; at most {HEADER_FIELDS_MAX} are accepted"
        );
        return ApiProblem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "too_many_headers",
            detail,
            cbor,
        )
        .into_response();
    }
    let head_bytes = request.uri().to_string().len()
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum::<usize>();
    if head_bytes > HEADER_BYTES_MAX {
        let detail = format!(
            "the request head is {head_bytes} bytes; at most {HEADER_BYTES_MAX} are accepted"
        );
        return ApiProblem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            detail,
            cbor,
        )
        .into_response();
    }
    let response = next.run(request).await;
    let status = response.status();
    // A problem already, or a console page that says what went wrong itself.
    let is_explained = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| {
            t == "application/problem+json" || t == sync::CONTENT_TYPE || t.starts_with("text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_explained {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, FOREIGN_REFUSAL_BYTES_MAX)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (code, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not take that method (see the Allow header)".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", text),
        StatusCode::NOT_FOUND => ("not_found", text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        s if s.is_server_error() => ("internal_error", text),
        _ => ("bad_request", text),
    };
    let mut problem = ApiProblem::new(status, code, detail, cbor).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

/// What a caller reads of a server-side failure.
const GENERIC_FAILURE: &str = "the server failed; the request can be retried";

/// A refusal: status, problem, and the encoding the caller speaks.
#[derive(Debug)]
pub struct ApiProblem {
    status: StatusCode,
    problem: Problem,
    cbor: bool,
}

impl ApiProblem {
    pub(crate) fn new(status: StatusCode, code: &str, detail: impl ToString, cbor: bool) -> Self {
        Self {
            status,
            problem: Problem {
                code: code.to_owned(),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                detail: detail.to_string(),
                revocations: None,
            },
            cbor,
        }
    }

    pub fn cbor(status: StatusCode, code: &str, detail: impl ToString) -> Self {
        Self::new(status, code, detail, true)
    }

    pub fn json(status: StatusCode, code: &str, detail: impl ToString) -> Self {
        Self::new(status, code, detail, false)
    }

    /// The problem's stable code.
    pub fn code(&self) -> &str {
        &self.problem.code
    }

    /// Attaches the signed revocation list (for `device_revoked`).
    pub fn with_revocations(mut self, bytes: Vec<u8>) -> Self {
        self.problem.revocations = Some(serde_bytes::ByteBuf::from(bytes));
        self
    }

    fn internal(cbor: bool) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            GENERIC_FAILURE,
            cbor,
        )
    }
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        let mut problem = self.problem;
        if self.status.is_server_error() {
            tracing::error!(code = %problem.code, detail = %problem.detail, "request failed");
            // What failed inside (a database message, a file path) stays in
            // the log; the caller learns that it may retry. A server that
            // is not set up yet says so.
            if self.status != StatusCode::SERVICE_UNAVAILABLE {
                problem.detail = GENERIC_FAILURE.to_owned();
            }
        } else {
            tracing::info!(status = self.status.as_u16(), code = %problem.code, "request refused");
        }
        let (content_type, body) = if self.cbor {
            (sync::CONTENT_TYPE, sync::to_cbor(&problem))
        } else {
            (
                "application/problem+json",
                serde_json::to_vec(&problem).unwrap_or_default(),
            )
        };
        (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    }
}

/// A CBOR answer.
pub struct Cbor<T>(pub T);

impl<T: Serialize> IntoResponse for Cbor<T> {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, sync::CONTENT_TYPE)],
            sync::to_cbor(&self.0),
        )
            .into_response()
    }
}

/// Most bytes of a refused request's body read and dropped by [`discard`].
const DISCARD_BYTES_MAX: usize = 2 * sync::REQUEST_BODY_BYTES_MAX;

/// Reads and drops what is left of a refused request's body (at most
/// [`DISCARD_BYTES_MAX`], within `timeout`), chunk by chunk, so that the
/// refusal reaches a client that is still sending: a connection closed with
/// unread bytes is reset, and the client may then never read the answer
/// (a revoked terminal would not learn that it is revoked).
async fn discard(body: &mut axum::body::Body, timeout: Duration) {
    use http_body_util::BodyExt;
    let drain = async {
        let mut read = 0usize;
        while read <= DISCARD_BYTES_MAX {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                Some(Err(_)) | None => return,
            }
        }
    };
    let _ = tokio::time::timeout(timeout, drain).await;
}

/// Runs database work on the blocking pool. The task runs to its end even
/// if the caller's connection (and so this future) is dropped.
async fn blocking<R: Send + 'static>(
    cbor: bool,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiProblem> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiProblem::internal(cbor))
}
