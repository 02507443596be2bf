//! The Integrations API of seed 004: create, list, get, update, delete and test.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::attachment::Destinations;
use herald_domain::{
    FieldError, Filters, Integration, IntegrationId, IntegrationName, Kind, MessageTemplate,
    RoutingModel, Severity,
};
use herald_domain::{IntegrationRole, Permission, RoleAssignmentId};
use herald_store::{IntegrationRow, RoleAssignment, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntegration {
    /// One of the kinds this build supports (see the error for the list).
    #[schema(example = "webhook")]
    kind: String,
    /// Display name, unique per kind in the organisation.
    name: String,
    /// Minimum severity for finding_new and finding_changed; other events are not gated.
    severity_filter: Option<Severity>,
    /// Defaults to true.
    enabled: Option<bool>,
    /// Per-kind credentials and URLs. Encrypted at rest, never returned.
    #[schema(value_type = Object)]
    config: Value,
    /// Only events about these targets; empty or null means all. At most 10,000.
    #[schema(max_items = 10000)]
    target_ids: Option<Vec<String>>,
    /// Only these event types (not patterns); empty or null means all. At most 256.
    #[schema(max_items = 256)]
    events: Option<Vec<String>>,
    /// MiniJinja templates over the event's fields that replace the title and/or text shown
    /// (chat, incident and ticket kinds; machine payloads are sent as they are).
    #[serde(default, deserialize_with = "crate::extract::optional_object")]
    template: Option<MessageTemplate>,
    /// Organisation-level channels (Slack) or URLs (Teams, webhook, custom), by default and
    /// per environment: `{"default": [...], "environments": {"production": [...]}}`.
    #[serde(default, deserialize_with = "crate::extract::optional_object")]
    destinations: Option<Destinations>,
    /// Supply ∩ demand: the integration serves every module of the organisation. Default false.
    is_supplied_to_all_modules: Option<bool>,
}

/// Absent fields stay as they are; `null` clears severity_filter, target_ids and events.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntegration {
    name: Option<String>,
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Severity>)]
    severity_filter: Option<Option<Severity>>,
    /// Merged into the stored config (RFC 7396): keys given replace, keys set to null are removed.
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 10000)]
    target_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::extract::present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 256)]
    events: Option<Option<Vec<String>>>,
    /// Replaces the template; null removes it.
    #[serde(default, deserialize_with = "crate::extract::present_object")]
    #[schema(value_type = Option<MessageTemplate>)]
    template: Option<Option<MessageTemplate>>,
    /// Replaces the destinations; null removes them.
    #[serde(default, deserialize_with = "crate::extract::present_object")]
    #[schema(value_type = Option<Destinations>)]
    destinations: Option<Option<Destinations>>,
    is_supplied_to_all_modules: Option<bool>,
}

impl UpdateIntegration {
    /// The names of the fields this update touches; for `config`, the keys it sets or
    /// removes. Never a value: config values are secret.
    fn changed_fields(&self) -> Vec<String> {
        let mut changed = Vec::new();
        let fields = [
            ("name", self.name.is_some()),
            ("enabled", self.enabled.is_some()),
            ("severity_filter", self.severity_filter.is_some()),
            ("target_ids", self.target_ids.is_some()),
            ("events", self.events.is_some()),
            ("template", self.template.is_some()),
            ("destinations", self.destinations.is_some()),
            (
                "is_supplied_to_all_modules",
                self.is_supplied_to_all_modules.is_some(),
            ),
        ];
        for (name, present) in fields {
            if present {
                changed.push(name.to_owned());
            }
        }
        if let Some(Value::Object(patch)) = &self.config {
            changed.extend(patch.keys().map(|key| format!("config.{key}")));
        }
        changed
    }
}

/// An integration as the API shows it: never its config values.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntegrationView {
    id: String,
    kind: Kind,
    name: String,
    severity_filter: Option<Severity>,
    enabled: bool,
    /// Why Herald disabled it on its own, e.g. "the Slack app was uninstalled from Acme
    /// (T0123)"; null once someone sets `enabled` again.
    disabled_reason: Option<String>,
    /// Paused by an operator (`POST /v1/integrations/{id}/pause`): its deliveries wait,
    /// untried, until it is resumed. Null when not paused.
    paused_at: Option<DateTime<Utc>>,
    target_ids: Option<Vec<String>>,
    events: Option<Vec<String>>,
    /// Which config keys are set. Their values are write-only.
    config_keys: Vec<String>,
    template: Option<MessageTemplate>,
    /// Organisation-level channels (Slack) or URLs (Teams, webhook, custom), by default and
    /// per environment; workspace attachments may override them.
    destinations: Option<Destinations>,
    /// Supply ∩ demand: supplied to every module of the organisation.
    is_supplied_to_all_modules: bool,
    /// `filters` (the scanner seed's `events`, `target_ids`, `severity_filter`) until the
    /// integration has an integration event; then `supply_demand`, and the filters no longer apply.
    routing_model: RoutingModel,
    /// What is set but has no effect: filters of an integration routed by supply ∩ demand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Something accepted that will not do what it seems to: the field and why.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Warning {
    field: String,
    message: String,
}

impl IntegrationView {
    pub(crate) fn new(i: Integration, has_integration_events: bool) -> Self {
        let warnings = herald_domain::routing::inert_filters(&i.filters, has_integration_events)
            .into_iter()
            .map(|field| Warning {
                field: field.to_owned(),
                message: herald_domain::routing::inert_filter_message(field),
            })
            .collect();
        Self {
            id: i.id.to_string(),
            kind: i.kind,
            name: i.name,
            severity_filter: i.filters.severity_filter,
            enabled: i.enabled,
            disabled_reason: i.disabled_reason,
            paused_at: i.paused_at,
            target_ids: i.filters.target_ids,
            events: i.filters.events,
            config_keys: i.config_keys,
            template: i.template,
            destinations: i.destinations,
            is_supplied_to_all_modules: i.supplied_to_all_modules,
            routing_model: RoutingModel::of(has_integration_events),
            warnings,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IntegrationPage {
    data: Vec<IntegrationView>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the integration(s) with exactly this name.
    name: Option<String>,
    /// 1 to 250; default 50.
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

/// The `{ok, status, response}` of seed 004's test call.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TestResponse {
    ok: bool,
    /// The destination's HTTP status, or null if it never answered.
    status: Option<u16>,
    /// The start of its answer, or why there was none. Secrets are scrubbed.
    response: String,
}

#[utoipa::path(post, path = "/v1/integrations", tag = "integrations", security(("bearer" = ["integration.create"])),
    request_body = CreateIntegration,
    responses((status = 201, body = IntegrationView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateIntegration>,
) -> Result<(StatusCode, Json<IntegrationView>), ApiError> {
    let created = create_integration(&state, &caller, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(IntegrationView::new(created, false)),
    ))
}

/// Creates an integration as `POST /v1/integrations` does: checks, stores, makes the caller
/// its owner, records it in the audit log.
pub async fn create_integration(
    state: &AppState,
    caller: &Caller,
    body: CreateIntegration,
) -> Result<Integration, ApiError> {
    let state = state.clone();
    caller.require(Permission::IntegrationCreate)?;
    let kind = parse_kind(&state, &body.kind)?;
    let name = IntegrationName::parse(&body.name)?;
    let filters = Filters {
        events: Filters::parse_events(body.events)?,
        target_ids: Filters::parse_target_ids(body.target_ids)?,
        severity_filter: body.severity_filter,
    };
    validate_config(&state, kind, &body.config)?;
    let template = checked_template(body.template)?;
    let destinations = checked_destinations(&state, kind, body.destinations, "destinations")?;
    let id = IntegrationId::generate();
    let (config_sealed, config_keys) = seal(&state, &id, &body.config);
    let now = Utc::now();
    let integration = Integration {
        id,
        org_id: caller.org_id.clone(),
        kind,
        name: name.as_str().to_owned(),
        enabled: body.enabled.unwrap_or(true),
        disabled_reason: None,
        paused_at: None,
        filters,
        supplied_to_all_modules: body.is_supplied_to_all_modules.unwrap_or(false),
        config_keys,
        template,
        destinations,
        created_at: now,
        updated_at: now,
    };
    let new = IntegrationRow {
        integration,
        config_sealed,
    };
    state
        .engine
        .store()
        .insert_integration(&new)
        .await
        .map_err(name_conflict)?;
    state.engine.integrations_changed(&new.integration.org_id);
    // Whoever creates an integration owns it.
    if let Some(creator) = &caller.principal_id {
        let owner = RoleAssignment {
            id: RoleAssignmentId::generate(),
            org_id: caller.org_id.clone(),
            principal_id: creator.clone(),
            role: IntegrationRole::Owner.as_str().to_owned(),
            integration_id: Some(new.integration.id.clone()),
            created_at: now,
        };
        state.engine.store().insert_role_assignment(&owner).await?;
        state.grants.invalidate();
    }
    let id = new.integration.id.to_string();
    let details = json!({"kind": kind.as_str(), "name": new.integration.name, "config_keys": new.integration.config_keys});
    audit::record(
        &state,
        caller,
        "integration.create",
        ("integration", &id),
        Some(details),
    )
    .await;
    tracing::info!(integration_id = %new.integration.id, kind = kind.as_str(), "integration created");
    Ok(new.integration)
}

#[utoipa::path(get, path = "/v1/integrations", tag = "integrations", security(("bearer" = ["integration.read"])), params(ListQuery),
    responses((status = 200, body = IntegrationPage)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<IntegrationPage>, ApiError> {
    let limit = crate::routes::page_limit(query.limit)?;
    let readable = caller.grants.readable_integrations();
    let page = state
        .engine
        .store()
        .list_integrations(
            &caller.org_id,
            query.name.as_deref(),
            readable.as_deref(),
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    let ids: Vec<IntegrationId> = page.items.iter().map(|i| i.id.clone()).collect();
    let with_demand = state
        .engine
        .store()
        .integrations_with_demand(&caller.org_id, &ids)
        .await?;
    Ok(Json(IntegrationPage {
        data: page
            .items
            .into_iter()
            .map(|i| {
                let has = with_demand.contains(&i.id);
                IntegrationView::new(i, has)
            })
            .collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/integrations/{id}", tag = "integrations", security(("bearer" = ["integration.read"])),
    params(("id" = String, Path)), responses((status = 200, body = IntegrationView), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    let row = load(&state, &caller, &id, Permission::IntegrationRead).await?;
    Ok(Json(view(&state, row.integration).await?))
}

#[utoipa::path(patch, path = "/v1/integrations/{id}", tag = "integrations", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)), request_body = UpdateIntegration,
    responses((status = 200, body = IntegrationView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegration>,
) -> Result<Json<IntegrationView>, ApiError> {
    let updated = update_integration(&state, &caller, &id, body).await?;
    Ok(Json(view(&state, updated).await?))
}

/// Updates an integration as `PATCH /v1/integrations/{id}` does: the same checks, the config
/// merged and sealed, the change in the audit log.
pub async fn update_integration(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: UpdateIntegration,
) -> Result<Integration, ApiError> {
    let (state, caller) = (state.clone(), caller.clone());
    let mut row = load(&state, &caller, id, Permission::IntegrationUpdate).await?;
    let changed = body.changed_fields();
    let integration = &mut row.integration;
    if let Some(name) = body.name {
        integration.name = IntegrationName::parse(&name)?.as_str().to_owned();
    }
    if let Some(enabled) = body.enabled {
        integration.enabled = enabled;
        // Whoever sets it again has seen why Herald turned it off.
        integration.disabled_reason = None;
    }
    if let Some(all) = body.is_supplied_to_all_modules {
        integration.supplied_to_all_modules = all;
    }
    if let Some(severity) = body.severity_filter {
        integration.filters.severity_filter = severity;
    }
    if let Some(events) = body.events {
        integration.filters.events = Filters::parse_events(events)?;
    }
    if let Some(target_ids) = body.target_ids {
        integration.filters.target_ids = Filters::parse_target_ids(target_ids)?;
    }
    if let Some(template) = body.template {
        integration.template = checked_template(template)?;
    }
    if let Some(destinations) = body.destinations {
        let kind = integration.kind;
        integration.destinations =
            checked_destinations(&state, kind, destinations, "destinations")?;
    }
    if let Some(patch) = body.config {
        let Value::Object(patch) = patch else {
            return Err(ApiError::invalid("config", "must be an object"));
        };
        let current = state
            .engine
            .open_config(&row)
            .map_err(|reason| ApiError::internal(SealedConfig(reason)))?;
        let Value::Object(mut merged) = current else {
            return Err(ApiError::internal(SealedConfig(
                "the stored config is not an object".into(),
            )));
        };
        for (key, value) in patch {
            if value.is_null() {
                merged.remove(&key);
            } else {
                merged.insert(key, value);
            }
        }
        let merged = Value::Object(merged);
        validate_config(&state, row.integration.kind, &merged)?;
        (row.config_sealed, row.integration.config_keys) =
            seal(&state, &row.integration.id, &merged);
    }
    row.integration.updated_at = Utc::now();
    let updated = state
        .engine
        .store()
        .update_integration(&row)
        .await
        .map_err(name_conflict)?;
    state.engine.integrations_changed(&row.integration.org_id);
    if !updated {
        return Err(ApiError::NotFound("integration"));
    }
    let id = row.integration.id.to_string();
    audit::record(
        &state,
        &caller,
        "integration.update",
        ("integration", &id),
        Some(json!({"changed": changed})),
    )
    .await;
    tracing::info!(integration_id = %row.integration.id, "integration updated");
    Ok(row.integration)
}

#[utoipa::path(delete, path = "/v1/integrations/{id}", tag = "integrations", security(("bearer" = ["integration.delete"])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = IntegrationId::parse(&id).ok_or(ApiError::NotFound("integration"))?;
    caller.require_on(Permission::IntegrationDelete, &id)?;
    let deleted = state
        .engine
        .store()
        .delete_integration(&caller.org_id, &id)
        .await?;
    state.engine.integrations_changed(&caller.org_id);
    if !deleted {
        return Err(ApiError::NotFound("integration"));
    }
    state
        .engine
        .store()
        .delete_integration_assignments(&caller.org_id, &id)
        .await?;
    state
        .engine
        .store()
        .delete_integration_attachments(&caller.org_id, &id)
        .await?;
    state.grants.invalidate();
    audit::record(
        &state,
        &caller,
        "integration.delete",
        ("integration", id.as_str()),
        None,
    )
    .await;
    tracing::info!(integration_id = %id, "integration deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/integrations/{id}/test", tag = "integrations", security(("bearer" = ["integration.test"])),
    params(("id" = String, Path)), responses((status = 200, body = TestResponse), (status = 404, body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TestResponse>, ApiError> {
    let row = load(&state, &caller, &id, Permission::IntegrationTest).await?;
    let result = state
        .engine
        .test_integration(&row)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(TestResponse {
        ok: result.ok,
        status: result.status,
        response: result.response,
    }))
}

/// The API's view of one integration, with its routing model.
pub(crate) async fn view(
    state: &AppState,
    integration: Integration,
) -> Result<IntegrationView, ApiError> {
    let with_demand = state
        .engine
        .store()
        .integrations_with_demand(&integration.org_id, std::slice::from_ref(&integration.id))
        .await?;
    let has = with_demand.contains(&integration.id);
    Ok(IntegrationView::new(integration, has))
}

/// Loads an integration the caller may do `permission` on (404 if it may not even read it).
pub(crate) async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
    permission: Permission,
) -> Result<IntegrationRow, ApiError> {
    let id = IntegrationId::parse(id).ok_or(ApiError::NotFound("integration"))?;
    caller.require_on(permission, &id)?;
    state
        .engine
        .store()
        .get_integration(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("integration"))
}

fn parse_kind(state: &AppState, raw: &str) -> Result<Kind, ApiError> {
    let supported = state.engine.registry().kinds();
    match Kind::parse(raw) {
        Some(kind) if supported.contains(&kind) => Ok(kind),
        known => {
            let list = supported
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let what = match known {
                Some(Kind::Script) => {
                    "runs local programs and is off; the operator can turn it on with HERALD_ENABLE_SCRIPT_PROVIDER=true"
                }
                Some(_) => "is not available in this build",
                None => "is not a known kind",
            };
            Err(ApiError::invalid(
                "kind",
                format!("`{raw}` {what}; use one of: {list}"),
            ))
        }
    }
}

/// Checks a config with its provider, and refuses URLs whose literal address the outbound
/// policy would refuse anyway (names are checked when they are resolved, at send time).
fn validate_config(state: &AppState, kind: Kind, config: &Value) -> Result<(), ApiError> {
    let Some(map) = config.as_object() else {
        return Err(ApiError::invalid("config", "must be an object"));
    };
    let provider = state
        .engine
        .registry()
        .get(kind)
        .expect("the kind was checked against the registry");
    provider.validate(config).map_err(|e| e.under("config"))?;
    // A URL naming a refused address literally is refused now; names are checked at send time.
    let mut urls: Vec<(String, &str)> = Vec::new();
    for (key, value) in map {
        match value {
            Value::String(s) => urls.push((format!("config.{key}"), s)),
            Value::Array(items) => {
                urls.extend(items.iter().enumerate().filter_map(|(i, item)| {
                    item.as_str().map(|s| (format!("config.{key}[{i}]"), s))
                }))
            }
            _ => {}
        }
    }
    for (field, raw) in urls {
        let Ok(url) = url::Url::parse(raw) else {
            continue;
        };
        check_literal_address(state, &url, &field)?;
    }
    Ok(())
}

/// Refuses a URL whose host is, by itself, an address the outbound policy refuses: a literal
/// IP in any spelling, a loopback name or a cloud metadata name. Other names are checked on
/// their resolved address at send time.
fn check_literal_address(state: &AppState, url: &url::Url, field: &str) -> Result<(), ApiError> {
    let address = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.into()),
        Some(url::Host::Ipv6(ip)) => Some(ip.into()),
        Some(url::Host::Domain(name)) => well_known_address(name),
        None => None,
    };
    match address {
        Some(address) => state
            .engine
            .sender()
            .policy()
            .check(address)
            .map_err(|e| FieldError::new(field, e.to_string()).into()),
        None => Ok(()),
    }
}

/// Checks `config` for the row's kind and seals it into the row (which is not stored yet):
/// for surfaces that replace a config themselves (the Slack app storing a refreshed token).
pub fn set_config(
    state: &AppState,
    row: &mut IntegrationRow,
    config: &Value,
) -> Result<(), ApiError> {
    validate_config(state, row.integration.kind, config)?;
    (row.config_sealed, row.integration.config_keys) = seal(state, &row.integration.id, config);
    Ok(())
}

/// Seals a validated config; returns the sealed blob and the names of its keys.
fn seal(state: &AppState, id: &IntegrationId, config: &Value) -> (String, Vec<String>) {
    let keys = config
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let plaintext = serde_json::to_vec(config).expect("JSON values serialise");
    (state.engine.secrets().seal(&plaintext, id.as_str()), keys)
}

/// The address a name stands for wherever it resolves: loopback names and the cloud
/// metadata names. Any other name is checked when it is resolved, at send time.
fn well_known_address(name: &str) -> Option<std::net::IpAddr> {
    // A non-http URL (smtps://0xa9fea9fe) keeps its host opaque; read it as a web host would
    // be read, so decimal, octal and hex IPv4 forms are recognised there too.
    if let Some(host) = url::Url::parse(&format!("http://{name}/"))
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        match host {
            url::Host::Ipv4(ip) => return Some(ip.into()),
            url::Host::Ipv6(ip) => return Some(ip.into()),
            url::Host::Domain(_) => {}
        }
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        Some(std::net::IpAddr::from([127, 0, 0, 1]))
    } else if matches!(
        name.as_str(),
        "metadata" | "metadata.google.internal" | "instance-data" | "instance-data.ec2.internal"
    ) {
        Some(std::net::IpAddr::from([169, 254, 169, 254]))
    } else {
        None
    }
}

/// Destinations a kind can take, each checked: Slack channels, or http(s) URLs (refused
/// addresses refused now, as for configs) for Teams, webhook and custom. Empty means none.
pub(crate) fn checked_destinations(
    state: &AppState,
    kind: Kind,
    destinations: Option<Destinations>,
    field: &str,
) -> Result<Option<Destinations>, ApiError> {
    let Some(destinations) = destinations.filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    destinations.check_caps(field)?;
    for (path, value) in destinations.all() {
        check_destination(state, kind, value, &format!("{field}.{path}"))?;
    }
    Ok(Some(destinations.normalised(field)?))
}

/// One destination a kind can take: a Slack channel, or an http(s) URL (refused addresses
/// refused now, as for configs) for Teams, webhook and custom.
pub(crate) fn check_destination(
    state: &AppState,
    kind: Kind,
    value: &str,
    field: &str,
) -> Result<(), ApiError> {
    match kind {
        Kind::Slack => {
            let channel = value.trim_start_matches('#');
            if channel.is_empty()
                || channel.len() > 100
                || channel.contains(char::is_whitespace)
                || channel.contains(':')
            {
                return Err(ApiError::invalid(
                    field,
                    "must be a Slack channel id or name",
                ));
            }
        }
        Kind::Teams | Kind::Webhook | Kind::Custom => {
            let url = url::Url::parse(value)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .filter(|u| u.username().is_empty() && u.password().is_none())
                .ok_or_else(|| {
                    ApiError::invalid(field, "must be an http or https URL without credentials")
                })?;
            check_literal_address(state, &url, field)?;
        }
        other => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "a {} integration takes no per-workspace destinations",
                    other.as_str()
                ),
            ))
        }
    }
    Ok(())
}

/// A template that compiles and renders a sample event; an empty one means none.
pub(crate) fn checked_template(
    template: Option<MessageTemplate>,
) -> Result<Option<MessageTemplate>, ApiError> {
    match template {
        Some(template) if !template.is_empty() => {
            template.validate()?;
            Ok(Some(template))
        }
        _ => Ok(None),
    }
}

fn name_conflict(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict(_) => ApiError::Conflict(FieldError::new(
            "name",
            "an integration of this kind with this name already exists",
        )),
        other => other.into(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SealedConfig(String);
