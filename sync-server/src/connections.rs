//! Serving connections, each bounded in time and number: the server's own
//! accept loop over hyper's HTTP/1.1 connections (axum's `serve` has no
//! timeouts), with
//! - a header read timeout: a client that does not finish a request's
//!   headers in time, or leaves a keep-alive connection idle that long, is
//!   disconnected (slow-loris);
//! - at most `connections_per_peer_max` connections from one IP address at
//!   once ([`Peers`]); one more is closed as soon as it is accepted, before
//!   any TLS handshake;
//! - a bounded graceful shutdown: once `shutdown` resolves nothing new is
//!   accepted, idle connections close, requests in flight get
//!   `shutdown_grace` to finish, and whatever remains is then closed.
//!
//! Body read timeouts are the API's (`api`), where bodies are read.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::HEADER_FIELDS_MAX;
use crate::config::ConnectionSettings;

/// hyper's own header-count limit, above the API's [`HEADER_FIELDS_MAX`]
/// so that a request with too many headers reaches the API and is answered
/// with a problem (`431 too_many_headers`); only one past this backstop gets
/// hyper's bare 431.
const HEADER_FIELDS_BACKSTOP: usize = 4 * HEADER_FIELDS_MAX;

/// Open connections per peer address, and how many one address may hold.
#[derive(Clone)]
pub struct Peers {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
}

/// One connection's place in its peer's count, given back when dropped.
pub struct PeerSlot {
    peers: Peers,
    ip: IpAddr,
}

impl Peers {
    pub fn new(max: usize) -> Self {
        Self {
            open: Arc::default(),
            max,
        }
    }

    /// A place for one more connection from `ip`, unless it holds `max`.
    pub fn admit(&self, ip: IpAddr) -> Option<PeerSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            tracing::warn!(peer = %ip, max = self.max,
                "too many connections from one address; closing the new one");
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
        let mut open = self
            .peers
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection admitted under its peer's limit; it holds its place until
/// it is dropped.
pub struct Admitted<T> {
    io: T,
    _slot: PeerSlot,
}

impl<T> Admitted<T> {
    pub fn new(io: T, slot: PeerSlot) -> Self {
        Self { io, _slot: slot }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Admitted<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Admitted<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Plain TCP, each connection admitted under its peer's limit (one over it
/// is closed as soon as it is accepted).
pub struct PlainListener {
    listener: TcpListener,
    peers: Peers,
}

impl PlainListener {
    pub fn new(listener: TcpListener, peers: Peers) -> Self {
        Self { listener, peers }
    }
}

impl Listener for PlainListener {
    type Io = Admitted<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, peer) = Listener::accept(&mut self.listener).await;
            if let Some(slot) = self.peers.admit(peer.ip()) {
                return (Admitted::new(io, slot), peer);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains within
/// the grace period (see the module documentation).
pub async fn serve<L, T>(
    mut listener: L,
    app: Router,
    settings: ConnectionSettings,
    shutdown: impl std::future::Future<Output = ()> + Send,
) where
    L: Listener<Io = Admitted<T>, Addr = SocketAddr>,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(app.clone());
        let mut stopping = stopping.clone();
        connections.spawn(async move {
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
        let peers = Peers::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = peers.admit(a).unwrap();
        let second = peers.admit(a).unwrap();
        assert!(peers.admit(a).is_none());
        assert!(
            peers.admit(b).is_some(),
            "another address has its own count"
        );
        drop(first);
        let third = peers.admit(a).unwrap();
        drop((second, third));
        assert!(peers.open.lock().unwrap().is_empty());
    }
}
