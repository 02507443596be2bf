//! `webex`: not written yet.

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Provider, RenderContext, RenderError};

pub struct WebexProvider;

impl Provider for WebexProvider {
    fn kind(&self) -> Kind {
        Kind::Webex
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
        Destination::new(Kind::Webex, "", None)
    }
}
