//! The Herald server: the HTTP API and the delivery workers, in one process or apart (roles).

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod error;
pub mod extract;
mod request_id;
mod routes;
pub mod startup;

use std::net::SocketAddr;

use herald_engine::Engine;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Role, ServeConfig};
pub use herald_domain::error::error_chain;
pub use routes::Surface;
pub use startup::{build_engine, StartupError};

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub tokens: std::sync::Arc<auth::TokenCache>,
    pub grants: std::sync::Arc<auth::GrantCache>,
    /// Whether `/readyz` requires this process's workers to run.
    pub expect_workers: bool,
    /// The bearer token `/metrics` asks for, if one is set (`HERALD_METRICS_TOKEN`).
    pub metrics_token: Option<std::sync::Arc<str>>,
}

impl AppState {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            tokens: Default::default(),
            grants: Default::default(),
            expect_workers: false,
            metrics_token: None,
        }
    }
}

pub fn router(engine: Engine) -> axum::Router {
    router_with(engine, Vec::new())
}

/// Builds a [`Surface`] from the state the API handlers share (its caches included), so the
/// surface's handlers see the same grants and invalidate the same caches.
pub type Mount = Box<dyn FnOnce(&AppState) -> Surface + Send>;

/// The API with other surfaces mounted beside it.
pub fn router_with(engine: Engine, mounts: Vec<Mount>) -> axum::Router {
    mounted(AppState::new(engine), mounts)
}

fn mounted(state: AppState, mounts: Vec<Mount>) -> axum::Router {
    let surfaces = mounts.into_iter().map(|mount| mount(&state)).collect();
    routes::router(state, surfaces)
}

/// A server bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    engine: Engine,
    config: ServeConfig,
    mounts: Vec<Mount>,
}

impl Server {
    /// Checks the configuration, binds the port, and only then opens (or creates) the database
    /// and makes the first token: a start that fails on a bad setting or a taken port creates
    /// nothing and prints no token.
    pub async fn bind(config: &ServeConfig) -> Result<Self, ServeError> {
        let prepared = startup::prepare(config)?;
        prepared.log_summary();
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    address: config.listen,
                    source,
                })?;
        let engine = prepared.open().await?;
        Ok(Self {
            listener,
            engine,
            config: config.clone(),
            mounts: Vec::new(),
        })
    }

    /// The engine the server runs, for surfaces that need it before serving.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Serves another surface beside the API (the Slack app).
    pub fn mount(mut self, mount: impl FnOnce(&AppState) -> Surface + Send + 'static) -> Self {
        self.mounts.push(Box::new(mount));
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves (the API, the workers or both, by role) until `shutdown` is cancelled, then stops
    /// accepting and claiming, and lets in-flight work finish within the shutdown grace.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let run_workers = self.config.worker_count() > 0;
        let workers = run_workers.then(|| tokio::spawn(self.engine.clone().run(shutdown.clone())));
        // Processes that deliver also prune what has aged out (HERALD_RETENTION).
        if run_workers {
            tokio::spawn(self.engine.clone().run_retention(shutdown.clone()));
        }
        tracing::info!(
            address = %self.local_addr(),
            role = %self.config.role.as_str(),
            workers = self.config.worker_count(),
            "herald is listening"
        );
        let state = AppState {
            expect_workers: run_workers,
            metrics_token: self
                .config
                .metrics_token
                .as_deref()
                .map(std::sync::Arc::from),
            ..AppState::new(self.engine.clone())
        };
        let app = match self.config.serves_api() {
            true => mounted(state, self.mounts),
            false => routes::probes_only(state),
        };
        let stop = shutdown.clone();
        // The peer address is kept for the audit log's "from where".
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        // No Nagle: an answer goes out at once, not when the client's ACK of the last one comes.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        let serve = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await });
        // Requests still open when the grace is over are cut off: the process must end.
        let grace = self.config.shutdown_grace + std::time::Duration::from_secs(1);
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = serve => served.map_err(ServeError::Serve)?,
            _ = deadline => tracing::warn!("requests still open at the end of the shutdown grace were cut off"),
        }
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        self.engine.store().close().await;
        tracing::info!("herald stopped");
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
}
