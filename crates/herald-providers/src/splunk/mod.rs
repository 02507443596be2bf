//! `splunk`: not written yet.

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Provider, RenderContext, RenderError};

pub struct SplunkProvider;

impl Provider for SplunkProvider {
    fn kind(&self) -> Kind {
        Kind::Splunk
    }

    fn validate(&self, _config: &Value) -> Result<(), FieldError> {
        Err(FieldError::new("config", "this kind is not available yet"))
    }

    fn render(
        &self,
        _ctx: &RenderContext<'_>,
        _config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        Err(RenderError::Unrenderable(
            "this kind is not available yet".into(),
        ))
    }

    fn destination(&self, _config: &Value) -> Destination {
        Destination::new(Kind::Splunk, "", None)
    }
}
