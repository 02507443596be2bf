//! Workspace attachments (seed 001): attach an integration to a module to fire after plan,
//! apply or all stages, with the module's channel or URL overrides.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::attachment::{Attachment, Destinations, RunAfter, ATTACHMENT_PREFIX};
use herald_domain::{IntegrationId, Permission};
use herald_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::integrations::checked_destinations;
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAttachment {
    integration_id: String,
    /// The module (workspace) name, as events carry it in `target_id`.
    module: String,
    run_after: RunAfter,
    /// This module's overrides: channels (Slack) or URLs (Teams, webhook, custom), by default
    /// and per environment.
    #[serde(default, deserialize_with = "crate::extract::optional_object")]
    destinations: Option<Destinations>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAttachment {
    run_after: Option<RunAfter>,
    /// Replaces the overrides; null removes them.
    #[serde(default, deserialize_with = "crate::extract::present_object")]
    #[schema(value_type = Option<Destinations>)]
    destinations: Option<Option<Destinations>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    id: String,
    integration_id: String,
    module: String,
    run_after: RunAfter,
    destinations: Destinations,
    /// The principal who attached it.
    created_by: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Attachment> for AttachmentView {
    fn from(a: Attachment) -> Self {
        Self {
            id: a.id,
            integration_id: a.integration_id.to_string(),
            module: a.module,
            run_after: a.run_after,
            destinations: a.destinations,
            created_by: a.created_by,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttachmentPage {
    data: Vec<AttachmentView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttachmentQuery {
    integration_id: Option<String>,
    /// Exact module name: with `integration_id`, finds the one attachment of that pair.
    module: Option<String>,
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

#[utoipa::path(post, path = "/v1/attachments", tag = "routing", security(("bearer" = ["integration.update"])),
    description = "Needs integration.update on the integration.",
    request_body = CreateAttachment,
    responses((status = 201, body = AttachmentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateAttachment>,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    let integration_id =
        IntegrationId::parse(&body.integration_id).ok_or(ApiError::NotFound("integration"))?;
    caller.require_on(Permission::IntegrationUpdate, &integration_id)?;
    let store = state.engine.store();
    let integration = store
        .get_integration(&caller.org_id, &integration_id)
        .await?
        .ok_or(ApiError::NotFound("integration"))?
        .integration;
    let module = body.module.trim();
    if module.is_empty() || module.len() > 256 || module.chars().any(char::is_control) {
        return Err(ApiError::invalid("module", "must be 1 to 256 bytes"));
    }
    let destinations =
        checked_destinations(&state, integration.kind, body.destinations, "destinations")?
            .unwrap_or_default();
    let attachment = Attachment {
        id: Attachment::new_id(),
        org_id: caller.org_id.clone(),
        integration_id,
        module: module.to_owned(),
        run_after: body.run_after,
        destinations,
        created_by: caller.principal_id.as_ref().map(|p| p.to_string()),
        created_at: Utc::now(),
    };
    store
        .insert_attachment(&attachment)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict(herald_domain::FieldError::new(
                "module",
                "the integration is already attached to this module",
            )),
            other => other.into(),
        })?;
    state.engine.integrations_changed(&caller.org_id);
    let details = json!({"integration_id": attachment.integration_id.as_str(), "module": attachment.module,
                         "run_after": attachment.run_after.as_str()});
    audit::record(
        &state,
        &caller,
        "attachment.create",
        ("attachment", &attachment.id),
        Some(details),
    )
    .await;
    Ok((StatusCode::CREATED, Json(attachment.into())))
}

#[utoipa::path(get, path = "/v1/attachments", tag = "routing", security(("bearer" = ["integration.read"])),
    params(AttachmentQuery), responses((status = 200, body = AttachmentPage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<AttachmentQuery>,
) -> Result<Json<AttachmentPage>, ApiError> {
    let limit = crate::routes::page_limit(query.limit)?;
    let integration = query
        .integration_id
        .as_deref()
        .map(|raw| {
            IntegrationId::parse(raw)
                .ok_or_else(|| ApiError::invalid("integration_id", "is not an integration id"))
        })
        .transpose()?;
    let readable = caller.grants.readable_integrations();
    let page = state
        .engine
        .store()
        .list_attachments(
            &caller.org_id,
            integration.as_ref(),
            query.module.as_deref(),
            readable.as_deref(),
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(AttachmentPage {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/attachments/{id}", tag = "routing", security(("bearer" = ["integration.read"])),
    params(("id" = String, Path)), responses((status = 200, body = AttachmentView), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<AttachmentView>, ApiError> {
    Ok(Json(
        load(&state, &caller, &id, Permission::IntegrationRead)
            .await?
            .into(),
    ))
}

#[utoipa::path(patch, path = "/v1/attachments/{id}", tag = "routing", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)), request_body = UpdateAttachment,
    responses((status = 200, body = AttachmentView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateAttachment>,
) -> Result<Json<AttachmentView>, ApiError> {
    let mut attachment = load(&state, &caller, &id, Permission::IntegrationUpdate).await?;
    let mut changed = Vec::new();
    if let Some(run_after) = body.run_after {
        attachment.run_after = run_after;
        changed.push("run_after");
    }
    if let Some(destinations) = body.destinations {
        let store = state.engine.store();
        let kind = store
            .get_integration(&caller.org_id, &attachment.integration_id)
            .await?
            .ok_or(ApiError::NotFound("integration"))?
            .integration
            .kind;
        attachment.destinations =
            checked_destinations(&state, kind, destinations, "destinations")?.unwrap_or_default();
        changed.push("destinations");
    }
    state.engine.store().update_attachment(&attachment).await?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        &state,
        &caller,
        "attachment.update",
        ("attachment", &attachment.id),
        Some(json!({"changed": changed})),
    )
    .await;
    Ok(Json(attachment.into()))
}

#[utoipa::path(delete, path = "/v1/attachments/{id}", tag = "routing", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let attachment = load(&state, &caller, &id, Permission::IntegrationUpdate).await?;
    state
        .engine
        .store()
        .delete_attachment(&caller.org_id, &attachment.id)
        .await?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        &state,
        &caller,
        "attachment.delete",
        ("attachment", &attachment.id),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// An attachment whose integration the caller may do `permission` on; 404 otherwise.
async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
    permission: Permission,
) -> Result<Attachment, ApiError> {
    if !id.starts_with(ATTACHMENT_PREFIX) {
        return Err(ApiError::NotFound("attachment"));
    }
    let attachment = state
        .engine
        .store()
        .get_attachment(&caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("attachment"))?;
    caller.require_on_child(permission, &attachment.integration_id, "attachment")?;
    Ok(attachment)
}
