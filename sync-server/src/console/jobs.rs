//! Background jobs: how many wait, run, are done or dead, and the dead ones
//! with the error that killed them (the dead letters a person must see).

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::t;
use super::{Visit, blocking, html_page, layout};
use crate::api::AppState;
use crate::storage::jobs::{self as table, JobState};
use crate::storage::sql::Page;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    offset: Option<u64>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let wanted = q
        .state
        .as_deref()
        .and_then(JobState::parse)
        .unwrap_or(JobState::Dead);
    let page = Page::new(None, q.offset);
    let found = blocking(move || {
        Ok(state.storage.transaction(|tx| {
            Ok::<_, crate::storage::StorageError>((
                table::counts(tx.sql())?,
                table::list(tx.sql(), wanted, page)?,
            ))
        })?)
    })
    .await;
    let lang = visit.lang();
    let (counts, rows) = match found {
        Ok(found) => found,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let tiles = [
        (JobState::Queued, counts.queued),
        (JobState::Running, counts.running),
        (JobState::Done, counts.done),
        (JobState::Dead, counts.dead),
    ];
    let base = format!("/console/jobs?state={}", wanted.as_str());
    html_page(layout::page(
        &visit,
        "jobs",
        t(lang, "jobs"),
        html! {
            div.tiles {
                @for (state, count) in tiles {
                    a.tile.alert[state == JobState::Dead && count > 0] href=(format!("/console/jobs?state={}", state.as_str()))
                        aria-current=[(state == wanted).then_some("true")] {
                        b { (count) }
                        span { (t(lang, &format!("job_{}", state.as_str()))) }
                    }
                }
            }
            h2 { (t(lang, &format!("job_{}", wanted.as_str()))) }
            @if rows.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (t(lang, "kind")) }
                        th scope="col" { (t(lang, "key")) }
                        th.num scope="col" { (t(lang, "attempts")) }
                        th scope="col" { (t(lang, "opened")) }
                        th scope="col" { (t(lang, "last_error")) }
                    } }
                    tbody {
                        @for job in &rows {
                            tr {
                                td { (job.kind) }
                                td.mono { (job.key) }
                                td.num { (job.attempts) " / " (job.max_attempts) }
                                td { (layout::time(job.created_at.div_euclid(1000))) }
                                td { (job.last_error.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                (layout::pager(lang, &base, page.offset, page.limit, rows.len()))
            }
        },
    ))
}
