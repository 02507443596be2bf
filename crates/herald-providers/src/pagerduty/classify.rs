use std::time::Duration;

use serde_json::Value;

use crate::present::truncate_chars;
use crate::{classify_status, parse_retry_after, Outbound, Outcome, Response};

/// PagerDuty documents no Retry-After on 429 and suggests retries about 30 s apart.
pub(super) const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(30);
const MAX_REASON_CHARS: usize = 300;

/// 202 `{"status": "success", "dedup_key"}` delivers, and the dedup_key is the external id;
/// 400 is a malformed event or (reportedly) an unknown routing key; 429 and 5xx are retried.
pub(super) fn outcome(request: &Outbound, response: &Response) -> Outcome {
    let sent: Option<Value> = request
        .http()
        .and_then(|r| serde_json::from_slice(&r.body).ok());
    let field = |name: &str| {
        sent.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let routing_key = field("routing_key");
    let answer = response.json();
    let detail = detail(answer.as_ref(), routing_key.as_deref());
    let status = response.status;
    match status {
        200..=299 => match answer.as_ref().and_then(|a| a.get("status")?.as_str()) {
            Some(said) if !said.eq_ignore_ascii_case("success") => Outcome::Failed {
                reason: format!("PagerDuty answered HTTP {status} with status {said}{detail}"),
            },
            _ => Outcome::Delivered {
                external_id: answer
                    .as_ref()
                    .and_then(|a| a.get("dedup_key")?.as_str())
                    .map(str::to_owned)
                    .or_else(|| field("dedup_key")),
            },
        },
        400 => Outcome::Failed {
            reason: format!("PagerDuty rejected the event (HTTP 400){detail}"),
        },
        429 => Outcome::Retry {
            after: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, response.received_at))
                .or(Some(RATE_LIMIT_PAUSE)),
            reason: format!("PagerDuty rate limit for this routing key (HTTP 429){detail}"),
        },
        _ => match classify_status(response) {
            Outcome::Retry { after, reason } => Outcome::Retry {
                after,
                reason: format!("PagerDuty {reason}{detail}"),
            },
            Outcome::Failed { reason } => Outcome::Failed {
                reason: format!("PagerDuty {reason}{detail}"),
            },
            delivered => delivered,
        },
    }
}

/// `: message: error; error` from an error body, short and without the routing key.
fn detail(answer: Option<&Value>, routing_key: Option<&str>) -> String {
    let Some(answer) = answer else {
        return String::new();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(message) = answer.get("message").and_then(Value::as_str) {
        parts.push(message.to_owned());
    }
    if let Some(errors) = answer.get("errors").and_then(Value::as_array) {
        let errors: Vec<String> = errors
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
            .collect();
        if !errors.is_empty() {
            parts.push(errors.join("; "));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    let mut text = parts.join(": ");
    if let Some(key) = routing_key.filter(|k| !k.is_empty()) {
        text = text.replace(key, "[redacted]");
    }
    format!(": {}", truncate_chars(&text, MAX_REASON_CHARS))
}
