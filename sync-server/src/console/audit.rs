//! The audit trail: newest first, filtered by who, what or which object,
//! with the chain's state.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::t;
use super::{Visit, blocking, html_page, layout};
use crate::api::AppState;
use crate::audit::{self, Verification};
use crate::storage::audit::AuditFilter;
use crate::storage::sql::Page;

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    offset: Option<u64>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub async fn list(
    State(state): State<AppState>,
    Extension(visit): Extension<Visit>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let filter = AuditFilter {
        actor: non_empty(q.actor),
        action: non_empty(q.action),
        object: non_empty(q.object),
    };
    let page = Page::new(None, q.offset);
    let wanted = filter.clone();
    let found = blocking(move || {
        let entries = audit::list(&state.storage, &wanted, page)?;
        let chain = audit::verify(&state.storage)?;
        Ok((entries, chain))
    })
    .await;
    let lang = visit.lang();
    let (entries, chain) = match found {
        Ok(found) => found,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let mut base = String::from("/console/audit?");
    for (name, value) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("object", &filter.object),
    ] {
        if let Some(value) = value {
            base.push_str(&format!("{name}={}&", urlencode(value)));
        }
    }
    let base = base.trim_end_matches(['&', '?']).to_owned();
    html_page(layout::page(
        &visit,
        "audit",
        t(lang, "audit"),
        html! {
            @match &chain {
                Verification::Intact { entries, head } => p.ok { "✔ " (t(lang, "chain_intact")) " (" (entries) ", " code { (&head[..16]) "…" } ")" },
                Verification::Broken { seq, reason } => p.error role="alert" { "✘ " (t(lang, "chain_broken")) " " (seq) ": " (reason) },
            }
            form.card.filters method="get" action="/console/audit" {
                div { label for="actor" { (t(lang, "actor")) } input #actor name="actor" value=(filter.actor.clone().unwrap_or_default()) placeholder="user:amina"; }
                div { label for="action" { (t(lang, "action")) } input #action name="action" value=(filter.action.clone().unwrap_or_default()) placeholder="voucher.revoked"; }
                div { label for="object" { (t(lang, "object")) } input #object name="object" value=(filter.object.clone().unwrap_or_default()) placeholder="voucher:V-…"; }
                button type="submit" { (t(lang, "filter")) }
            }
            @if entries.is_empty() {
                p { (t(lang, "none")) }
            } @else {
                table {
                    thead { tr {
                        th.num scope="col" { "#" }
                        th scope="col" { (t(lang, "at")) }
                        th scope="col" { (t(lang, "actor")) }
                        th scope="col" { (t(lang, "action")) }
                        th scope="col" { (t(lang, "object")) }
                        th scope="col" { (t(lang, "detail")) }
                    } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td.num { (e.seq) }
                                td { (layout::time(e.at)) }
                                td { (e.actor) }
                                td { (e.action) }
                                td.mono { (e.object) }
                                td { code { (e.detail) } }
                            }
                        }
                    }
                }
                (layout::pager(lang, &base, page.offset, page.limit, entries.len()))
            }
        },
    ))
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .map(|s| s.trim_start_matches("v=").to_owned())
        .unwrap_or_default()
}
