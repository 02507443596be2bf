use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: herald_server::ServeConfig,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(clap::Args)]
struct LogArgs {
    /// Which log lines to write, in tracing's env-filter syntax: info, debug,
    /// herald_engine=debug,info …
    #[arg(long = "log", env = "HERALD_LOG", default_value = "info")]
    filter: String,
    /// text (for people) or json (one object per line, for log pipelines).
    #[arg(long = "log-format", env = "HERALD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// Runs until SIGINT or SIGTERM, then drains in-flight deliveries and exits.
pub async fn run(args: ServeArgs) -> Result<(), String> {
    init_logging(&args.log)?;
    let config = args.config;
    let server = herald_server::Server::bind(&config)
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    server
        .run(shutdown)
        .await
        .map_err(|e| herald_server::error_chain(&e))
}

/// `--log` filters (default `info`); `--log-format json` writes one JSON object a line.
fn init_logging(log: &LogArgs) -> Result<(), String> {
    let filter = EnvFilter::try_new(&log.filter)
        .map_err(|e| format!("--log / HERALD_LOG `{}`: {e}", log.filter))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be handled");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing in-flight deliveries");
    shutdown.cancel();
}
