//! `webex`: a bot posts to a room through the messages API: markdown, a plain-text fallback and
//! an Adaptive Card (1.3). The first message of a correlation key is the thread; later events
//! reply to it with `parentId`. Webex threads are one level deep, so the prior id must stay the
//! first message's: a reply's own id is never returned as the external id.

mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::truncate_chars;
use crate::{
    parse_retry_after, Destination, Method, Outbound, Outcome, Provider, Rate, RenderContext,
    RenderError, Response,
};

pub use config::WebexConfig;

pub struct WebexProvider;

impl Provider for WebexProvider {
    fn kind(&self) -> Kind {
        Kind::Webex
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "bot_token",
            "Bot token",
            "A Webex bot (or integration) access token.",
        )
        .required()
        .secret();
        s.string("room_id", "Room id", "The room the bot is a member of.")
            .required();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        WebexConfig::parse(config).map(|_| ())
    }

    /// A connection test reads the room instead of posting: it proves the token and that the
    /// bot is a member of the room, though not that it may post there.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = WebexConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        let request = if ctx.is_test() {
            render::room_check(ctx, &config)?
        } else {
            render::message(ctx, &config)?
        };
        Ok(vec![request.into()])
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify(request, response)
    }

    /// The room. Webex publishes no per-room pace; about one message a second with a burst of
    /// two keeps a busy room readable and clear of 429s (our choice, not a documented limit).
    fn destination(&self, config: &Value) -> Destination {
        match WebexConfig::parse(config) {
            Ok(config) => Destination::new(Kind::Webex, &config.room_id, Some(Rate::new(1.0, 2))),
            Err(_) => Destination::new(Kind::Webex, "", None),
        }
    }
}

/// 200 delivered: a new top-level message's `id` is the external id; a thread reply and the
/// room check give none. 423 (Locked), 429 (both with Retry-After) and 5xx retry; other 4xx
/// fail. Reasons carry Webex's message and `trackingId`, which Webex support asks for.
fn classify(request: &Outbound, response: &Response) -> Outcome {
    let status = response.status;
    match status {
        200..=299 => Outcome::Delivered {
            external_id: if starts_a_thread(request) {
                response
                    .json()
                    .and_then(|body| body["id"].as_str().map(str::to_owned))
            } else {
                None
            },
        },
        408 | 423 | 429 | 500..=599 => Outcome::Retry {
            after: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, response.received_at)),
            reason: reason(response),
        },
        300..=399 => Outcome::Retry {
            after: None,
            reason: format!("{}: redirects are not followed", reason(response)),
        },
        _ => Outcome::Failed {
            reason: reason(response),
        },
    }
}

/// A POST without `parentId`: its answer's id is the thread later events reply to.
fn starts_a_thread(request: &Outbound) -> bool {
    let Some(http) = request.http() else {
        return false;
    };
    http.method == Method::Post
        && serde_json::from_slice::<Value>(&http.body)
            .is_ok_and(|body| body.get("parentId").is_none())
}

/// "Webex HTTP 404: <message> (trackingId …)".
fn reason(response: &Response) -> String {
    let body = response.json().unwrap_or(Value::Null);
    let message = body["message"]
        .as_str()
        .or_else(|| body["errors"][0]["description"].as_str());
    let tracking = body["trackingId"]
        .as_str()
        .or_else(|| response.header("trackingid"));
    let mut reason = format!("Webex HTTP {}", response.status);
    if let Some(message) = message {
        reason.push_str(": ");
        reason.push_str(&truncate_chars(message.trim(), 200));
    }
    if let Some(tracking) = tracking {
        reason.push_str(&format!(" (trackingId {})", truncate_chars(tracking, 100)));
    }
    reason
}
