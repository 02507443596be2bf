//! The delivery engine: accepts events (routing them into deliveries in one transaction),
//! and runs the workers that claim due deliveries, send them and record every attempt.

mod attempt;
mod config;
mod handoff;
mod ingest;
mod limiter;
mod retry;
mod routing;
mod routing_cache;
mod test_send;
mod worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_crypto::SecretBox;
use herald_domain::OrgId;
use herald_providers::{Registry, Sender};
use herald_store::{Backend, Store};
use tokio::sync::Notify;

pub use config::EngineConfig;
pub use ingest::{Accepted, IngestError};
pub use routing::{load_catalogue, Explanation, OrgRouting};
pub use test_send::{TestError, TestResult};

/// How long another instance's integration changes may take to reach this one's routing.
const ROUTING_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Where time comes from; tests substitute a clock they move by hand.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Shared by the API (which accepts events and wakes workers) and the worker loop.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    registry: Arc<Registry>,
    sender: Sender,
    secrets: Arc<SecretBox>,
    config: Arc<EngineConfig>,
    wake: Arc<Notify>,
    ingest: ingest::IngestQueue,
    handoff: Arc<handoff::Handoff>,
    routing: Arc<routing_cache::RoutingCache<routing::OrgRouting>>,
    limiter: Arc<limiter::Limiter>,
    clock: Clock,
}

impl Engine {
    /// Must be called inside a tokio runtime: it starts the ingest committer.
    pub fn new(
        store: Store,
        registry: Registry,
        sender: Sender,
        secrets: SecretBox,
        config: EngineConfig,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        let handoff = Arc::new(handoff::Handoff::new(config.concurrency.max(1) * 4));
        Self {
            ingest: ingest::IngestQueue::start(store.clone(), wake.clone(), handoff.clone()),
            handoff,
            routing: Arc::new(routing_cache::RoutingCache::new(match store.backend() {
                Backend::Sqlite => None,
                Backend::Postgres => Some(ROUTING_CACHE_TTL),
            })),
            store,
            registry: Arc::new(registry),
            sender,
            secrets: Arc::new(secrets),
            config: Arc::new(config),
            wake,
            limiter: Arc::default(),
            clock: Arc::new(Utc::now),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// Drops the cached routing input of `org`; call after any change to its integrations,
    /// supplies, integration events, scope tree or event types.
    pub fn integrations_changed(&self, org: &OrgId) {
        self.routing.invalidate(org);
    }

    /// Tells the workers of this process that new work may be due.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}
