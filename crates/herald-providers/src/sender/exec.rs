//! Runs a local program for the `script` provider.

use super::SendError;
use crate::{ExecRequest, Response};

pub(super) async fn run(_exec: &ExecRequest, _max_output: usize) -> Result<Response, SendError> {
    Err(SendError::Other(
        "scripts are not available in this build yet".into(),
    ))
}
