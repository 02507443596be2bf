//! `webhook`: a POST of the event envelope, signed per Standard Webhooks when a secret is set.

mod config;
mod render;
pub mod signature;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Prepared, Provider, RenderContext, RenderError};

pub use config::WebhookConfig;

pub struct WebhookProvider;

impl Provider for WebhookProvider {
    fn kind(&self) -> Kind {
        Kind::Webhook
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "webhook_url",
            "Webhook URL",
            "Where events are POSTed (http or https).",
        )
        .required()
        .format("uri")
        .example("https://example.com/hooks/herald");
        s.string("hmac_secret", "Signing secret", "Standard Webhooks secret (whsec_ + base64, or raw base64); requests are signed with it when set.").secret();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        WebhookConfig::parse(config).map(|_| ())
    }

    fn prepare(&self, config: &Value) -> Option<Prepared> {
        let parsed = WebhookConfig::parse(config).ok()?;
        Some(std::sync::Arc::new(parsed))
    }

    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        let parsed;
        let config = match ctx.prepared::<WebhookConfig>() {
            Some(prepared) => prepared,
            None => {
                parsed = WebhookConfig::parse(config).map_err(RenderError::InvalidConfig)?;
                &parsed
            }
        };
        // A workspace attachment's URL, when one was resolved, replaces the configured one;
        // the signing secret stays.
        let url = match ctx.destination_url()? {
            Some(url) => url,
            None => config.url.clone(),
        };
        Ok(vec![
            render::request(ctx, url, config.secret.as_ref()).into()
        ])
    }

    /// One bucket per receiving host, with no pace of our own: receivers differ too much.
    /// A 429 still pauses the host.
    fn destination(&self, config: &Value) -> Destination {
        match WebhookConfig::parse(config) {
            Ok(config) => Destination::host_of(Kind::Webhook, &config.url, None),
            Err(_) => Destination::new(Kind::Webhook, "", None),
        }
    }
}
