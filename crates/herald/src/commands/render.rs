//! `herald render`: prints the exact request(s) a provider would send for an event, without
//! sending anything, so a message can be previewed.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use herald_domain::{DeliveryId, Event, EventId, EventInput, IntegrationId, Kind, MessageTemplate};
use herald_providers::examples::{example_config, ExampleAnswers};
use herald_providers::{
    Endpoints, ExternalRef, Outbound, Outcome, Purpose, Registry, RegistryOptions, RenderContext,
    Target,
};
use serde_json::Value;

#[derive(clap::Args)]
#[command(long_about = ABOUT)]
pub struct RenderArgs {
    /// The integration kind, e.g. slack, teams, pagerduty.
    #[arg(long)]
    kind: String,
    /// A JSON file holding the event as it would be posted to /v1/events; `-` reads stdin.
    /// Required unless --test, which renders the connection test's own event.
    #[arg(long, required_unless_present = "test")]
    event: Option<PathBuf>,
    /// A JSON file with the integration's config; an example config is used without it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A JSON file with a message template: {"title": "...", "text": "..."}.
    #[arg(long)]
    template: Option<PathBuf>,
    /// Render as a follow-up of this external id (a Slack "channel:ts", a Jira key, a Telegram
    /// "-100123:42").
    #[arg(long, allow_hyphen_values = true)]
    prior: Option<String>,
    /// Render the connection test instead of a delivery.
    #[arg(long)]
    test: bool,
}

const ABOUT: &str = "\
Prints the exact request(s) a provider would send for an event, without sending anything. Each
request is answered with a plausible example answer from the service, so the requests that
depend on an answer appear too (a Jira issue's transition looked up and then made, a GitHub
issue closed), in order, separated by ---.";

pub async fn run(args: RenderArgs) -> Result<(), String> {
    let kind = Kind::parse(&args.kind).ok_or_else(|| {
        let kinds: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind `{}`; one of: {}", args.kind, kinds.join(", "))
    })?;
    let registry = Registry::builtin(RegistryOptions {
        enable_script: true,
    });
    let provider = registry
        .get(kind)
        .ok_or_else(|| format!("no provider for kind {}", kind.as_str()))?;
    let config = match &args.config {
        Some(path) => read_json(path)?,
        None => example_config(kind),
    };
    provider
        .validate(&config)
        .map_err(|e| e.under("config").to_string())?;
    // The connection test renders a synthetic event of its own.
    let input: EventInput = match &args.event {
        Some(path) => {
            serde_json::from_value(read_json(path)?).map_err(|e| format!("event: {e}"))?
        }
        None => serde_json::from_value(serde_json::json!({"type": "herald.test"}))
            .map_err(|e| format!("event: {e}"))?,
    };
    let new = input.parse().map_err(|e| format!("event: {e}"))?;
    let mut event = Event::from_new(&EventId::generate(), &new, Utc::now());
    if let Some(path) = &args.template {
        let template: MessageTemplate =
            serde_json::from_value(read_json(path)?).map_err(|e| format!("template: {e}"))?;
        template.validate().map_err(|e| e.to_string())?;
        event = template.apply(&event).0;
    }
    let target = Target {
        delivery_id: DeliveryId::generate().to_string(),
        integration_id: IntegrationId::generate().to_string(),
        integration_name: "preview".into(),
        kind,
    };
    let prior = args.prior.map(ExternalRef);
    let endpoints = Endpoints::default();
    let ctx = RenderContext {
        event: &event,
        target: &target,
        prior: prior.as_ref(),
        earlier: &[],
        now: Utc::now(),
        purpose: if args.test {
            Purpose::ConnectionTest
        } else {
            Purpose::Delivery
        },
        endpoints: &endpoints,
        destination: None,
        prepared: None,
    };
    // Rendering errors surface here with their reason; the exchange would only record them.
    provider
        .render(&ctx, &config)
        .map_err(|e| format!("render: {e}"))?;
    let answers = ExampleAnswers::new(kind, &config);
    let exchanged = herald_providers::exchange(&answers, provider, &ctx, &config).await;
    if let Outcome::Failed { reason } = &exchanged.outcome {
        return Err(format!("render: {reason}"));
    }
    let printed: Vec<String> = answers.into_sent().iter().map(describe).collect();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{}", printed.join("\n\n---\n\n"));
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let raw = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
    };
    serde_json::from_str(&raw).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The request as text: a request line, headers, a blank line and the body (JSON pretty).
fn describe(outbound: &Outbound) -> String {
    match outbound {
        Outbound::Http(request) => {
            let mut out = format!("{} {}\n", request.method.as_str(), request.url);
            for header in &request.headers {
                out.push_str(&format!("{}: {}\n", header.name, header.value));
            }
            out.push('\n');
            out.push_str(&body_text(&request.body));
            out
        }
        Outbound::Mail(mail) => {
            let mut out = format!(
                "SMTP {}:{} ({:?})\nMAIL FROM:<{}>\n",
                mail.server.host, mail.server.port, mail.server.security, mail.from
            );
            for to in &mail.to {
                out.push_str(&format!("RCPT TO:<{to}>\n"));
            }
            out.push('\n');
            out.push_str(&String::from_utf8_lossy(&mail.message));
            out
        }
        Outbound::Exec(exec) => {
            let mut out = format!("EXEC {}", exec.program.display());
            for arg in &exec.args {
                out.push_str(&format!(" {arg:?}"));
            }
            out.push_str(&format!(" (timeout {}s)\n\n", exec.timeout.as_secs()));
            out.push_str(&body_text(&exec.stdin));
            out
        }
    }
}

fn body_text(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}
