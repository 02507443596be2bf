//! Integration events (demand): `/v1/integration-events`. Each subscribes one trigger (a
//! fully qualified event type, `prefix.*` or `*`) for one integration on one scope. An
//! integration with at least one is routed by supply ∩ demand instead of its filters.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::limits::{
    check_len, normalise_list, short_text, MAX_DESTINATIONS, MAX_ENVIRONMENTS,
};
use herald_domain::scope::parse_scope_name;
use herald_domain::{
    FieldError, IntegrationEvent, IntegrationEventId, IntegrationId, MessageTemplate, Permission,
    Scope, ScopeKind, Severity, Trigger,
};
use herald_store::{DemandFilter, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::integrations::{check_destination, checked_template};
use crate::routes::supplies::integration_to_change;
use crate::AppState;

/// `{"kind": "organisation"}` or `{"kind": "stack" | "namespace" | "module", "name": "…"}`.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    kind: ScopeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

impl ScopeBody {
    fn parse(self) -> Result<Scope, FieldError> {
        match (self.kind, self.name) {
            (ScopeKind::Organisation, None) => Ok(Scope::Organisation),
            (ScopeKind::Organisation, Some(_)) => Err(FieldError::new(
                "scope.name",
                "the organisation scope takes no name",
            )),
            (kind, Some(name)) => Ok(Scope::Named(kind, parse_scope_name("scope.name", &name)?)),
            (kind, None) => Err(FieldError::new(
                "scope.name",
                format!(
                    "a {} scope needs the {}'s name",
                    kind.as_str(),
                    kind.as_str()
                ),
            )),
        }
    }

    fn of(scope: &Scope) -> Self {
        Self {
            kind: scope.kind(),
            name: scope.name().map(str::to_owned),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegrationEvent {
    integration_id: String,
    /// Unique per integration; what `?name=` finds.
    name: String,
    /// A type from the catalogue (`iac.run.failed`; scanner short names are accepted and stored
    /// as their `security.scan.*` id), a pattern `iac.run.*`, or `*`.
    #[schema(example = "iac.run.*")]
    trigger: String,
    #[serde(deserialize_with = "crate::extract::object")]
    scope: ScopeBody,
    /// Only events from these environments; empty or null means any. At most 100.
    #[schema(max_items = 100)]
    environments: Option<Vec<String>>,
    /// Only events at least this severe (events without a severity do not pass).
    min_severity: Option<Severity>,
    /// Defaults to true.
    enabled: Option<bool>,
    /// Stored and validated like an integration's template.
    #[serde(default, deserialize_with = "crate::extract::optional_object")]
    template: Option<MessageTemplate>,
    /// Where the events it carries go instead of the integration's own destinations: Slack
    /// channels, or URLs for Teams, webhook and custom. Empty or null: the integration's own.
    /// At most 8.
    #[schema(max_items = 8)]
    destinations: Option<Vec<String>>,
}

/// Absent fields stay; `null` clears environments, min_severity and template.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegrationEvent {
    name: Option<String>,
    trigger: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::optional_object")]
    scope: Option<ScopeBody>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    environments: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Severity>)]
    min_severity: Option<Option<Severity>>,
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::present_object")]
    #[schema(value_type = Option<MessageTemplate>)]
    template: Option<Option<MessageTemplate>>,
    /// Replaces its own destinations; null (or empty) goes back to the integration's own.
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 8)]
    destinations: Option<Option<Vec<String>>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IntegrationEventView {
    id: String,
    integration_id: String,
    name: String,
    trigger: String,
    scope: ScopeBody,
    environments: Option<Vec<String>>,
    min_severity: Option<Severity>,
    enabled: bool,
    template: Option<MessageTemplate>,
    /// Its own destinations; null: the integration's own.
    destinations: Option<Vec<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<IntegrationEvent> for IntegrationEventView {
    fn from(d: IntegrationEvent) -> Self {
        Self {
            id: d.id.to_string(),
            integration_id: d.integration_id.to_string(),
            name: d.name,
            trigger: d.trigger.to_string(),
            scope: ScopeBody::of(&d.scope),
            environments: d.environments,
            min_severity: d.min_severity,
            enabled: d.enabled,
            template: d.template,
            destinations: d.destinations,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IntegrationEventPage {
    data: Vec<IntegrationEventView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IntegrationEventQuery {
    name: Option<String>,
    integration_id: Option<String>,
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

fn parse_name(raw: &str) -> Result<String, FieldError> {
    herald_domain::IntegrationName::parse(raw).map(|n| n.as_str().to_owned())
}

/// Empty means any; at most [`MAX_ENVIRONMENTS`] entries of 1 to 256 bytes; duplicates are
/// dropped.
fn parse_environments(raw: Option<Vec<String>>) -> Result<Option<Vec<String>>, FieldError> {
    normalise_list("environments", raw, MAX_ENVIRONMENTS, short_text)
}

/// Destinations checked for the integration's kind, at most [`MAX_DESTINATIONS`]; empty means
/// none (the integration's own).
async fn checked_destinations(
    state: &AppState,
    caller: &Caller,
    integration: &IntegrationId,
    raw: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(items) = raw.filter(|items| !items.is_empty()) else {
        return Ok(None);
    };
    check_len("destinations", items.len(), MAX_DESTINATIONS)?;
    let kind = state
        .engine
        .store()
        .get_integration(&caller.org_id, integration)
        .await?
        .ok_or_else(|| ApiError::invalid("integration_id", "no such integration"))?
        .integration
        .kind;
    for (i, item) in items.iter().enumerate() {
        check_destination(state, kind, item, &format!("destinations[{i}]"))?;
    }
    Ok(normalise_list(
        "destinations",
        Some(items),
        MAX_DESTINATIONS,
        |_| Ok(()),
    )?)
}

/// A trigger naming one type must name one the catalogue knows.
async fn parse_trigger(state: &AppState, caller: &Caller, raw: &str) -> Result<Trigger, ApiError> {
    let trigger = Trigger::parse(raw)?;
    if let Trigger::Exact(id) = &trigger {
        let routing = state.engine.routing_for(&caller.org_id).await?;
        if routing.catalogue().get(id).is_none() {
            return Err(ApiError::invalid(
                "trigger",
                format!("`{raw}` is not in the event catalogue (GET /v1/event-types)"),
            ));
        }
    }
    Ok(trigger)
}

fn name_conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(_) => ApiError::Conflict(FieldError::new(
            "name",
            "this integration already has an integration event with this name",
        )),
        other => other.into(),
    }
}

#[utoipa::path(post, path = "/v1/integration-events", tag = "integration events", security(("bearer" = ["integration.update"])),
    request_body = CreateIntegrationEvent,
    responses((status = 201, body = IntegrationEventView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateIntegrationEvent>,
) -> Result<(StatusCode, Json<IntegrationEventView>), ApiError> {
    let demand = create_integration_event(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(demand.into())))
}

/// Creates an integration event as `POST /v1/integration-events` does: the caller needs
/// `integration.update` on the integration; the change is in the audit log.
pub async fn create_integration_event(
    state: &AppState,
    caller: &Caller,
    body: CreateIntegrationEvent,
) -> Result<IntegrationEvent, ApiError> {
    let (state, caller) = (state.clone(), caller.clone());
    let integration_id = integration_to_change(&state, &caller, &body.integration_id).await?;
    let destinations =
        checked_destinations(&state, &caller, &integration_id, body.destinations).await?;
    let now = Utc::now();
    let demand = IntegrationEvent {
        id: IntegrationEventId::generate(),
        org_id: caller.org_id.clone(),
        integration_id,
        name: parse_name(&body.name)?,
        trigger: parse_trigger(&state, &caller, &body.trigger).await?,
        scope: body.scope.parse()?,
        environments: parse_environments(body.environments)?,
        min_severity: body.min_severity,
        enabled: body.enabled.unwrap_or(true),
        template: checked_template(body.template)?,
        destinations,
        created_at: now,
        updated_at: now,
    };
    state
        .engine
        .store()
        .insert_integration_event(&demand)
        .await
        .map_err(name_conflict)?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        &state,
        &caller,
        "integration_event.create",
        ("integration_event", demand.id.as_str()),
        Some(
            json!({"integration_id": demand.integration_id, "name": demand.name,
                    "trigger": demand.trigger.to_string()}),
        ),
    )
    .await;
    Ok(demand)
}

#[utoipa::path(get, path = "/v1/integration-events", tag = "integration events", security(("bearer" = ["integration.read"])),
    params(IntegrationEventQuery), responses((status = 200, body = IntegrationEventPage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<IntegrationEventQuery>,
) -> Result<Json<IntegrationEventPage>, ApiError> {
    let limit = crate::routes::page_limit(query.limit)?;
    let readable = caller.grants.readable_integrations();
    let integration = match &query.integration_id {
        Some(raw) => Some(
            IntegrationId::parse(raw)
                .ok_or_else(|| ApiError::invalid("integration_id", "is not an integration id"))?,
        ),
        None => None,
    };
    let filter = DemandFilter {
        name: query.name.as_deref(),
        integration_id: integration.as_ref(),
        only: readable.as_deref(),
    };
    let page = state
        .engine
        .store()
        .list_integration_events(
            &caller.org_id,
            &filter,
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(IntegrationEventPage {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

/// An integration event the caller may do `permission` on (via its integration).
async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
    permission: Permission,
) -> Result<IntegrationEvent, ApiError> {
    let not_found = || ApiError::NotFound("integration event");
    let id = IntegrationEventId::parse(id).ok_or_else(not_found)?;
    let demand = state
        .engine
        .store()
        .get_integration_event(&caller.org_id, &id)
        .await?
        .ok_or_else(not_found)?;
    caller.require_on_child(permission, &demand.integration_id, "integration event")?;
    Ok(demand)
}

#[utoipa::path(get, path = "/v1/integration-events/{id}", tag = "integration events", security(("bearer" = ["integration.read"])),
    params(("id" = String, Path)), responses((status = 200, body = IntegrationEventView), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<IntegrationEventView>, ApiError> {
    Ok(Json(
        load(&state, &caller, &id, Permission::IntegrationRead)
            .await?
            .into(),
    ))
}

#[utoipa::path(patch, path = "/v1/integration-events/{id}", tag = "integration events", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)), request_body = UpdateIntegrationEvent,
    responses((status = 200, body = IntegrationEventView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegrationEvent>,
) -> Result<Json<IntegrationEventView>, ApiError> {
    let mut demand = load(&state, &caller, &id, Permission::IntegrationUpdate).await?;
    let mut changed = Vec::new();
    if let Some(name) = body.name {
        demand.name = parse_name(&name)?;
        changed.push("name");
    }
    if let Some(trigger) = body.trigger {
        demand.trigger = parse_trigger(&state, &caller, &trigger).await?;
        changed.push("trigger");
    }
    if let Some(scope) = body.scope {
        demand.scope = scope.parse()?;
        changed.push("scope");
    }
    if let Some(environments) = body.environments {
        demand.environments = parse_environments(environments)?;
        changed.push("environments");
    }
    if let Some(severity) = body.min_severity {
        demand.min_severity = severity;
        changed.push("min_severity");
    }
    if let Some(enabled) = body.enabled {
        demand.enabled = enabled;
        changed.push("enabled");
    }
    if let Some(template) = body.template {
        demand.template = checked_template(template)?;
        changed.push("template");
    }
    if let Some(destinations) = body.destinations {
        demand.destinations =
            checked_destinations(&state, &caller, &demand.integration_id, destinations).await?;
        changed.push("destinations");
    }
    demand.updated_at = Utc::now();
    let updated = state
        .engine
        .store()
        .update_integration_event(&demand)
        .await
        .map_err(name_conflict)?;
    state.engine.integrations_changed(&caller.org_id);
    if !updated {
        return Err(ApiError::NotFound("integration event"));
    }
    audit::record(
        &state,
        &caller,
        "integration_event.update",
        ("integration_event", demand.id.as_str()),
        Some(json!({"changed": changed})),
    )
    .await;
    Ok(Json(demand.into()))
}

#[utoipa::path(delete, path = "/v1/integration-events/{id}", tag = "integration events", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_integration_event(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes an integration event as `DELETE /v1/integration-events/{id}` does; returns it.
pub async fn delete_integration_event(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<IntegrationEvent, ApiError> {
    let (state, caller) = (state.clone(), caller.clone());
    let demand = load(&state, &caller, id, Permission::IntegrationUpdate).await?;
    if !state
        .engine
        .store()
        .delete_integration_event(&caller.org_id, &demand.id)
        .await?
    {
        return Err(ApiError::NotFound("integration event"));
    }
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        &state,
        &caller,
        "integration_event.delete",
        ("integration_event", demand.id.as_str()),
        Some(json!({"integration_id": demand.integration_id, "name": demand.name})),
    )
    .await;
    Ok(demand)
}
