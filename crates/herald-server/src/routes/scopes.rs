//! The scope tree the platform registers: `/v1/stacks`, `/v1/namespaces` (each under a stack)
//! and `/v1/modules` (each under a namespace). Names are the platform's identifiers; a module's
//! name is what its events carry as `target_id`. Registering is optional: it lets an event that
//! names only its module route by the module's namespace and stack.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::scope::parse_scope_name;
use herald_domain::{Permission, ScopeId, ScopeKind};
use herald_store::{ScopeDeleteError, ScopeFilter, ScopeRow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;
use herald_domain::FieldError;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStack {
    name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespace {
    name: String,
    /// The registered stack it belongs to, by name.
    stack: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModule {
    /// What events about this module carry as `target_id`.
    name: String,
    /// The registered namespace it belongs to, by name.
    namespace: String,
}

/// A registered stack, namespace or module.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScopeView {
    id: String,
    kind: ScopeKind,
    name: String,
    /// A namespace's stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    stack: Option<String>,
    /// A module's namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<ScopeRow> for ScopeView {
    fn from(row: ScopeRow) -> Self {
        let (stack, namespace) = match row.kind {
            ScopeKind::Namespace => (row.parent, None),
            ScopeKind::Module => (None, row.parent),
            _ => (None, None),
        };
        Self {
            id: row.id.to_string(),
            kind: row.kind,
            name: row.name,
            stack,
            namespace,
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScopePage {
    data: Vec<ScopeView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScopeQuery {
    /// Only the one with exactly this name.
    name: Option<String>,
    /// Namespaces of this stack, or modules of this namespace.
    parent: Option<String>,
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

async fn create(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    name: &str,
    parent: Option<&str>,
) -> Result<(StatusCode, Json<ScopeView>), ApiError> {
    caller.require(Permission::CatalogueManage)?;
    let name = parse_scope_name("name", name)?;
    let store = state.engine.store();
    let parent = match (kind.parent(), parent) {
        (Some(parent_kind), Some(raw)) => {
            let field = parent_kind.as_str();
            let parent = parse_scope_name(field, raw)?;
            let filter = ScopeFilter {
                name: Some(&parent),
                ..ScopeFilter::default()
            };
            let found = store
                .list_scopes(&caller.org_id, parent_kind, &filter, None, 1)
                .await?;
            if found.items.is_empty() {
                return Err(ApiError::invalid(
                    field,
                    format!("no {field} named `{parent}` is registered"),
                ));
            }
            Some(parent)
        }
        _ => None,
    };
    let row = ScopeRow {
        id: ScopeId::generate(),
        org_id: caller.org_id.clone(),
        kind,
        name,
        parent,
        created_at: Utc::now(),
    };
    store.insert_scope(&row).await.map_err(|e| match e {
        herald_store::StoreError::Conflict(_) => ApiError::Conflict(FieldError::new(
            "name",
            format!("a {} with this name is already registered", kind.as_str()),
        )),
        other => other.into(),
    })?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        state,
        caller,
        &format!("{}.create", kind.as_str()),
        (kind.as_str(), row.id.as_str()),
        Some(json!({"name": row.name, "parent": row.parent})),
    )
    .await;
    Ok((StatusCode::CREATED, Json(row.into())))
}

async fn list(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    query: ScopeQuery,
) -> Result<Json<ScopePage>, ApiError> {
    caller.require(Permission::IntegrationRead)?;
    let limit = crate::routes::page_limit(query.limit)?;
    let filter = ScopeFilter {
        name: query.name.as_deref(),
        parent: query.parent.as_deref(),
        ..ScopeFilter::default()
    };
    let page = state
        .engine
        .store()
        .list_scopes(
            &caller.org_id,
            kind,
            &filter,
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(ScopePage {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

fn not_found(kind: ScopeKind) -> ApiError {
    ApiError::NotFound(match kind {
        ScopeKind::Stack => "stack",
        ScopeKind::Namespace => "namespace",
        _ => "module",
    })
}

async fn get_one(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    id: &str,
) -> Result<Json<ScopeView>, ApiError> {
    caller.require(Permission::IntegrationRead)?;
    let id = ScopeId::parse(id).ok_or(not_found(kind))?;
    let row = state
        .engine
        .store()
        .get_scope(&caller.org_id, kind, &id)
        .await?
        .ok_or(not_found(kind))?;
    Ok(Json(row.into()))
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    kind: ScopeKind,
    id: &str,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::CatalogueManage)?;
    let id = ScopeId::parse(id).ok_or(not_found(kind))?;
    let deleted = state
        .engine
        .store()
        .delete_scope(&caller.org_id, kind, &id)
        .await
        .map_err(|e| match e {
            ScopeDeleteError::HasChildren(what) => ApiError::Conflict(FieldError::new(
                "id",
                format!("{what} are registered under it; delete them first"),
            )),
            ScopeDeleteError::Store(e) => e.into(),
        })?
        .ok_or(not_found(kind))?;
    state.engine.integrations_changed(&caller.org_id);
    audit::record(
        state,
        caller,
        &format!("{}.delete", kind.as_str()),
        (kind.as_str(), id.as_str()),
        Some(json!({"name": deleted.name})),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The four endpoints of one level of the tree.
macro_rules! scope_endpoints {
    ($kind:expr, $tag:literal, $collection:literal, $one:literal, $body:ty,
     $create:ident, $list:ident, $get:ident, $delete:ident, |$b:ident| $parent:expr) => {
        #[utoipa::path(post, path = $collection, tag = "scopes", security(("bearer" = ["catalogue.manage"])),
            request_body = $body,
            responses((status = 201, body = ScopeView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
        pub async fn $create(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            ApiJson($b): ApiJson<$body>,
        ) -> Result<(StatusCode, Json<ScopeView>), ApiError> {
            create(&state, &caller, $kind, &$b.name, $parent).await
        }

        #[utoipa::path(get, path = $collection, tag = "scopes", security(("bearer" = ["integration.read"])),
            params(ScopeQuery), responses((status = 200, body = ScopePage)))]
        pub async fn $list(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            ApiQuery(query): ApiQuery<ScopeQuery>,
        ) -> Result<Json<ScopePage>, ApiError> {
            list(&state, &caller, $kind, query).await
        }

        #[utoipa::path(get, path = $one, tag = "scopes", security(("bearer" = ["integration.read"])),
            params(("id" = String, Path)), responses((status = 200, body = ScopeView), (status = 404, body = ErrorBody)))]
        pub async fn $get(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            Path(id): Path<String>,
        ) -> Result<Json<ScopeView>, ApiError> {
            get_one(&state, &caller, $kind, &id).await
        }

        #[utoipa::path(delete, path = $one, tag = "scopes", security(("bearer" = ["catalogue.manage"])),
            params(("id" = String, Path)),
            responses((status = 204), (status = 404, body = ErrorBody),
                      (status = 409, body = ErrorBody, description = "Scopes are registered under it")))]
        pub async fn $delete(
            State(state): State<AppState>,
            Extension(caller): Extension<Caller>,
            Path(id): Path<String>,
        ) -> Result<StatusCode, ApiError> {
            delete(&state, &caller, $kind, &id).await
        }
    };
}

scope_endpoints!(
    ScopeKind::Stack,
    "stack",
    "/v1/stacks",
    "/v1/stacks/{id}",
    CreateStack,
    create_stack,
    list_stacks,
    get_stack,
    delete_stack,
    |body| None
);
scope_endpoints!(
    ScopeKind::Namespace,
    "namespace",
    "/v1/namespaces",
    "/v1/namespaces/{id}",
    CreateNamespace,
    create_namespace,
    list_namespaces,
    get_namespace,
    delete_namespace,
    |body| Some(&body.stack)
);
scope_endpoints!(
    ScopeKind::Module,
    "module",
    "/v1/modules",
    "/v1/modules/{id}",
    CreateModule,
    create_module,
    list_modules,
    get_module,
    delete_module,
    |body| Some(&body.namespace)
);
