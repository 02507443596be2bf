//! `pagerduty`: Events API v2. One alert per correlation key (its `dedup_key`): triggered while
//! the run or incident is active, resolved when it is over.

mod classify;
mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Outcome, Provider, Rate, RenderContext, RenderError, Response};

pub use config::PagerDutyConfig;

/// About 120 events a minute per integration key (a rolling 60 s window).
const RATE: Rate = Rate::new(2.0, 10);

pub struct PagerDutyProvider;

impl Provider for PagerDutyProvider {
    fn kind(&self) -> Kind {
        Kind::Pagerduty
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "routing_key",
            "Routing key",
            "The Events API v2 integration key of the service.",
        )
        .required()
        .secret();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        PagerDutyConfig::parse(config).map(|_| ())
    }

    /// A connection test sends two events (trigger at `info`, then resolve, under a key of
    /// its own): PagerDuty has no dry run, so the alert is briefly visible to responders.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = PagerDutyConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        Ok(render::requests(ctx, &config))
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify::outcome(request, response)
    }

    /// The routing key identifies the destination and is secret, so it is hashed.
    fn destination(&self, config: &Value) -> Destination {
        match PagerDutyConfig::parse(config) {
            Ok(config) => Destination::hashed(Kind::Pagerduty, &config.routing_key, Some(RATE)),
            Err(_) => Destination::new(Kind::Pagerduty, "", Some(RATE)),
        }
    }
}
