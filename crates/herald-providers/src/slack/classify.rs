//! Slack's answers. The Web API says almost everything as HTTP 200 with `{"ok": false,
//! "error": "<code>"}`; an incoming webhook answers plain-text codes with real statuses.

use std::time::Duration;

use serde_json::Value;

use super::render::external_id;
use crate::{classify_status, parse_retry_after, OutboundRequest, Outcome, Response};

/// Web API errors worth another attempt. `internal_error` and `fatal_error` may have partly
/// succeeded, so a retry can duplicate a post; Slack offers no idempotency key to prevent it.
const WEB_API_RETRY: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
    "org_login_required",
    "message_limit_exceeded",
    "update_failed",
];

/// Incoming-webhook bodies that mean the request can never succeed.
const WEBHOOK_FAILED: &[&str] = &[
    "invalid_payload",
    "user_not_found",
    "action_prohibited",
    "channel_not_found",
    "channel_is_archived",
    "no_text",
    "too_many_attachments",
    "posting_to_general_channel_denied",
];
/// Incoming-webhook bodies that mean the webhook itself is gone or disabled.
const WEBHOOK_GONE: &[&str] = &[
    "no_service",
    "no_service_id",
    "no_team",
    "team_disabled",
    "invalid_token",
    "no_active_hooks",
];
const WEBHOOK_RETRY: &[&str] = &["rollup_error"];

/// A Web API answer (a request carrying the bearer token).
pub(super) fn web_api(request: &OutboundRequest, response: &Response) -> Outcome {
    let status = response.status;
    let body = response.json();
    let code = body
        .as_ref()
        .and_then(|b| b.get("error"))
        .and_then(Value::as_str)
        .filter(|c| is_code(c));
    if status == 429 {
        return retry(response, code.unwrap_or("ratelimited"));
    }
    if status >= 500 {
        return match code {
            Some(code) => retry(response, code),
            None => retry(response, &format!("HTTP {status}")),
        };
    }
    let Some(body) = &body else {
        return not_an_api_answer(response);
    };
    match body.get("ok").and_then(Value::as_bool) {
        Some(true) => Outcome::Delivered {
            external_id: produced_id(request, body),
        },
        Some(false) => {
            let code = code.unwrap_or("unknown_error");
            if WEB_API_RETRY.contains(&code) {
                retry(response, code)
            } else {
                Outcome::Failed {
                    reason: with_hint(code, body),
                }
            }
        }
        None => not_an_api_answer(response),
    }
}

/// An answer without `ok`: not the Web API speaking (a proxy, a wrong endpoint).
fn not_an_api_answer(response: &Response) -> Outcome {
    let status = response.status;
    match classify_status(response) {
        Outcome::Delivered { .. } => Outcome::Failed {
            reason: format!("slack: HTTP {status} without a Web API answer"),
        },
        Outcome::Retry { after, reason } => Outcome::Retry {
            after,
            reason: format!("slack: {reason}"),
        },
        Outcome::Failed { reason } => Outcome::Failed {
            reason: format!("slack: {reason}"),
        },
    }
}

/// `channel:ts` of a new top-level message or of the edited one; `None` for a thread reply
/// (its ts is not the message to update) and for auth.test.
fn produced_id(request: &OutboundRequest, body: &Value) -> Option<String> {
    let method = request.url.path().rsplit('/').next().unwrap_or_default();
    let is_reply = || {
        serde_json::from_slice::<Value>(&request.body)
            .ok()
            .is_some_and(|b| b.get("thread_ts").is_some())
    };
    let gives_id = method == "chat.update" || (method == "chat.postMessage" && !is_reply());
    if !gives_id {
        return None;
    }
    let channel = body.get("channel").and_then(Value::as_str)?;
    let ts = body.get("ts").and_then(Value::as_str)?;
    Some(external_id(channel, ts))
}

/// "slack: <code>", with what to do for the codes an operator most often meets.
fn with_hint(code: &str, body: &Value) -> String {
    let hint = match code {
        "not_in_channel" => {
            Some("invite the app to the channel, or grant chat:write.public".into())
        }
        "channel_not_found" => {
            Some("check default_channel; private channels need the app invited".into())
        }
        "missing_scope" => Some(match body.get("needed").and_then(Value::as_str) {
            Some(needed) if is_scope_list(needed) => format!("the token needs {needed}"),
            _ => "the token needs chat:write".into(),
        }),
        "token_expired" => {
            Some("Herald does not refresh rotating tokens; use a non-expiring bot token".into())
        }
        "message_not_found" | "cant_update_message" | "edit_window_closed" => {
            Some("the first message can no longer be updated".into())
        }
        _ => None,
    };
    match hint {
        Some(hint) => format!("slack: {code} ({hint})"),
        None => format!("slack: {code}"),
    }
}

/// An incoming-webhook answer.
pub(super) fn webhook(response: &Response) -> Outcome {
    let status = response.status;
    let text = String::from_utf8_lossy(&response.body);
    let code = Some(text.trim()).filter(|t| is_code(t) && *t != "ok");
    if let Some(code) = code {
        if WEBHOOK_GONE.contains(&code) {
            return Outcome::Failed {
                reason: format!(
                    "slack: {code} (the webhook was removed or disabled; create a new one)"
                ),
            };
        }
        if WEBHOOK_FAILED.contains(&code) {
            return Outcome::Failed {
                reason: format!("slack: {code}"),
            };
        }
        if WEBHOOK_RETRY.contains(&code) {
            return retry(response, code);
        }
    }
    match classify_status(response) {
        Outcome::Delivered { .. } => Outcome::Delivered { external_id: None },
        Outcome::Retry { after, .. } => Outcome::Retry {
            after,
            reason: reason(code, status),
        },
        Outcome::Failed { .. } => Outcome::Failed {
            reason: reason(code, status),
        },
    }
}

fn reason(code: Option<&str>, status: u16) -> String {
    match code {
        Some(code) => format!("slack: {code} (HTTP {status})"),
        None => format!("slack: HTTP {status}"),
    }
}

fn retry(response: &Response, code: &str) -> Outcome {
    Outcome::Retry {
        after: retry_after(response),
        reason: format!("slack: {code}"),
    }
}

fn retry_after(response: &Response) -> Option<Duration> {
    response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, response.received_at))
}

/// Slack's codes are short snake_case words; anything else in a body is not repeated in a
/// reason, which is stored and shown.
fn is_code(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_scope_list(text: &str) -> bool {
    text.len() <= 200
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:.,".contains(&b))
}
