use std::time::Duration;

use serde_json::Value;

use crate::present::truncate_chars;
use crate::{classify_status, parse_retry_after, Method, Outbound, Outcome, Response};

const MAX_REASON_CHARS: usize = 300;

/// 202 delivers (processing is asynchronous: the alert may still fail later, which only
/// `GET /v2/alerts/requests/{requestId}` would tell); 429 and 5xx retry; 400, 401, 402, 403,
/// 404 and 422 fail with Opsgenie's message. The connection test's lookup of a request id
/// that cannot exist answers 404 for a valid key, so there 404 means success.
pub(super) fn outcome(request: &Outbound, response: &Response) -> Outcome {
    let probe = request
        .http()
        .is_some_and(|r| r.method == Method::Get && r.url.path().contains("/v2/alerts/requests/"));
    let status = response.status;
    let key = request
        .http()
        .and_then(|r| r.header_value("authorization"))
        .and_then(|v| v.strip_prefix("GenieKey "));
    let detail = detail(response, key);
    match status {
        200..=299 if probe => Outcome::Delivered { external_id: None },
        404 if probe => Outcome::Delivered { external_id: None },
        401 | 403 if probe => Outcome::Failed {
            reason: format!("Opsgenie refused the API key (HTTP {status}){detail}"),
        },
        200..=299 => Outcome::Delivered {
            external_id: request.http().and_then(alias_of),
        },
        429 => Outcome::Retry {
            after: retry_after(response),
            reason: format!("Opsgenie rate limit (HTTP 429){detail}"),
        },
        500..=599 => Outcome::Retry {
            after: retry_after(response),
            reason: format!("Opsgenie HTTP {status}{detail}"),
        },
        400 | 401 | 402 | 403 | 404 | 422 => Outcome::Failed {
            reason: format!("Opsgenie HTTP {status}{detail}"),
        },
        _ => match classify_status(response) {
            Outcome::Retry { after, reason } => Outcome::Retry {
                after,
                reason: format!("Opsgenie {reason}{detail}"),
            },
            Outcome::Failed { reason } => Outcome::Failed {
                reason: format!("Opsgenie {reason}{detail}"),
            },
            delivered => delivered,
        },
    }
}

/// Retry-After if sent; otherwise the throttling period Opsgenie names in
/// `X-RateLimit-Period-In-Sec` (our reading: waiting one period refills the bucket).
fn retry_after(response: &Response) -> Option<Duration> {
    response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, response.received_at))
        .or_else(|| {
            response
                .header("x-ratelimit-period-in-sec")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        })
}

/// The alias a create carried in its body, or a close in its path.
fn alias_of(request: &crate::OutboundRequest) -> Option<String> {
    if let Ok(body) = serde_json::from_slice::<Value>(&request.body) {
        if let Some(alias) = body.get("alias").and_then(Value::as_str) {
            return Some(alias.to_owned());
        }
    }
    let segments: Vec<&str> = request.url.path_segments()?.collect();
    let at = segments.iter().position(|s| *s == "alerts")?;
    match segments.get(at + 1..at + 3) {
        Some([alias, "close"]) => Some(percent_decode(alias)),
        _ => None,
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `: message` from Opsgenie's error body, short and without the key.
fn detail(response: &Response, key: Option<&str>) -> String {
    let Some(mut message) = response
        .json()
        .and_then(|b| b.get("message")?.as_str().map(str::to_owned))
        .filter(|m| !m.is_empty())
    else {
        return String::new();
    };
    if let Some(key) = key.filter(|k| !k.is_empty()) {
        message = message.replace(key, "[redacted]");
    }
    format!(": {}", truncate_chars(&message, MAX_REASON_CHARS))
}
