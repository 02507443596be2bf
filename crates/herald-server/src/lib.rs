//! The Herald server: the HTTP API and the delivery workers in one process.

pub mod audit;
pub mod auth;
pub mod config;
pub mod error;
mod extract;
mod routes;
pub mod startup;

use std::net::SocketAddr;

use herald_engine::Engine;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::ServeConfig;
pub use herald_domain::error::error_chain;
pub use startup::{build_engine, StartupError};

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub tokens: std::sync::Arc<auth::TokenCache>,
    pub grants: std::sync::Arc<auth::GrantCache>,
}

pub fn router(engine: Engine) -> axum::Router {
    routes::router(AppState {
        engine,
        tokens: Default::default(),
        grants: Default::default(),
    })
}

/// A server bound to its port, not yet serving.
pub struct Server {
    listener: TcpListener,
    engine: Engine,
    run_workers: bool,
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
        })
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
        let app = router(self.engine.clone());
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
