//! Serving connections, each bounded in time and number: the server's own
//! accept loop over hyper's HTTP/1.1 connections (axum's `serve` has no
//! timeouts), with
//! - a header read timeout: a client that does not finish a request's
//!   headers in time, or leaves a keep-alive connection idle that long, is
//!   disconnected (slow-loris);
//! - at most `connections_per_peer_max` connections from one IP address at
//!   once; one more is closed as soon as it is accepted;
//! - a bounded graceful shutdown: once `shutdown` resolves nothing new is
//!   accepted, idle connections close, requests in flight get
//!   `shutdown_grace` to finish, and whatever remains is then closed.
//!
//! Body read timeouts are the API's (`api`), where bodies are read.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::HEADER_FIELDS_MAX;
use crate::config::ConnectionSettings;

/// hyper's own header-count limit, above the API's [`HEADER_FIELDS_MAX`]
/// so that a request with too many headers reaches the API and is answered
/// with a problem (`431 too_many_headers`); only one past this backstop gets
/// hyper's bare 431.
const HEADER_FIELDS_BACKSTOP: usize = 4 * HEADER_FIELDS_MAX;

/// Open connections per peer address.
#[derive(Clone, Default)]
struct Peers(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's place in its peer's count, given back when dropped.
struct PeerSlot {
    peers: Peers,
    ip: IpAddr,
}

impl Peers {
    fn admit(&self, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains within
/// the grace period (see the module documentation).
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    settings: ConnectionSettings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) where
    L: Listener<Addr = SocketAddr>,
{
    let peers = Peers::default();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let Some(slot) = peers.admit(peer.ip(), settings.connections_per_peer_max) else {
            tracing::warn!(peer = %peer.ip(), max = settings.connections_per_peer_max,
                "too many connections from one address; closing the new one");
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(settings.header_read_timeout)
                .max_headers(HEADER_FIELDS_BACKSTOP);
            let connection = builder.serve_connection(TokioIo::new(io), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                    return;
                }
                _ = stopping.changed() => {}
            }
            connection.as_mut().graceful_shutdown();
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "connection ended during shutdown: {e}");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(settings.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_seconds = settings.shutdown_grace.as_secs(),
            "closing connections still open after the shutdown grace period"
        );
        connections.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_slots_back_when_connections_close() {
        let peers = Peers::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = peers.admit(a, 2).unwrap();
        let second = peers.admit(a, 2).unwrap();
        assert!(peers.admit(a, 2).is_none());
        assert!(
            peers.admit(b, 2).is_some(),
            "another address has its own count"
        );
        drop(first);
        let third = peers.admit(a, 2).unwrap();
        drop((second, third));
        assert!(peers.0.lock().unwrap().is_empty());
    }
}
