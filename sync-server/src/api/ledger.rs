//! The ledger over HTTP: the trial balance, an account's history, a
//! programme's statement, verification, and recording a funding.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;

use super::hq::{PageQuery, answer, bad_request, parse_json};
use super::registry::rows_refused;
use super::{AppState, Audience};
use crate::audit::Actor;
use crate::ledger::account::AccountId;
use crate::ledger::conversion;
use crate::ledger::export::{self, Export};
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
            "/v1/hq/ledger/accounts.csv",
            Hq(ViewLedger),
            get(accounts_csv),
        ),
        (
            Method::GET,
            "/v1/hq/ledger/accounts/{account}/transfers.csv",
            Hq(ViewLedger),
            get(history_csv),
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

/// `?programme=&offset=` of the trial balance as CSV.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountsCsvQuery {
    pub programme: Option<String>,
    pub offset: Option<u64>,
}

async fn accounts_csv(
    State(state): State<AppState>,
    Query(q): Query<AccountsCsvQuery>,
) -> Response {
    let name = trial_balance_file(q.programme.as_deref());
    let made = super::blocking(false, move || {
        state.storage.transaction(|tx| {
            export::trial_balance(tx.sql(), q.programme.as_deref(), q.offset.unwrap_or(0))
        })
    })
    .await;
    match made {
        Ok(Ok(export)) => csv_file(&name, export, "offset"),
        Ok(Err(e)) => super::ApiProblem::from(e).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// `?before=` of an account's history as CSV.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryCsvQuery {
    pub before: Option<u64>,
}

async fn history_csv(
    State(state): State<AppState>,
    Path(account): Path<String>,
    Query(q): Query<HistoryCsvQuery>,
) -> Response {
    let account = match AccountId::parse(&account) {
        Ok(account) => account,
        Err(e) => return bad_request("bad_account", &e).into_response(),
    };
    let name = history_file(&account);
    let made = super::blocking(false, move || {
        state
            .storage
            .transaction(|tx| export::history(tx.sql(), &account, q.before))
    })
    .await;
    match made {
        Ok(Ok(export)) => csv_file(&name, export, "before"),
        Ok(Err(e)) => super::ApiProblem::from(e).into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The file name of a trial balance download.
pub(crate) fn trial_balance_file(programme: Option<&str>) -> String {
    match programme {
        Some(p) => file_name(&format!("trial-balance-{p}")),
        None => "trial-balance.csv".to_owned(),
    }
}

/// The file name of an account history download.
pub(crate) fn history_file(account: &AccountId) -> String {
    file_name(&format!("ledger-{}", account.as_str()))
}

/// `stem.csv` with every character but letters, digits, `.`, `_` and `-`
/// made `_` (a header value carries it).
fn file_name(stem: &str) -> String {
    let safe: String = stem
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    format!("{safe}.csv")
}

/// A CSV download; when the file stopped at its row limit,
/// `X-Lastmile-Next` holds the query (`offset=…` or `before=…`) of the next.
pub(crate) fn csv_file(name: &str, export: Export, cursor: &str) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        export.csv,
    )
        .into_response();
    if let Some(next) = export.next
        && let Ok(value) = HeaderValue::from_str(&format!("{cursor}={next}"))
    {
        response.headers_mut().insert("x-lastmile-next", value);
    }
    response
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
