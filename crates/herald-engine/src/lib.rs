//! The delivery engine: accepts events (routing them into deliveries in one transaction),
//! and runs the workers that claim due deliveries, send them and record every attempt.

mod attempt;
mod breaker;
mod capacity;
mod chain;
mod change_listener;
mod commit_thread;
mod config;
mod credential_cache;
mod due_work;
mod handoff;
mod health;
mod ingest;
mod integration_health;
mod limiter;
mod metrics;
mod results;
mod retention;
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

pub use config::{
    default_destination_workers, default_org_workers, EngineConfig, DEFAULT_AUTO_DISABLE_AFTER,
    DEFAULT_WORKERS,
};
pub use health::{Check, Readiness, WorkerCheck};
pub use ingest::{Accepted, IngestError};
pub use metrics::{Gauges, Metrics};
pub use routing::{load_catalogue, Explanation, OrgRouting};
pub use test_send::{TestError, TestResult};

/// On PostgreSQL, other instances' integration changes arrive by notification; this expiry is
/// only a safety net against one that was lost unnoticed.
const ROUTING_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// How long another instance's change may take to reach routing while notifications are not
/// being heard (before the listener connects, or while it reconnects).
const ROUTING_CACHE_TTL_UNHEARD: std::time::Duration = std::time::Duration::from_secs(1);

/// Where time comes from; tests substitute a clock they move by hand.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Shared by the API (which accepts events and wakes workers) and the worker loop.
///
/// A handle: clones share one [`Shared`]. Every request and every attempt clones the engine,
/// and cloning seventeen `Arc`s each time cost 2% of Herald's CPU under load (atomic counts
/// bouncing between cores); now it is one.
#[derive(Clone)]
pub struct Engine(Arc<Shared>);

impl std::ops::Deref for Engine {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the clones of one [`Engine`] share.
pub struct Shared {
    store: Store,
    registry: Arc<Registry>,
    sender: Sender,
    secrets: Arc<SecretBox>,
    config: Arc<EngineConfig>,
    wake: Arc<due_work::DueWork>,
    ingest: ingest::IngestQueue,
    handoff: Arc<handoff::Handoff>,
    routing: Arc<routing_cache::RoutingCache<routing::OrgRouting>>,
    credentials: Arc<credential_cache::CredentialCache>,
    limiter: Arc<limiter::Limiter>,
    capacity: Arc<capacity::Capacity>,
    health: Arc<health::Health>,
    breaker: Arc<breaker::Breaker>,
    metrics: Arc<metrics::Metrics>,
    failure_runs: Arc<integration_health::FailureRuns>,
    clock: Clock,
}

impl Engine {
    /// Must be called inside a tokio runtime: it starts the ingest committer and, on
    /// PostgreSQL, the listener for other instances' integration changes.
    pub fn new(
        store: Store,
        registry: Registry,
        sender: Sender,
        secrets: SecretBox,
        config: EngineConfig,
    ) -> Self {
        let wake = Arc::new(due_work::DueWork::default());
        let handoff = Arc::new(handoff::Handoff::default());
        let health = Arc::new(health::Health::default());
        let capacity = Arc::new(capacity::Capacity::new(
            config.concurrency,
            config.destination_workers,
            config.org_workers,
        ));
        let routing = Arc::new(match store.backend() {
            Backend::Sqlite => routing_cache::RoutingCache::new(None),
            Backend::Postgres => routing_cache::RoutingCache::new(Some(ROUTING_CACHE_TTL))
                .unheard_ttl(ROUTING_CACHE_TTL_UNHEARD),
        });
        let credentials = Arc::new(credential_cache::CredentialCache::new(
            config.credential_cache_ttl,
            config.credential_cache_capacity,
        ));
        if store.backend() == Backend::Postgres {
            change_listener::spawn(
                store.clone(),
                change_listener::Caches {
                    routing: Arc::downgrade(&routing),
                    credentials: Arc::downgrade(&credentials),
                },
            );
        }
        let metrics = Arc::new(metrics::Metrics::default());
        let breaker = Arc::new(breaker::Breaker::new(
            config.breaker_threshold,
            config.breaker_cooldown,
            // A probe that has not answered within the lease was lost (a shutdown).
            config.lease,
        ));
        Self(Arc::new(Shared {
            breaker,
            metrics: metrics.clone(),
            failure_runs: Arc::default(),
            ingest: ingest::IngestQueue::start(ingest::Committer {
                store: store.clone(),
                wake: wake.clone(),
                handoff: handoff.clone(),
                health: health.clone(),
                metrics,
            }),
            handoff,
            routing,
            credentials,
            store,
            registry: Arc::new(registry),
            sender,
            secrets: Arc::new(secrets),
            config: Arc::new(config),
            wake,
            limiter: Arc::default(),
            capacity,
            health,
            clock: Arc::new(Utc::now),
        }))
    }

    /// Replaces the clock; call it before the engine is cloned.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("the clock is set before the engine is shared")
            .clock = clock;
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

    /// Drops what is cached about `org`'s routing (integrations, supplies, integration events,
    /// scope tree, event types) and its opened credentials; call after any change to them.
    /// Other instances hear of integration changes through the database.
    pub fn integrations_changed(&self, org: &OrgId) {
        self.routing.invalidate(org);
        self.credentials.invalidate_org(org);
    }

    /// Tells the workers of this process that new work may be due.
    pub fn wake(&self) {
        self.wake.fair();
    }

    /// The engine's clock: the wall clock, or a test's.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The metrics in the Prometheus text format: this process's counters, and gauges read
    /// from the store now (the queue is shared by every instance).
    pub async fn metrics_text(&self) -> Result<String, herald_store::StoreError> {
        let now = self.now();
        let queue = self.store.queue_gauges(now).await?;
        let pool = self.store.pool();
        let gauges = Gauges {
            queue_by_status: queue.by_status,
            queue_leased: queue.leased,
            oldest_due_age: queue
                .oldest_due_at
                .and_then(|at| (now - at).to_std().ok())
                .unwrap_or_default(),
            integrations_paused: queue.integrations_paused,
            circuits_open: self.breaker.open_count() as u64,
            workers: self.capacity.workers() as u64,
            workers_busy: self.capacity.busy() as u64,
            pool_max: u64::from(pool.options().get_max_connections()),
            pool_open: u64::from(pool.size()),
            pool_idle: pool.num_idle() as u64,
            held_connections: self.store.held_connections(),
        };
        Ok(self.metrics.render(&gauges))
    }

    /// The base URLs of fixed-address services (Slack's Web API, ...).
    pub fn endpoints(&self) -> &herald_providers::Endpoints {
        &self.config.endpoints
    }
}
