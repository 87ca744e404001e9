//! Server-sent events: the dashboard's counts, sent when they change (and
//! at least every [`HEARTBEAT_SECONDS`]), so a person waiting for a sync or
//! a case sees it arrive.

use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::dashboard;
use crate::api::AppState;

/// How often the counts are read, in seconds.
const POLL_SECONDS: u64 = 2;
/// Longest a stream stays silent, in seconds. Short: writing is how the
/// server learns that a browser left (a page closed, a link followed), and
/// until then the connection counts against the per-peer limit.
const HEARTBEAT_SECONDS: u64 = 3;
/// Longest one stream lives; the browser reconnects, in seconds.
const STREAM_SECONDS: u64 = 30 * 60;

pub async fn stream(State(state): State<AppState>) -> Response {
    let started = tokio::time::Instant::now();
    let events = futures_util::stream::unfold(
        (state, None::<String>, true),
        move |(state, last, first)| async move {
            if started.elapsed() > Duration::from_secs(STREAM_SECONDS) {
                return None;
            }
            loop {
                if !first || last.is_some() {
                    tokio::time::sleep(Duration::from_secs(POLL_SECONDS)).await;
                }
                let read = {
                    let state = state.clone();
                    tokio::task::spawn_blocking(move || {
                        dashboard::counts(&state.storage, state.now())
                    })
                    .await
                };
                let Ok(Ok(counts)) = read else {
                    continue;
                };
                let json = serde_json::to_string(&counts).unwrap_or_default();
                if last.as_deref() != Some(json.as_str()) {
                    let event = Event::default().event("counts").data(json.clone());
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (state, Some(json), false),
                    ));
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(HEARTBEAT_SECONDS)))
        .into_response()
}
