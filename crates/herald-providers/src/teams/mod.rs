//! `teams`: an Adaptive Card (1.4) in the `{"type": "message", "attachments": […]}` envelope,
//! which both Workflows (Power Automate) webhooks and the retiring Office 365 connectors accept.
//! One POST per configured URL; neither webhook returns a message id, so every event is a new
//! card and nothing is correlated.
//!
//! A config with several URLs sends to them in order and the first that fails decides; a retry
//! then posts to every URL again, so the channels before the failing one may see the card twice.
//! Use one integration per channel where that matters.

pub(crate) mod card;
mod classify;
pub(crate) mod config;
pub(crate) mod fit;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::{json, Value};

use crate::present::Message;
use crate::{
    Destination, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, RenderContext,
    RenderError, Response,
};

pub use config::TeamsConfig;

/// Teams documents 28 KB per message, yet integrators saw cards refused from about 21 KB
/// (the service adds its own envelope): stay below both.
pub(crate) const MAX_BODY_BYTES: usize = 20_000;
const CARD_VERSION: &str = "1.4";

pub struct TeamsProvider;

impl Provider for TeamsProvider {
    fn kind(&self) -> Kind {
        Kind::Teams
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "webhook_url",
            "Webhook URL",
            "A Teams workflow or incoming webhook URL; its signature is in the URL.",
        )
        .format("uri")
        .secret();
        s.strings(
            "webhook_urls",
            "More webhook URLs",
            "Further webhooks to post the same card to.",
        )
        .secret();
        s.one_of_required(&["webhook_url", "webhook_urls"]);
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        TeamsConfig::parse(config).map(|_| ())
    }

    /// The same card to every URL. A connection test sends the card of the synthetic test
    /// event: neither webhook has a call that proves the URL without posting.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        let config = TeamsConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        let body = body(&Message::for_delivery(ctx)).to_string().into_bytes();
        // A workspace attachment's URL, when one was resolved, replaces the configured ones.
        let urls = match ctx.destination_url()? {
            Some(url) => vec![url],
            None => config.urls,
        };
        Ok(urls
            .into_iter()
            .map(|url| {
                // Teams reads the body as UTF-8 only when told (issue 9): say so.
                let mut request = OutboundRequest::new(Method::Post, url)
                    .header("content-type", "application/json; charset=utf-8");
                request.body = body.clone();
                request.into()
            })
            .collect())
    }

    fn classify(&self, _request: &Outbound, response: &Response) -> Outcome {
        classify::classify(response)
    }

    /// The hashed URL list (the URLs are secrets) at Teams' 4 requests per second.
    fn destination(&self, config: &Value) -> Destination {
        match TeamsConfig::parse(config) {
            Ok(config) => {
                let joined: Vec<&str> = config.urls.iter().map(url::Url::as_str).collect();
                Destination::hashed(Kind::Teams, &joined.join("\n"), Some(Rate::new(4.0, 4)))
            }
            Err(_) => Destination::new(Kind::Teams, "", None),
        }
    }
}

/// The whole request body, cut to [`MAX_BODY_BYTES`].
pub(crate) fn body(message: &Message) -> Value {
    // The envelope adds the same bytes to any card.
    let overhead = card::json_len(&envelope(Value::Null)) - "null".len();
    let budget = MAX_BODY_BYTES - overhead;
    envelope(card::fitted_card(
        message,
        CARD_VERSION,
        budget,
        card::json_len,
    ))
}

fn envelope(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": card::CONTENT_TYPE,
            "contentUrl": null,
            "content": card,
        }],
    })
}
