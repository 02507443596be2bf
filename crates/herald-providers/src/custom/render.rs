use super::CustomConfig;
use crate::{OutboundRequest, RenderContext};

/// The body depends only on the event and the integration, so every retry sends the same
/// bytes under the same `webhook-id` and the receiver can drop duplicates.
pub(super) fn request(ctx: &RenderContext<'_>, config: &CustomConfig) -> OutboundRequest {
    let body = crate::present::envelope_json(ctx);
    OutboundRequest::post_json(config.url.clone(), body)
        .header(&config.key_header, config.api_key.clone())
        .header("webhook-id", ctx.target.delivery_id.clone())
        .header("webhook-timestamp", ctx.now.timestamp().to_string())
}
