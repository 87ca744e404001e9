//! The HQ JSON API: terminals and enrolment codes, double-spend cases and
//! alarms, vouchers, keys and offline limits. Every request needs
//! `Authorization: Bearer <hq_token>`; without a configured token the API
//! refuses everything.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use http_body_util::{BodyExt, Limited};
use lastmile_shared::id::{DeviceId, MerchantId, SiteId, VoucherId};
use lastmile_shared::rules::OfflineLimits;
use serde::{Deserialize, Serialize};

use super::{ApiProblem, AppState, Audience, blocking, discard, now};
use crate::double_spend;
use crate::keys::KeyError;
use crate::limits::{self, LimitsError};
use crate::merchants::{self, MerchantError};
use crate::storage::StorageError;
use crate::terminals::{self, ENROLMENT_CODE_TTL_HOURS_DEFAULT, TerminalError};
use crate::vouchers::{self, VoucherError};

/// Largest HQ request body, in bytes; it is read (within the body read
/// timeout) only once the token is checked.
pub const HQ_BODY_BYTES_MAX: usize = 64 * 1024;

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    use Audience::Hq;
    vec![
        (Method::GET, "/v1/hq/terminals", Hq, get(list_terminals)),
        (
            Method::POST,
            "/v1/hq/terminals/{device}/revoke",
            Hq,
            post(revoke_terminal),
        ),
        (
            Method::PUT,
            "/v1/hq/terminals/{device}/assignment",
            Hq,
            put(assign_terminal),
        ),
        (
            Method::POST,
            "/v1/hq/enrolment-codes",
            Hq,
            post(create_code),
        ),
        (Method::GET, "/v1/hq/cases", Hq, get(list_cases)),
        (
            Method::POST,
            "/v1/hq/cases/{case}/resolve",
            Hq,
            post(resolve_case),
        ),
        (Method::GET, "/v1/hq/alarms", Hq, get(list_alarms)),
        (
            Method::GET,
            "/v1/hq/vouchers/{voucher}",
            Hq,
            get(show_voucher),
        ),
        (
            Method::POST,
            "/v1/hq/vouchers/{voucher}/revoke",
            Hq,
            post(revoke_voucher),
        ),
        (
            Method::POST,
            "/v1/hq/merchants/{merchant}/revoke",
            Hq,
            post(revoke_merchant),
        ),
        (Method::GET, "/v1/hq/keys", Hq, get(list_keys)),
        (Method::GET, "/v1/hq/limits", Hq, get(list_limits)),
        (Method::PUT, "/v1/hq/limits", Hq, put(set_limits)),
    ]
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, mut body) = request.into_parts();
    let presented = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let refusal = match (&state.hq_token, presented) {
        (Some(expected), Some(token)) if same_secret(token.as_bytes(), expected.as_bytes()) => None,
        (None, _) => Some(ApiProblem::json(
            StatusCode::UNAUTHORIZED,
            "hq_api_disabled",
            "no hq_token is configured on this server; set LASTMILE_HQ_TOKEN",
        )),
        (Some(_), _) => Some(ApiProblem::json(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <hq_token>",
        )),
    };
    if let Some(problem) = refusal {
        discard(&mut body, state.body_read_timeout).await;
        return problem.into_response();
    }
    let read = Limited::new(&mut body, HQ_BODY_BYTES_MAX).collect();
    let bytes = match tokio::time::timeout(state.body_read_timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) => {
            discard(&mut body, state.body_read_timeout).await;
            return ApiProblem::json(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body could not be read within {HQ_BODY_BYTES_MAX} bytes: {e}"),
            )
            .into_response();
        }
        Err(_) => {
            return ApiProblem::json(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body was not received within {} seconds",
                    state.body_read_timeout.as_secs()
                ),
            )
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn bad_request(code: &str, detail: impl ToString) -> ApiProblem {
    ApiProblem::json(StatusCode::BAD_REQUEST, code, detail)
}

fn storage_problem(error: &StorageError) -> ApiProblem {
    ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "storage_error", error)
}

fn key_problem(error: &KeyError) -> ApiProblem {
    match error {
        KeyError::NotInitialised => ApiProblem::json(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_not_initialised",
            error,
        ),
        KeyError::Storage(e) => storage_problem(e),
        _ => ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "key_error", error),
    }
}

fn terminal_problem(error: &TerminalError) -> ApiProblem {
    let status = match error {
        TerminalError::UnknownDevice(_) | TerminalError::UnknownCode => StatusCode::NOT_FOUND,
        TerminalError::Storage(e) => return storage_problem(e),
        TerminalError::Keys(e) => return key_problem(e),
        _ => StatusCode::BAD_REQUEST,
    };
    ApiProblem::json(status, error.code(), error)
}

fn voucher_problem(error: &VoucherError) -> ApiProblem {
    match error {
        VoucherError::Unknown(_) => {
            ApiProblem::json(StatusCode::NOT_FOUND, "unknown_voucher", error)
        }
        VoucherError::Storage(e) => storage_problem(e),
        VoucherError::Keys(e) => key_problem(e),
    }
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiProblem> {
    serde_json::from_slice(body).map_err(|e| bad_request("bad_json", e))
}

fn device_id(text: &str) -> Result<DeviceId, ApiProblem> {
    DeviceId::parse(text).map_err(|e| bad_request("bad_id", e))
}

fn voucher_id(text: &str) -> Result<VoucherId, ApiProblem> {
    VoucherId::parse(text).map_err(|e| bad_request("bad_id", e))
}

/// Runs `work` on the blocking pool and answers with its JSON or problem.
async fn answer<T: Serialize + Send + 'static>(
    status: StatusCode,
    work: impl FnOnce() -> Result<T, ApiProblem> + Send + 'static,
) -> Response {
    match blocking(false, work).await {
        Ok(Ok(value)) => json(status, &value),
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

async fn list_terminals(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        terminals::list(&state.storage).map_err(|e| terminal_problem(&e))
    })
    .await
}

#[derive(Serialize)]
struct Revoked {
    revoked: String,
}

async fn revoke_terminal(State(state): State<AppState>, Path(device): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        let device = device_id(&device)?;
        terminals::revoke(&state.storage, &state.keys, &device, now())
            .map_err(|e| terminal_problem(&e))?;
        tracing::info!(%device, "terminal revoked");
        Ok(Revoked {
            revoked: device.to_string(),
        })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assignment {
    merchant: Option<MerchantId>,
    site: Option<SiteId>,
}

async fn assign_terminal(
    State(state): State<AppState>,
    Path(device): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let device = device_id(&device)?;
        let assignment: Assignment = parse_json(&body)?;
        terminals::assign(
            &state.storage,
            &state.keys,
            &device,
            assignment.merchant,
            assignment.site,
            now(),
        )
        .map_err(|e| terminal_problem(&e))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    merchant: Option<MerchantId>,
    site: Option<SiteId>,
    /// Life of the code; default 72 hours.
    ttl_seconds: Option<u32>,
}

async fn create_code(State(state): State<AppState>, body: Bytes) -> Response {
    answer(StatusCode::CREATED, move || {
        let request: CodeRequest = parse_json(&body)?;
        let ttl = request
            .ttl_seconds
            .unwrap_or(ENROLMENT_CODE_TTL_HOURS_DEFAULT * 3600);
        terminals::create_code(&state.storage, request.merchant, request.site, ttl, now())
            .map_err(|e| terminal_problem(&e))
    })
    .await
}

async fn list_cases(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        double_spend::list(&state.storage).map_err(|e| storage_problem(&e))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseResolution {
    resolution: double_spend::Resolution,
    note: String,
}

#[derive(Serialize)]
struct CaseResolved {
    case: u64,
    resolution: &'static str,
}

async fn resolve_case(
    State(state): State<AppState>,
    Path(case): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id: u64 = case
            .parse()
            .map_err(|_| bad_request("bad_id", format!("{case:?} is not a case number")))?;
        let request: CaseResolution = parse_json(&body)?;
        double_spend::resolve(&state.storage, id, request.resolution, &request.note, now())
            .map_err(|e| {
                let status = match &e {
                    double_spend::ResolveError::UnknownCase(_) => StatusCode::NOT_FOUND,
                    double_spend::ResolveError::AlreadyResolved(_) => StatusCode::CONFLICT,
                    double_spend::ResolveError::Storage(e) => return storage_problem(e),
                    _ => StatusCode::BAD_REQUEST,
                };
                ApiProblem::json(status, e.code(), &e)
            })?;
        tracing::info!(
            case = id,
            resolution = request.resolution.code(),
            "case resolved"
        );
        Ok(CaseResolved {
            case: id,
            resolution: request.resolution.code(),
        })
    })
    .await
}

async fn list_alarms(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        state
            .storage
            .transaction(|tx| tx.alarms())
            .map_err(|e| storage_problem(&e))
    })
    .await
}

async fn show_voucher(State(state): State<AppState>, Path(voucher): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        let id = voucher_id(&voucher)?;
        vouchers::show(&state.storage, &id, now()).map_err(|e| voucher_problem(&e))
    })
    .await
}

#[derive(Serialize)]
struct VoucherRevoked {
    voucher: String,
    revocations_version: u64,
}

async fn revoke_voucher(State(state): State<AppState>, Path(voucher): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        let id = voucher_id(&voucher)?;
        let version = vouchers::revoke(&state.storage, &state.keys, &id, now())
            .map_err(|e| voucher_problem(&e))?;
        tracing::info!(voucher = %id, version, "voucher revoked");
        Ok(VoucherRevoked {
            voucher: id.to_string(),
            revocations_version: version,
        })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantRevocation {
    reason: String,
}

#[derive(Serialize)]
struct MerchantRevoked {
    merchant: String,
    revocations_version: u64,
}

async fn revoke_merchant(
    State(state): State<AppState>,
    Path(merchant): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = MerchantId::parse(&merchant).map_err(|e| bad_request("bad_id", e))?;
        let request: MerchantRevocation = parse_json(&body)?;
        let version = merchants::revoke(&state.storage, &state.keys, &id, &request.reason, now())
            .map_err(|e| {
            let status = match &e {
                MerchantError::AlreadyRevoked(_) => StatusCode::CONFLICT,
                MerchantError::BadReason(_) => StatusCode::BAD_REQUEST,
                MerchantError::Storage(e) => return storage_problem(e),
                MerchantError::Keys(e) => return key_problem(e),
            };
            ApiProblem::json(status, e.code(), &e)
        })?;
        tracing::info!(merchant = %id, version, "merchant suspended");
        Ok(MerchantRevoked {
            merchant: id.to_string(),
            revocations_version: version,
        })
    })
    .await
}

async fn list_keys(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        crate::keys::key_views(&state.storage).map_err(|e| storage_problem(&e))
    })
    .await
}

async fn list_limits(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        limits::list(&state.storage).map_err(|e| storage_problem(&e))
    })
    .await
}

#[derive(Serialize)]
struct LimitsSet {
    policies_sealed: usize,
}

async fn set_limits(State(state): State<AppState>, body: Bytes) -> Response {
    answer(StatusCode::OK, move || {
        let request: OfflineLimits = parse_json(&body)?;
        let sealed =
            limits::set(&state.storage, &state.keys, &request, now()).map_err(|e| match &e {
                LimitsError::NotPositive(_) => bad_request("bad_limits", &e),
                LimitsError::Storage(s) => storage_problem(s),
                LimitsError::Keys(k) => key_problem(k),
            })?;
        Ok(LimitsSet {
            policies_sealed: sealed,
        })
    })
    .await
}
