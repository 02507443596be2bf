use std::time::Duration;

use herald_domain::RetrySchedule;
use herald_providers::Endpoints;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub retry_schedule: RetrySchedule,
    /// How long a claim holds a delivery; a worker that dies releases it when this runs out.
    /// Must exceed the sender's total timeout.
    pub lease: Duration,
    /// Deliveries in flight at once in this process.
    pub concurrency: usize,
    /// Workers one destination (an integration and its resolved channel or URL) may hold while
    /// it is new or failing; a healthy one may also borrow idle workers.
    pub destination_workers: usize,
    /// Workers one organisation's deliveries may hold, except what healthy destinations borrow.
    pub org_workers: usize,
    /// On shutdown, how long attempts in flight may finish before they are cancelled and their
    /// deliveries released.
    pub shutdown_grace: Duration,
    /// How often an idle worker looks for due work that nothing woke it for (another instance's
    /// events, retries coming due).
    pub poll_interval: Duration,
    /// Identifies this process's claims.
    pub owner: String,
    /// Base URLs of fixed-address services (Slack's Web API, GitHub, ...).
    pub endpoints: Endpoints,
    /// How long an opened integration config stays in memory for sending; zero opens it on
    /// every attempt. A changed config is never served from the cache, whatever this is.
    pub credential_cache_ttl: Duration,
    /// At most this many opened configs are kept.
    pub credential_cache_capacity: usize,
    /// Failed attempts in a row that open a destination's circuit; 0 turns the breaker off.
    pub breaker_threshold: u32,
    /// How long an open circuit holds its destination's deliveries back before a probe (it
    /// doubles with each failed probe, up to 10 minutes).
    pub breaker_cooldown: Duration,
    /// An integration whose attempts have all failed for this long is disabled, with the
    /// reason recorded; None never disables.
    pub auto_disable_after: Option<Duration>,
    /// Events and their delivery log older than this are pruned; None keeps everything.
    pub retention: Option<Duration>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            retry_schedule: RetrySchedule::default(),
            lease: Duration::from_secs(60),
            concurrency: DEFAULT_WORKERS,
            destination_workers: default_destination_workers(DEFAULT_WORKERS),
            org_workers: default_org_workers(DEFAULT_WORKERS),
            shutdown_grace: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            owner: format!("herald-{}", uuid_like()),
            endpoints: Endpoints::default(),
            credential_cache_ttl: Duration::from_secs(15 * 60),
            credential_cache_capacity: 10_000,
            breaker_threshold: 10,
            breaker_cooldown: Duration::from_secs(30),
            auto_disable_after: Some(DEFAULT_AUTO_DISABLE_AFTER),
            retention: Some(Duration::from_secs(30 * 24 * 3600)),
        }
    }
}

/// Deliveries in flight at once. A worker is a task, not a thread: it costs a socket and a few
/// KB while its request is out. Under load an attempt's wall time is mostly waiting for a core
/// (and for its result to be committed), so throughput is workers / that time: with 32, one
/// webhook delivered 3,600 a second on SQLite and a 10-way fan-out 3,000; with 256, 9,100
/// and 12,500 (`herald bench`, docs/performance.md, step 5).
pub const DEFAULT_WORKERS: usize = 256;

/// Svix's period: five days of nothing but failures.
pub const DEFAULT_AUTO_DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// An eighth of the workers: two hanging endpoints hold a quarter of the pool at most.
pub fn default_destination_workers(workers: usize) -> usize {
    (workers / 8).max(1)
}

/// Half of the workers.
pub fn default_org_workers(workers: usize) -> usize {
    (workers / 2).max(1)
}

fn uuid_like() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}
