//! `custom`: InfraDots' "Custom" integration type, a webhook that authenticates with an API
//! key header instead of a signature. Same envelope and idempotency headers as `webhook`.

mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Provider, RenderContext, RenderError};

pub use config::{CustomConfig, DEFAULT_KEY_HEADER};

pub struct CustomProvider;

impl Provider for CustomProvider {
    fn kind(&self) -> Kind {
        Kind::Custom
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "api_url",
            "API URL",
            "The InfraDots-style endpoint events are POSTed to.",
        )
        .required()
        .format("uri");
        s.string("api_key", "API key", "Sent in the API key header.")
            .required()
            .secret();
        s.string(
            "api_key_header",
            "API key header",
            "The header carrying the key (default X-API-Key).",
        );
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        CustomConfig::parse(config).map(|_| ())
    }

    /// A connection test posts the synthetic test event like any other: a receiver of our
    /// own making has no side-effect-free call to try.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        let mut config = CustomConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        // A workspace attachment's URL, when one was resolved, replaces the configured one.
        if let Some(url) = ctx.destination_url()? {
            config.url = url;
        }
        Ok(vec![render::request(ctx, &config).into()])
    }

    /// One bucket per receiving host, with no pace of our own; a 429 still pauses the host.
    fn destination(&self, config: &Value) -> Destination {
        match CustomConfig::parse(config) {
            Ok(config) => Destination::host_of(Kind::Custom, &config.url, None),
            Err(_) => Destination::new(Kind::Custom, "", None),
        }
    }
}
