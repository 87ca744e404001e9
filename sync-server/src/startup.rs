//! Building and running the server from a [`Config`]: open (and migrate)
//! the database, bind, serve plain HTTP or TLS through [`connections`]
//! (timeouts, per-peer limits), run the background-job worker (which also
//! prunes old nonces, as a periodic job), stop on a signal within the
//! shutdown grace period.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::clock::{self, SharedClock};
use crate::config::{Config, ConfigError, ConnectionSettings};
use crate::connections::{self, Peers, PlainListener};
use crate::jobs;
use crate::keys::KeyDir;
use crate::storage::{Storage, StorageError};
use crate::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    storage: Arc<Storage>,
    clock: SharedClock,
    connections: ConnectionSettings,
    job_lease_ms: i64,
    /// Whether `run` starts this instance's background-job worker.
    jobs: bool,
}

impl Server {
    /// Opens the database (migrating it) and binds the listener.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        config.check_transport()?;
        let url = config.database.clone();
        let storage = tokio::task::spawn_blocking(move || Storage::open(&url))
            .await
            .map_err(|_| StorageError::WorkerGone)??;
        let storage = Arc::new(storage);
        match Self::with_storage(config, storage.clone()).await {
            Ok(server) => Ok(server),
            Err(e) => {
                // As in `run`: a PostgreSQL pool is closed off the async threads.
                let _ = tokio::task::spawn_blocking(move || drop(storage)).await;
                Err(e)
            }
        }
    }

    pub async fn with_storage(config: &Config, storage: Arc<Storage>) -> Result<Self, StartError> {
        Self::with_clock(config, storage, clock::system()).await
    }

    /// The same on a given clock (tests set and advance a `ManualClock`).
    pub async fn with_clock(
        config: &Config,
        storage: Arc<Storage>,
        clock: SharedClock,
    ) -> Result<Self, StartError> {
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let state = AppState::new(
            storage.clone(),
            KeyDir::new(&config.data_dir),
            config.connections.body_read_timeout,
        )
        .with_clock(clock.clone())
        .with_issuer(config.issuer.clone())
        .with_tls(config.tls.is_some());
        Ok(Self {
            listener,
            app: api::router(state),
            tls,
            storage,
            clock,
            connections: config.connections,
            job_lease_ms: config.job_lease_ms,
            jobs: true,
        })
    }

    /// The HTTP API alone, with no background-job worker: jobs it queues
    /// wait for another instance (a test that decides which process runs
    /// them).
    #[must_use]
    pub fn without_jobs(mut self) -> Self {
        self.jobs = false;
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let storage = self.storage;
        // Every instance runs a worker; dropping `stop_jobs` stops it after
        // the batch under way.
        let (stop_jobs, stopped) = std::sync::mpsc::channel::<()>();
        let worker = self.jobs.then(|| {
            let worker =
                jobs::server_worker(storage.clone(), self.clock.clone(), self.job_lease_ms);
            tokio::task::spawn_blocking(move || worker.run_until(&stopped))
        });
        let peers = Peers::new(self.connections.connections_per_peer_max);
        match self.tls {
            Some(acceptor) => {
                let listener = tls::TlsListener::spawn(self.listener, acceptor, peers);
                connections::serve(listener, self.app, self.connections, shutdown).await;
            }
            None => {
                let listener = PlainListener::new(self.listener, peers);
                connections::serve(listener, self.app, self.connections, shutdown).await;
            }
        }
        drop(stop_jobs);
        // Wait for the worker to finish, with its handle on the store.
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        // The last handle on a PostgreSQL pool is dropped off the async
        // threads: its blocking clients shut down their own runtime, which
        // panics inside an async task.
        let _ = tokio::task::spawn_blocking(move || drop(storage)).await;
        Ok(())
    }
}
