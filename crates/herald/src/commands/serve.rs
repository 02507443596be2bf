use std::io::IsTerminal;

use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: herald_server::ServeConfig,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    slack: SlackArgs,
}

/// Herald as a Slack app (all four, or none). Each also reads its `HERALD_SLACK_*` alias.
#[derive(clap::Args)]
struct SlackArgs {
    /// The Slack app's Client ID (or HERALD_SLACK_CLIENT_ID).
    #[arg(long, env = "SLACK_APP_CLIENT_ID")]
    slack_client_id: Option<String>,
    /// The Slack app's Client Secret (or HERALD_SLACK_CLIENT_SECRET).
    #[arg(long, env = "SLACK_APP_CLIENT_SECRET", hide_env_values = true)]
    slack_client_secret: Option<String>,
    /// The Slack app's Signing Secret (or HERALD_SLACK_SIGNING_SECRET).
    #[arg(long, env = "SLACK_SECRET", hide_env_values = true)]
    slack_signing_secret: Option<String>,
    /// The public base URL Slack reaches, e.g. https://herald.example.com.
    #[arg(long, env = "HERALD_PUBLIC_URL")]
    public_url: Option<String>,
}

impl SlackArgs {
    /// The flags (or their variables), then the aliases.
    fn config(&self) -> Result<Option<herald_slack::SlackAppConfig>, String> {
        let given = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        herald_slack::SlackAppConfig::from_lookup(|name| match name {
            "SLACK_APP_CLIENT_ID" => given(&self.slack_client_id),
            "SLACK_APP_CLIENT_SECRET" => given(&self.slack_client_secret),
            "SLACK_SECRET" => given(&self.slack_signing_secret),
            "HERALD_PUBLIC_URL" => given(&self.public_url),
            alias => std::env::var(alias).ok().filter(|v| !v.trim().is_empty()),
        })
        .map_err(|e| e.to_string())
    }
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

/// Runs until SIGINT or SIGTERM, then stops accepting and claiming, lets in-flight deliveries
/// finish within the shutdown grace, releases the rest and exits. A second signal exits at once.
pub async fn run(args: ServeArgs) -> Result<(), String> {
    init_logging(&args.log)?;
    let config = args.config;
    // Read before binding, so a half-configured Slack app stops the start with its reason.
    let slack = args.slack.config()?;
    let mut server = herald_server::Server::bind(&config)
        .await
        .map_err(|e| herald_server::error_chain(&e))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    match slack {
        Some(_) if config.role == herald_server::Role::Worker => {
            tracing::info!("the Slack app is served by the API processes, not by this worker")
        }
        Some(slack) => {
            tracing::info!(public_url = %slack.public_url, "the Slack app is on");
            let stop = shutdown.clone();
            server = server.mount(move |state| {
                let app = herald_slack::SlackApp::new(slack, state);
                tokio::spawn(app.clone().run(stop));
                app.surface()
            });
        }
        None => tracing::info!("the Slack app is off (set SLACK_APP_CLIENT_ID, SLACK_APP_CLIENT_SECRET, SLACK_SECRET and HERALD_PUBLIC_URL to turn it on)"),
    }
    server
        .run(shutdown)
        .await
        .map_err(|e| herald_server::error_chain(&e))
}

/// `--log` filters (default `info`); `--log-format json` writes one JSON object a line. Plain
/// text is coloured only on a terminal (and never with `NO_COLOR` set).
fn init_logging(log: &LogArgs) -> Result<(), String> {
    let filter = EnvFilter::try_new(&log.filter)
        .map_err(|e| format!("--log / HERALD_LOG `{}`: {e}", log.filter))?;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    if log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::ServeArgs;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn settings_are_flags_and_a_bare_switch_means_true() {
        let parsed = Cli::try_parse_from([
            "herald",
            "--enable-script-provider",
            "--log",
            "herald_engine=debug,info",
            "--log-format",
            "json",
        ])
        .unwrap()
        .serve;
        assert!(parsed.config.enable_script_provider);
        assert_eq!(parsed.log.filter, "herald_engine=debug,info");
        assert_eq!(parsed.log.format, "json");
        let off = Cli::try_parse_from(["herald", "--enable-script-provider", "false"])
            .unwrap()
            .serve;
        assert!(!off.config.enable_script_provider);
        assert!(Cli::try_parse_from(["herald", "--log-format", "xml"]).is_err());
    }
}
