//! `google_chat`: an incoming-webhook message, a short `text` (the notification line) and a
//! `cardsV2` card: header (title, status line), the text, the facts as decoratedText and the
//! links as openLink buttons. Events with a correlation key go into one thread per key
//! (`thread.threadKey` plus `messageReplyOption` in the URL); webhooks cannot edit, so a
//! follow-up is a reply in that thread.

mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::truncate_chars;
use crate::{
    parse_retry_after, Destination, Outbound, Outcome, Provider, Rate, RenderContext, RenderError,
    Response,
};

pub use config::GoogleChatConfig;

pub struct GoogleChatProvider;

impl Provider for GoogleChatProvider {
    fn kind(&self) -> Kind {
        Kind::GoogleChat
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string("webhook_url", "Webhook URL", "The space's incoming webhook (https://chat.googleapis.com/v1/spaces/…); its key and token are in the URL.").required().format("uri").secret();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        GoogleChatConfig::parse(config).map(|_| ())
    }

    /// A connection test posts the synthetic test event: webhook URLs have no read call.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = GoogleChatConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        Ok(vec![render::request(ctx, &config).into()])
    }

    fn classify(&self, _request: &Outbound, response: &Response) -> Outcome {
        classify(response)
    }

    /// The space: Chat's write quota (about one per second) is per space, shared by every app.
    fn destination(&self, config: &Value) -> Destination {
        match GoogleChatConfig::parse(config) {
            Ok(config) => {
                Destination::new(Kind::GoogleChat, &config.space, Some(Rate::new(1.0, 1)))
            }
            Err(_) => Destination::new(Kind::GoogleChat, "", None),
        }
    }
}

/// 200 with the created message (its `name` is the external id); 429 (RESOURCE_EXHAUSTED, no
/// Retry-After promised), 500 and 503 retry; 400, 401, 403 and 404 fail, naming Google's
/// `error.status`.
fn classify(response: &Response) -> Outcome {
    let status = response.status;
    let error = response.json().map(|body| body["error"].clone());
    let google = |field: &str| {
        error
            .as_ref()
            .and_then(|e| e[field].as_str())
            .map(|s| truncate_chars(s.trim(), 200))
    };
    let reason = {
        let mut reason = format!("Google Chat HTTP {status}");
        if let Some(code) = google("status") {
            reason.push(' ');
            reason.push_str(&code);
        }
        if let Some(message) = google("message") {
            reason.push_str(": ");
            reason.push_str(&message);
        }
        reason
    };
    match status {
        200..=299 => Outcome::Delivered {
            external_id: response
                .json()
                .and_then(|body| body["name"].as_str().map(str::to_owned)),
        },
        408 | 429 | 500..=599 => Outcome::Retry {
            after: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, response.received_at)),
            reason,
        },
        300..=399 => Outcome::Retry {
            after: None,
            reason: format!("{reason}: redirects are not followed"),
        },
        _ => Outcome::Failed { reason },
    }
}
