//! `herald serve` settings: each flag can also be set by its `HERALD_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use herald_domain::{duration, RetrySchedule};

fn parse_duration(raw: &str) -> Result<Duration, String> {
    duration::parse(raw)
}

/// A duration that `0` or `off` turns off (as zero).
fn parse_duration_or_off(raw: &str) -> Result<Duration, String> {
    match raw.trim() {
        "0" | "off" => Ok(Duration::ZERO),
        other => duration::parse(other),
    }
}

/// What a `herald serve` process runs, so the API and the workers can scale separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// The API only; events are delivered by worker processes.
    Api,
    /// The delivery workers only, with `/healthz` and `/readyz` on the listen address.
    Worker,
    /// Both (`HERALD_WORKERS=0` makes it the API only).
    All,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Worker => "worker",
            Role::All => "all",
        }
    }
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

    /// What this process runs: the API, the delivery workers, or both.
    #[arg(long, env = "HERALD_ROLE", value_enum, default_value = "all")]
    pub role: Role,

    /// Deliveries in flight at once in this process; 0 runs the API without workers.
    #[arg(long, env = "HERALD_WORKERS", default_value_t = herald_engine::DEFAULT_WORKERS)]
    pub workers: usize,

    /// Workers one destination may hold while it is new or failing (default: an eighth of the
    /// workers); a healthy destination may also borrow idle ones.
    #[arg(long, env = "HERALD_DESTINATION_WORKERS")]
    pub destination_workers: Option<usize>,

    /// Workers one organisation may hold, beyond what its healthy destinations borrow
    /// (default: half of the workers).
    #[arg(long, env = "HERALD_ORG_WORKERS")]
    pub org_workers: Option<usize>,

    /// On SIGTERM, how long deliveries in flight may finish before they are cancelled and
    /// released for another instance.
    #[arg(long, env = "HERALD_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// How long a claimed delivery stays with its worker before others may take it.
    #[arg(long, env = "HERALD_DELIVERY_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub delivery_lease: Duration,

    /// How often idle workers look for due deliveries nothing woke them for.
    #[arg(long, env = "HERALD_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    /// Total time allowed for one outbound request (or e-mail, or script).
    #[arg(long, env = "HERALD_REQUEST_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Time allowed to connect to a destination.
    #[arg(long, env = "HERALD_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Requests in flight to one origin (scheme, host and port) at most, and so connections
    /// open to it; more wait for a connection, within their request timeout.
    #[arg(long, env = "HERALD_MAX_CONNECTIONS_PER_ORIGIN", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections_per_origin: u16,

    /// How long decrypted integration credentials stay in memory for sending; 0s turns it off.
    #[arg(long, env = "HERALD_CREDENTIAL_CACHE_TTL", default_value = "15m", value_parser = parse_duration)]
    pub credential_cache_ttl: Duration,

    /// Failed attempts in a row that open a destination's circuit (its other deliveries then
    /// wait for a cool-down and a probe); 0 turns the breaker off.
    #[arg(long, env = "HERALD_BREAKER_THRESHOLD", default_value_t = 10)]
    pub breaker_threshold: u32,

    /// How long an open circuit waits before its probe; doubles with each failed probe, up
    /// to 10 minutes.
    #[arg(long, env = "HERALD_BREAKER_COOLDOWN", default_value = "30s", value_parser = parse_duration)]
    pub breaker_cooldown: Duration,

    /// Disable an integration whose attempts have all failed for this long (0 or off: never).
    #[arg(long, env = "HERALD_AUTO_DISABLE_AFTER", default_value = "5d", value_parser = parse_duration_or_off)]
    pub auto_disable_after: Duration,

    /// Prune events and their delivery log older than this (0 or off: keep everything).
    /// Undelivered work and runs still going on are never pruned.
    #[arg(long, env = "HERALD_RETENTION", default_value = "30d", value_parser = parse_duration_or_off)]
    pub retention: Duration,

    /// A bearer token `/metrics` requires; unset, `/metrics` is open like `/readyz`.
    #[arg(long, env = "HERALD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

impl ServeConfig {
    pub fn database_url(&self) -> String {
        database_url(self.database_url.as_deref(), &self.data_dir)
    }

    /// Delivery workers this process runs: none for `--role api`.
    pub fn worker_count(&self) -> usize {
        match self.role {
            Role::Api => 0,
            Role::Worker | Role::All => self.workers,
        }
    }

    /// Whether this process serves the API routes.
    pub fn serves_api(&self) -> bool {
        self.role != Role::Worker
    }
}

impl Default for ServeConfig {
    /// The documented defaults, as `herald serve` with no flags and no environment.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./herald-data"),
            database_url: None,
            retry_schedule: RetrySchedule::default(),
            bootstrap_token: None,
            master_key: None,
            outbound_allow_cidrs: String::new(),
            provider_endpoints: String::new(),
            enable_script_provider: false,
            role: Role::All,
            workers: herald_engine::DEFAULT_WORKERS,
            destination_workers: None,
            org_workers: None,
            shutdown_grace: Duration::from_secs(10),
            delivery_lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_connections_per_origin: 64,
            credential_cache_ttl: Duration::from_secs(15 * 60),
            breaker_threshold: 10,
            breaker_cooldown: Duration::from_secs(30),
            auto_disable_after: Duration::from_secs(5 * 24 * 3600),
            retention: Duration::from_secs(30 * 24 * 3600),
            metrics_token: None,
        }
    }
}

/// A database URL fit for a log: no password, no query parameters (which may carry one).
pub fn display_database(url: &str) -> String {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        return format!("sqlite:{}", path.split('?').next().unwrap_or_default());
    }
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "(an unparseable URL)".to_owned(),
    }
}

/// `name=url,…` with any user and password taken out of the URLs.
pub fn display_endpoints(raw: &str) -> String {
    raw.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, url)) => format!("{}={}", name.trim(), display_database(url.trim())),
            None => pair.trim().to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The configured database URL, or the embedded SQLite file in `data_dir`: what `herald serve`
/// and the other commands that open the database use.
pub fn database_url(configured: Option<&str>, data_dir: &std::path::Path) -> String {
    configured
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sqlite://{}/herald.db?mode=rwc", data_dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_shown_without_credentials() {
        assert_eq!(
            display_database(
                "postgres://herald:s3cret@db.internal:5432/herald?sslmode=require&password=x"
            ),
            "postgres://herald@db.internal:5432/herald"
        );
        assert_eq!(
            display_database("sqlite:///var/lib/herald/herald.db?mode=rwc"),
            "sqlite:/var/lib/herald/herald.db"
        );
        assert_eq!(
            display_endpoints(
                "slack=http://u:p@127.0.0.1:9000/api, github=https://ghe.example/api/v3"
            ),
            "slack=http://u@127.0.0.1:9000/api,github=https://ghe.example/api/v3"
        );
    }

    #[test]
    fn the_defaults_are_the_flags_defaults() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeConfig,
        }
        let parsed = Cli::try_parse_from(["herald"]).unwrap().serve;
        let default = ServeConfig::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    }
}
