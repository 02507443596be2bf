//! `herald emit`: build an event from flags (or a JSON file) and post it.

use std::path::PathBuf;

use serde_json::{Map, Value};

#[derive(clap::Args)]
pub struct EmitArgs {
    /// Herald's base URL.
    #[arg(long, env = "HERALD_URL", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An API token.
    #[arg(long, env = "HERALD_TOKEN", hide_env_values = true)]
    token: String,
    /// A JSON file holding the whole event; flags given as well override its fields.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// Event type, e.g. scan_done.
    #[arg(long = "type")]
    event_type: Option<String>,
    #[arg(long)]
    target_id: Option<String>,
    /// info, low, medium, high or critical. While a matter is open it decides the colour;
    /// once it is over (applied, resolved…), the outcome does.
    #[arg(long)]
    severity: Option<String>,
    #[arg(long)]
    environment: Option<String>,
    #[arg(long)]
    correlation_key: Option<String>,
    #[arg(long)]
    idempotency_key: Option<String>,
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    summary: Option<String>,
    /// Where the run, scan or incident stands, e.g. applied, failed, waiting for approval.
    #[arg(long, long_help = status_long_help())]
    status: Option<String>,
    #[arg(long)]
    url: Option<String>,
    /// Where a person approves the run (shown while it waits for approval).
    #[arg(long)]
    approve_url: Option<String>,
    /// A fact as name=value; repeat for more.
    #[arg(long = "fact", value_parser = parse_fact)]
    facts: Vec<(String, String)>,
    /// Event data as a JSON object.
    #[arg(long)]
    data: Option<String>,
}

/// The status words Herald understands, from the one list in the domain.
fn status_long_help() -> String {
    format!(
        "Where the run, scan or incident stands. Herald understands these words (in any case; \
         `-`, `_` and spaces alike) and shows the stage they mean, with its colour; any other \
         status is shown as given, and the stage comes from the event type.\n\n{}",
        herald_domain::status::status_help()
    )
}

fn parse_fact(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{raw}` is not name=value"))
}

pub async fn run(args: EmitArgs) -> Result<(), String> {
    let body = build_event(&args)?;
    let url = format!("{}/v1/events", args.server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&args.token)
        .json(&body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot reach {}: {}",
                args.server,
                herald_server::error_chain(&e.without_url())
            )
        })?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        println!("{}", answer["id"].as_str().unwrap_or_default());
        return Ok(());
    }
    let error = &answer["error"];
    match (error["field"].as_str(), error["message"].as_str()) {
        (Some(field), Some(message)) => Err(format!("{status}: {field}: {message}")),
        (None, Some(message)) => Err(format!("{status}: {message}")),
        _ => Err(format!("{status}")),
    }
}

fn build_event(args: &EmitArgs) -> Result<Map<String, Value>, String> {
    let mut event = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            match serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", path.display()))?
            {
                Value::Object(map) => map,
                _ => return Err(format!("{} must hold a JSON object", path.display())),
            }
        }
        None => Map::new(),
    };
    let text_fields = [
        ("type", &args.event_type),
        ("target_id", &args.target_id),
        ("severity", &args.severity),
        ("environment", &args.environment),
        ("correlation_key", &args.correlation_key),
        ("idempotency_key", &args.idempotency_key),
        ("title", &args.title),
        ("summary", &args.summary),
        ("status", &args.status),
        ("url", &args.url),
        ("approve_url", &args.approve_url),
    ];
    for (name, value) in text_fields {
        if let Some(value) = value {
            event.insert(name.to_owned(), Value::String(value.clone()));
        }
    }
    if !args.facts.is_empty() {
        let facts = args
            .facts
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        event.insert("facts".into(), Value::Object(facts));
    }
    if let Some(data) = &args.data {
        let data: Value =
            serde_json::from_str(data).map_err(|e| format!("--data is not JSON: {e}"))?;
        event.insert("data".into(), data);
    }
    if !event.contains_key("type") {
        return Err("an event needs a type: pass --type or a file with \"type\"".into());
    }
    Ok(event)
}
