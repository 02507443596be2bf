use super::signature::SigningSecret;
use crate::{OutboundRequest, RenderContext};

/// The envelope is a function of the stored event and the delivery's integration snapshot
/// only, so every retry sends the same bytes under the same webhook-id.
pub(super) fn request(
    ctx: &RenderContext<'_>,
    url: url::Url,
    secret: Option<&SigningSecret>,
) -> OutboundRequest {
    let body = crate::present::envelope_json(ctx);
    let msg_id = ctx.target.delivery_id.as_str();
    let timestamp = ctx.now.timestamp();
    let mut request = OutboundRequest::post_json(url, Vec::new())
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(secret) = secret {
        request = request.header("webhook-signature", secret.sign(msg_id, timestamp, &body));
    }
    request.body = body;
    request
}
