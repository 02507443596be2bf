//! `discord`: a Discord channel webhook (providers.md §4). One message per run: the first event
//! of a correlation key posts it, later ones edit it (and post again while a person is needed).

mod classify;
mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Outcome, Provider, Rate, RenderContext, RenderError, Response};

pub use config::DiscordConfig;

/// Discord publishes no fixed webhook pace (clients must read the X-RateLimit headers); about
/// 5 requests per 2 s per webhook is what is commonly observed. Unconfirmed.
const WEBHOOK_RATE: Rate = Rate::new(2.5, 5);

pub struct DiscordProvider;

impl Provider for DiscordProvider {
    fn kind(&self) -> Kind {
        Kind::Discord
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "webhook_url",
            "Webhook URL",
            "The channel webhook (https://discord.com/api/webhooks/…); it carries its own token.",
        )
        .required()
        .format("uri")
        .secret();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        DiscordConfig::parse(config).map(|_| ())
    }

    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = DiscordConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        if ctx.is_test() {
            return Ok(vec![render::connection_test(&config)]);
        }
        Ok(render::requests(ctx, &config))
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify::classify(request, response)
    }

    /// One bucket per webhook, keyed by its id (the token is the secret part).
    fn destination(&self, config: &Value) -> Destination {
        match DiscordConfig::parse(config) {
            Ok(config) => Destination::new(Kind::Discord, config.webhook_id(), Some(WEBHOOK_RATE)),
            Err(_) => Destination::new(Kind::Discord, "", None),
        }
    }
}
