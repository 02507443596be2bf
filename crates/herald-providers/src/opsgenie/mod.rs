//! `opsgenie`: the Alert API. One alert per correlation key (its `alias`): created while the
//! run or incident is active, closed by alias when it is over.

mod classify;
mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Outcome, Provider, RenderContext, RenderError, Response};

pub use config::{OpsgenieConfig, Region};

pub struct OpsgenieProvider;

impl Provider for OpsgenieProvider {
    fn kind(&self) -> Kind {
        Kind::Opsgenie
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string("api_key", "API key", "An Opsgenie API integration key.")
            .required()
            .secret();
        s.string(
            "region",
            "Region",
            "Which Opsgenie instance holds the account.",
        )
        .one_of_values(&["us", "eu"])
        .default_value(serde_json::json!("us"));
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        OpsgenieConfig::parse(config).map(|_| ())
    }

    /// A connection test asks for the status of a request id that cannot exist: a valid key
    /// gets 404, a bad one 401 or 403, and no alert is created (providers.md marks this
    /// behaviour unconfirmed).
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = OpsgenieConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        render::requests(ctx, &config)
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify::outcome(request, response)
    }

    /// One bucket per API key (hashed: it is the credential). Opsgenie's per-plan limits are
    /// not published, so no pace of our own; a 429 still pauses the key.
    fn destination(&self, config: &Value) -> Destination {
        match OpsgenieConfig::parse(config) {
            Ok(config) => Destination::hashed(Kind::Opsgenie, &config.api_key, None),
            Err(_) => Destination::new(Kind::Opsgenie, "", None),
        }
    }
}
