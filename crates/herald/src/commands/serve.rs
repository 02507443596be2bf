use std::io::IsTerminal;

use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Runs until SIGINT or SIGTERM, then stops accepting and claiming, lets in-flight deliveries
/// finish within the shutdown grace, releases the rest and exits. A second signal exits at once.
pub async fn run(config: herald_server::ServeConfig) -> Result<(), String> {
    init_logging();
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

/// `HERALD_LOG` filters (default `info`); `HERALD_LOG_FORMAT=json` writes one JSON object a line.
/// Plain text is coloured only on a terminal (and never with `NO_COLOR` set).
fn init_logging() {
    let filter = EnvFilter::try_from_env("HERALD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    if std::env::var("HERALD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    signal().await;
    tracing::info!(
        "shutting down: no new work is taken; in-flight deliveries get the shutdown grace"
    );
    shutdown.cancel();
    signal().await;
    tracing::warn!("second signal: exiting now; deliveries still in flight are retried when their leases run out");
    std::process::exit(130);
}

async fn signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be handled");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
