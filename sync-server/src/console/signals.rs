//! Fraud signals: what the registry found for a person to look at (the
//! same national ID, phone, account or wallet on several people, odd
//! households), open ones first, each reviewed with a note.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, again, blocking, layout, see_other};
use crate::api::AppState;
use crate::people::{Language, Permission};
use crate::registry::signals;
use crate::storage::registry::SignalRow;
use crate::storage::sql::Page;

/// A signal's kind in words.
fn kind_words(lang: Language, kind: &str) -> String {
    match kind {
        "same_national_id" => t(lang, "signal_same_national_id"),
        "same_phone" => t(lang, "signal_same_phone"),
        "same_account" => t(lang, "signal_same_account"),
        "same_wallet" => t(lang, "signal_same_wallet"),
        "household_too_large" => t(lang, "signal_household_too_large"),
        "household_without_head" => t(lang, "signal_household_without_head"),
        "household_heads" => t(lang, "signal_household_heads"),
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Links to the people a signal names (`programme/beneficiary`, or
/// `programme/household:H` for a household).
fn who(signal: &SignalRow) -> Markup {
    let names: Vec<String> = serde_json::from_str(&signal.beneficiaries).unwrap_or_default();
    html! {
        ul.who-list {
            @for name in &names {
                @if let Some((programme, rest)) = name.split_once('/') {
                    li {
                        @if let Some(household) = rest.strip_prefix("household:") {
                            a href=(format!("/console/programmes/{programme}/beneficiaries?q={}", layout::query_value(household))) { (programme) " · " (household) }
                        } @else {
                            a href=(format!("/console/programmes/{programme}/beneficiaries/{rest}")) { (programme) " · " (rest) }
                        }
                    }
                } @else {
                    li { (name) }
                }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    programme: Option<String>,
    offset: Option<u64>,
    done: Option<String>,
}

async fn render(
    state: AppState,
    visit: Visit,
    q: ListQuery,
    top: Markup,
    status: StatusCode,
) -> Response {
    let programme = q
        .programme
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    let page = Page::new(None, q.offset);
    let wanted = programme.clone();
    let found = blocking(move || {
        Ok(signals::list(
            &state.storage,
            wanted.as_deref(),
            false,
            page,
        )?)
    })
    .await;
    let lang = visit.lang();
    let rows = match found {
        Ok(rows) => rows,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let base = match &programme {
        Some(p) => format!("/console/signals?programme={}", layout::query_value(p)),
        None => "/console/signals".to_owned(),
    };
    let review = visit.caller.may(Permission::ReviewSignals);
    let title = match &programme {
        Some(p) => format!("{} · {p}", t(lang, "signals")),
        None => t(lang, "signals").to_owned(),
    };
    let markup = html! {
        (top)
        @if let Some(p) = &programme {
            div.links {
                a href=(format!("/console/programmes/{p}")) { (t(lang, "programme")) " " (p) }
                a href="/console/signals" { (t(lang, "all_signals")) }
            }
        }
        p.hint { (t(lang, "signals_hint")) }
        @if rows.is_empty() {
            p { (t(lang, "no_signals")) }
        } @else {
            div.wide {
                table #signals {
                    thead { tr {
                        th.num scope="col" { "#" }
                        th scope="col" { (t(lang, "signal")) }
                        th scope="col" { (t(lang, "value")) }
                        th scope="col" { (t(lang, "who")) }
                        th scope="col" { (t(lang, "found")) }
                        th scope="col" { (t(lang, "review")) }
                    } }
                    tbody {
                        @for s in &rows {
                            tr {
                                td.num { (s.id) }
                                td {
                                    (kind_words(lang, &s.kind))
                                    @if s.programme.is_none() { br; small { (t(lang, "across_programmes")) } }
                                }
                                td.mono.keep { (s.value) }
                                td { (who(s)) }
                                td { (layout::time(s.detected_at)) }
                                td {
                                    @if let (Some(by), Some(at)) = (&s.reviewed_by, s.reviewed_at) {
                                        span.ok { (t(lang, "reviewed")) } br;
                                        small { (by) ", " (layout::time(at)) }
                                        @if let Some(note) = &s.review_note { br; small { (note) } }
                                    } @else if review {
                                        form method="post" action=(format!("/console/signals/{}/review", s.id)) {
                                            (layout::csrf_field(&visit))
                                            @if let Some(p) = &programme { input type="hidden" name="programme" value=(p); }
                                            input name="note" required maxlength="1000" placeholder=(t(lang, "note")) aria-label=(format!("{} #{}", t(lang, "note"), s.id));
                                            button type="submit" { (t(lang, "mark_reviewed")) }
                                        }
                                    } @else {
                                        span.status-open { (t(lang, "open")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (layout::pager(lang, &base, page.offset, page.limit, rows.len()))
        }
    };
    again(status, layout::page(&visit, "signals", &title, markup))
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let top = match q.done.as_deref() {
        Some(_) => layout::notice(t(visit.lang(), "signal_reviewed")),
        None => html! {},
    };
    render(state, visit, q, top, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    note: String,
    programme: Option<String>,
}

pub async fn review(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(signal): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Response {
    let actor = visit.caller.actor();
    let shared = state.clone();
    let note = form.note.clone();
    let done = blocking(move || {
        let id: i64 = signal.parse().map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("{signal:?} is not a signal number"),
            )
        })?;
        signals::review(&shared.storage, &actor, id, &note, shared.now())?;
        Ok(())
    })
    .await;
    let programme = form.programme.filter(|p| !p.is_empty());
    match done {
        Ok(()) => see_other(&match &programme {
            Some(p) => format!(
                "/console/signals?programme={}&done=reviewed",
                layout::query_value(p)
            ),
            None => "/console/signals?done=reviewed".to_owned(),
        }),
        Err(failure) => {
            let top = layout::error(&failure.message);
            let q = ListQuery {
                programme,
                ..ListQuery::default()
            };
            render(state, visit, q, top, failure.status).await
        }
    }
}
