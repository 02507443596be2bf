//! The application operations the API handlers run, for other surfaces (the Slack app) to run
//! in-process with the same checks, permissions and audit records. Each takes the [`Caller`]
//! it acts for; the request bodies are the API's own.

pub use crate::audit::{record as audit, record_system as audit_system};
pub use crate::auth::{caller_for_token, caller_for_token_hash, require_token, Caller};
pub use crate::error::ApiError;
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

/// The API's handlers, callable in-process with the caller a surface resolved itself (the
/// console's session): `handler(State(state), Extension(caller), …)`. Their request types
/// deserialise from the same JSON the API takes, so a form's values pass the API's checks.
pub mod api {
    pub use crate::extract::{ApiJson, ApiQuery};
    pub use crate::routes::access::{
        add_member, create_principal, create_role_assignment, create_token, delete_principal,
        delete_role_assignment, list_audit, list_members, list_principals, list_role_assignments,
        list_tokens, remove_member, revoke_token, AuditPage, AuditQuery, CreatePrincipal,
        CreateRoleAssignment, CreateToken, CreatedToken, PrincipalPage, PrincipalQuery,
        PrincipalView, RoleAssignmentQuery, RoleAssignmentView, TokenView,
    };
    pub use crate::routes::attachments::{
        create as create_attachment, delete as delete_attachment, list as list_attachments,
        AttachmentPage, AttachmentQuery, AttachmentView, CreateAttachment,
    };
    pub use crate::routes::deliveries::{
        get_one as get_delivery, list as list_deliveries, retry as retry_delivery, DeliveryDetail,
        DeliveryPage, ListQuery as DeliveryQuery,
    };
    pub use crate::routes::event_types::{
        delete as delete_event_type, list as list_event_types, register as register_event_type,
        EventTypePage, EventTypeQuery, RegisterEventType,
    };
    pub use crate::routes::events::{
        emit as emit_event, get_one as get_event, list as list_events, EventPage,
        ListQuery as EventQuery,
    };
    pub use crate::routes::integration_events::{
        list as list_integration_events, IntegrationEventQuery,
    };
    pub use crate::routes::integrations::{
        delete as delete_integration, get_one as get_integration, list as list_integrations,
        test as test_integration, IntegrationPage, IntegrationView, ListQuery as IntegrationQuery,
        TestResponse,
    };
    pub use crate::routes::routing::{
        explain_dry_run, explain_stored, RoutingDecision, RoutingExplanation,
    };
    pub use crate::routes::supplies::{
        list_module_supplies, list_namespace_supplies, list_stack_supplies, SupplyQuery,
    };
}

/// The config values an editor of the integration may see again: those its kind's schema
/// lists and does not mark secret. Needs `integration.update` on it, as editing does; a
/// secret field is never returned, only whether it is set (`IntegrationView::config_keys`).
pub async fn editable_config(
    state: &crate::AppState,
    caller: &Caller,
    id: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let row = crate::routes::integrations::load(
        state,
        caller,
        id,
        herald_domain::Permission::IntegrationUpdate,
    )
    .await?;
    let provider = state
        .engine
        .registry()
        .get(row.integration.kind)
        .ok_or(ApiError::NotFound("integration"))?;
    let schema = provider.config_schema();
    let secret = herald_providers::config_schema::secret_fields(&schema);
    let shown =
        |key: &str| schema["properties"].get(key).is_some() && !secret.iter().any(|s| s == key);
    let config = state
        .engine
        .open_config(&row)
        .map_err(|reason| ApiError::internal(std::io::Error::other(reason)))?;
    Ok(match config {
        serde_json::Value::Object(map) => map.into_iter().filter(|(key, _)| shown(key)).collect(),
        _ => serde_json::Map::new(),
    })
}
