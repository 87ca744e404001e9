//! Server-sent events: the dashboard's counts, sent when they change (and
//! at least every [`HEARTBEAT_SECONDS`]), so a person waiting for a sync or
//! a case sees it arrive; and a page's live parts (the payments' totals
//! and events), rendered by the server like the rest of the page and sent
//! when they change.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::dashboard;
use crate::api::AppState;

/// How often what a stream shows is read, in seconds.
const POLL_SECONDS: u64 = 2;
/// Longest a stream stays silent, in seconds. Short: writing is how the
/// server learns that a browser left (a page closed, a link followed), and
/// until then the connection counts against the per-peer limit.
const HEARTBEAT_SECONDS: u64 = 3;
/// Longest one stream lives; the browser reconnects, in seconds.
const STREAM_SECONDS: u64 = 30 * 60;

/// What a stream reads each time: the event's data, `None` when it could
/// not be read this time (tried again at the next poll).
pub type Read = Arc<dyn Fn(&AppState) -> Option<String> + Send + Sync>;

pub async fn stream(State(state): State<AppState>) -> Response {
    let read: Read = Arc::new(|state: &AppState| {
        let counts = dashboard::counts(&state.storage, state.now()).ok()?;
        serde_json::to_string(&counts).ok()
    });
    polled(state, "counts", read, None)
}

/// What tells one event's data from another's: 16 hex digits of its
/// SHA-256 (a page names the data it shows by it, see [`polled`]).
pub fn digest(data: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(data.as_bytes())[..8])
}

/// A stream of event `name` whose data is what `read` returns, sent when
/// it differs from the last sent; `since` is the [`digest`] of the data
/// the page already shows, not sent again.
pub fn polled(state: AppState, name: &'static str, read: Read, since: Option<String>) -> Response {
    let started = tokio::time::Instant::now();
    let events = futures_util::stream::unfold((state, since, true), move |(state, last, first)| {
        let read = read.clone();
        async move {
            if started.elapsed() > Duration::from_secs(STREAM_SECONDS) {
                return None;
            }
            let mut wait = !first || last.is_some();
            loop {
                if wait {
                    tokio::time::sleep(Duration::from_secs(POLL_SECONDS)).await;
                }
                wait = true;
                let now = {
                    let state = state.clone();
                    let read = read.clone();
                    tokio::task::spawn_blocking(move || read(&state)).await
                };
                let Ok(Some(data)) = now else {
                    continue;
                };
                let seen = digest(&data);
                if last.as_deref() != Some(seen.as_str()) {
                    let event = Event::default().event(name).data(data);
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (state, Some(seen), false),
                    ));
                }
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(HEARTBEAT_SECONDS)))
        .into_response()
}
