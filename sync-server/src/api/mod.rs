//! The HTTP API: terminal sync routes (CBOR, device-signed) under
//! `/v1/terminal/*`, the HQ JSON API (bearer token) under `/v1/hq/*`, the
//! OpenAPI document at `/openapi.yaml` and a liveness probe at `/health`.
//!
//! Every refusal carries a [`Problem`] with a stable code, in CBOR on the
//! terminal routes and in JSON elsewhere. Database work runs on tokio's
//! blocking pool, so a client hanging up never cuts a transaction short.
//!
//! Architecture invariant: the route table in [`routes`] is the only list of
//! routes; the router is built from it, and a test holds `openapi.yaml` to it.

mod hq;
mod terminal;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use lastmile_shared::sync::{self, Problem};
use serde::Serialize;

use crate::keys::KeyDir;
use crate::storage::Storage;

/// The OpenAPI document, kept in the repository beside the code.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Storage>,
    pub keys: KeyDir,
    pub hq_token: Option<Arc<str>>,
}

/// Which kind of caller a route serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Terminal,
    Hq,
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
    for (_, path, audience, handler) in routes() {
        match audience {
            Audience::Hq => hq = hq.route(path, handler),
            Audience::Public | Audience::Terminal => open = open.route(path, handler),
        }
    }
    let hq = hq
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hq::require_token,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(hq::HQ_BODY_BYTES_MAX));
    open.merge(hq)
        .fallback(|| async {
            ApiProblem::json(StatusCode::NOT_FOUND, "not_found", "no such route")
        })
        .with_state(state)
}

/// A refusal: status, problem, and the encoding the caller speaks.
#[derive(Debug)]
pub struct ApiProblem {
    status: StatusCode,
    problem: Problem,
    cbor: bool,
}

impl ApiProblem {
    fn new(status: StatusCode, code: &str, detail: impl ToString, cbor: bool) -> Self {
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
            "the server failed; the request can be retried",
            cbor,
        )
    }
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = %self.problem.code, detail = %self.problem.detail, "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code = %self.problem.code, "request refused");
        }
        let (content_type, body) = if self.cbor {
            (sync::CONTENT_TYPE, sync::to_cbor(&self.problem))
        } else {
            (
                "application/problem+json",
                serde_json::to_vec(&self.problem).unwrap_or_default(),
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

/// The server's clock: Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
