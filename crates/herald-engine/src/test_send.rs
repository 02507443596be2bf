//! `POST /v1/integrations/{id}/test`: a synthetic event sent through the real provider and
//! sender, recorded nowhere.

use chrono::Utc;
use herald_domain::{DeliveryId, Event, EventId, EventInput};
use herald_providers::{Outcome, Purpose, RenderContext, Target};
use herald_store::IntegrationRow;
use serde_json::json;

use crate::Engine;

#[derive(Debug, Clone, serde::Serialize)]
pub struct TestResult {
    pub ok: bool,
    /// The destination's HTTP status, if it answered.
    pub status: Option<u16>,
    /// The start of its answer, or why there was none. Scrubbed of secrets.
    pub response: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("no provider for kind {0}")]
    NoProvider(&'static str),
    #[error("{0}")]
    Config(String),
}

impl Engine {
    pub async fn test_integration(&self, row: &IntegrationRow) -> Result<TestResult, TestError> {
        let integration = &row.integration;
        let provider = self
            .registry
            .get(integration.kind)
            .ok_or(TestError::NoProvider(integration.kind.as_str()))?;
        let config = self.open_config(row).map_err(TestError::Config)?;
        let input: EventInput = serde_json::from_value(json!({
            "type": "herald.test",
            "title": "Herald test event",
            "summary": "If you can read this, the integration works.",
            "status": "test",
        }))
        .expect("the test event is well-formed");
        let new = input.parse().expect("the test event is valid");
        let event = Event::from_new(&EventId::generate(), &new, Utc::now());
        let target = Target {
            delivery_id: DeliveryId::generate().to_string(),
            integration_id: integration.id.to_string(),
            integration_name: integration.name.clone(),
            kind: integration.kind,
        };
        let ctx = RenderContext {
            event: &event,
            target: &target,
            prior: None,
            earlier: &[],
            now: self.now(),
            purpose: Purpose::ConnectionTest,
            endpoints: &self.config.endpoints,
            destination: None,
            prepared: None,
        };
        let exchange = self.exchange(provider, &config, &ctx).await;
        let (ok, reason) = match exchange.outcome {
            Outcome::Delivered { .. } => (true, None),
            Outcome::Retry { reason, .. } | Outcome::Failed { reason } => (false, Some(reason)),
        };
        let response = match (exchange.response_excerpt, reason) {
            (Some(excerpt), _) if !excerpt.is_empty() => excerpt,
            (_, Some(reason)) => reason,
            _ => String::new(),
        };
        Ok(TestResult {
            ok,
            status: exchange.status_code,
            response,
        })
    }
}
