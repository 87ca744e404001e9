//! The ledger over HTTP: the trial balance, an account's history, a
//! programme's statement, verification, and recording a funding.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;

use super::hq::{answer, bad_request, parse_json};
use super::{AppState, Audience};
use crate::ledger::account::AccountId;
use crate::ledger::funding::{self, FundingRequest};
use crate::ledger::{report, verify};
use crate::people::{Caller, Permission};
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
    answer(StatusCode::CREATED, move || {
        let request: FundingRequest = parse_json(&body)?;
        Ok(funding::record(
            &state.storage,
            &caller.actor(),
            &programme,
            &request,
            state.now(),
        )?)
    })
    .await
}
