//! `herald emit`: build an event from flags (or a JSON file) and post it.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Map, Value};

use super::manifest::client::{Client, ServerArgs};

const ABOUT: &str = "\
Builds an event from the flags (or from a JSON file, whose fields the flags override) and posts
it to POST /v1/events. Prints the event's id on success; exits non-zero with the server's reason
otherwise. Only --type is required.

Example:
  herald emit --type iac.run.applied --target-id api --environment production \\
    --correlation-key run-44 --title \"Run #44 applied\" --fact commit=9f3c2e1 --fact resources=12";

#[derive(clap::Args)]
#[command(long_about = ABOUT)]
pub struct EmitArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// A JSON file holding the whole event; flags given as well override its fields.
    #[arg(long, short = 'f')]
    file: Option<PathBuf>,
    /// Event type: a catalogue id such as iac.run.plan_finished, security.scan.done,
    /// health.check.failed, or a scanner short name (scan_done, finding_new).
    #[arg(long = "type")]
    event_type: Option<String>,
    /// The module, workspace or scanned system the event concerns; routing scopes match it.
    #[arg(long)]
    target_id: Option<String>,
    /// The module's namespace, if you know it (a registered module's own namespace wins).
    #[arg(long)]
    namespace: Option<String>,
    /// The module's stack, if you know it (a registered namespace's own stack wins).
    #[arg(long)]
    stack: Option<String>,
    /// info, low, medium, high or critical. While a matter is open it decides the colour;
    /// once it is over (applied, resolved…), the outcome does.
    #[arg(long)]
    severity: Option<String>,
    /// The environment, e.g. production; filters and per-environment channels match it.
    #[arg(long)]
    environment: Option<String>,
    /// Events that share it concern the same run or incident: follow-ups update the first
    /// message, comment on the first issue, resolve the first alert.
    #[arg(long)]
    correlation_key: Option<String>,
    /// Posting the same key again returns the first event's id and creates nothing.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// When it happened, RFC 3339 (default: when Herald receives it).
    #[arg(long)]
    occurred_at: Option<String>,
    /// The headline people read, e.g. "Run #44 applied".
    #[arg(long)]
    title: Option<String>,
    /// A paragraph under the title (plain text; never markup).
    #[arg(long)]
    summary: Option<String>,
    /// Where the run, scan or incident stands, e.g. applied, failed, waiting for approval.
    #[arg(long, long_help = status_long_help())]
    status: Option<String>,
    /// The link people follow ("View run"); http or https.
    #[arg(long)]
    url: Option<String>,
    /// Where a person approves the run, shown as a button while the run waits for approval.
    #[arg(long)]
    approve_url: Option<String>,
    /// A fact as name=value, shown in order; repeat for more. A value that reads as a number,
    /// true or false is sent as one (findings=3); quote it to keep it text (version='"3"').
    #[arg(long = "fact", value_parser = parse_fact, value_name = "NAME=VALUE")]
    facts: Vec<(String, Value)>,
    /// Event-specific data as a JSON object, e.g. '{"plan": {"add": 2}}'.
    #[arg(long, value_parser = parse_data, value_name = "JSON")]
    data: Option<Value>,
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

/// `name=value`, with numbers and booleans typed and a JSON string literal kept as text.
fn parse_fact(raw: &str) -> Result<(String, Value), String> {
    let (name, value) = raw
        .split_once('=')
        .ok_or_else(|| format!("`{raw}` is not name=value"))?;
    if name.is_empty() {
        return Err(format!("`{raw}` has no name before ="));
    }
    let typed = match serde_json::from_str::<Value>(value) {
        Ok(scalar @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => scalar,
        _ => Value::String(value.to_owned()),
    };
    Ok((name.to_owned(), typed))
}

fn parse_data(raw: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(raw) {
        Ok(object @ Value::Object(_)) => Ok(object),
        Ok(_) => Err("must be a JSON object, like '{\"key\": \"value\"}'".into()),
        Err(error) => Err(format!("is not JSON: {error}")),
    }
}

pub async fn run(args: EmitArgs) -> Result<(), String> {
    let body = build_event(&args)?;
    let answer = Client::new(&args.server)
        .call(Method::POST, "/v1/events", Some(&Value::Object(body)))
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", answer["id"].as_str().unwrap_or_default());
    Ok(())
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
        ("namespace", &args.namespace),
        ("stack", &args.stack),
        ("severity", &args.severity),
        ("environment", &args.environment),
        ("correlation_key", &args.correlation_key),
        ("idempotency_key", &args.idempotency_key),
        ("occurred_at", &args.occurred_at),
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
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        event.insert("facts".into(), Value::Object(facts));
    }
    if let Some(data) = &args.data {
        event.insert("data".into(), data.clone());
    }
    if !event.contains_key("type") {
        return Err("an event needs a type: pass --type or a file with \"type\"".into());
    }
    Ok(event)
}
