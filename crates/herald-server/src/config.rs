//! `herald serve` settings: each flag can also be set by its `HERALD_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use herald_domain::{duration, RetrySchedule};

fn parse_duration(raw: &str) -> Result<Duration, String> {
    duration::parse(raw)
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "HERALD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Where the embedded database and the generated master key live.
    #[arg(long, env = "HERALD_DATA_DIR", default_value = "./herald-data")]
    pub data_dir: PathBuf,

    /// sqlite:… or postgres://…; defaults to a SQLite file in the data directory.
    #[arg(long, env = "HERALD_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Delays between attempts, comma-separated; its length is the number of retries.
    #[arg(long, env = "HERALD_RETRY_SCHEDULE", default_value = RetrySchedule::DEFAULT, value_parser = RetrySchedule::parse)]
    pub retry_schedule: RetrySchedule,

    /// Becomes an owner token of the organisation `default` when no token exists yet.
    #[arg(long, env = "HERALD_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<String>,

    /// 32 bytes in standard base64; encrypts integration credentials. Required with PostgreSQL.
    /// Several, comma-separated, during a rotation: the first seals, all of them open.
    #[arg(long, env = "HERALD_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Comma-separated CIDRs that outbound requests may reach despite being private or local.
    #[arg(long, env = "HERALD_OUTBOUND_ALLOW_CIDRS", default_value = "")]
    pub outbound_allow_cidrs: String,

    /// Base URLs for fixed-address services, as `name=url,...` (slack, telegram, webex,
    /// pagerduty, opsgenie_us, opsgenie_eu, github): a regional endpoint, a proxy, a fake.
    #[arg(long, env = "HERALD_PROVIDER_ENDPOINTS", default_value = "")]
    pub provider_endpoints: String,

    /// Allows the `script` kind, which runs local programs on this machine.
    /// (`--enable-script-provider` alone means true.)
    #[arg(long, env = "HERALD_ENABLE_SCRIPT_PROVIDER", default_value_t = false, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = false)]
    pub enable_script_provider: bool,

    /// Deliveries in flight at once in this process; 0 runs the API without workers.
    #[arg(long, env = "HERALD_WORKERS", default_value_t = 32)]
    pub workers: usize,

    /// How long a claimed delivery stays with its worker before others may take it.
    #[arg(long, env = "HERALD_DELIVERY_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub delivery_lease: Duration,

    /// How often idle workers look for due deliveries nothing woke them for.
    #[arg(long, env = "HERALD_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Total time allowed for one outbound request.
    #[arg(long, env = "HERALD_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How long decrypted integration credentials stay in memory for sending; 0s turns it off.
    #[arg(long, env = "HERALD_CREDENTIAL_CACHE_TTL", default_value = "15m", value_parser = parse_duration)]
    pub credential_cache_ttl: Duration,
}

impl ServeConfig {
    pub fn database_url(&self) -> String {
        database_url(self.database_url.as_deref(), &self.data_dir)
    }
}

/// The configured database URL, or the embedded SQLite file in `data_dir`: what `herald serve`
/// and the other commands that open the database use.
pub fn database_url(configured: Option<&str>, data_dir: &std::path::Path) -> String {
    configured
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sqlite://{}/herald.db?mode=rwc", data_dir.display()))
}
