//! The dashboard: terminals online and stale, log entries, open cases,
//! proposals waiting, alarms; kept current by the events stream.

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::i18n::t;
use super::{Visit, blocking, html_page, layout};
use crate::api::AppState;
use crate::storage::overview::{self, Counts};
use crate::storage::{Storage, StorageError};

/// A terminal synced within this long is online, in seconds.
pub const ONLINE_SECONDS: i64 = 3600;
/// A terminal not synced for this long is stale, in seconds.
pub const STALE_SECONDS: i64 = 3 * 86_400;

pub fn counts(storage: &Storage, now: i64) -> Result<Counts, StorageError> {
    storage.transaction(|tx| overview::counts(tx.sql(), now - ONLINE_SECONDS, now - STALE_SECONDS))
}

pub async fn show(State(state): State<AppState>, Extension(visit): Extension<Visit>) -> Response {
    let lang = visit.lang();
    let found = blocking(move || Ok(counts(&state.storage, state.now())?)).await;
    let counts = match found {
        Ok(counts) => counts,
        Err(failure) => return failure.with_visit(visit).into_response(),
    };
    let tiles = [
        (
            "terminals",
            "terminals_total",
            counts.terminals,
            false,
            "/console/terminals",
        ),
        (
            "terminals_online",
            "terminals_online",
            counts.terminals_online,
            false,
            "/console/terminals",
        ),
        (
            "terminals_stale",
            "terminals_stale",
            counts.terminals_stale,
            counts.terminals_stale > 0,
            "/console/terminals",
        ),
        (
            "entries",
            "entries",
            counts.entries,
            false,
            "/console/terminals",
        ),
        (
            "open_cases",
            "open_cases",
            counts.open_cases,
            counts.open_cases > 0,
            "/console/cases",
        ),
        (
            "pending_proposals",
            "pending_proposals",
            counts.pending_proposals,
            counts.pending_proposals > 0,
            "/console/proposals",
        ),
        (
            "alarms",
            "alarms_total",
            counts.alarms,
            counts.alarms > 0,
            "/console/alarms",
        ),
    ];
    html_page(layout::page(
        &visit,
        "dashboard",
        t(lang, "dashboard"),
        html! {
            div.tiles {
                @for (field, key, value, alert, link) in tiles {
                    a.tile.alert[alert] href=(link) {
                        b data-count=(field) { (value) }
                        span { (t(lang, key)) }
                    }
                }
            }
            p {
                small {
                    (t(lang, "last_sync")) ": "
                    @match counts.last_sync_at {
                        Some(at) => (layout::time(at)),
                        None => (t(lang, "never")),
                    }
                    " · " (t(lang, "live"))
                }
            }
        },
    ))
}
