//! Jira Cloud's answers: which step answered, and what its status and body mean.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::present::truncate_chars;
use crate::{parse_retry_after, Method, Outbound, OutboundRequest, Outcome, Response};

/// The step of an exchange a request is, read from its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Comment,
    ListTransitions,
    Transition,
    Delete,
    Other,
}

impl Step {
    pub fn of(request: &OutboundRequest) -> Step {
        let path = request.url.path().trim_end_matches('/');
        match request.method {
            Method::Post if path.ends_with("/rest/api/3/issue") => Step::Create,
            Method::Post if path.ends_with("/comment") => Step::Comment,
            Method::Get if path.ends_with("/transitions") => Step::ListTransitions,
            Method::Post if path.ends_with("/transitions") => Step::Transition,
            Method::Delete => Step::Delete,
            _ => Step::Other,
        }
    }
}

const MAX_REASON: usize = 300;

pub fn classify(request: &Outbound, response: &Response) -> Outcome {
    let step = request.http().map_or(Step::Other, Step::of);
    let status = response.status;
    // The connection test's delete is best-effort cleanup: the create already proved auth and
    // write access, and many accounts may create issues but not delete them.
    if step == Step::Delete {
        return Outcome::Delivered { external_id: None };
    }
    match status {
        200..=299 => Outcome::Delivered {
            external_id: match step {
                Step::Create => issue_key(response),
                _ => None,
            },
        },
        429 | 503 => Outcome::Retry {
            after: retry_after(response),
            reason: format!("Jira {status}: {}", rate_reason(response)),
        },
        500..=599 => Outcome::Retry {
            after: retry_after(response),
            reason: format!("Jira {status}: server error"),
        },
        400 => failed(status, response, "the request was rejected"),
        401 => Outcome::Failed {
            reason: "Jira 401: the e-mail or API token was not accepted".into(),
        },
        403 => failed(
            status,
            response,
            "the account may not do this in the project (or is locked out by a CAPTCHA)",
        ),
        404 => failed(
            status,
            response,
            "the project or issue does not exist, or the account cannot see it",
        ),
        _ => crate::classify_status(response),
    }
}

/// The issue's key (`OPS-24`), which the follow-ups address; its numeric id if the key is
/// missing. `None` if the answer names neither, and the next event opens a new issue.
pub fn issue_key(response: &Response) -> Option<String> {
    let body = response.json()?;
    match (&body["key"], &body["id"]) {
        (Value::String(key), _) if !key.is_empty() => Some(key.clone()),
        (_, Value::String(id)) if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

/// Retry-After (seconds), else `X-RateLimit-Reset` (ISO 8601, e.g. `2026-03-02T10:15Z`).
fn retry_after(response: &Response) -> Option<Duration> {
    if let Some(after) = response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, response.received_at))
    {
        return Some(after);
    }
    let reset = response.header("x-ratelimit-reset")?.trim();
    let at = DateTime::parse_from_rfc3339(reset)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(reset, "%Y-%m-%dT%H:%MZ").map(|t| t.and_utc()))
        .ok()?;
    Some(
        (at - response.received_at)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

fn rate_reason(response: &Response) -> String {
    match response.header("ratelimit-reason") {
        Some(reason) => format!("rate limited ({})", truncate_chars(reason, 60)),
        None if response.status == 429 => "rate limited".into(),
        None => "unavailable".into(),
    }
}

fn failed(status: u16, response: &Response, fallback: &str) -> Outcome {
    let detail = error_detail(response).unwrap_or_else(|| fallback.to_owned());
    Outcome::Failed {
        reason: truncate_chars(&format!("Jira {status}: {detail}"), MAX_REASON),
    }
}

/// Jira's error body: `{"errorMessages": ["…"], "errors": {"summary": "…"}}`.
fn error_detail(response: &Response) -> Option<String> {
    let body = response.json()?;
    let mut parts: Vec<String> = body["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(errors) = body["errors"].as_object() {
        for (field, message) in errors {
            let message = message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_owned);
            parts.push(format!("{field}: {message}"));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
