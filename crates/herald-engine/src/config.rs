use std::time::Duration;

use herald_domain::RetrySchedule;
use herald_providers::Endpoints;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub retry_schedule: RetrySchedule,
    /// How long a claim holds a delivery; a worker that dies releases it when this runs out.
    /// Must exceed the sender's total timeout.
    pub lease: Duration,
    /// A job handed over in memory is sent only if this much of its lease remains (more than
    /// the request timeout); otherwise it is left to be claimed again from the store.
    pub min_lease_left: Duration,
    /// Deliveries in flight at once in this process.
    pub concurrency: usize,
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
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            retry_schedule: RetrySchedule::default(),
            lease: Duration::from_secs(60),
            min_lease_left: Duration::from_secs(35),
            concurrency: 32,
            poll_interval: Duration::from_secs(1),
            owner: format!("herald-{}", uuid_like()),
            endpoints: Endpoints::default(),
            credential_cache_ttl: Duration::from_secs(15 * 60),
            credential_cache_capacity: 10_000,
        }
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}
