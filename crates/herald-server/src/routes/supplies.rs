//! Supplies: which stacks, namespaces and modules an integration serves, as their own
//! resources: `/v1/stack-supplies`, `/v1/namespace-supplies`, `/v1/module-supplies`. There is
//! no organisation supply: the integration's `is_supplied_to_all_modules` flag is that.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::scope::parse_scope_name;
use herald_domain::{FieldError, IntegrationId, Permission, ScopeKind, SupplyId};
use herald_store::{ScopeFilter, StoreError, SupplyRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStackSupply {
    integration_id: String,
    /// The stack's name (registered or not).
    stack: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespaceSupply {
    integration_id: String,
    /// The namespace's name (registered or not).
    namespace: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModuleSupply {
    integration_id: String,
    /// The module's name, as events carry it in `target_id` (registered or not).
    module: String,
}

/// An integration supplied to one stack, namespace or module.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SupplyView {
    id: String,
    integration_id: String,
    kind: ScopeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    module: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<SupplyRow> for SupplyView {
    fn from(row: SupplyRow) -> Self {
        let name = Some(row.scope_name);
        let (stack, namespace, module) = match row.kind {
            ScopeKind::Stack => (name, None, None),
            ScopeKind::Namespace => (None, name, None),
            _ => (None, None, name),
        };
        Self {
            id: row.id.to_string(),
            integration_id: row.integration_id.to_string(),
            kind: row.kind,
            stack,
            namespace,
            module,
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SupplyPage {
    data: Vec<SupplyView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SupplyQuery {
    /// Only supplies to the scope with exactly this name.
    name: Option<String>,
    integration_id: Option<String>,
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

/// The integration named in a body, if the caller may change it: 404 if it may not even read
/// it, 422 if there is no such integration in this organisation.
pub(crate) async fn integration_to_change(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> Result<IntegrationId, ApiError> {
    let unknown = || ApiError::invalid("integration_id", "no such integration");
    let id = IntegrationId::parse(raw).ok_or_else(unknown)?;
    caller.require_on(Permission::IntegrationUpdate, &id)?;
    state
        .engine
        .store()
        .get_integration(&caller.org_id, &id)
        .await?
        .ok_or_else(unknown)?;
    Ok(id)
}

async fn create(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    integration_id: &str,
    name: &str,
) -> Result<(StatusCode, Json<SupplyView>), ApiError> {
    let row = create_supply(state, caller, kind, integration_id, name).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Supplies an integration to a stack, namespace or module as `POST /v1/{kind}-supplies`
/// does: the caller needs `integration.update` on it; 409 if it already is.
pub async fn create_supply(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    integration_id: &str,
    name: &str,
) -> Result<SupplyRow, ApiError> {
    let scope_name = parse_scope_name(kind.as_str(), name)?;
    let integration_id = integration_to_change(state, caller, integration_id).await?;
    let row = SupplyRow {
        id: SupplyId::generate(),
        org_id: caller.org_id.clone(),
        integration_id,
        kind,
        scope_name,
        created_at: Utc::now(),
    };
    state
        .engine
        .store()
        .insert_supply(&row)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict(FieldError::new(
                kind.as_str(),
                "the integration is already supplied to it",
            )),
            other => other.into(),
        })?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        state,
        caller,
        &format!("{}_supply.create", kind.as_str()),
        ("supply", row.id.as_str()),
        Some(json!({"integration_id": row.integration_id, "kind": kind.as_str(), "name": row.scope_name})),
    )
    .await;
    Ok(row)
}

async fn list(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    query: SupplyQuery,
) -> Result<Json<SupplyPage>, ApiError> {
    let limit = crate::routes::page_limit(query.limit)?;
    let readable = caller.grants.readable_integrations();
    let integration = match &query.integration_id {
        Some(raw) => Some(
            IntegrationId::parse(raw)
                .ok_or_else(|| ApiError::invalid("integration_id", "is not an integration id"))?,
        ),
        None => None,
    };
    let filter = ScopeFilter {
        name: query.name.as_deref(),
        integration_id: integration.as_ref(),
        only: readable.as_deref(),
        ..ScopeFilter::default()
    };
    let page = state
        .engine
        .store()
        .list_supplies(
            &caller.org_id,
            kind,
            &filter,
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(SupplyPage {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

/// A supply of this kind the caller may do `permission` on (via its integration).
async fn load(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    id: &str,
    permission: Permission,
) -> Result<SupplyRow, ApiError> {
    let id = SupplyId::parse(id).ok_or(ApiError::NotFound("supply"))?;
    let row = state
        .engine
        .store()
        .get_supply(&caller.org_id, kind, &id)
        .await?
        .ok_or(ApiError::NotFound("supply"))?;
    caller.require_on_child(permission, &row.integration_id, "supply")?;
    Ok(row)
}

async fn get_one(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    id: &str,
) -> Result<Json<SupplyView>, ApiError> {
    let row = load(state, caller, kind, id, Permission::IntegrationRead).await?;
    Ok(Json(row.into()))
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    id: &str,
) -> Result<StatusCode, ApiError> {
    delete_supply(state, caller, kind, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a supply as `DELETE /v1/{kind}-supplies/{id}` does.
pub async fn delete_supply(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    id: &str,
) -> Result<(), ApiError> {
    let row = load(state, caller, kind, id, Permission::IntegrationUpdate).await?;
    if !state
        .engine
        .store()
        .delete_supply(&caller.org_id, &row.id)
        .await?
    {
        return Err(ApiError::NotFound("supply"));
    }
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        state,
        caller,
        &format!("{}_supply.delete", kind.as_str()),
        ("supply", row.id.as_str()),
        Some(json!({"integration_id": row.integration_id, "name": row.scope_name})),
    )
    .await;
    Ok(())
}

/// The four endpoints of one kind of supply.
macro_rules! supply_endpoints {
    ($kind:expr, $collection:literal, $one:literal, $body:ty,
     $create:ident, $list:ident, $get:ident, $delete:ident, |$b:ident| $name:expr) => {
        #[utoipa::path(post, path = $collection, tag = "supplies", security(("bearer" = ["integration.update"])),
            request_body = $body,
            responses((status = 201, body = SupplyView), (status = 404, body = ErrorBody),
                      (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $create(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            ApiJson($b): ApiJson<$body>,
        ) -> Result<(StatusCode, Json<SupplyView>), ApiError> {
            create(&state, &caller, $kind, &$b.integration_id, $name).await
        }

        #[utoipa::path(get, path = $collection, tag = "supplies", security(("bearer" = ["integration.read"])),
            params(SupplyQuery), responses((status = 200, body = SupplyPage)))]
        pub async fn $list(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            ApiQuery(query): ApiQuery<SupplyQuery>,
        ) -> Result<Json<SupplyPage>, ApiError> {
            list(&state, &caller, $kind, query).await
        }

        #[utoipa::path(get, path = $one, tag = "supplies", security(("bearer" = ["integration.read"])),
            params(("id" = String, Path)), responses((status = 200, body = SupplyView), (status = 404, body = ErrorBody)))]
        pub async fn $get(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            Path(id): Path<String>,
        ) -> Result<Json<SupplyView>, ApiError> {
            get_one(&state, &caller, $kind, &id).await
        }

        #[utoipa::path(delete, path = $one, tag = "supplies", security(("bearer" = ["integration.update"])),
            params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
        pub async fn $delete(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            Path(id): Path<String>,
        ) -> Result<StatusCode, ApiError> {
            delete(&state, &caller, $kind, &id).await
        }
    };
}

supply_endpoints!(
    ScopeKind::Stack,
    "/v1/stack-supplies",
    "/v1/stack-supplies/{id}",
    CreateStackSupply,
    create_stack_supply,
    list_stack_supplies,
    get_stack_supply,
    delete_stack_supply,
    |body| &body.stack
);
supply_endpoints!(
    ScopeKind::Namespace,
    "/v1/namespace-supplies",
    "/v1/namespace-supplies/{id}",
    CreateNamespaceSupply,
    create_namespace_supply,
    list_namespace_supplies,
    get_namespace_supply,
    delete_namespace_supply,
    |body| &body.namespace
);
supply_endpoints!(
    ScopeKind::Module,
    "/v1/module-supplies",
    "/v1/module-supplies/{id}",
    CreateModuleSupply,
    create_module_supply,
    list_module_supplies,
    get_module_supply,
    delete_module_supply,
    |body| &body.module
);
