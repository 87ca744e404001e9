//! Offline limits per currency (set by an admin), and the keys (public
//! halves), whose rotation an admin proposes and an approver approves.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use lastmile_shared::money::{Currency, Money};
use lastmile_shared::rules::OfflineLimits;
use maud::html;
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, ReasonForm, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::keys;
use crate::limits;
use crate::people::Permission;
use crate::proposals::Action;

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let found = blocking(move || Ok(limits::list(&state.storage)?)).await;
    let lang = visit.lang();
    let all = match found {
        Ok(all) => all,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    html_page(layout::page(
        &visit,
        "limits",
        t(lang, "limits"),
        html! {
            @if q.done.is_some() { (layout::notice(t(lang, "done"))) }
            @if all.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (t(lang, "currency")) }
                        th.num scope="col" { (t(lang, "credential_max")) }
                        th.num scope="col" { (t(lang, "unsynced_value_max")) }
                        th.num scope="col" { (t(lang, "unsynced_count_max")) }
                        th.num scope="col" { (t(lang, "offline_hours_max")) }
                    } }
                    tbody {
                        @for l in &all {
                            @let currency = l.currency.to_string();
                            tr {
                                td { (currency) }
                                td.num { (layout::money(l.credential_value_max_minor, &currency)) }
                                td.num { (layout::money(l.unsynced_value_max_minor, &currency)) }
                                td.num { (l.unsynced_count_max) }
                                td.num { (l.offline_seconds_max / 3600) }
                            }
                        }
                    }
                }
            }
            @if visit.caller.may(Permission::ManageLimits) {
                form.card method="post" action="/console/limits" {
                    h2 { (t(lang, "set_limits")) }
                    (layout::csrf_field(&visit))
                    div.filters {
                        div { label for="currency" { (t(lang, "currency")) } input #currency name="currency" required maxlength="3" size="4" placeholder="KES"; }
                        div { label for="credential_max" { (t(lang, "credential_max")) } input #credential_max name="credential_max" required inputmode="decimal" placeholder="5000"; }
                        div { label for="unsynced_value_max" { (t(lang, "unsynced_value_max")) } input #unsynced_value_max name="unsynced_value_max" required inputmode="decimal" placeholder="50000"; }
                        div { label for="unsynced_count_max" { (t(lang, "unsynced_count_max")) } input #unsynced_count_max name="unsynced_count_max" required inputmode="numeric" placeholder="200"; }
                        div { label for="offline_hours_max" { (t(lang, "offline_hours_max")) } input #offline_hours_max name="offline_hours_max" required inputmode="numeric" placeholder="72"; }
                        button type="submit" { (t(lang, "set_limits")) }
                    }
                }
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct LimitsForm {
    currency: String,
    credential_max: String,
    unsynced_value_max: String,
    unsynced_count_max: String,
    offline_hours_max: String,
}

fn bad(message: impl ToString) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, message)
}

/// Limits in major units as a person types them, checked into minor units.
fn parse_limits(form: &LimitsForm) -> Result<OfflineLimits, Failure> {
    let currency = Currency::parse(form.currency.trim()).map_err(bad)?;
    let money = |text: &str| {
        Money::parse(text.trim(), currency)
            .map(|m| m.minor)
            .map_err(bad)
    };
    let hours: i64 = form
        .offline_hours_max
        .trim()
        .parse()
        .map_err(|_| bad("the offline hours are a whole number"))?;
    Ok(OfflineLimits {
        currency,
        credential_value_max_minor: money(&form.credential_max)?,
        unsynced_value_max_minor: money(&form.unsynced_value_max)?,
        unsynced_count_max: form
            .unsynced_count_max
            .trim()
            .parse()
            .map_err(|_| bad("the entry count is a whole number"))?,
        offline_seconds_max: hours
            .checked_mul(3600)
            .ok_or_else(|| bad("too many hours"))?,
    })
}

pub async fn set(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Form(form): Form<LimitsForm>,
) -> Response {
    let actor = visit.caller.actor();
    let done = blocking(move || {
        let limits = parse_limits(&form)?;
        limits::set(&state.storage, &state.keys, &actor, &limits, state.now())?;
        Ok(())
    })
    .await;
    match done {
        Ok(()) => see_other("/console/limits?done=set"),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}

pub async fn keys(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let found = blocking(move || Ok(keys::key_views(&state.storage)?)).await;
    let lang = visit.lang();
    let all = match found {
        Ok(all) => all,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    html_page(layout::page(
        &visit,
        "keys",
        t(lang, "keys"),
        html! {
            @if q.done.is_some() { (layout::notice(t(lang, "proposed"))) }
            @if all.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (t(lang, "key")) }
                        th scope="col" { (t(lang, "kind")) }
                        th scope="col" { (t(lang, "issuer")) }
                        th scope="col" { (t(lang, "status")) }
                        th scope="col" { (t(lang, "valid_until")) }
                    } }
                    tbody {
                        @for k in &all {
                            tr {
                                td.mono { (k.kid) }
                                td { (k.role) }
                                td { (k.issuer.as_deref().unwrap_or("-")) }
                                td { (serde_json::to_string(&k.status).unwrap_or_default().trim_matches('"')) }
                                td { (k.valid_until.map(layout::time).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
            @if visit.caller.may(Permission::ProposeKeyRotation) {
                @for (which, key) in [("issuer", "rotate_issuer"), ("root", "rotate_root")] {
                    form.card method="post" action=(format!("/console/keys/{which}/rotate")) {
                        h2 { (t(lang, key)) }
                        (layout::csrf_field(&visit))
                        label for=(format!("reason-{which}")) { (t(lang, "reason")) }
                        textarea id=(format!("reason-{which}")) name="reason" required maxlength="1000" {}
                        button type="submit" { (t(lang, "propose")) }
                    }
                }
            }
        },
    ))
}

pub async fn propose_rotation(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(which): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let action = match which.as_str() {
        "issuer" => Ok(Action::RotateIssuerKey(state.issuer.clone())),
        "root" => Ok(Action::RotateRootKey),
        _ => Err(Failure::new(StatusCode::NOT_FOUND, "no such key")),
    };
    let next = "/console/keys?done=proposed".to_owned();
    super::propose(state, visit, action, form, next).await
}
