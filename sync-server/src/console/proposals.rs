//! Approvals: what waits for a second person, approved or rejected by an
//! approver who did not propose it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;

use super::i18n::t;
use super::{Failure, Visit, blocking, html_page, layout, see_other};
use crate::api::AppState;
use crate::people::{Language, Permission};
use crate::proposals::{self, Decision, ProposalError};
use crate::storage::sql::Page;

/// A payment proposal's kind in words (other kinds show their code).
fn kind_words(lang: Language, kind: &str) -> Option<&'static str> {
    Some(match kind {
        "batch.approve" => t(lang, "kind_batch_approve"),
        "payment.retry" => t(lang, "kind_payment_retry"),
        "payment.reroute" => t(lang, "kind_payment_reroute"),
        "payment.cancel" => t(lang, "kind_payment_cancel"),
        "payment.mark_paid" => t(lang, "kind_payment_mark_paid"),
        _ => return None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    offset: Option<u64>,
    done: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<ListQuery>,
) -> Response {
    let lang = visit.lang();
    let wanted = q
        .state
        .clone()
        .filter(|s| ["pending", "approved", "rejected"].contains(&s.as_str()));
    let page = Page::new(None, q.offset);
    let filter = wanted.clone();
    let found =
        blocking(move || Ok(proposals::list(&state.storage, filter.as_deref(), page)?)).await;
    let rows = match found {
        Ok(rows) => rows,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let base = match &wanted {
        Some(s) => format!("/console/proposals?state={s}"),
        None => "/console/proposals".to_owned(),
    };
    html_page(layout::page(
        &visit,
        "proposals",
        t(lang, "proposals"),
        html! {
            @match q.done.as_deref() {
                Some("approved") | Some("rejected") => (layout::notice(t(lang, "done"))),
                _ => {}
            }
            nav.filters aria-label=(t(lang, "filter")) {
                a href="/console/proposals" { "*" }
                @for s in ["pending", "approved", "rejected"] {
                    a href=(format!("/console/proposals?state={s}")) aria-current=[(wanted.as_deref() == Some(s)).then_some("true")] { (t(lang, s)) }
                }
            }
            @if rows.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th.num scope="col" { "#" }
                        th scope="col" { (t(lang, "kind")) }
                        th scope="col" { (t(lang, "object")) }
                        th scope="col" { (t(lang, "reason")) }
                        th scope="col" { (t(lang, "proposed_by")) }
                        th scope="col" { (t(lang, "status")) }
                        th scope="col" { (t(lang, "decided_by")) }
                    } }
                    tbody {
                        @for p in &rows {
                            tr data-kind=(p.kind) {
                                td.num { (p.id) }
                                td {
                                    @if let Some(words) = kind_words(lang, &p.kind) { (words) br; small.mono { (p.kind) } }
                                    @else { (p.kind) }
                                }
                                td.mono {
                                    @if let Some(v) = p.object.strip_prefix("voucher:") {
                                        a href=(format!("/console/vouchers/{v}")) { (p.object) }
                                    } @else if let Some(c) = p.object.strip_prefix("case:") {
                                        a href=(format!("/console/cases/{c}")) { (p.object) }
                                    } @else if let Some(c) = p.object.strip_prefix("cycle:") {
                                        a href=(format!("/console/cycles/{c}")) { (p.object) }
                                        br; a href=(format!("/console/cycles/{c}")) { small { (t(lang, "see_cycle")) } }
                                    } @else if let Some(b) = p.object.strip_prefix("batch:") {
                                        a href=(format!("/console/payments/batches/{b}")) { (p.object) }
                                        br; a href=(format!("/console/payments/batches/{b}")) { small { (t(lang, "see_batch")) } }
                                    } @else if let Some(k) = p.object.strip_prefix("payment:") {
                                        a href=(format!("/console/payments/{}", layout::query_value(k))) { (p.object) }
                                        br; a href=(format!("/console/payments/{}", layout::query_value(k))) { small { (t(lang, "see_payment")) } }
                                    } @else { (p.object) }
                                }
                                td { (p.reason) }
                                td { (p.proposed_by_name) br; small { (layout::time(p.proposed_at)) } }
                                td { span class=(format!("status-{}", p.state)) { (t(lang, &p.state)) } }
                                td {
                                    @if let Some(by) = &p.decided_by_name {
                                        (by) br; small { (p.decided_at.map(layout::time).unwrap_or_default()) }
                                        @if let Some(note) = &p.decision_note { br; small { (note) } }
                                    } @else if p.state == "pending" && visit.caller.may(Permission::Decide) {
                                        @if p.proposed_by == visit.caller.id {
                                            small { (t(lang, "own_proposal")) }
                                        } @else {
                                            form method="post" action=(format!("/console/proposals/{}/decision", p.id)) {
                                                (layout::csrf_field(&visit))
                                                label for=(format!("note-{}", p.id)) { (t(lang, "note")) }
                                                input id=(format!("note-{}", p.id)) name="note" required maxlength="1000";
                                                button type="submit" name="decision" value="approve" { (t(lang, "approve")) }
                                                " "
                                                button.secondary type="submit" name="decision" value="reject" { (t(lang, "reject")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (layout::pager(lang, &base, page.offset, page.limit, rows.len()))
            }
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    decision: String,
    note: String,
}

pub async fn decide(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Path(proposal): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let caller = visit.caller.clone();
    let lang = visit.lang();
    let done = blocking(move || {
        let id: i64 = proposal.parse().map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("{proposal:?} is not a proposal number"),
            )
        })?;
        let decision = match form.decision.as_str() {
            "approve" => Decision::Approve,
            "reject" => Decision::Reject,
            _ => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    "decide approve or reject",
                ));
            }
        };
        match proposals::decide(
            &state.storage,
            &state.keys,
            &caller,
            id,
            decision,
            &form.note,
            state.now(),
        ) {
            Ok(decided) => Ok(decided.state),
            Err(ProposalError::OwnProposal) => {
                Err(Failure::new(StatusCode::FORBIDDEN, t(lang, "own_proposal")))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await;
    match done {
        Ok(state) => see_other(&format!("/console/proposals?done={state}")),
        Err(failure) => failure.with_visit(visit).into_response(),
    }
}
