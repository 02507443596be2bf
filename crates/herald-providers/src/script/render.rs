use serde::Serialize;

use super::ScriptConfig;
use crate::{ExecRequest, RenderContext};

/// The same envelope the webhook provider posts: the event, plus which integration sent it.
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

pub(super) fn request(ctx: &RenderContext<'_>, config: &ScriptConfig) -> ExecRequest {
    let envelope = Envelope {
        event: ctx.event,
        integration: IntegrationRef {
            id: &ctx.target.integration_id,
            name: &ctx.target.integration_name,
            kind: ctx.target.kind,
        },
    };
    ExecRequest {
        program: config.command.clone(),
        args: config.args.clone(),
        stdin: serde_json::to_vec(&envelope).expect("the envelope serialises"),
        timeout: config.timeout,
    }
}
