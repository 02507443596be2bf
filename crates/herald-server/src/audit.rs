//! The audit log: every change to integrations, principals, memberships, role assignments
//! and tokens, with who, what, when and from where. Details name what changed, never a value
//! that could be secret.

use chrono::Utc;
use herald_domain::{AuditId, OrgId};
use herald_store::AuditEntry;
use serde_json::Value;

use crate::auth::Caller;
use crate::AppState;

/// Records one change. A failure to record is logged, not returned: the change itself has
/// already been committed and answering 500 for it would invite a duplicate.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: (&str, &str),
    details: Option<Value>,
) {
    let (resource_type, resource_id) = resource;
    let entry = AuditEntry {
        id: AuditId::generate(),
        org_id: caller.org_id.clone(),
        at: Utc::now(),
        actor_id: caller.principal_id.as_ref().map(|p| p.to_string()),
        token_id: caller.token_id.as_ref().map(|t| t.to_string()),
        source: caller.source.clone(),
        action: action.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_id: resource_id.to_owned(),
        details,
    };
    if let Err(error) = state.engine.store().insert_audit(&entry).await {
        tracing::error!(action, resource_id, error = %herald_domain::error::error_chain(&error), "could not record an audit entry");
    }
}

/// Records a change Herald made on its own, not at a caller's request (the Slack app being
/// uninstalled disables its integrations): no actor, `source` says what caused it.
pub async fn record_system(
    state: &AppState,
    org: &OrgId,
    source: &str,
    action: &str,
    resource: (&str, &str),
    details: Option<Value>,
) {
    let (resource_type, resource_id) = resource;
    let entry = AuditEntry {
        id: AuditId::generate(),
        org_id: org.clone(),
        at: Utc::now(),
        actor_id: None,
        token_id: None,
        source: Some(source.to_owned()),
        action: action.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_id: resource_id.to_owned(),
        details,
    };
    if let Err(error) = state.engine.store().insert_audit(&entry).await {
        tracing::error!(action, resource_id, error = %herald_domain::error::error_chain(&error), "could not record an audit entry");
    }
}
