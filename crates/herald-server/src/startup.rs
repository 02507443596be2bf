//! Start-up: open the store, load the master key, make the first token, wire the engine.

use std::path::Path;

use herald_crypto::{MasterKey, SecretBox};
use herald_engine::{Engine, EngineConfig};
use herald_providers::{
    Endpoints, OutboundPolicy, Registry, RegistryOptions, Sender, SenderConfig,
};
use herald_store::{Backend, Store, StoreError};

use crate::config::ServeConfig;

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
}

/// Builds the engine from the configuration. Prints a generated owner token if it made one.
pub async fn build_engine(config: &ServeConfig) -> Result<Engine, StartupError> {
    if config.delivery_lease <= config.request_timeout && config.workers > 0 {
        return Err(StartupError::LeaseTooShort);
    }
    let allowed = OutboundPolicy::parse_allow_list(&config.outbound_allow_cidrs)
        .map_err(StartupError::AllowList)?;
    let endpoints = Endpoints::default()
        .with_overrides(&config.provider_endpoints)
        .map_err(StartupError::Endpoints)?;
    let store = Store::connect(&config.database_url()).await?;
    let keyring = load_keyring(config, store.backend())?;
    bootstrap_token(&store, config.bootstrap_token.as_deref()).await?;
    let sender = Sender::new(SenderConfig {
        total_timeout: config.request_timeout,
        policy: OutboundPolicy::new(allowed),
        ..SenderConfig::default()
    });
    // A job handed over in memory must still have time for a whole request when it starts.
    let spare = config.delivery_lease.saturating_sub(config.request_timeout);
    let engine_config = EngineConfig {
        retry_schedule: config.retry_schedule.clone(),
        lease: config.delivery_lease,
        min_lease_left: config.request_timeout + spare / 2,
        concurrency: config.workers.max(1),
        poll_interval: config.poll_interval,
        endpoints,
        credential_cache_ttl: config.credential_cache_ttl,
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

/// The keys of HERALD_MASTER_KEY (the first seals, all open), or the generated key file.
fn load_keyring(config: &ServeConfig, backend: Backend) -> Result<SecretBox, StartupError> {
    if let Some(encoded) = &config.master_key {
        return herald_crypto::parse_keyring(encoded)
            .and_then(SecretBox::from_keys)
            .map_err(StartupError::MasterKey);
    }
    load_key_file(config, backend).map(SecretBox::new)
}

fn load_key_file(config: &ServeConfig, backend: Backend) -> Result<MasterKey, StartupError> {
    if backend == Backend::Postgres {
        return Err(StartupError::MasterKeyRequired);
    }
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

/// With no token in the store, makes the first owner token of the organisation `default`:
/// the configured one, or a generated one printed once.
async fn bootstrap_token(store: &Store, configured: Option<&str>) -> Result<(), StartupError> {
    if store.count_tokens().await? > 0 {
        return Ok(());
    }
    if configured.is_some_and(|t| t.len() < 16) {
        return Err(StartupError::WeakBootstrapToken);
    }
    let org = store.ensure_org("default").await?;
    let token = configured
        .map(str::to_owned)
        .unwrap_or_else(herald_crypto::generate_token);
    match store
        .create_owner_token(&org, "admin", &herald_crypto::hash_token(&token))
        .await
    {
        // Another instance bootstrapped the same token at the same moment.
        Err(StoreError::Conflict(_)) => return Ok(()),
        other => other?,
    };
    if configured.is_none() {
        // Printed, not logged: it must reach the operator once and stay out of log pipelines.
        println!("Herald generated an owner API token for organisation `default`. It is shown only this once:\n\n    {token}\n");
    }
    Ok(())
}
