//! The ledger over HTTP: the trial balance, an account's history, a
//! programme's statement, verification, and recording a funding.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;

use super::hq::{PageQuery, answer, bad_request, parse_json};
use super::registry::rows_refused;
use super::{AppState, Audience};
use crate::audit::Actor;
use crate::ledger::account::AccountId;
use crate::ledger::conversion;
use crate::ledger::funding;
use crate::ledger::rates::{self, RateRequest, RatesError};
use crate::ledger::{report, verify};
use crate::people::{Caller, Permission};
use crate::proposals;
use crate::storage::Storage;
use crate::storage::sql::Page;

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    use Audience::Hq;
    use Permission::*;
    vec![
        (
            Method::GET,
            "/v1/hq/ledger/accounts",
            Hq(ViewLedger),
            get(list_accounts),
        ),
        (
            Method::GET,
            "/v1/hq/ledger/accounts/{account}/transfers",
            Hq(ViewLedger),
            get(account_history),
        ),
        (
            Method::GET,
            "/v1/hq/ledger/verification",
            Hq(ViewLedger),
            get(verification),
        ),
        (
            Method::GET,
            "/v1/hq/programmes/{programme}/statement",
            Hq(ViewLedger),
            get(statement),
        ),
        (
            Method::POST,
            "/v1/hq/programmes/{programme}/funding",
            Hq(RecordFunding),
            post(fund),
        ),
        (
            Method::POST,
            "/v1/hq/programmes/{programme}/conversions",
            Hq(RecordFunding),
            post(convert),
        ),
        (
            Method::GET,
            "/v1/hq/exchange-rates",
            Hq(ViewLedger),
            get(list_rates),
        ),
        (
            Method::POST,
            "/v1/hq/exchange-rates",
            Hq(EnterRates),
            post(enter_rates),
        ),
        (
            Method::POST,
            "/v1/hq/exchange-rates/file",
            Hq(EnterRates),
            post(enter_rates_file),
        ),
    ]
}

/// `?programme=&limit=&offset=` of the trial balance.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsQuery {
    programme: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list_accounts(State(state): State<AppState>, Query(q): Query<AccountsQuery>) -> Response {
    answer(StatusCode::OK, move || {
        let page = Page::new(q.limit, q.offset);
        Ok(state
            .storage
            .transaction(|tx| report::lines(tx.sql(), q.programme.as_deref(), page))?)
    })
    .await
}

/// `?before=&limit=` of an account's history (newest first).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before: Option<u64>,
    limit: Option<u32>,
}

async fn account_history(
    State(state): State<AppState>,
    Path(account): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    answer(StatusCode::OK, move || {
        let account = AccountId::parse(&account).map_err(|e| bad_request("bad_account", &e))?;
        let limit = q.limit.unwrap_or(50);
        Ok(state
            .storage
            .transaction(|tx| report::history(tx.sql(), &account, q.before, limit))?)
    })
    .await
}

async fn verification(State(state): State<AppState>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(state.storage.transaction(|tx| verify::verify(tx.sql()))?)
    })
    .await
}

async fn statement(State(state): State<AppState>, Path(programme): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(state.storage.transaction(|tx| {
            crate::registry::programmes::get_in(tx, &programme)?;
            Ok::<_, crate::registry::RegistryError>(report::statement(tx.sql(), &programme)?)
        })?)
    })
    .await
}

async fn fund(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(programme): Path<String>,
    body: Bytes,
) -> Response {
    move_money(state, caller, programme, body, funding::record).await
}

async fn convert(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(programme): Path<String>,
    body: Bytes,
) -> Response {
    move_money(state, caller, programme, body, conversion::convert).await
}

/// What a finance request does to a programme's budget.
type MoneyAct<R, T, E> = fn(&Storage, &Actor, &str, &R, i64) -> Result<T, E>;

/// A finance request on a programme's budget: the body read as `R`, the
/// act done as the caller, `201` with what it did.
async fn move_money<R, T, E>(
    state: AppState,
    caller: Caller,
    programme: String,
    body: Bytes,
    act: MoneyAct<R, T, E>,
) -> Response
where
    R: serde::de::DeserializeOwned + Send + 'static,
    T: serde::Serialize + Send + 'static,
    E: Send + 'static,
    crate::api::ApiProblem: From<E>,
{
    answer(StatusCode::CREATED, move || {
        let request: R = parse_json(&body)?;
        Ok(act(
            &state.storage,
            &caller.actor(),
            &programme,
            &request,
            state.now(),
        )?)
    })
    .await
}

async fn list_rates(State(state): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    answer(StatusCode::OK, move || {
        Ok(state
            .storage
            .transaction(|tx| crate::storage::ledger::rates(tx.sql(), q.page()))?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesBody {
    rates: Vec<RateRequest>,
}

/// The rates entered and the proposal that puts them in force.
#[derive(serde::Serialize)]
struct Entered {
    rates: Vec<crate::storage::ledger::RateRow>,
    proposal: crate::storage::proposals::ProposalRow,
}

async fn enter_rates(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let body: RatesBody = parse_json(&body)?;
        let (rates, proposal) =
            proposals::enter_rates(&state.storage, &caller, &body.rates, "typed", state.now())?;
        Ok(Entered { rates, proposal })
    })
    .await
}

/// `?file_name=` of a rates file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileQuery {
    file_name: Option<String>,
}

async fn enter_rates_file(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<FileQuery>,
    body: Bytes,
) -> Response {
    let requests = match rates::read_file(&body) {
        Ok(requests) => requests,
        Err(RatesError::Rows(bad)) => {
            let detail = format!("{} rows have errors; nothing was entered", bad.len());
            return rows_refused(&detail, serde_json::json!({ "errors": bad }));
        }
        Err(e) => return crate::api::ApiProblem::from(e).into_response(),
    };
    answer(StatusCode::ACCEPTED, move || {
        let name = q.file_name.as_deref().unwrap_or("file");
        let source = crate::ledger::LedgerText::check_part("the file name", name)
            .map(|()| format!("file:{name}"))
            .map_err(|e| bad_request("bad_file_name", &e))?;
        let (rates, proposal) =
            proposals::enter_rates(&state.storage, &caller, &requests, &source, state.now())?;
        Ok(Entered { rates, proposal })
    })
    .await
}
