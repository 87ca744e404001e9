//! The payment pipeline over HTTP: rails, batches (prepare, submit,
//! cancel, show with their files), payments with their timelines, totals
//! by state, the exception queue and its resolutions, a rail's answer
//! files uploaded by a person, and the field agents' floats reconciled.

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use lastmile_shared::id::SiteId;
use serde::{Deserialize, Serialize};

use super::hq::{PageQuery, answer, bad_request, parse_json};
use super::registry::spool;
use super::{ApiProblem, AppState, Audience};
use crate::payments::exceptions::{self, Remedy};
use crate::payments::rails::{self, NewBankRail};
use crate::payments::transport::ANSWER_BYTES_MAX;
use crate::payments::{PaymentError, answers, batches, floats, tracking};
use crate::people::{Caller, Permission};
use crate::storage::payments::PaymentFilter;

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    use Audience::{Hq, HqFile};
    use Permission::*;
    vec![
        (
            Method::GET,
            "/v1/hq/rails",
            Hq(ViewPayments),
            get(list_rails),
        ),
        (
            Method::POST,
            "/v1/hq/rails",
            Hq(ManageRails),
            post(add_rail),
        ),
        (
            Method::POST,
            "/v1/hq/rails/{rail}/state",
            Hq(ManageRails),
            post(rail_state),
        ),
        (
            Method::POST,
            "/v1/hq/rails/{rail}/answers",
            HqFile(HandleExceptions),
            post(upload_answer),
        ),
        (
            Method::GET,
            "/v1/hq/payment-batches",
            Hq(ViewPayments),
            get(list_batches),
        ),
        (
            Method::POST,
            "/v1/hq/payment-batches",
            Hq(PreparePayments),
            post(prepare),
        ),
        (
            Method::GET,
            "/v1/hq/payment-batches/{batch}",
            Hq(ViewPayments),
            get(show_batch),
        ),
        (
            Method::POST,
            "/v1/hq/payment-batches/{batch}/submission",
            Hq(PreparePayments),
            post(submit),
        ),
        (
            Method::POST,
            "/v1/hq/payment-batches/{batch}/cancellation",
            Hq(PreparePayments),
            post(cancel),
        ),
        (
            Method::GET,
            "/v1/hq/payments",
            Hq(ViewPayments),
            get(list_payments),
        ),
        (
            Method::GET,
            "/v1/hq/payment-totals",
            Hq(ViewPayments),
            get(totals),
        ),
        (
            Method::GET,
            "/v1/hq/payments/{payment}",
            Hq(ViewPayments),
            get(show_payment),
        ),
        (
            Method::POST,
            "/v1/hq/payments/{payment}/remedy",
            Hq(HandleExceptions),
            post(resolve),
        ),
        (
            Method::GET,
            "/v1/hq/floats",
            Hq(ViewPayments),
            get(list_floats),
        ),
    ]
}

async fn list_rails(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || Ok(rails::list(&state.storage)?)).await
}

async fn add_rail(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::CREATED, move || {
        let new: NewBankRail = parse_json(&body)?;
        Ok(rails::add_bank(
            &state.storage,
            &caller.actor(),
            &new,
            state.now(),
        )?)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RailState {
    down: bool,
}

async fn rail_state(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(rail): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::OK, move || {
        let RailState { down } = parse_json(&body)?;
        Ok(rails::set_down(
            &state.storage,
            &caller.actor(),
            &rail,
            down,
            state.now(),
        )?)
    })
    .await
}

/// `?name=` of an uploaded answer file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerQuery {
    name: Option<String>,
}

async fn upload_answer(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(rail): Path<String>,
    Query(q): Query<AnswerQuery>,
    body: Body,
) -> Response {
    let spooled = match spool(body).await {
        Ok(spooled) => spooled,
        Err(problem) => return problem.into_response(),
    };
    answer(StatusCode::CREATED, move || {
        let bytes = crate::payments::transport::read(&spooled.0, ANSWER_BYTES_MAX)
            .map_err(|e| ApiProblem::json(StatusCode::INTERNAL_SERVER_ERROR, "spool", e))?
            .ok_or(PaymentError::FileTooLarge {
                max: ANSWER_BYTES_MAX,
            })?;
        let name = q.name.unwrap_or_else(|| "upload.xml".to_owned());
        Ok(answers::import(
            &state.storage,
            &caller.actor(),
            &rail,
            &name,
            &bytes,
            state.now(),
        )?)
    })
    .await
}

/// `?cycle=&limit=&offset=` of the batches.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchesQuery {
    cycle: Option<i64>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_batches(State(state): State<AppState>, Query(q): Query<BatchesQuery>) -> Response {
    answer(StatusCode::OK, move || {
        let page = PageQuery {
            limit: q.limit,
            offset: q.offset,
        }
        .page();
        Ok(batches::list(&state.storage, q.cycle, page)?)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Prepare {
    cycle: i64,
    rail: String,
}

async fn prepare(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::CREATED, move || {
        let Prepare { cycle, rail } = parse_json(&body)?;
        Ok(batches::prepare(
            &state.storage,
            &caller,
            cycle,
            &rail,
            state.now(),
        )?)
    })
    .await
}

/// A batch with its files.
#[derive(Debug, Serialize)]
struct BatchAnswer {
    #[serde(flatten)]
    batch: batches::BatchView,
    files: Vec<crate::storage::payments::RailFileRow>,
    totals: Vec<crate::storage::payments::StateTotal>,
}

async fn show_batch(State(state): State<AppState>, Path(batch): Path<i64>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(BatchAnswer {
            batch: batches::get(&state.storage, batch)?,
            files: batches::files(&state.storage, batch)?,
            totals: tracking::totals(&state.storage, None, None, Some(batch))?,
        })
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch): Path<i64>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let Reason { reason } = parse_json(&body)?;
        Ok(batches::submit(
            &state.storage,
            &caller,
            batch,
            &reason,
            state.now(),
        )?)
    })
    .await
}

async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch): Path<i64>,
) -> Response {
    answer(StatusCode::OK, move || {
        Ok(batches::cancel_draft(
            &state.storage,
            &caller,
            batch,
            state.now(),
        )?)
    })
    .await
}

/// `?batch=&cycle=&state=&exceptions=&limit=&offset=` of the payments.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentsQuery {
    batch: Option<i64>,
    cycle: Option<i64>,
    state: Option<String>,
    #[serde(default)]
    exceptions: bool,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_payments(State(state): State<AppState>, Query(q): Query<PaymentsQuery>) -> Response {
    answer(StatusCode::OK, move || {
        let filter = PaymentFilter {
            batch: q.batch,
            cycle: q.cycle,
            state: q.state,
            exceptions_only: q.exceptions,
        };
        let page = PageQuery {
            limit: q.limit,
            offset: q.offset,
        }
        .page();
        Ok(tracking::list(&state.storage, &filter, page)?)
    })
    .await
}

/// `?site=&limit=&offset=` of the field agents' floats.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloatsQuery {
    site: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_floats(State(state): State<AppState>, Query(q): Query<FloatsQuery>) -> Response {
    answer(StatusCode::OK, move || {
        let page = PageQuery {
            limit: q.limit,
            offset: q.offset,
        }
        .page();
        let site = q
            .site
            .map(|site| {
                SiteId::parse(&site).map_err(|e| bad_request("bad_site", format!("site: {e}")))
            })
            .transpose()?;
        Ok(floats::list(
            &state.storage,
            site.as_ref().map(SiteId::as_str),
            page,
        )?)
    })
    .await
}

/// `?programme=&cycle=&batch=` of the totals.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TotalsQuery {
    programme: Option<String>,
    cycle: Option<i64>,
    batch: Option<i64>,
}

async fn totals(State(state): State<AppState>, Query(q): Query<TotalsQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(tracking::totals(
            &state.storage,
            q.programme.as_deref(),
            q.cycle,
            q.batch,
        )?)
    })
    .await
}

async fn show_payment(State(state): State<AppState>, Path(payment): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(tracking::get(&state.storage, &payment)?)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resolve {
    /// retry, reroute, cancel or mark_paid.
    action: String,
    reason: String,
}

async fn resolve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(payment): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let Resolve { action, reason } = parse_json(&body)?;
        let remedy = Remedy::parse(&action).ok_or_else(|| {
            bad_request(
                "bad_resolution",
                format!("{action:?} is not retry, reroute, cancel or mark_paid"),
            )
        })?;
        Ok(exceptions::propose(
            &state.storage,
            &caller,
            &payment,
            remedy,
            &reason,
            state.now(),
        )?)
    })
    .await
}
