//! The event catalogue: `/v1/event-types`. Herald's presets (IaC runs, security scans with the
//! scanner's short names as aliases, health) and the organisation's registered types. Events of
//! a type not in the catalogue are refused.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use herald_domain::catalogue::{parse_type_id, preset, presets};
use herald_domain::{CompiledType, EventTypeDef, FieldError, Permission};
use herald_store::{EventTypeRow, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEventType {
    /// Fully qualified: dot-separated lower-case segments, e.g. `acme.deploy.finished`.
    id: String,
    description: String,
    /// A JSON Schema for the events' `data` (checked as null when an event has none).
    #[schema(value_type = Option<Object>)]
    schema: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventTypePage {
    data: Vec<EventTypeDef>,
    /// Always null: the catalogue is answered whole.
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventTypeQuery {
    /// Only the type with this id or alias.
    name: Option<String>,
    /// Only presets (true) or only registered types (false).
    preset: Option<bool>,
}

fn registered(row: EventTypeRow) -> EventTypeDef {
    EventTypeDef {
        id: row.id,
        description: row.description,
        schema: row.schema,
        aliases: Vec::new(),
        preset: false,
    }
}

#[utoipa::path(post, path = "/v1/event-types", tag = "event types", security(("bearer" = ["catalogue.manage"])),
    request_body = RegisterEventType,
    responses((status = 201, body = EventTypeDef), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<RegisterEventType>,
) -> Result<(StatusCode, Json<EventTypeDef>), ApiError> {
    caller.require(Permission::CatalogueManage)?;
    let id = parse_type_id("id", &body.id)?;
    if body.description.trim().is_empty() || body.description.len() > 1024 {
        return Err(ApiError::invalid("description", "must be 1 to 1024 bytes"));
    }
    let taken = || ApiError::Conflict(FieldError::new("id", "this event type already exists"));
    if preset(&id).is_some() {
        return Err(taken());
    }
    let def = EventTypeDef {
        id,
        description: body.description,
        schema: body.schema,
        aliases: Vec::new(),
        preset: false,
    };
    // Refuse a schema that does not compile now, not at the first event.
    CompiledType::compile(def.clone(), "schema")?;
    let row = EventTypeRow {
        org_id: caller.org_id.clone(),
        id: def.id.clone(),
        description: def.description.clone(),
        schema: def.schema.clone(),
        created_at: Utc::now(),
    };
    state
        .engine
        .store()
        .insert_event_type(&row)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => taken(),
            other => other.into(),
        })?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        &state,
        &caller,
        "event_type.create",
        ("event_type", &def.id),
        Some(json!({"has_schema": def.schema.is_some()})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(def)))
}

#[utoipa::path(get, path = "/v1/event-types", tag = "event types", security(("bearer" = ["event.read"])),
    params(EventTypeQuery), responses((status = 200, body = EventTypePage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<EventTypeQuery>,
) -> Result<Json<EventTypePage>, ApiError> {
    caller.require(Permission::EventRead)?;
    let mut all: Vec<EventTypeDef> = presets().iter().map(|p| p.def.clone()).collect();
    all.extend(
        state
            .engine
            .store()
            .list_event_types(&caller.org_id)
            .await?
            .into_iter()
            .map(registered),
    );
    let data = all
        .into_iter()
        .filter(|t| {
            query
                .name
                .as_ref()
                .is_none_or(|n| &t.id == n || t.aliases.contains(n))
        })
        .filter(|t| query.preset.is_none_or(|p| t.preset == p))
        .collect();
    Ok(Json(EventTypePage {
        data,
        next_cursor: None,
    }))
}

#[utoipa::path(get, path = "/v1/event-types/{id}", tag = "event types", security(("bearer" = ["event.read"])),
    params(("id" = String, Path, description = "The type's id or alias")),
    responses((status = 200, body = EventTypeDef), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<EventTypeDef>, ApiError> {
    caller.require(Permission::EventRead)?;
    if let Some(found) = preset(&id) {
        return Ok(Json(found.def.clone()));
    }
    let rows = state
        .engine
        .store()
        .list_event_types(&caller.org_id)
        .await?;
    rows.into_iter()
        .find(|r| r.id == id)
        .map(|r| Json(registered(r)))
        .ok_or(ApiError::NotFound("event type"))
}

#[utoipa::path(delete, path = "/v1/event-types/{id}", tag = "event types", security(("bearer" = ["catalogue.manage"])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "A preset, which cannot be deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::CatalogueManage)?;
    if !state
        .engine
        .store()
        .delete_event_type(&caller.org_id, &id)
        .await?
    {
        if preset(&id).is_some() {
            return Err(ApiError::Conflict(FieldError::new(
                "id",
                "presets cannot be deleted",
            )));
        }
        return Err(ApiError::NotFound("event type"));
    }
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        &state,
        &caller,
        "event_type.delete",
        ("event_type", &id),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
