//! The HQ JSON API: terminals and enrolment codes, double-spend cases and
//! alarms, vouchers, keys and offline limits, proposals and their
//! decisions, the audit trail, users and API tokens.
//!
//! Every request needs `Authorization: Bearer <API token>` (a person's
//! token, `lastmile-server tokens create` or the console); [`guard`] finds
//! the person and refuses the request (`403`) unless their role has the
//! route's [`Permission`], before the body is read.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use http_body_util::{BodyExt, Limited};
use lastmile_shared::id::{DeviceId, MerchantId, SiteId, VoucherId};
use lastmile_shared::rules::OfflineLimits;
use serde::{Deserialize, Serialize};

use super::{ApiProblem, AppState, Audience, blocking, discard};
use crate::audit;
use crate::double_spend::{self, Resolution};
use crate::limits;
use crate::merchants;
use crate::people::tokens;
use crate::people::{self, Caller, Language, NewUser, Permission, Role};
use crate::proposals::{self, Action, Admitted, Decision};
use crate::storage::audit::AuditFilter;
use crate::storage::sql::Page;
use crate::terminals::{self, ENROLMENT_CODE_TTL_HOURS_DEFAULT};
use crate::vouchers;

/// Largest HQ request body, in bytes; it is read (within the body read
/// timeout) only once the caller is known and allowed.
pub const HQ_BODY_BYTES_MAX: usize = 64 * 1024;

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    use Audience::Hq;
    use Permission::*;
    vec![
        (Method::GET, "/v1/hq/me", Hq(OwnTokens), get(me)),
        (
            Method::GET,
            "/v1/hq/terminals",
            Hq(ViewTerminals),
            get(list_terminals),
        ),
        (
            Method::POST,
            "/v1/hq/terminals/{device}/revoke",
            Hq(ManageTerminals),
            post(revoke_terminal),
        ),
        (
            Method::PUT,
            "/v1/hq/terminals/{device}/assignment",
            Hq(ManageTerminals),
            put(assign_terminal),
        ),
        (
            Method::POST,
            "/v1/hq/enrolment-codes",
            Hq(ManageTerminals),
            post(create_code),
        ),
        (Method::GET, "/v1/hq/cases", Hq(ViewCases), get(list_cases)),
        (
            Method::POST,
            "/v1/hq/cases/{case}/resolve",
            Hq(ResolveCases),
            post(resolve_case),
        ),
        (
            Method::POST,
            "/v1/hq/cases/{case}/write-off",
            Hq(ProposeWriteOff),
            post(propose_write_off),
        ),
        (
            Method::GET,
            "/v1/hq/alarms",
            Hq(ViewAlarms),
            get(list_alarms),
        ),
        (
            Method::GET,
            "/v1/hq/vouchers/{voucher}",
            Hq(ViewVouchers),
            get(show_voucher),
        ),
        (
            Method::POST,
            "/v1/hq/vouchers/{voucher}/revoke",
            Hq(ProposeRevocation),
            post(propose_revocation),
        ),
        (
            Method::POST,
            "/v1/hq/merchants/{merchant}/revoke",
            Hq(ManageMerchants),
            post(revoke_merchant),
        ),
        (Method::GET, "/v1/hq/keys", Hq(ViewKeys), get(list_keys)),
        (
            Method::POST,
            "/v1/hq/keys/issuer/rotate",
            Hq(ProposeKeyRotation),
            post(propose_issuer_rotation),
        ),
        (
            Method::POST,
            "/v1/hq/keys/root/rotate",
            Hq(ProposeKeyRotation),
            post(propose_root_rotation),
        ),
        (
            Method::GET,
            "/v1/hq/limits",
            Hq(ViewLimits),
            get(list_limits),
        ),
        (
            Method::PUT,
            "/v1/hq/limits",
            Hq(ManageLimits),
            put(set_limits),
        ),
        (
            Method::GET,
            "/v1/hq/proposals",
            Hq(ViewProposals),
            get(list_proposals),
        ),
        (
            Method::GET,
            "/v1/hq/proposals/{proposal}",
            Hq(ViewProposals),
            get(show_proposal),
        ),
        (
            Method::POST,
            "/v1/hq/proposals/{proposal}/decision",
            Hq(Decide),
            post(decide_proposal),
        ),
        (Method::GET, "/v1/hq/audit", Hq(ViewAudit), get(list_audit)),
        (Method::GET, "/v1/hq/users", Hq(ViewUsers), get(list_users)),
        (
            Method::POST,
            "/v1/hq/users",
            Hq(ManageUsers),
            post(create_user),
        ),
        (
            Method::POST,
            "/v1/hq/users/{username}/disable",
            Hq(ManageUsers),
            post(disable_user),
        ),
        (
            Method::GET,
            "/v1/hq/tokens",
            Hq(OwnTokens),
            get(list_tokens),
        ),
        (
            Method::POST,
            "/v1/hq/tokens",
            Hq(OwnTokens),
            post(create_token),
        ),
        (
            Method::POST,
            "/v1/hq/tokens/{token}/revoke",
            Hq(OwnTokens),
            post(revoke_token),
        ),
    ]
}

/// The bearer token of a request, if any.
fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// The person behind the request's API token, if their role has
/// `permission`.
async fn authorise(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    permission: Permission,
) -> Result<Caller, ApiProblem> {
    let found = match bearer(headers) {
        None => Err(ApiProblem::json(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <API token>; create one with `lastmile-server tokens create` \
             or on the console's Users page",
        )),
        Some(token) => {
            let state = state.clone();
            blocking(false, move || {
                tokens::authenticate(&state.storage, &token, state.now()).map_err(ApiProblem::from)
            })
            .await
            .and_then(|found| found)
        }
    };
    match found {
        Ok(caller) if caller.may(permission) => Ok(caller),
        Ok(caller) => Err(forbidden(&caller)),
        Err(problem) => Err(problem),
    }
}

/// Finds the person behind the request's API token and checks that their
/// role has `permission`, before the body is read; the [`Caller`] goes
/// into the request's extensions for the handler.
pub async fn guard(
    State((state, permission)): State<(AppState, Permission)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, mut body) = request.into_parts();
    let caller = match authorise(&state, &parts.headers, permission).await {
        Ok(caller) => caller,
        Err(problem) => {
            discard(&mut body, state.body_read_timeout).await;
            return problem.into_response();
        }
    };
    parts.extensions.insert(caller);
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

/// [`guard`] for a route that takes a file: the caller is checked the
/// same way, and the body is left for the handler to stream (within its
/// own limits).
pub async fn file_guard(
    State((state, permission)): State<(AppState, Permission)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, mut body) = request.into_parts();
    match authorise(&state, &parts.headers, permission).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(problem) => {
            discard(&mut body, state.body_read_timeout).await;
            problem.into_response()
        }
    }
}

/// The refusal for a person whose role may not do something.
pub fn forbidden(caller: &Caller) -> ApiProblem {
    ApiProblem::json(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("the {} role may not do this", caller.role.code()),
    )
}

pub(super) fn bad_request(code: &str, detail: impl ToString) -> ApiProblem {
    ApiProblem::json(StatusCode::BAD_REQUEST, code, detail)
}

pub(super) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiProblem> {
    serde_json::from_slice(body).map_err(|e| bad_request("bad_json", e))
}

fn device_id(text: &str) -> Result<DeviceId, ApiProblem> {
    DeviceId::parse(text).map_err(|e| bad_request("bad_id", e))
}

fn voucher_id(text: &str) -> Result<VoucherId, ApiProblem> {
    VoucherId::parse(text).map_err(|e| bad_request("bad_id", e))
}

pub(super) fn number(text: &str, what: &str) -> Result<i64, ApiProblem> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad_request("bad_id", format!("{text:?} is not a {what} number")))
}

/// Runs `work` on the blocking pool and answers with its JSON or problem.
pub(super) async fn answer<T: Serialize + Send + 'static>(
    status: StatusCode,
    work: impl FnOnce() -> Result<T, ApiProblem> + Send + 'static,
) -> Response {
    match blocking(false, work).await {
        Ok(Ok(value)) => json(status, &value),
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

/// `?limit=&offset=` of a list; the limit is capped (see [`Page`]).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

impl PageQuery {
    pub fn page(self) -> Page {
        Page::new(self.limit, self.offset)
    }
}

async fn me(Extension(caller): Extension<Caller>) -> Response {
    json(StatusCode::OK, &caller)
}

async fn list_terminals(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(q.page().slice(terminals::list(&state.storage)?))
    })
    .await
}

#[derive(Serialize)]
struct Revoked {
    revoked: String,
}

async fn revoke_terminal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(device): Path<String>,
) -> Response {
    answer(StatusCode::OK, move || {
        let device = device_id(&device)?;
        terminals::revoke(
            &state.storage,
            &state.keys,
            &caller.actor(),
            &device,
            state.now(),
        )?;
        tracing::info!(%device, by = %caller.username, "terminal revoked");
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
    Extension(caller): Extension<Caller>,
    Path(device): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let device = device_id(&device)?;
        let assignment: Assignment = parse_json(&body)?;
        Ok(terminals::assign(
            &state.storage,
            &state.keys,
            &caller.actor(),
            &device,
            assignment.merchant,
            assignment.site,
            state.now(),
        )?)
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

async fn create_code(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::CREATED, move || {
        let request: CodeRequest = parse_json(&body)?;
        let ttl = request
            .ttl_seconds
            .unwrap_or(ENROLMENT_CODE_TTL_HOURS_DEFAULT * 3600);
        Ok(terminals::create_code(
            &state.storage,
            &caller.actor(),
            request.merchant,
            request.site,
            ttl,
            state.now(),
        )?)
    })
    .await
}

async fn list_cases(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(q.page().slice(double_spend::list(&state.storage)?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseResolution {
    resolution: Resolution,
    note: String,
}

#[derive(Serialize)]
struct CaseResolved {
    case: u64,
    resolution: &'static str,
}

fn case_number(text: &str) -> Result<u64, ApiProblem> {
    number(text, "case").map(|n| n.unsigned_abs())
}

async fn resolve_case(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(case): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = case_number(&case)?;
        let request: CaseResolution = parse_json(&body)?;
        if request.resolution == Resolution::WrittenOff {
            return Err(bad_request(
                "needs_approval",
                format!(
                    "a write-off needs a second person: POST /v1/hq/cases/{id}/write-off proposes it"
                ),
            ));
        }
        double_spend::resolve(
            &state.storage,
            &caller.actor(),
            id,
            request.resolution,
            &request.note,
            state.now(),
        )?;
        tracing::info!(case = id, resolution = request.resolution.code(), by = %caller.username, "case resolved");
        Ok(CaseResolved {
            case: id,
            resolution: request.resolution.code(),
        })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalRequest {
    reason: String,
}

async fn propose_write_off(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(case): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let id = case_number(&case)?;
        let request: ProposalRequest = parse_json(&body)?;
        // Say early what the approval would refuse.
        double_spend::resolution_note(&request.reason).map_err(ApiProblem::from)?;
        Ok(proposals::propose(
            &state.storage,
            &caller,
            &Action::WriteOffCase(id),
            &request.reason,
            state.now(),
        )?)
    })
    .await
}

async fn list_alarms(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(q.page().slice(state.storage.transaction(|tx| tx.alarms())?))
    })
    .await
}

async fn show_voucher(State(state): State<AppState>, Path(voucher): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        let id = voucher_id(&voucher)?;
        Ok(vouchers::show(&state.storage, &id, state.now())?)
    })
    .await
}

async fn propose_revocation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(voucher): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let id = voucher_id(&voucher)?;
        let request: ProposalRequest = parse_json(&body)?;
        Ok(proposals::propose(
            &state.storage,
            &caller,
            &Action::RevokeVoucher(id),
            &request.reason,
            state.now(),
        )?)
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
    Extension(caller): Extension<Caller>,
    Path(merchant): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = MerchantId::parse(&merchant).map_err(|e| bad_request("bad_id", e))?;
        let request: MerchantRevocation = parse_json(&body)?;
        let version = merchants::revoke(
            &state.storage,
            &state.keys,
            &caller.actor(),
            &id,
            &request.reason,
            state.now(),
        )?;
        tracing::info!(merchant = %id, version, by = %caller.username, "merchant suspended");
        Ok(MerchantRevoked {
            merchant: id.to_string(),
            revocations_version: version,
        })
    })
    .await
}

async fn list_keys(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(crate::keys::key_views(&state.storage)?)
    })
    .await
}

async fn propose_issuer_rotation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    propose_key_rotation(state, caller, body, false).await
}

async fn propose_root_rotation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    propose_key_rotation(state, caller, body, true).await
}

async fn propose_key_rotation(
    state: AppState,
    caller: Caller,
    body: Bytes,
    root: bool,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let request: ProposalRequest = parse_json(&body)?;
        let action = if root {
            Action::RotateRootKey
        } else {
            Action::RotateIssuerKey(state.issuer.clone())
        };
        Ok(proposals::propose(
            &state.storage,
            &caller,
            &action,
            &request.reason,
            state.now(),
        )?)
    })
    .await
}

async fn list_limits(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || Ok(limits::list(&state.storage)?)).await
}

#[derive(Serialize)]
struct LimitsSet {
    policies_sealed: usize,
}

async fn set_limits(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let request: OfflineLimits = parse_json(&body)?;
        let sealed = limits::set(
            &state.storage,
            &state.keys,
            &caller.actor(),
            &request,
            state.now(),
        )?;
        Ok(LimitsSet {
            policies_sealed: sealed,
        })
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalQuery {
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_proposals(State(state): State<AppState>, Query(q): Query<ProposalQuery>) -> Response {
    answer(StatusCode::OK, move || {
        if let Some(wanted) = &q.state
            && !["pending", "approved", "rejected"].contains(&wanted.as_str())
        {
            return Err(bad_request(
                "bad_state",
                "state is one of pending, approved, rejected",
            ));
        }
        Ok(proposals::list(
            &state.storage,
            q.state.as_deref(),
            Page::new(q.limit, q.offset),
        )?)
    })
    .await
}

async fn show_proposal(State(state): State<AppState>, Path(proposal): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&proposal, "proposal")?;
        proposals::get(&state.storage, id)?.ok_or_else(|| {
            ApiProblem::json(
                StatusCode::NOT_FOUND,
                "unknown_proposal",
                format!("there is no proposal {id}"),
            )
        })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    decision: Decision,
    note: String,
}

async fn decide_proposal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(proposal): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&proposal, "proposal")?;
        let request: DecisionRequest = parse_json(&body)?;
        let decided = proposals::decide(
            &state.storage,
            &state.keys,
            &caller,
            id,
            request.decision,
            &request.note,
            state.now(),
        )?;
        tracing::info!(proposal = id, state = %decided.state, by = %caller.username, "proposal decided");
        Ok(decided)
    })
    .await
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_audit(State(state): State<AppState>, Query(q): Query<AuditQuery>) -> Response {
    answer(StatusCode::OK, move || {
        let filter = AuditFilter {
            actor: q.actor,
            action: q.action,
            object: q.object,
        };
        Ok(audit::list(
            &state.storage,
            &filter,
            Page::new(q.limit, q.offset),
        )?)
    })
    .await
}

async fn list_users(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(people::list_users(&state.storage, q.page())?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    username: String,
    display_name: String,
    role: Role,
    language: Option<Language>,
    password: String,
}

async fn create_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    // 201 with the user, or 202 with the user (disabled) and the proposal
    // an approver must decide before they can sign in.
    let admitted = blocking(false, move || {
        let request: UserRequest = parse_json(&body)?;
        Ok(proposals::admit(
            &state.storage,
            &caller,
            &NewUser {
                username: &request.username,
                display_name: &request.display_name,
                role: request.role,
                language: request.language.unwrap_or(Language::En),
                password: &request.password,
            },
            state.now(),
        )?)
    })
    .await;
    match admitted {
        Ok(Ok(Admitted {
            user,
            proposal: None,
        })) => json(StatusCode::CREATED, &user),
        Ok(Ok(held)) => json(StatusCode::ACCEPTED, &held),
        Ok(Err(problem)) | Err(problem) => problem.into_response(),
    }
}

#[derive(Serialize)]
struct Disabled {
    disabled: String,
}

async fn disable_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> Response {
    answer(StatusCode::OK, move || {
        if username == caller.username {
            return Err(bad_request(
                "own_account",
                "you cannot disable your own account; ask another admin",
            ));
        }
        people::disable_user(&state.storage, &caller.actor(), &username, state.now())?;
        Ok(Disabled { disabled: username })
    })
    .await
}

async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<PageQuery>,
) -> Response {
    answer(StatusCode::OK, move || {
        Ok(tokens::list(&state.storage, caller.id, q.page())?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    label: String,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::CREATED, move || {
        let request: TokenRequest = parse_json(&body)?;
        Ok(tokens::create(
            &state.storage,
            &caller.actor(),
            &caller.username,
            &request.label,
            state.now(),
        )?)
    })
    .await
}

#[derive(Serialize)]
struct TokenRevoked {
    revoked: i64,
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(token): Path<String>,
) -> Response {
    answer(StatusCode::OK, move || {
        let id = number(&token, "token")?;
        let only_of = (!caller.may(Permission::ManageUsers)).then_some(caller.id);
        tokens::revoke(&state.storage, &caller.actor(), id, only_of, state.now())?;
        Ok(TokenRevoked { revoked: id })
    })
    .await
}
