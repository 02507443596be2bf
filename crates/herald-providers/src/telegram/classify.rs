//! Telegram's answers (providers.md §6): the envelope `{ok, result}` or
//! `{ok: false, error_code, description, parameters}`; the HTTP status mirrors `error_code`.

use std::time::Duration;

use serde_json::Value;

use super::render::is_reply;
use crate::present::truncate_chars;
use crate::{parse_retry_after, Outbound, Outcome, Response};

pub(super) fn classify(request: &Outbound, response: &Response) -> Outcome {
    let Some(http) = request.http() else {
        return crate::classify_status(response);
    };
    // The method name only: the path's other segment is the token.
    let method = http
        .url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("request");
    let status = response.status;
    let body = response.json().unwrap_or(Value::Null);
    let ok = body.get("ok").and_then(Value::as_bool);
    let reason = |what: &str| format!("Telegram {method} {status}: {what}");
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(|d| truncate_chars(&d.replace(char::is_control, " "), 200))
        .unwrap_or_else(|| "no description".into());
    let parameters = body.get("parameters");
    match status {
        200..=299 if ok == Some(false) => Outcome::Failed {
            reason: reason(&description),
        },
        200..=299 => {
            // A reply's own id is not kept: later follow-ups reply to the first message.
            let external_id = (method == "sendMessage" && !is_reply(http))
                .then(|| {
                    let result = body.get("result")?;
                    let message_id = result.get("message_id")?.as_i64()?;
                    let chat_id = result.get("chat")?.get("id")?.as_i64()?;
                    Some(format!("{chat_id}:{message_id}"))
                })
                .flatten();
            Outcome::Delivered { external_id }
        }
        429 | 500..=599 => Outcome::Retry {
            after: parameters
                .and_then(|p| p.get("retry_after")?.as_u64())
                .map(Duration::from_secs)
                .or_else(|| {
                    parse_retry_after(response.header("retry-after")?, response.received_at)
                }),
            reason: reason(&description),
        },
        // The group became a supergroup with a new id. The config is the admin's to change,
        // so this fails with the new id rather than quietly posting elsewhere.
        400 if parameters
            .and_then(|p| p.get("migrate_to_chat_id"))
            .is_some() =>
        {
            let new_id = parameters
                .and_then(|p| p.get("migrate_to_chat_id")?.as_i64())
                .map(|id| id.to_string())
                .unwrap_or_else(|| "?".into());
            Outcome::Failed {
                reason: reason(&format!(
                    "the group was upgraded to a supergroup; set chat_id to {new_id}"
                )),
            }
        }
        401 | 404 => Outcome::Failed {
            reason: reason(&format!("{description} (check bot_token)")),
        },
        400..=499 => Outcome::Failed {
            reason: reason(&description),
        },
        _ => crate::classify_status(response),
    }
}
