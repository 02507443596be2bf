//! The Herald server: the HTTP API and the delivery workers in one process.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
mod routes;
pub mod startup;

use std::net::SocketAddr;

use herald_engine::Engine;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::ServeConfig;
pub use herald_domain::error::error_chain;
pub use routes::Surface;
pub use startup::{build_engine, StartupError};

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub tokens: std::sync::Arc<auth::TokenCache>,
    pub grants: std::sync::Arc<auth::GrantCache>,
}

pub fn router(engine: Engine) -> axum::Router {
    router_with(engine, Vec::new())
}

/// Builds a [`Surface`] from the state the API handlers share (its caches included), so the
/// surface's handlers see the same grants and invalidate the same caches.
pub type Mount = Box<dyn FnOnce(&AppState) -> Surface + Send>;

/// The API with other surfaces mounted beside it.
pub fn router_with(engine: Engine, mounts: Vec<Mount>) -> axum::Router {
    let state = AppState {
        engine,
        tokens: Default::default(),
        grants: Default::default(),
    };
    let surfaces = mounts.into_iter().map(|mount| mount(&state)).collect();
    routes::router(state, surfaces)
}

/// A server bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    engine: Engine,
    run_workers: bool,
    mounts: Vec<Mount>,
}

impl Server {
    pub async fn bind(config: &ServeConfig) -> Result<Self, ServeError> {
        let engine = build_engine(config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(ServeError::Bind)?;
        Ok(Self {
            listener,
            engine,
            run_workers: config.workers > 0,
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

    /// Serves the API and runs the workers until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let workers = self
            .run_workers
            .then(|| tokio::spawn(self.engine.clone().run(shutdown.clone())));
        tracing::info!(address = %self.local_addr(), workers = self.run_workers, "herald is listening");
        let app = router_with(self.engine.clone(), self.mounts);
        let stop = shutdown.clone();
        // The peer address is kept for the audit log's "from where".
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .map_err(ServeError::Serve)?;
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        self.engine.store().close().await;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("cannot listen")]
    Bind(#[source] std::io::Error),
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
}
