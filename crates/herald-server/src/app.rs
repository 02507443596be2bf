//! The application operations the API handlers run, for other surfaces (the Slack app) to run
//! in-process with the same checks, permissions and audit records. Each takes the [`Caller`]
//! it acts for; the request bodies are the API's own.

pub use crate::audit::{record as audit, record_system as audit_system};
pub use crate::auth::{caller_for_token, require_token, Caller};
pub use crate::routes::integration_events::{
    create_integration_event, delete_integration_event, CreateIntegrationEvent,
};
pub use crate::routes::integrations::{
    create_integration, set_config, update_integration, CreateIntegration, UpdateIntegration,
};
pub use crate::routes::recovery::{
    replay_event, resend_failed, retry_now, set_paused, ReplayEvent, ResendFailed,
};
pub use crate::routes::supplies::{create_supply, delete_supply};
