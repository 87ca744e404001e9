//! Terminal routes (see `lastmile_shared::sync`): enrolment with a one-time
//! code, and device-signed upload and pull. Bodies are CBOR, at most
//! `REQUEST_BODY_BYTES_MAX` bytes.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use lastmile_shared::http_signature::{HttpSignatureError, SignatureHeaders};
use lastmile_shared::sync::{
    self, EnrollRequest, PullRequest, REQUEST_BODY_BYTES_MAX, UploadRequest,
};

use super::{ApiProblem, AppState, Audience, Cbor, blocking, now};
use crate::device_auth::{self, AuthError, SignedRequest};
use crate::documents;
use crate::sync::SyncError;
use crate::terminals::{self, TerminalError};

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

async fn read_body(body: Body) -> Result<Bytes, ApiProblem> {
    axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| {
            ApiProblem::cbor(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body could not be read within {REQUEST_BODY_BYTES_MAX} bytes: {e}"),
            )
        })
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiProblem> {
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
        SyncError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        SyncError::TooManyEntries(_) => StatusCode::PAYLOAD_TOO_LARGE,
        SyncError::BadEntry { .. } | SyncError::BadEntrySignature { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        SyncError::SequenceGap { .. }
        | SyncError::ChainBroken { .. }
        | SyncError::SequenceConflict { .. } => StatusCode::CONFLICT,
    };
    ApiProblem::cbor(status, error.code(), error)
}

fn terminal_problem(error: &TerminalError) -> ApiProblem {
    let status = match error {
        TerminalError::UnknownCode => StatusCode::NOT_FOUND,
        TerminalError::CodeUsed | TerminalError::KeyAlreadyEnrolled => StatusCode::CONFLICT,
        TerminalError::CodeExpired => StatusCode::GONE,
        TerminalError::BadPublicKey
        | TerminalError::BadLabel
        | TerminalError::BadTtl
        | TerminalError::NoAssignment
        | TerminalError::Id(_) => StatusCode::BAD_REQUEST,
        TerminalError::UnknownDevice(_) => StatusCode::NOT_FOUND,
        TerminalError::Keys(crate::keys::KeyError::NotInitialised) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        TerminalError::Storage(_) | TerminalError::Keys(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiProblem::cbor(status, error.code(), error)
}

async fn enroll(State(state): State<AppState>, request: Request) -> Response {
    let body = match read_body(request.into_body()).await {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let enrol: EnrollRequest = match decode(&body) {
        Ok(r) => r,
        Err(problem) => return problem.into_response(),
    };
    let outcome = blocking(true, move || {
        terminals::enroll(&state.storage, &state.keys, &enrol, now())
    })
    .await;
    match outcome {
        Ok(Ok(answer)) => {
            tracing::info!(device = %answer.device, "terminal enrolled");
            Cbor(answer).into_response()
        }
        Ok(Err(error)) => terminal_problem(&error).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The parts of a signed request the handlers need.
struct Signed {
    method: String,
    path: String,
    headers: SignatureHeaders,
    body: Bytes,
}

async fn signed(request: Request) -> Result<Signed, ApiProblem> {
    let (parts, body) = request.into_parts();
    let headers = signature_headers(&parts.headers).map_err(|e| auth_problem(&e))?;
    let body = read_body(body).await?;
    Ok(Signed {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        headers,
        body,
    })
}

/// Runs `handle` for a device-signed request: reads the body, checks the
/// RFC 9421 signature (and replay) on the blocking pool, then answers in CBOR
/// or with a problem.
async fn authenticated<T, F>(state: AppState, request: Request, handle: F) -> Response
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&AppState, &SignedRequest, &[u8], i64) -> Result<T, ApiProblem> + Send + 'static,
{
    let signed = match signed(request).await {
        Ok(s) => s,
        Err(problem) => return problem.into_response(),
    };
    let outcome = blocking(true, move || -> Result<_, ApiProblem> {
        let now = now();
        let verified = device_auth::verify(
            &state.storage,
            &signed.method,
            &signed.path,
            &signed.body,
            &signed.headers,
            now,
        )
        .map_err(|e| auth_problem(&e))?;
        handle(&state, &verified, &signed.body, now).map_err(|problem| {
            if problem.code() != AuthError::DeviceRevoked.code() {
                return problem;
            }
            // Tell the revoked terminal in a way it can verify: the signed
            // revocation list that names it.
            match state
                .storage
                .transaction(|tx| tx.document(documents::REVOCATIONS, documents::GLOBAL_SCOPE))
            {
                Ok(Some((_, bytes))) => problem.with_revocations(bytes),
                _ => problem,
            }
        })
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
        let answer = crate::sync::upload(&state.storage, verified, upload.entries, now)
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
        crate::sync::pull(&state.storage, verified, pull.cursor, now).map_err(|e| sync_problem(&e))
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
