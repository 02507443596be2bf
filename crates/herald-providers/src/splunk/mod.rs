//! `splunk`: one JSON event per delivery to an HTTP Event Collector. HEC events are immutable
//! and return no id, so there is no correlation state: each event carries Herald's ids.

mod classify;
mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Outcome, Provider, RenderContext, RenderError, Response};

pub use config::SplunkConfig;

pub struct SplunkProvider;

impl Provider for SplunkProvider {
    fn kind(&self) -> Kind {
        Kind::Splunk
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "hec_url",
            "HEC URL",
            "The HTTP Event Collector's base, e.g. https://splunk.example.com:8088.",
        )
        .required()
        .format("uri");
        s.string("token", "HEC token", "The collector token.")
            .required()
            .secret();
        s.string(
            "index",
            "Index",
            "The index to write to (the token's default if empty).",
        );
        s.string(
            "sourcetype",
            "Source type",
            "The sourcetype of the events (default _json).",
        );
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        SplunkConfig::parse(config).map(|_| ())
    }

    /// A connection test checks `/services/collector/health`, then sends one small event with
    /// sourcetype `herald:test`: HEC has no other way to prove the token and index.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = SplunkConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        Ok(render::requests(ctx, &config))
    }

    fn classify(&self, _request: &Outbound, response: &Response) -> Outcome {
        classify::outcome(response)
    }

    /// One bucket per collector host; HEC publishes no pace of its own.
    fn destination(&self, config: &Value) -> Destination {
        match SplunkConfig::parse(config) {
            Ok(config) => Destination::host_of(Kind::Splunk, &config.base, None),
            Err(_) => Destination::new(Kind::Splunk, "", None),
        }
    }
}
