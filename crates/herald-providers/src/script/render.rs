use super::ScriptConfig;
use crate::{ExecRequest, RenderContext};

pub(super) fn request(ctx: &RenderContext<'_>, config: &ScriptConfig) -> ExecRequest {
    ExecRequest {
        program: config.command.clone(),
        args: config.args.clone(),
        stdin: crate::present::envelope_json(ctx),
        timeout: config.timeout,
    }
}
