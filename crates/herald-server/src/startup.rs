//! Start-up: open the store, load the master key, make the first token, wire the engine.

use std::path::Path;

use herald_crypto::{MasterKey, SecretBox};
use herald_engine::{default_destination_workers, default_org_workers, Engine, EngineConfig};
use herald_providers::{
    Endpoints, OutboundPolicy, Registry, RegistryOptions, Sender, SenderConfig,
};
use herald_store::{Backend, Store, StoreError};

use crate::config::{display_database, display_endpoints, Role, ServeConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    #[error("HERALD_MASTER_KEY is invalid: {0}")]
    MasterKey(herald_crypto::SealError),
    #[error(
        "HERALD_MASTER_KEY is required with PostgreSQL, where several instances must share one key"
    )]
    MasterKeyRequired,
    #[error("cannot read or write the key file {path}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("HERALD_OUTBOUND_ALLOW_CIDRS: {0}")]
    AllowList(String),
    #[error("HERALD_PROVIDER_ENDPOINTS: {0}")]
    Endpoints(String),
    #[error("HERALD_BOOTSTRAP_TOKEN must be at least 16 characters")]
    WeakBootstrapToken,
    #[error("HERALD_DELIVERY_LEASE must be longer than HERALD_REQUEST_TIMEOUT")]
    LeaseTooShort,
    #[error("--role worker needs HERALD_WORKERS above 0")]
    NoWorkers,
}

/// A configuration checked for everything that can be checked without touching the disk or
/// the database, so a bad setting fails the start before anything is created or printed.
pub struct Prepared {
    config: ServeConfig,
    allowed: Vec<ipnet::IpNet>,
    endpoints: Endpoints,
    keyring: Option<SecretBox>,
}

/// Checks the configuration (see [`Prepared`]).
pub fn prepare(config: &ServeConfig) -> Result<Prepared, StartupError> {
    let workers = config.worker_count();
    if config.role == Role::Worker && workers == 0 {
        return Err(StartupError::NoWorkers);
    }
    if config.delivery_lease <= config.request_timeout && workers > 0 {
        return Err(StartupError::LeaseTooShort);
    }
    if config
        .bootstrap_token
        .as_deref()
        .is_some_and(|t| t.len() < 16)
    {
        return Err(StartupError::WeakBootstrapToken);
    }
    let allowed = OutboundPolicy::parse_allow_list(&config.outbound_allow_cidrs)
        .map_err(StartupError::AllowList)?;
    let endpoints = Endpoints::default()
        .with_overrides(&config.provider_endpoints)
        .map_err(StartupError::Endpoints)?;
    let backend = Store::backend_of(&config.database_url())?;
    let keyring = match &config.master_key {
        Some(encoded) => Some(
            herald_crypto::parse_keyring(encoded)
                .and_then(SecretBox::from_keys)
                .map_err(StartupError::MasterKey)?,
        ),
        None if backend == Backend::Postgres => return Err(StartupError::MasterKeyRequired),
        None => None,
    };
    Ok(Prepared {
        config: config.clone(),
        allowed,
        endpoints,
        keyring,
    })
}

/// Builds the engine from the configuration. Prints a generated owner token if it made one.
pub async fn build_engine(config: &ServeConfig) -> Result<Engine, StartupError> {
    prepare(config)?.open().await
}

impl Prepared {
    /// Says what this process is about to run, without any secret.
    pub fn log_summary(&self) {
        let config = &self.config;
        let workers = config.worker_count();
        tracing::info!(
            version = %env!("CARGO_PKG_VERSION"),
            database = %display_database(&config.database_url()),
            role = %config.role.as_str(),
            workers,
            destination_workers = Prepared::destination_workers_of(config),
            org_workers = Prepared::org_workers_of(config),
            outbound_allow_cidrs = %config.outbound_allow_cidrs,
            provider_endpoints = %display_endpoints(&config.provider_endpoints),
            "herald {} starting",
            env!("CARGO_PKG_VERSION"),
        );
    }

    /// Opens (creating if need be) the key file and the database, makes the first token, and
    /// wires the engine.
    pub async fn open(self) -> Result<Engine, StartupError> {
        let config = &self.config;
        let keyring = match self.keyring {
            Some(keyring) => keyring,
            None => load_key_file(config).map(SecretBox::new)?,
        };
        let store = Store::connect(&config.database_url()).await?;
        bootstrap_token(&store, config.bootstrap_token.as_deref()).await?;
        let sender = Sender::new(SenderConfig {
            connect_timeout: config.connect_timeout,
            total_timeout: config.request_timeout,
            max_connections_per_origin: usize::from(config.max_connections_per_origin),
            policy: OutboundPolicy::new(self.allowed),
            ..SenderConfig::default()
        });
        let (destination_workers, org_workers) = (
            Prepared::destination_workers_of(config),
            Prepared::org_workers_of(config),
        );
        let engine_config = EngineConfig {
            retry_schedule: config.retry_schedule.clone(),
            lease: config.delivery_lease,
            concurrency: config.worker_count().max(1),
            destination_workers,
            org_workers,
            shutdown_grace: config.shutdown_grace,
            poll_interval: config.poll_interval,
            endpoints: self.endpoints,
            credential_cache_ttl: config.credential_cache_ttl,
            breaker_threshold: config.breaker_threshold,
            breaker_cooldown: config.breaker_cooldown,
            auto_disable_after: Some(config.auto_disable_after).filter(|d| !d.is_zero()),
            retention: Some(config.retention).filter(|d| !d.is_zero()),
            ..EngineConfig::default()
        };
        Ok(Engine::new(
            store,
            Registry::builtin(RegistryOptions {
                enable_script: config.enable_script_provider,
            }),
            sender,
            keyring,
            engine_config,
        ))
    }

    fn destination_workers_of(config: &ServeConfig) -> usize {
        config
            .destination_workers
            .unwrap_or_else(|| default_destination_workers(config.worker_count().max(1)))
    }

    fn org_workers_of(config: &ServeConfig) -> usize {
        config
            .org_workers
            .unwrap_or_else(|| default_org_workers(config.worker_count().max(1)))
    }
}

/// The generated key file of a SQLite data directory, made on the first start.
fn load_key_file(config: &ServeConfig) -> Result<MasterKey, StartupError> {
    let path = config.data_dir.join("master.key");
    let io_error = |source| StartupError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        let encoded = std::fs::read_to_string(&path).map_err(io_error)?;
        return MasterKey::from_base64(&encoded).map_err(StartupError::MasterKey);
    }
    let key = MasterKey::generate();
    write_private(&path, &key.to_base64()).map_err(io_error)?;
    tracing::warn!(
        path = %path.display(),
        "generated a master key and stored it next to the database; set HERALD_MASTER_KEY to keep it elsewhere"
    );
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Makes sure the configured bootstrap token works, or makes the first token.
///
/// - `HERALD_BOOTSTRAP_TOKEN` set and unknown: it becomes an owner token of the organisation
///   `default` (user `admin`), on a fresh database or an existing one, and the log says so.
/// - Set and known: nothing to do. Set but revoked or expired: it stays so, with a warning
///   (a revocation is never undone by a restart).
/// - Unset, with no token at all: one is generated and printed once.
async fn bootstrap_token(store: &Store, configured: Option<&str>) -> Result<(), StartupError> {
    if let Some(token) = configured {
        let hash = herald_crypto::hash_token(token);
        if let Some(existing) = store.find_token(&hash).await? {
            if !existing.is_usable(chrono::Utc::now()) {
                tracing::warn!("HERALD_BOOTSTRAP_TOKEN names a token that was revoked or has expired; it stays unusable. Unset it, or set a new value to add a new owner token");
            }
            return Ok(());
        }
        let fresh = store.count_tokens().await? == 0;
        let org = store.ensure_org("default").await?;
        match store.create_owner_token(&org, "admin", &hash).await {
            // Another instance added the same token at the same moment.
            Err(StoreError::Conflict(_)) => return Ok(()),
            other => other?,
        };
        if fresh {
            tracing::info!("HERALD_BOOTSTRAP_TOKEN is the owner token of organisation `default` (user `admin`)");
        } else {
            tracing::warn!("HERALD_BOOTSTRAP_TOKEN was not a known token: added it as an owner token of organisation `default` (user `admin`). Revoke it with DELETE /v1/tokens/{{id}} once you have your own");
        }
        return Ok(());
    }
    if store.count_tokens().await? > 0 {
        return Ok(());
    }
    let org = store.ensure_org("default").await?;
    let token = herald_crypto::generate_token();
    match store
        .create_owner_token(&org, "admin", &herald_crypto::hash_token(&token))
        .await
    {
        // Another instance bootstrapped at the same moment; its token is the one printed.
        Err(StoreError::Conflict(_)) => return Ok(()),
        other => other?,
    };
    // Printed, not logged: it must reach the operator once and stay out of log pipelines.
    println!("Herald generated an owner API token for organisation `default`. It is shown only this once:\n\n    {token}\n");
    Ok(())
}
