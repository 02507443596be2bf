//! The requests of Jira Cloud's REST API v3 that Herald sends.

use herald_domain::Event;
use serde_json::{json, Value};

use super::adf;
use super::JiraConfig;
use crate::present::Message;
use crate::{Method, OutboundRequest, RenderContext};

/// Jira rejects a longer summary with a 400.
pub const MAX_SUMMARY: usize = 255;
pub const TEST_SUMMARY: &str = "Herald connection test";

fn request(config: &JiraConfig, method: Method, segments: &[&str]) -> OutboundRequest {
    OutboundRequest::new(method, config.api(segments))
        .header("authorization", config.authorization())
        .header("accept", "application/json")
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value serialises")
}

/// `POST /rest/api/3/issue`: the first event of a correlation key opens an issue.
pub fn create(ctx: &RenderContext<'_>, config: &JiraConfig) -> OutboundRequest {
    let message = Message::for_delivery(ctx);
    let mut labels = vec!["herald".to_owned()];
    if let Some(severity) = message.severity {
        labels.push(format!("sev-{}", severity.as_str()));
    }
    let fields = issue_fields(
        config,
        &summary(&message, ctx.event),
        adf::document(&message, None),
        labels,
    );
    request(config, Method::Post, &["issue"]).json_body(body(&fields))
}

/// The same fields a delivery sets, so a field missing from the create screen shows up in the
/// connection test rather than at the first incident.
pub fn create_test_issue(ctx: &RenderContext<'_>, config: &JiraConfig) -> OutboundRequest {
    let explanation = format!(
        "Herald created this issue to check that the integration \u{201c}{}\u{201d} can create \
         issues in project {}. Herald deletes it straight away; if you can still see it, the \
         account may not delete issues here, and you can delete it yourself.",
        adf::clean(&ctx.target.integration_name),
        config.project_key
    );
    let description = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": explanation}]}
    ]});
    let fields = issue_fields(config, TEST_SUMMARY, description, vec!["herald".to_owned()]);
    request(config, Method::Post, &["issue"]).json_body(body(&fields))
}

fn issue_fields(
    config: &JiraConfig,
    summary: &str,
    description: Value,
    labels: Vec<String>,
) -> Value {
    json!({"fields": {
        "project": {"key": config.project_key},
        "issuetype": {"name": config.issue_type},
        "summary": summary,
        "description": description,
        "labels": labels,
    }})
}

/// The headline on one line (Jira refuses line breaks in a summary), within 255 UTF-16 units.
fn summary(message: &Message, event: &Event) -> String {
    let headline = adf::clean(&message.headline());
    let headline = match headline.trim() {
        "" => event.event_type.clone(),
        trimmed => trimmed.to_owned(),
    };
    adf::truncate_utf16(&headline, MAX_SUMMARY)
}

/// `POST /rest/api/3/issue/{key}/comment`: a follow-up of the same run or incident.
pub fn comment(ctx: &RenderContext<'_>, config: &JiraConfig, key: &str) -> OutboundRequest {
    let message = Message::for_delivery(ctx);
    let doc = adf::document(&message, Some(&message.headline()));
    request(config, Method::Post, &["issue", key, "comment"]).json_body(body(&json!({"body": doc})))
}

/// `GET /rest/api/3/issue/{key}/transitions`: the transitions available from the issue's
/// status; their ids differ per workflow, so they are looked up each time.
pub fn transitions(config: &JiraConfig, key: &str) -> OutboundRequest {
    request(config, Method::Get, &["issue", key, "transitions"])
}

/// `POST /rest/api/3/issue/{key}/transitions` with the transition's id; Jira answers 204.
pub fn transition(config: &JiraConfig, key: &str, id: &str) -> OutboundRequest {
    request(config, Method::Post, &["issue", key, "transitions"])
        .json_body(body(&json!({"transition": {"id": id}})))
}

/// `DELETE /rest/api/3/issue/{key}`: removes the connection test's issue.
pub fn delete(config: &JiraConfig, key: &str) -> OutboundRequest {
    request(config, Method::Delete, &["issue", key])
}

/// The transition to run: the first whose name matches `wanted` case-insensitively, else the
/// first whose target status has that name. `Err` lists the names on offer.
pub fn pick_transition(answer: &Value, wanted: &str) -> Result<String, String> {
    let transitions = answer["transitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let wanted = wanted.trim();
    let matches = |name: &Value| {
        name.as_str()
            .is_some_and(|n| n.trim().to_lowercase() == wanted.to_lowercase())
    };
    let found = transitions
        .iter()
        .find(|t| matches(&t["name"]))
        .or_else(|| transitions.iter().find(|t| matches(&t["to"]["name"])));
    if let Some(id) = found.and_then(|t| match &t["id"] {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }) {
        return Ok(id);
    }
    let names: Vec<String> = transitions
        .iter()
        .filter_map(|t| t["name"].as_str())
        .map(|n| format!("\u{201c}{n}\u{201d}"))
        .collect();
    let available = if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    };
    Err(format!(
        "Jira offers no transition named \u{201c}{wanted}\u{201d} for this issue (available: \
         {available}); set resolve_transition to one of them"
    ))
}
