//! SMTP submission for the `email` provider.

use super::{SendError, Sender};
use crate::{MailRequest, Response};

pub(super) async fn send(_sender: &Sender, _mail: &MailRequest) -> Result<Response, SendError> {
    Err(SendError::Other(
        "e-mail is not available in this build yet".into(),
    ))
}
