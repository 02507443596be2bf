//! GitHub's answers: which step answered, its rate-limit signals, and its error messages.

use std::time::Duration;

use serde_json::Value;

use crate::present::truncate_chars;
use crate::{parse_retry_after, Method, Outbound, OutboundRequest, Outcome, Response};

/// The step of an exchange a request is, read from its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Comment,
    Close,
    /// The connection test's look at the repository.
    Repository,
    Other,
}

impl Step {
    pub fn of(request: &OutboundRequest) -> Step {
        let path = request.url.path().trim_end_matches('/');
        match request.method {
            Method::Post if path.ends_with("/issues") => Step::Create,
            Method::Post if path.ends_with("/comments") => Step::Comment,
            Method::Patch => Step::Close,
            Method::Get => Step::Repository,
            _ => Step::Other,
        }
    }
}

/// GitHub's advice for a secondary limit without other signals: wait at least a minute.
pub const SECONDARY_WAIT: Duration = Duration::from_secs(60);
const MAX_REASON: usize = 300;

pub fn classify(request: &Outbound, response: &Response) -> Outcome {
    let step = request.http().map_or(Step::Other, Step::of);
    let status = response.status;
    match status {
        200..=299 if step == Step::Repository => repository(response),
        200..=299 => Outcome::Delivered {
            external_id: match step {
                Step::Create => issue_number(response),
                _ => None,
            },
        },
        403 | 429 => match rate_limited(response) {
            Some(after) => Outcome::Retry {
                after: Some(after),
                reason: reason(status, response, "rate limited"),
            },
            None => Outcome::Failed {
                reason: reason(
                    status,
                    response,
                    "the token may not do this (it needs Issues: write)",
                ),
            },
        },
        500 | 502 | 503 => crate::classify_status(response),
        401 => Outcome::Failed {
            reason: reason(status, response, "Bad credentials"),
        },
        404 => Outcome::Failed {
            reason: format!(
                "{}: the repository or issue does not exist, or the token cannot see it",
                reason(status, response, "Not Found")
            ),
        },
        410 => Outcome::Failed {
            reason: reason(status, response, "issues are disabled in this repository"),
        },
        422 => Outcome::Failed {
            reason: validation_reason(response),
        },
        // A renamed or moved repository answers with a permanent redirect, never followed.
        301 | 308 => Outcome::Failed {
            reason: format!("GitHub {status}: the repository moved; update repo"),
        },
        _ => match crate::classify_status(response) {
            Outcome::Failed { .. } => Outcome::Failed {
                reason: reason(status, response, "rejected"),
            },
            other => other,
        },
    }
}

/// The issue's `number`, which comments and the close address.
fn issue_number(response: &Response) -> Option<String> {
    match &response.json()?["number"] {
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The connection test's repository. `permissions` (present for user tokens) must allow
/// push; without it (installation tokens) the answer itself is the proof of access.
fn repository(response: &Response) -> Outcome {
    let repo = response.json().unwrap_or(Value::Null);
    let name = repo["full_name"].as_str().unwrap_or("the repository");
    let problem = if repo["permissions"]["push"] == Value::Bool(false) {
        Some(format!("the token cannot write to {name}"))
    } else if repo["has_issues"] == Value::Bool(false) {
        Some(format!("issues are disabled in {name}"))
    } else if repo["archived"] == Value::Bool(true) {
        Some(format!("{name} is archived and takes no new issues"))
    } else {
        None
    };
    match problem {
        Some(reason) => Outcome::Failed { reason },
        None => Outcome::Delivered { external_id: None },
    }
}

/// How long a rate-limited answer asks us to wait, or `None` if it is not rate limiting:
/// `retry-after` first, then an exhausted primary limit until `x-ratelimit-reset`, then a
/// message about a (secondary) rate limit, or any 429, at least a minute.
pub fn rate_limited(response: &Response) -> Option<Duration> {
    if let Some(after) = response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, response.received_at))
    {
        return Some(after);
    }
    if response.header("x-ratelimit-remaining").map(str::trim) == Some("0") {
        let reset = response
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<i64>().ok());
        return Some(match reset {
            Some(reset) => {
                let wait = reset.saturating_sub(response.received_at.timestamp());
                Duration::from_secs(u64::try_from(wait).unwrap_or(0))
            }
            None => SECONDARY_WAIT,
        });
    }
    let message = message(response).unwrap_or_default().to_lowercase();
    let mentions_limit = message.contains("rate limit") || message.contains("abuse detection");
    (mentions_limit || response.status == 429).then_some(SECONDARY_WAIT)
}

/// GitHub's `message`, or the start of a non-JSON body.
fn message(response: &Response) -> Option<String> {
    match response.json() {
        Some(body) => body["message"].as_str().map(str::to_owned),
        None => {
            let text = String::from_utf8_lossy(&response.body).trim().to_owned();
            (!text.is_empty()).then(|| truncate_chars(&text, 200))
        }
    }
}

fn reason(status: u16, response: &Response, fallback: &str) -> String {
    let detail = message(response).unwrap_or_else(|| fallback.to_owned());
    truncate_chars(&format!("GitHub {status}: {detail}"), MAX_REASON)
}

/// `{"message": "Validation Failed", "errors": [{"resource", "field", "code"}]}`.
fn validation_reason(response: &Response) -> String {
    let body = response.json().unwrap_or(Value::Null);
    let details: Vec<String> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| match error {
            Value::String(text) => text.clone(),
            _ => match error["message"].as_str() {
                Some(text) => text.to_owned(),
                None => format!(
                    "{}.{}: {}",
                    error["resource"].as_str().unwrap_or("?"),
                    error["field"].as_str().unwrap_or("?"),
                    error["code"].as_str().unwrap_or("invalid")
                ),
            },
        })
        .collect();
    let head = reason(422, response, "Validation Failed");
    if details.is_empty() {
        head
    } else {
        truncate_chars(&format!("{head} ({})", details.join("; ")), MAX_REASON)
    }
}
