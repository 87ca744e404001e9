//! Terminal routes (see `lastmile_shared::sync`): enrolment with a one-time
//! code, and device-signed upload and pull. Bodies are CBOR, at most
//! `REQUEST_BODY_BYTES_MAX` bytes (`ENROLL_BODY_BYTES_MAX` for enrolment),
//! read within a shared buffer budget and the body read timeout, and
//! scanned against `REQUEST_CBOR_LIMITS` before they are decoded.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http_body_util::BodyExt;
use lastmile_shared::cbor_limits::{self, CborLimitError};
use lastmile_shared::http_signature::{self, HttpSignatureError, SignatureHeaders};
use lastmile_shared::sync::{
    self, EnrollRequest, PullRequest, REQUEST_BODY_BYTES_MAX, REQUEST_CBOR_LIMITS, UploadRequest,
};
use tokio::sync::OwnedSemaphorePermit;

use super::{ApiProblem, AppState, Audience, Cbor, blocking, discard};
use crate::device_auth::{self, AuthError, SignedRequest};
use crate::documents;
use crate::sync::SyncError;
use crate::terminals;

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    vec![
        (
            Method::POST,
            "/v1/terminal/enroll",
            Audience::Terminal,
            post(enroll),
        ),
        (
            Method::POST,
            "/v1/terminal/upload",
            Audience::Terminal,
            post(upload),
        ),
        (
            Method::POST,
            "/v1/terminal/pull",
            Audience::Terminal,
            post(pull),
        ),
        (
            Method::POST,
            lastmile_shared::voucher_book::ROUTE_VOUCHER_BOOK,
            Audience::Terminal,
            post(voucher_book),
        ),
    ]
}

/// Largest enrolment body, in bytes: a code, a public key and a label.
const ENROLL_BODY_BYTES_MAX: usize = 4 * 1024;
/// Terminal request bodies held in memory at once, all requests together,
/// in KiB: four full-size uploads. A request takes its declared length (or
/// its route's maximum) from this budget before reading, and gives it back
/// when it is answered.
pub const BODY_BUFFER_KIB_MAX: usize = 4 * REQUEST_BODY_BYTES_MAX / 1024;

/// A request body in memory, holding its share of the buffer budget until
/// it is dropped.
struct BufferedBody {
    bytes: Bytes,
    _budget: OwnedSemaphorePermit,
}

/// Reads a body of at most `limit` bytes within the body read timeout,
/// once the buffer budget has room for it.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<BufferedBody, ApiProblem> {
    let too_large = || {
        ApiProblem::cbor(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = match headers.get(header::CONTENT_LENGTH) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiProblem::cbor(
                        StatusCode::BAD_REQUEST,
                        "bad_body",
                        "Content-Length is not a number",
                    )
                })?,
        ),
        None => None,
    };
    if declared.is_some_and(|length| length > limit) {
        discard(&mut body, state.body_read_timeout).await;
        return Err(too_large());
    }
    let reserved = declared.unwrap_or(limit);
    let kib =
        u32::try_from(reserved.div_ceil(1024).clamp(1, BODY_BUFFER_KIB_MAX)).unwrap_or(u32::MAX);
    let timeout = state.body_read_timeout;
    let timed_out = || {
        ApiProblem::cbor(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the body was not received within {} seconds (waiting for room in the \
                 server's body buffer included)",
                timeout.as_secs()
            ),
        )
    };
    let read = async {
        let budget = state
            .body_budget
            .clone()
            .acquire_many_owned(kib)
            .await
            .map_err(|_| ApiProblem::internal(true))?;
        let mut bytes = Vec::with_capacity(reserved);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiProblem::cbor(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    format!("the body could not be read: {e}"),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > reserved {
                    drop(bytes);
                    discard(&mut body, timeout).await;
                    return Err(too_large());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(BufferedBody {
            bytes: Bytes::from(bytes),
            _budget: budget,
        })
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| timed_out())?
}

/// Decodes a request body: its CBOR structure is scanned against the
/// request limits first, so no more than they allow is ever materialised.
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiProblem> {
    cbor_limits::check(bytes, &REQUEST_CBOR_LIMITS).map_err(|e| match e {
        CborLimitError::TooManyItems { .. } => {
            ApiProblem::cbor(StatusCode::PAYLOAD_TOO_LARGE, "too_many_items", e)
        }
        CborLimitError::TooDeep { .. } => ApiProblem::cbor(StatusCode::BAD_REQUEST, "too_deep", e),
        _ => ApiProblem::cbor(StatusCode::BAD_REQUEST, "bad_body", e),
    })?;
    sync::from_cbor(bytes)
        .map_err(|e| ApiProblem::cbor(StatusCode::BAD_REQUEST, "bad_body", e.to_string()))
}

fn signature_headers(headers: &HeaderMap) -> Result<SignatureHeaders, AuthError> {
    let get = |name: &'static str| -> Result<String, AuthError> {
        let value = headers.get(name).ok_or(HttpSignatureError::Missing(name))?;
        Ok(value
            .to_str()
            .map_err(|_| HttpSignatureError::Malformed(name))?
            .to_owned())
    };
    Ok(SignatureHeaders {
        content_digest: get("content-digest")?,
        signature_input: get("signature-input")?,
        signature: get("signature")?,
    })
}

fn auth_problem(error: &AuthError) -> ApiProblem {
    let status = match error {
        AuthError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        AuthError::DeviceRevoked => StatusCode::FORBIDDEN,
        AuthError::Signature(HttpSignatureError::DigestMismatch) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    ApiProblem::cbor(status, error.code(), error)
}

fn sync_problem(error: &SyncError) -> ApiProblem {
    let status = match error {
        SyncError::Auth(auth) => return auth_problem(auth),
        SyncError::Storage(_) | SyncError::Ledger(_) => StatusCode::INTERNAL_SERVER_ERROR,
        SyncError::TooManyEntries(_) | SyncError::TooManyCases(_) => StatusCode::PAYLOAD_TOO_LARGE,
        SyncError::BadEntry { .. } | SyncError::BadEntrySignature { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        SyncError::SequenceGap { .. }
        | SyncError::ChainBroken { .. }
        | SyncError::SequenceConflict { .. }
        | SyncError::CredentialMismatch { .. } => StatusCode::CONFLICT,
    };
    ApiProblem::cbor(status, error.code(), error)
}

async fn enroll(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(&state, &parts.headers, body, ENROLL_BODY_BYTES_MAX).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let enrol: EnrollRequest = match decode(&body.bytes) {
        Ok(r) => r,
        Err(problem) => return problem.into_response(),
    };
    drop(body);
    let outcome = blocking(true, move || {
        terminals::enroll(&state.storage, &state.keys, &enrol, state.now())
    })
    .await;
    match outcome {
        Ok(Ok(answer)) => {
            tracing::info!(device = %answer.device, "terminal enrolled");
            Cbor(answer).into_response()
        }
        Ok(Err(error)) => ApiProblem::from_refusal(&error, true).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// A `device_revoked` refusal tells the terminal in a way it can verify:
/// with the signed revocation list that names it.
fn with_revocations(state: &AppState, problem: ApiProblem) -> ApiProblem {
    if problem.code() != AuthError::DeviceRevoked.code() {
        return problem;
    }
    match state
        .storage
        .transaction(|tx| tx.document(documents::REVOCATIONS, documents::GLOBAL_SCOPE))
    {
        Ok(Some((_, bytes))) => problem.with_revocations(bytes),
        _ => problem,
    }
}

/// Runs `handle` for a device-signed request, checking in this order, each
/// before the next is attempted: the signature headers are present; the
/// signature over method, path and Content-Digest verifies with an enrolled
/// device's key and that device is not revoked (before the body is read);
/// the body, read within the buffer budget and the body timeout, matches its
/// digest; then `handle` decodes it (bounded, see [`decode`]) and admits
/// the request in its transaction (nonce, revocation under lock).
async fn authenticated<T, F>(state: AppState, request: Request, handle: F) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&AppState, &SignedRequest, &[u8], i64) -> Result<T, ApiProblem> + Send + 'static,
{
    let (parts, mut body) = request.into_parts();
    let headers = match signature_headers(&parts.headers) {
        Ok(headers) => headers,
        Err(e) => {
            discard(&mut body, state.body_read_timeout).await;
            return auth_problem(&e).into_response();
        }
    };
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let verify_state = state.clone();
    let verify_headers = headers.clone();
    let verified = blocking(true, move || {
        device_auth::verify(
            &verify_state.storage,
            &method,
            &path,
            &verify_headers,
            verify_state.now(),
        )
        .map_err(|e| with_revocations(&verify_state, auth_problem(&e)))
    })
    .await;
    let verified = match verified {
        Ok(Ok(verified)) => verified,
        Ok(Err(problem)) | Err(problem) => {
            discard(&mut body, state.body_read_timeout).await;
            return problem.into_response();
        }
    };
    let body = match read_body(&state, &parts.headers, body, REQUEST_BODY_BYTES_MAX).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    if let Err(e) = http_signature::check_digest(&headers, &body.bytes) {
        return auth_problem(&AuthError::Signature(e)).into_response();
    }
    let outcome = blocking(true, move || -> Result<_, ApiProblem> {
        handle(&state, &verified, &body.bytes, state.now())
            .map_err(|problem| with_revocations(&state, problem))
    })
    .await;
    match outcome {
        Ok(Ok(answer)) => Cbor(answer).into_response(),
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

async fn upload(State(state): State<AppState>, request: Request) -> Response {
    authenticated(state, request, |state, verified, body, now| {
        let upload: UploadRequest = decode(body)?;
        let count = upload.entries.len();
        let answer = crate::sync::upload(&state.storage, verified, upload, now)
            .map_err(|e| sync_problem(&e))?;
        tracing::debug!(device = %verified.device.device, entries = count,
            acknowledged = answer.acknowledged_seq, "upload");
        Ok(answer)
    })
    .await
}

async fn pull(State(state): State<AppState>, request: Request) -> Response {
    authenticated(state, request, |state, verified, body, now| {
        let pull: PullRequest = decode(body)?;
        crate::sync::pull(&state.storage, verified, &pull, now).map_err(|e| sync_problem(&e))
    })
    .await
}

async fn voucher_book(State(state): State<AppState>, request: Request) -> Response {
    authenticated(state, request, |state, verified, body, now| {
        let asked = decode(body)?;
        crate::voucher_book::chunk(&state.storage, &state.keys, &verified.device, asked, now)
            .map_err(|e| match &e {
                crate::voucher_book::VoucherBookError::Keys(_) => {
                    ApiProblem::cbor(StatusCode::SERVICE_UNAVAILABLE, "keys_unavailable", e)
                }
                crate::voucher_book::VoucherBookError::Storage(_) => {
                    ApiProblem::cbor(StatusCode::INTERNAL_SERVER_ERROR, "storage_error", e)
                }
            })
    })
    .await
}
