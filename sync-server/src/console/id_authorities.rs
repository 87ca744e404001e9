//! ID authorities: the keys whose Claim 169 ID cards terminals accept.
//! Adding and retiring one are proposals an approver decides on the
//! Approvals page; the approval reseals every terminal's policy.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use super::i18n::t;
use super::programmes::state_word;
use super::{ReasonForm, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::id_authorities::{self, NewKey};
use crate::people::Permission;
use crate::proposals::Action;
use crate::storage::sql::Page;

/// Keys listed on the page.
const SHOWN: u32 = 200;

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let found = blocking(move || {
        Ok(id_authorities::list(
            &state.storage,
            None,
            Page::first(SHOWN),
        )?)
    })
    .await;
    let lang = visit.lang();
    let all = match found {
        Ok(all) => all,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let manage = visit.caller.may(Permission::ManageIdAuthorities);
    html_page(layout::page(
        &visit,
        "id_authorities",
        t(lang, "id_authorities"),
        html! {
            @if q.done.is_some() { (layout::notice(t(lang, "proposed"))) }
            p { (t(lang, "id_authorities_about")) }
            @if all.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (t(lang, "name")) }
                        th scope="col" { (t(lang, "kid")) }
                        th scope="col" { (t(lang, "algorithm")) }
                        th scope="col" { (t(lang, "valid_from")) }
                        th scope="col" { (t(lang, "valid_until")) }
                        th scope="col" { (t(lang, "status")) }
                        th scope="col" { (t(lang, "proposed_by")) }
                        th scope="col" { (t(lang, "approved_by")) }
                        @if manage { th scope="col" { (t(lang, "retire")) } }
                    } }
                    tbody {
                        @for a in &all {
                            tr {
                                td { (a.name) }
                                td.mono { (a.kid) }
                                td { (a.algorithm) }
                                td { (layout::time(a.valid_from)) }
                                td { (a.valid_until.map(layout::time).unwrap_or_else(|| "-".to_owned())) }
                                td { (state_word(lang, &a.state)) }
                                td { (a.proposed_by) }
                                td { (a.approved_by.as_deref().unwrap_or("-")) }
                                @if manage {
                                    td {
                                        @if a.state == "active" {
                                            form method="post" action=(format!("/console/id-authorities/{}/retire", a.kid)) {
                                                (layout::csrf_field(&visit))
                                                label for=(format!("retire-{}", a.kid)) { (t(lang, "reason")) }
                                                input id=(format!("retire-{}", a.kid)) name="reason" required maxlength="1000";
                                                button type="submit" { (t(lang, "propose_retire")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if manage {
                form.card method="post" action="/console/id-authorities" {
                    h2 { (t(lang, "new_id_authority")) }
                    (layout::csrf_field(&visit))
                    div.filters {
                        div { label for="name" { (t(lang, "name")) } input #name name="name" required maxlength="100"; }
                        div { label for="kid" { (t(lang, "kid")) } input #kid name="kid" required maxlength="64" pattern="[A-Za-z0-9._:\\-]+"; }
                        div {
                            label for="algorithm" { (t(lang, "algorithm")) }
                            select #algorithm name="algorithm" {
                                option value="Ed25519" { "Ed25519" }
                                option value="ES256" { "ES256" }
                            }
                        }
                        div { label for="valid_from" { (t(lang, "valid_from")) } input #valid_from name="valid_from" type="date"; }
                        div { label for="valid_until" { (t(lang, "valid_until")) } input #valid_until name="valid_until" type="date"; }
                    }
                    label for="public_key" { (t(lang, "public_key_hex")) }
                    input #public_key.mono name="public_key" required maxlength="200" size="70";
                    label for="reason" { (t(lang, "reason")) }
                    textarea #reason name="reason" required maxlength="1000" {}
                    button type="submit" { (t(lang, "propose")) }
                }
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    name: String,
    kid: String,
    algorithm: String,
    public_key: String,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    reason: String,
}

pub async fn add(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<AddForm>,
) -> Response {
    let caller = visit.caller.clone();
    let done = blocking(move || {
        let key = NewKey {
            name: form.name,
            kid: form.kid,
            algorithm: form.algorithm,
            public_key: form.public_key,
            valid_from: form.valid_from,
            valid_until: form.valid_until,
        };
        id_authorities::propose_add(&state.storage, &caller, &key, &form.reason, state.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/id-authorities?done=proposed"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn retire(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(kid): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let action = Ok(Action::RetireIdAuthority(kid));
    let next = "/console/id-authorities?done=proposed".to_owned();
    super::propose(state, visit, action, form, next).await
}
