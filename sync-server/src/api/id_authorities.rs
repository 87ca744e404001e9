//! ID authorities over HTTP: list them, propose one, propose retiring one.
//! Both proposals wait for an approver (`/v1/hq/proposals/{id}/decision`).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;

use super::hq::{answer, bad_request, parse_json};
use super::{ApiProblem, AppState, Audience};
use crate::id_authorities::{self, IdAuthorityError, NewKey};
use crate::people::{Caller, Permission};
use crate::storage::sql::Page;

/// The states a key can be listed by.
pub const STATES: [&str; 4] = ["proposed", "active", "retired", "rejected"];

pub fn routes() -> Vec<(Method, &'static str, Audience, MethodRouter<AppState>)> {
    use Audience::Hq;
    use Permission::*;
    vec![
        (
            Method::GET,
            "/v1/hq/id-authorities",
            Hq(ViewKeys),
            get(list),
        ),
        (
            Method::POST,
            "/v1/hq/id-authorities",
            Hq(ManageIdAuthorities),
            post(propose_add),
        ),
        (
            Method::GET,
            "/v1/hq/id-authorities/{kid}",
            Hq(ViewKeys),
            get(show),
        ),
        (
            Method::POST,
            "/v1/hq/id-authorities/{kid}/retire",
            Hq(ManageIdAuthorities),
            post(propose_retire),
        ),
    ]
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

async fn list(State(state): State<AppState>, Query(q): Query<ListQuery>) -> Response {
    answer(StatusCode::OK, move || {
        if let Some(wanted) = &q.state
            && !STATES.contains(&wanted.as_str())
        {
            return Err(bad_request(
                "bad_state",
                format!("state is one of {}", STATES.join(", ")),
            ));
        }
        Ok(id_authorities::list(
            &state.storage,
            q.state.as_deref(),
            Page::new(q.limit, q.offset),
        )?)
    })
    .await
}

async fn show(State(state): State<AppState>, Path(kid): Path<String>) -> Response {
    answer(StatusCode::OK, move || {
        id_authorities::get(&state.storage, &kid)?
            .ok_or_else(|| ApiProblem::from(IdAuthorityError::Unknown(kid)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddRequest {
    authority: NewKey,
    reason: String,
}

async fn propose_add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let request: AddRequest = parse_json(&body)?;
        Ok(id_authorities::propose_add(
            &state.storage,
            &caller,
            &request.authority,
            &request.reason,
            state.now(),
        )?)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetireRequest {
    reason: String,
}

async fn propose_retire(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(kid): Path<String>,
    body: Bytes,
) -> Response {
    answer(StatusCode::ACCEPTED, move || {
        let request: RetireRequest = parse_json(&body)?;
        Ok(id_authorities::propose_retire(
            &state.storage,
            &caller,
            &kid,
            &request.reason,
            state.now(),
        )?)
    })
    .await
}
