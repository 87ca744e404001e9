//! The HQ console at `/console`: server-rendered HTML (maud), a style sheet
//! and a few lines of script served by the server itself, so it needs no
//! Node toolchain and works without JavaScript (live updates aside).
//!
//! A person signs in with their username and password and gets a session
//! cookie (`Secure` unless served over plain HTTP off loopback, `HttpOnly`,
//! `SameSite=Strict`). [`guard`] runs before every page: it finds the
//! session (or sends the person to the login page), refuses a page their
//! role may not open (403), and refuses any form whose CSRF token is not the
//! session's, or whose `Origin` is another site, before the handler runs.
//!
//! Architecture invariant: [`routes`] is the only list of console pages; a
//! page without a [`Gate`] cannot exist, and every POST passes the CSRF
//! check in [`guard`].

mod alarms;
mod amounts;
mod audit;
mod beneficiaries;
mod cases;
mod cycles;
mod dashboard;
mod events;
mod floats;
pub mod i18n;
mod id_authorities;
mod import;
mod jobs;
mod layout;
mod ledger;
mod limits;
mod login;
mod payments;
mod people;
mod programmes;
mod proposals;
mod signals;
mod terminals;
mod vouchers;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get};
use http_body_util::BodyExt;
use maud::{Markup, html};

use crate::api::AppState;
use crate::api::problems::Refusal;
use crate::people::sessions::{self, COOKIE};
use crate::people::{Caller, Language, Permission};
use crate::proposals::Action;

/// Largest form a console page accepts, in bytes.
pub const FORM_BYTES_MAX: usize = 64 * 1024;
/// Largest CSRF part of an upload, in bytes.
const CSRF_BYTES_MAX: u64 = 256;

/// Who may open a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Anyone (the login page, the style sheet).
    Public,
    /// A signed-in person whose role has this permission.
    Page(Permission),
    /// The same, for a page whose POST uploads a file
    /// (`multipart/form-data`): the form's first part must be its CSRF
    /// token, checked before the handler reads the rest of the body (as a
    /// stream, from [`UploadParts`]), and nothing is buffered in memory.
    Upload(Permission),
}

/// The parts of an upload after its CSRF token, for the page to stream.
#[derive(Clone)]
pub struct UploadParts(std::sync::Arc<std::sync::Mutex<Option<multer::Multipart<'static>>>>);

impl UploadParts {
    /// The parts (once).
    pub fn take(&self) -> Option<multer::Multipart<'static>> {
        self.0.lock().ok()?.take()
    }
}

/// The console's pages: method, path, gate, handler.
pub fn routes() -> Vec<(Method, &'static str, Gate, MethodRouter<AppState>)> {
    use Gate::{Page, Public};
    use Permission::*;
    vec![
        (Method::GET, "/console/login", Public, get(login::form)),
        (
            Method::POST,
            "/console/login",
            Public,
            axum::routing::post(login::submit),
        ),
        (
            Method::POST,
            "/console/logout",
            Page(OwnTokens),
            axum::routing::post(login::logout),
        ),
        (
            Method::GET,
            "/console/static/console.css",
            Public,
            get(static_css),
        ),
        (
            Method::GET,
            "/console/static/console.js",
            Public,
            get(static_js),
        ),
        (
            Method::GET,
            "/console",
            Page(ViewTerminals),
            get(dashboard::show),
        ),
        (
            Method::GET,
            "/console/events",
            Page(ViewTerminals),
            get(events::stream),
        ),
        (
            Method::GET,
            "/console/terminals",
            Page(ViewTerminals),
            get(terminals::list),
        ),
        (
            Method::POST,
            "/console/terminals/code",
            Page(ManageTerminals),
            axum::routing::post(terminals::create_code),
        ),
        (
            Method::POST,
            "/console/terminals/{device}/revoke",
            Page(ManageTerminals),
            axum::routing::post(terminals::revoke),
        ),
        (
            Method::GET,
            "/console/vouchers",
            Page(ViewVouchers),
            get(vouchers::search),
        ),
        (
            Method::GET,
            "/console/vouchers/{voucher}",
            Page(ViewVouchers),
            get(vouchers::show),
        ),
        (
            Method::POST,
            "/console/vouchers/{voucher}/revoke",
            Page(ProposeRevocation),
            axum::routing::post(vouchers::propose_revocation),
        ),
        (
            Method::GET,
            "/console/cases",
            Page(ViewCases),
            get(cases::list),
        ),
        (
            Method::GET,
            "/console/cases/{case}",
            Page(ViewCases),
            get(cases::show),
        ),
        (
            Method::POST,
            "/console/cases/{case}/resolve",
            Page(ResolveCases),
            axum::routing::post(cases::resolve),
        ),
        (
            Method::POST,
            "/console/cases/{case}/write-off",
            Page(ProposeWriteOff),
            axum::routing::post(cases::propose_write_off),
        ),
        (
            Method::GET,
            "/console/proposals",
            Page(ViewProposals),
            get(proposals::list),
        ),
        (
            Method::POST,
            "/console/proposals/{proposal}/decision",
            Page(Decide),
            axum::routing::post(proposals::decide),
        ),
        (
            Method::GET,
            "/console/alarms",
            Page(ViewAlarms),
            get(alarms::list),
        ),
        (
            Method::GET,
            "/console/jobs",
            Page(ViewAlarms),
            get(jobs::list),
        ),
        (
            Method::POST,
            "/console/limits",
            Page(ManageLimits),
            axum::routing::post(limits::set),
        ),
        (
            Method::POST,
            "/console/keys/{which}/rotate",
            Page(ProposeKeyRotation),
            axum::routing::post(limits::propose_rotation),
        ),
        (
            Method::POST,
            "/console/merchants/suspend",
            Page(ManageMerchants),
            axum::routing::post(terminals::suspend_merchant),
        ),
        (
            Method::GET,
            "/console/limits",
            Page(ViewLimits),
            get(limits::show),
        ),
        (
            Method::GET,
            "/console/keys",
            Page(ViewKeys),
            get(limits::keys),
        ),
        (
            Method::GET,
            "/console/id-authorities",
            Page(ViewKeys),
            get(id_authorities::list),
        ),
        (
            Method::POST,
            "/console/id-authorities",
            Page(ManageIdAuthorities),
            axum::routing::post(id_authorities::add),
        ),
        (
            Method::POST,
            "/console/id-authorities/{kid}/retire",
            Page(ManageIdAuthorities),
            axum::routing::post(id_authorities::retire),
        ),
        (
            Method::GET,
            "/console/audit",
            Page(ViewAudit),
            get(audit::list),
        ),
        (
            Method::GET,
            "/console/users",
            Page(OwnTokens),
            get(people::list),
        ),
        (
            Method::POST,
            "/console/users",
            Page(ManageUsers),
            axum::routing::post(people::create),
        ),
        (
            Method::POST,
            "/console/users/{username}/disable",
            Page(ManageUsers),
            axum::routing::post(people::disable),
        ),
        (
            Method::POST,
            "/console/tokens",
            Page(OwnTokens),
            axum::routing::post(people::create_token),
        ),
        (
            Method::POST,
            "/console/tokens/{token}/revoke",
            Page(OwnTokens),
            axum::routing::post(people::revoke_token),
        ),
        (
            Method::GET,
            "/console/programmes",
            Page(ViewProgrammes),
            get(programmes::list),
        ),
        (
            Method::POST,
            "/console/programmes",
            Page(ManageProgrammes),
            axum::routing::post(programmes::create),
        ),
        (
            Method::POST,
            "/console/sites",
            Page(ManageSites),
            axum::routing::post(programmes::create_site),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}",
            Page(ViewProgrammes),
            get(programmes::show),
        ),
        (
            Method::POST,
            "/console/programmes/{programme}/state",
            Page(ManageProgrammes),
            axum::routing::post(programmes::transition),
        ),
        (
            Method::POST,
            "/console/programmes/{programme}/cycles",
            Page(ManageCycles),
            axum::routing::post(programmes::generate_cycle),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}/amounts",
            Page(ManageCycles),
            get(amounts::form),
        ),
        (
            Method::POST,
            "/console/programmes/{programme}/amounts",
            Gate::Upload(ManageCycles),
            axum::routing::post(amounts::upload),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}/import",
            Page(ImportBeneficiaries),
            get(import::form),
        ),
        (
            Method::POST,
            "/console/programmes/{programme}/import",
            Gate::Upload(ImportBeneficiaries),
            axum::routing::post(import::upload),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}/import/{upload}",
            Page(ImportBeneficiaries),
            get(import::review),
        ),
        (
            Method::POST,
            "/console/programmes/{programme}/import/{upload}",
            Page(ImportBeneficiaries),
            axum::routing::post(import::act),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}/beneficiaries",
            Page(ViewBeneficiaries),
            get(beneficiaries::search),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}/beneficiaries/{beneficiary}",
            Page(ViewBeneficiaries),
            get(beneficiaries::show),
        ),
        (
            Method::GET,
            "/console/signals",
            Page(ViewBeneficiaries),
            get(signals::list),
        ),
        (
            Method::POST,
            "/console/signals/{signal}/review",
            Page(ReviewSignals),
            axum::routing::post(signals::review),
        ),
        (
            Method::GET,
            "/console/ledger",
            Page(ViewLedger),
            get(ledger::trial_balance),
        ),
        (
            Method::GET,
            "/console/ledger/trial-balance.csv",
            Page(ViewLedger),
            get(ledger::trial_balance_csv),
        ),
        (
            Method::GET,
            "/console/ledger/accounts/{account}",
            Page(ViewLedger),
            get(ledger::account),
        ),
        (
            Method::GET,
            "/console/ledger/accounts/{account}/transfers.csv",
            Page(ViewLedger),
            get(ledger::account_csv),
        ),
        (
            Method::GET,
            "/console/programmes/{programme}/statement",
            Page(ViewLedger),
            get(ledger::statement),
        ),
        (
            Method::POST,
            "/console/programmes/{programme}/funding",
            Page(RecordFunding),
            axum::routing::post(ledger::fund),
        ),
        (
            Method::GET,
            "/console/payments",
            Page(ViewPayments),
            get(payments::overview),
        ),
        (
            Method::GET,
            "/console/payments/live",
            Page(ViewPayments),
            get(payments::live_stream),
        ),
        (
            Method::POST,
            "/console/payments/batches",
            Page(PreparePayments),
            axum::routing::post(payments::prepare),
        ),
        (
            Method::GET,
            "/console/payments/batches/{batch}",
            Page(ViewPayments),
            get(payments::batch),
        ),
        (
            Method::POST,
            "/console/payments/batches/{batch}/submit",
            Page(PreparePayments),
            axum::routing::post(payments::submit),
        ),
        (
            Method::POST,
            "/console/payments/batches/{batch}/cancel",
            Page(PreparePayments),
            axum::routing::post(payments::cancel),
        ),
        (
            Method::GET,
            "/console/payments/exceptions",
            Page(ViewPayments),
            get(payments::exception_queue),
        ),
        (
            Method::GET,
            "/console/payments/rails",
            Page(ViewPayments),
            get(payments::rails_page),
        ),
        (
            Method::GET,
            "/console/payments/floats",
            Page(ViewPayments),
            get(floats::page),
        ),
        (
            Method::POST,
            "/console/payments/rails/{rail}/state",
            Page(ManageRails),
            axum::routing::post(payments::rail_state),
        ),
        (
            Method::POST,
            "/console/payments/rails/{rail}/answers",
            Gate::Upload(HandleExceptions),
            axum::routing::post(payments::upload_answer),
        ),
        (
            Method::GET,
            "/console/payments/{payment}",
            Page(ViewPayments),
            get(payments::payment),
        ),
        (
            Method::POST,
            "/console/payments/{payment}/remedy",
            Page(HandleExceptions),
            axum::routing::post(payments::remedy),
        ),
        (
            Method::GET,
            "/console/cycles/{cycle}",
            Page(ViewProgrammes),
            get(cycles::show),
        ),
        (
            Method::POST,
            "/console/cycles/{cycle}/entitlements/{beneficiary}/exclusion",
            Page(ManageCycles),
            axum::routing::post(cycles::exclude),
        ),
        (
            Method::POST,
            "/console/cycles/{cycle}/submit",
            Page(ManageCycles),
            axum::routing::post(cycles::submit),
        ),
        (
            Method::POST,
            "/console/cycles/{cycle}/release",
            Page(ManageCycles),
            axum::routing::post(cycles::release),
        ),
    ]
}

/// The console's router (its paths are absolute, under `/console`).
pub fn router(state: AppState) -> Router<AppState> {
    let mut router = Router::new();
    for (_, path, gate, handler) in routes() {
        let handler = match gate {
            Gate::Public => handler,
            Gate::Page(permission) => handler.route_layer(axum::middleware::from_fn_with_state(
                Guarded {
                    state: state.clone(),
                    permission,
                    upload: false,
                },
                guard,
            )),
            Gate::Upload(permission) => handler.route_layer(axum::middleware::from_fn_with_state(
                Guarded {
                    state: state.clone(),
                    permission,
                    upload: true,
                },
                guard,
            )),
        };
        router = router.route(path, handler);
    }
    router.layer(axum::extract::DefaultBodyLimit::max(FORM_BYTES_MAX))
}

/// A signed-in person's visit: who, and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Visit {
    pub caller: Caller,
    pub csrf: String,
    /// The cookie's secret (to end the session at logout).
    secret: String,
}

impl Visit {
    pub fn lang(&self) -> Language {
        self.caller.language
    }
}

/// The session cookie's secret in a request, if any.
fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Whether a form comes from this site: an `Origin` (or else `Referer`)
/// naming another host is refused; browsers send one on every form POST.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => origin
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
            .is_some_and(|origin_host| origin_host == host),
        (_, None) => true,
        (None, Some(_)) => false,
    }
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// What [`guard`] checks a page against.
#[derive(Clone)]
pub struct Guarded {
    state: AppState,
    permission: Permission,
    /// The page's POST is an upload ([`Gate::Upload`]).
    upload: bool,
}

/// Reads an upload's first part, which must be the CSRF token; the parts
/// after it are left unread, for the page.
async fn upload_csrf(
    headers: &HeaderMap,
    body: Body,
    timeout: std::time::Duration,
) -> Result<(String, multer::Multipart<'static>), StatusCode> {
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or(StatusCode::UNSUPPORTED_MEDIA_TYPE)?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(import::UPLOAD_BYTES_MAX + FORM_BYTES_MAX as u64)
            .for_field("csrf", CSRF_BYTES_MAX),
    );
    let mut parts =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let read = async {
        let field = parts.next_field().await.ok()??;
        if field.name() != Some("csrf") {
            return None;
        }
        field.text().await.ok()
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Some(token)) => Ok((token, parts)),
        Ok(None) => Err(StatusCode::FORBIDDEN),
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
    }
}

/// Finds the visit, checks the page's permission and, for a form, its
/// CSRF token and origin; only then runs the page.
pub async fn guard(
    State(Guarded {
        state,
        permission,
        upload,
    }): State<Guarded>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(secret) = cookie_secret(&parts.headers) else {
        return to_login(&parts.method, parts.uri.path());
    };
    let found = {
        let state = state.clone();
        let secret = secret.clone();
        tokio::task::spawn_blocking(move || sessions::find(&state.storage, &secret, state.now()))
            .await
    };
    let session = match found {
        Ok(Ok(Some(session))) => session,
        Ok(Ok(None)) => return to_login(&parts.method, parts.uri.path()),
        Ok(Err(e)) => return Failure::from(e).into_response(),
        Err(_) => return Failure::internal().into_response(),
    };
    let visit = Visit {
        caller: session.caller.clone(),
        csrf: session.csrf.clone(),
        secret,
    };
    let lang = visit.lang();
    if !visit.caller.may(permission) {
        return Failure::new(StatusCode::FORBIDDEN, i18n::t(lang, "forbidden"))
            .with_visit(visit)
            .into_response();
    }
    let mut bytes = axum::body::Bytes::new();
    if parts.method == Method::POST && upload {
        let (token, rest) = match upload_csrf(&parts.headers, body, state.body_read_timeout).await {
            Ok((token, rest)) => (token, Some(rest)),
            Err(StatusCode::FORBIDDEN) => (String::new(), None),
            Err(status) => {
                return Failure::new(status, i18n::t(lang, "failed"))
                    .with_visit(visit)
                    .into_response();
            }
        };
        if !session.csrf_matches(&token) || !same_origin(&parts.headers) {
            tracing::info!(user = %visit.caller.username, path = parts.uri.path(), "console upload refused: CSRF");
            return Failure::new(StatusCode::FORBIDDEN, i18n::t(lang, "csrf"))
                .with_visit(visit)
                .into_response();
        }
        parts
            .extensions
            .insert(UploadParts(std::sync::Arc::new(std::sync::Mutex::new(
                rest,
            ))));
    } else if parts.method == Method::POST {
        let read = http_body_util::Limited::new(body, FORM_BYTES_MAX).collect();
        bytes = match tokio::time::timeout(state.body_read_timeout, read).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => {
                return Failure::new(StatusCode::PAYLOAD_TOO_LARGE, i18n::t(lang, "failed"))
                    .into_response();
            }
        };
        let token = form_field(&bytes, "csrf").unwrap_or_default();
        if !session.csrf_matches(&token) || !same_origin(&parts.headers) {
            tracing::info!(user = %visit.caller.username, path = parts.uri.path(), "console form refused: CSRF");
            return Failure::new(StatusCode::FORBIDDEN, i18n::t(lang, "csrf"))
                .with_visit(visit)
                .into_response();
        }
    }
    parts.extensions.insert(visit);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn to_login(method: &Method, path: &str) -> Response {
    if method == Method::GET && path != "/console/events" && path != "/console/payments/live" {
        Redirect::to("/console/login").into_response()
    } else {
        Failure::new(
            StatusCode::UNAUTHORIZED,
            i18n::t(Language::En, "session_ended"),
        )
        .into_response()
    }
}

/// Something a page could not do: shown as a page with its status.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
    /// Boxed: a failure travels in every page's `Result`.
    visit: Option<Box<Visit>>,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl ToString) -> Self {
        Self {
            status,
            message: message.to_string(),
            visit: None,
        }
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            i18n::t(Language::En, "failed"),
        )
    }

    /// Shows the failure inside the page frame of a signed-in person.
    pub fn with_visit(mut self, visit: Visit) -> Self {
        self.visit = Some(Box::new(visit));
        self
    }
}

impl<E: Refusal> From<E> for Failure {
    fn from(error: E) -> Self {
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(code = error.code(), "console page failed: {error}");
            return Self::internal();
        }
        Self::new(status, error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = html! { (layout::error(&self.message)) };
        let page = match &self.visit {
            Some(visit) => layout::page(visit, "", &self.status.to_string(), body),
            None => layout::bare(
                Language::En,
                &self.status.to_string(),
                html! {
                    (body)
                    p { a href="/console" { "Lastmile HQ" } }
                },
            ),
        };
        (self.status, Html(page.into_string())).into_response()
    }
}

/// Runs storage work off the async threads.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, Failure> + Send + 'static,
) -> Result<R, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Failure::internal())?
}

/// A form that gives a reason (for a proposal).
#[derive(Debug, serde::Deserialize)]
pub struct ReasonForm {
    reason: String,
}

/// Stores the proposal a console form makes, then goes to `next`.
async fn propose(
    state: AppState,
    visit: Visit,
    action: Result<Action, Failure>,
    form: ReasonForm,
    next: String,
) -> Response {
    let caller = visit.caller.clone();
    let done = blocking(move || {
        crate::proposals::propose(&state.storage, &caller, &action?, &form.reason, state.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other(&next),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

/// After a form: back to a page, with a notice key in the query.
fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// A page shown with a status of its own: a form's page again, with what
/// was wrong above it.
fn again(status: StatusCode, markup: Markup) -> Response {
    (status, html_page(markup)).into_response()
}

/// A page's answer: HTML, never cached (it shows live, per-person data).
fn html_page(markup: Markup) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(markup.into_string()),
    )
        .into_response()
}

async fn static_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        layout::CSS,
    )
        .into_response()
}

async fn static_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        layout::SCRIPT.0,
    )
        .into_response()
}
