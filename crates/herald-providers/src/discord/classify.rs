//! Discord's answers (providers.md §4): 200 with the message (`wait=true`) or 204 delivered;
//! 429 and 5xx retried after `retry_after`; other 4xx final, named by Discord's JSON `code`.

use std::time::Duration;

use serde_json::Value;

use crate::present::truncate_chars;
use crate::{parse_retry_after, Method, Outbound, Outcome, Response};

pub(super) fn classify(request: &Outbound, response: &Response) -> Outcome {
    let status = response.status;
    let body = response.json();
    match status {
        200..=299 => {
            // The connection test's GET answers with the webhook, whose `id` is no message.
            let posted = request.http().is_some_and(|r| r.method != Method::Get);
            let external_id = body
                .as_ref()
                .filter(|_| posted)
                .and_then(|b| b.get("id")?.as_str().map(str::to_owned));
            Outcome::Delivered { external_id }
        }
        429 => {
            let scope = response
                .header("x-ratelimit-scope")
                .map(|s| format!(" ({s} limit)"))
                .unwrap_or_default();
            Outcome::Retry {
                after: retry_after(body.as_ref(), response),
                reason: format!("Discord HTTP 429: rate limited{scope}"),
            }
        }
        408 | 500..=599 => Outcome::Retry {
            after: retry_after(body.as_ref(), response),
            reason: format!("Discord HTTP {status}"),
        },
        400..=499 => Outcome::Failed {
            reason: failure(status, body.as_ref()),
        },
        _ => crate::classify_status(response),
    }
}

/// `retry_after` in the body is float seconds; the header is whole seconds (or a date).
fn retry_after(body: Option<&Value>, response: &Response) -> Option<Duration> {
    let from_body = body
        .and_then(|b| b.get("retry_after")?.as_f64())
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
    from_body.or_else(|| {
        let header = response.header("retry-after")?;
        parse_retry_after(header, response.received_at)
            .or_else(|| Duration::try_from_secs_f64(header.trim().parse().ok()?).ok())
    })
}

/// "Discord HTTP 404: Unknown Webhook (code 10015)", with a hint for the codes an admin must
/// act on. Discord's messages never contain the webhook token.
fn failure(status: u16, body: Option<&Value>) -> String {
    let mut reason = format!("Discord HTTP {status}");
    let message = body
        .and_then(|b| b.get("message")?.as_str())
        .map(|m| truncate_chars(&m.replace(char::is_control, " "), 200));
    let code = body.and_then(|b| b.get("code")?.as_u64());
    if let Some(message) = message {
        reason.push_str(": ");
        reason.push_str(&message);
    }
    if let Some(code) = code {
        reason.push_str(&format!(" (code {code})"));
        let hint = match code {
            10015 => Some("the webhook was deleted; set a new webhook_url"),
            50027 => Some("the webhook token is wrong; set a new webhook_url"),
            10008 => Some("the first message of this run was deleted"),
            _ => None,
        };
        if let Some(hint) = hint {
            reason.push_str(": ");
            reason.push_str(hint);
        }
    }
    reason
}
