//! Offline limits per currency, and the keys (public halves).

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::i18n::t;
use super::{Visit, blocking, html_page, layout};
use crate::api::AppState;
use crate::keys;
use crate::limits;

pub async fn show(State(state): State<AppState>, Extension(visit): Extension<Visit>) -> Response {
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
        },
    ))
}

pub async fn keys(State(state): State<AppState>, Extension(visit): Extension<Visit>) -> Response {
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
        },
    ))
}
