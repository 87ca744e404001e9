//! Alarms: what a person must look at that is not a double spend.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::t;
use super::{Visit, blocking, html_page, layout};
use crate::api::AppState;
use crate::storage::sql::Page;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    offset: Option<u64>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let offset = q.offset.unwrap_or(0);
    let limit = Page::default().limit;
    let found = blocking(move || {
        let mut all = state.storage.transaction(|tx| tx.alarms())?;
        all.reverse();
        Ok(Page::new(Some(limit), Some(offset)).slice(all))
    })
    .await;
    let lang = visit.lang();
    let alarms = match found {
        Ok(alarms) => alarms,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    html_page(layout::page(
        &visit,
        "alarms",
        t(lang, "alarms"),
        html! {
            @if alarms.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th.num scope="col" { "#" }
                        th scope="col" { (t(lang, "kind")) }
                        th scope="col" { (t(lang, "device")) }
                        th scope="col" { (t(lang, "detail")) }
                        th scope="col" { (t(lang, "raised")) }
                    } }
                    tbody {
                        @for a in &alarms {
                            tr {
                                td.num { (a.id) }
                                td { (a.kind) }
                                td.mono { (a.device.as_ref().map(|d| d.to_string()).unwrap_or_default()) @if let Some(seq) = a.seq { " #" (seq) } }
                                td { (a.detail) }
                                td { (layout::time(a.raised_at)) }
                            }
                        }
                    }
                }
                (layout::pager(lang, "/console/alarms", offset, limit, alarms.len()))
            }
        },
    ))
}
