use serde::Serialize;

use super::CustomConfig;
use crate::{OutboundRequest, RenderContext};

/// The webhook provider's envelope: the stored event plus the integration it went to.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(flatten)]
    event: &'a herald_domain::Event,
    integration: IntegrationRef<'a>,
}

#[derive(Serialize)]
struct IntegrationRef<'a> {
    id: &'a str,
    name: &'a str,
    kind: herald_domain::Kind,
}

/// The body depends only on the event and the integration, so every retry sends the same
/// bytes under the same `webhook-id` and the receiver can drop duplicates.
pub(super) fn request(ctx: &RenderContext<'_>, config: &CustomConfig) -> OutboundRequest {
    let envelope = Envelope {
        event: ctx.event,
        integration: IntegrationRef {
            id: &ctx.target.integration_id,
            name: &ctx.target.integration_name,
            kind: ctx.target.kind,
        },
    };
    let body = serde_json::to_vec(&envelope).expect("the envelope serialises");
    OutboundRequest::post_json(config.url.clone(), body)
        .header(&config.key_header, config.api_key.clone())
        .header("webhook-id", ctx.target.delivery_id.clone())
        .header("webhook-timestamp", ctx.now.timestamp().to_string())
}
