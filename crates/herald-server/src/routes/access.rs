//! Identities and access: users, groups (nestable) and service principals, their role
//! assignments, API tokens, the audit log, and `GET /v1/me`.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::{
    IntegrationId, IntegrationRole, OrgRole, Permission, PrincipalId, PrincipalKind,
    RoleAssignmentId, TokenId,
};
use herald_store::{
    AuditEntry, AuditFilter, MembershipError, NewToken, Principal, RoleAssignment, StoreError,
    TokenInfo,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrincipal {
    kind: PrincipalKind,
    /// Unique per kind in the organisation: 1 to 200 characters.
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PrincipalView {
    id: String,
    kind: PrincipalKind,
    name: String,
    created_at: DateTime<Utc>,
}

impl From<Principal> for PrincipalView {
    fn from(p: Principal) -> Self {
        Self {
            id: p.id.to_string(),
            kind: p.kind,
            name: p.name,
            created_at: p.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PrincipalPage {
    data: Vec<PrincipalView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PrincipalQuery {
    kind: Option<PrincipalKind>,
    /// Exact name: finds one principal by name.
    name: Option<String>,
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

#[utoipa::path(post, path = "/v1/principals", tag = "access", security(("bearer" = ["principal.manage"])),
    request_body = CreatePrincipal,
    responses((status = 201, body = PrincipalView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_principal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreatePrincipal>,
) -> Result<(StatusCode, Json<PrincipalView>), ApiError> {
    caller.require(Permission::PrincipalManage)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 200 characters, without control characters",
        ));
    }
    let principal = Principal {
        id: PrincipalId::generate(),
        org_id: caller.org_id.clone(),
        kind: body.kind,
        name: name.to_owned(),
        created_at: Utc::now(),
    };
    state
        .engine
        .store()
        .insert_principal(&principal)
        .await
        .map_err(|e| conflict(e, "name", "a principal of this kind already has this name"))?;
    let id = principal.id.to_string();
    let details = json!({"kind": principal.kind.as_str(), "name": principal.name});
    audit::record(
        &state,
        &caller,
        "principal.create",
        ("principal", &id),
        Some(details),
    )
    .await;
    Ok((StatusCode::CREATED, Json(principal.into())))
}

#[utoipa::path(get, path = "/v1/principals", tag = "access", security(("bearer" = ["principal.read"])),
    params(PrincipalQuery), responses((status = 200, body = PrincipalPage), (status = 403, body = ErrorBody)))]
pub async fn list_principals(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<PrincipalQuery>,
) -> Result<Json<PrincipalPage>, ApiError> {
    caller.require(Permission::PrincipalRead)?;
    let limit = crate::routes::page_limit(query.limit)?;
    let page = state
        .engine
        .store()
        .list_principals(
            &caller.org_id,
            query.kind,
            query.name.as_deref(),
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(PrincipalPage {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/principals/{id}", tag = "access", security(("bearer" = ["principal.read"])),
    params(("id" = String, Path)), responses((status = 200, body = PrincipalView), (status = 404, body = ErrorBody)))]
pub async fn get_principal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<PrincipalView>, ApiError> {
    caller.require(Permission::PrincipalRead)?;
    Ok(Json(load_principal(&state, &caller, &id).await?.into()))
}

#[utoipa::path(delete, path = "/v1/principals/{id}", tag = "access", security(("bearer" = ["principal.manage"])),
    params(("id" = String, Path)), responses((status = 204, description = "Deleted with its memberships and role assignments; its tokens are revoked"), (status = 404, body = ErrorBody)))]
pub async fn delete_principal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::PrincipalManage)?;
    let id = PrincipalId::parse(&id).ok_or(ApiError::NotFound("principal"))?;
    if !state
        .engine
        .store()
        .delete_principal(&caller.org_id, &id)
        .await?
    {
        return Err(ApiError::NotFound("principal"));
    }
    state.grants.invalidate();
    state.tokens.clear();
    audit::record(
        &state,
        &caller,
        "principal.delete",
        ("principal", id.as_str()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/principals/{id}/members", tag = "access", security(("bearer" = ["principal.read"])),
    params(("id" = String, Path)), responses((status = 200, body = Vec<PrincipalView>), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Vec<PrincipalView>>, ApiError> {
    caller.require(Permission::PrincipalRead)?;
    let group = load_principal(&state, &caller, &id).await?;
    let members = state
        .engine
        .store()
        .list_members(&caller.org_id, &group.id)
        .await?;
    Ok(Json(members.into_iter().map(Into::into).collect()))
}

#[utoipa::path(put, path = "/v1/principals/{id}/members/{member_id}", tag = "access", security(("bearer" = ["principal.manage"])),
    params(("id" = String, Path, description = "A group"), ("member_id" = String, Path, description = "A user, group or service principal")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((group, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::PrincipalManage)?;
    let group_id = PrincipalId::parse(&group).ok_or(ApiError::NotFound("principal"))?;
    let member_id = PrincipalId::parse(&member).ok_or(ApiError::NotFound("principal"))?;
    match state
        .engine
        .store()
        .add_member(&caller.org_id, &group_id, &member_id)
        .await
    {
        Ok(()) => {}
        Err(MembershipError::NotFound) => return Err(ApiError::NotFound("principal")),
        Err(MembershipError::NotAGroup) => {
            return Err(ApiError::invalid(
                "id",
                "is not a group; only groups have members",
            ))
        }
        Err(MembershipError::Cycle) => {
            return Err(ApiError::invalid(
                "member_id",
                "contains this group already; a group cannot be a member of itself",
            ))
        }
        Err(MembershipError::Store(error)) => return Err(error.into()),
    }
    state.grants.invalidate();
    let details = json!({"member_id": member_id.as_str()});
    audit::record(
        &state,
        &caller,
        "group.member_add",
        ("principal", group_id.as_str()),
        Some(details),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/principals/{id}/members/{member_id}", tag = "access", security(("bearer" = ["principal.manage"])),
    params(("id" = String, Path), ("member_id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((group, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::PrincipalManage)?;
    let group_id = PrincipalId::parse(&group).ok_or(ApiError::NotFound("membership"))?;
    let member_id = PrincipalId::parse(&member).ok_or(ApiError::NotFound("membership"))?;
    if !state
        .engine
        .store()
        .remove_member(&caller.org_id, &group_id, &member_id)
        .await?
    {
        return Err(ApiError::NotFound("membership"));
    }
    state.grants.invalidate();
    let details = json!({"member_id": member_id.as_str()});
    audit::record(
        &state,
        &caller,
        "group.member_remove",
        ("principal", group_id.as_str()),
        Some(details),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleAssignment {
    principal_id: String,
    /// Organisation roles: Owner, Contributor, Reader, IntegrationCreator,
    /// IntegrationContributor, IntegrationReader, EventPublisher, Approver. With `integration_id`:
    /// Owner, Contributor, Reader, IdentityAccessManager.
    role: String,
    /// The integration the role is on; absent for an organisation role.
    integration_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoleAssignmentView {
    id: String,
    principal_id: String,
    role: String,
    integration_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<RoleAssignment> for RoleAssignmentView {
    fn from(a: RoleAssignment) -> Self {
        Self {
            id: a.id.to_string(),
            principal_id: a.principal_id.to_string(),
            role: a.role,
            integration_id: a.integration_id.map(|i| i.to_string()),
            created_at: a.created_at,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignmentQuery {
    principal_id: Option<String>,
    integration_id: Option<String>,
}

/// Granting on the organisation needs role.grant; on an integration, integration.grant there.
fn require_grant(caller: &Caller, integration: Option<&IntegrationId>) -> Result<(), ApiError> {
    match integration {
        Some(id) => caller.require_on(Permission::IntegrationGrant, id),
        None => caller.require(Permission::RoleGrant),
    }
}

#[utoipa::path(post, path = "/v1/role-assignments", tag = "access",
    security(("bearer" = ["role.grant", "integration.grant"])),
    description = "Needs role.grant for an organisation role, or integration.grant on the integration for a role on it, and every permission the role carries on that scope: nobody grants more than they hold (an IdentityAccessManager grants Reader and IdentityAccessManager).",
    request_body = CreateRoleAssignment,
    responses((status = 201, body = RoleAssignmentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_role_assignment(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateRoleAssignment>,
) -> Result<(StatusCode, Json<RoleAssignmentView>), ApiError> {
    let integration = body
        .integration_id
        .as_deref()
        .map(|raw| IntegrationId::parse(raw).ok_or(ApiError::NotFound("integration")))
        .transpose()?;
    require_grant(&caller, integration.as_ref())?;
    // Nobody grants a role carrying a permission they do not hold on that scope
    // (Kubernetes RBAC's escalation rule).
    let escalation = match &integration {
        Some(id) => IntegrationRole::parse(&body.role)
            .map(|role| caller.grants.may_grant_integration_role(role, id)),
        None => OrgRole::parse(&body.role).map(|role| caller.grants.may_grant_org_role(role)),
    };
    match escalation {
        Some(Ok(())) => {}
        Some(Err(missing)) => {
            return Err(ApiError::Escalation {
                role: body.role,
                missing,
            })
        }
        None => {
            let names: Vec<&str> = match &integration {
                Some(_) => IntegrationRole::ALL.iter().map(|r| r.as_str()).collect(),
                None => OrgRole::ALL.iter().map(|r| r.as_str()).collect(),
            };
            return Err(ApiError::invalid(
                "role",
                format!("must be one of: {}", names.join(", ")),
            ));
        }
    }
    let store = state.engine.store();
    let principal = PrincipalId::parse(&body.principal_id)
        .ok_or_else(|| ApiError::invalid("principal_id", "is not a principal id"))?;
    if store
        .get_principal(&caller.org_id, &principal)
        .await?
        .is_none()
    {
        return Err(ApiError::invalid("principal_id", "no such principal"));
    }
    if let Some(id) = &integration {
        if store.get_integration(&caller.org_id, id).await?.is_none() {
            return Err(ApiError::NotFound("integration"));
        }
    }
    let assignment = RoleAssignment {
        id: RoleAssignmentId::generate(),
        org_id: caller.org_id.clone(),
        principal_id: principal,
        role: body.role,
        integration_id: integration,
        created_at: Utc::now(),
    };
    store
        .insert_role_assignment(&assignment)
        .await
        .map_err(|e| conflict(e, "role", "the principal already has this role here"))?;
    state.grants.invalidate();
    let id = assignment.id.to_string();
    let details = json!({"principal_id": assignment.principal_id.as_str(), "role": assignment.role,
                         "integration_id": assignment.integration_id.as_ref().map(|i| i.as_str())});
    audit::record(
        &state,
        &caller,
        "role_assignment.create",
        ("role_assignment", &id),
        Some(details),
    )
    .await;
    Ok((StatusCode::CREATED, Json(assignment.into())))
}

#[utoipa::path(get, path = "/v1/role-assignments", tag = "access",
    security(("bearer" = ["principal.read", "integration.grant"])),
    description = "Needs principal.read, or integration.grant on the integration named by integration_id.",
    params(RoleAssignmentQuery), responses((status = 200, body = Vec<RoleAssignmentView>), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "The integration named by integration_id is not visible to the caller")))]
pub async fn list_role_assignments(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<RoleAssignmentQuery>,
) -> Result<Json<Vec<RoleAssignmentView>>, ApiError> {
    let integration = query
        .integration_id
        .as_deref()
        .map(|raw| {
            IntegrationId::parse(raw)
                .ok_or_else(|| ApiError::invalid("integration_id", "is not an integration id"))
        })
        .transpose()?;
    match &integration {
        Some(id) if !caller.grants.allows(Permission::PrincipalRead) => {
            caller.require_on(Permission::IntegrationGrant, id)?
        }
        _ => caller.require(Permission::PrincipalRead)?,
    }
    let principal = query
        .principal_id
        .as_deref()
        .map(|raw| {
            PrincipalId::parse(raw)
                .ok_or_else(|| ApiError::invalid("principal_id", "is not a principal id"))
        })
        .transpose()?;
    let assignments = state
        .engine
        .store()
        .list_role_assignments(&caller.org_id, principal.as_ref(), integration.as_ref())
        .await?;
    Ok(Json(assignments.into_iter().map(Into::into).collect()))
}

#[utoipa::path(delete, path = "/v1/role-assignments/{id}", tag = "access",
    security(("bearer" = ["role.grant", "integration.grant"])),
    description = "Needs the same permission as creating the assignment.",
    params(("id" = String, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_role_assignment(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = RoleAssignmentId::parse(&id).ok_or(ApiError::NotFound("role assignment"))?;
    let store = state.engine.store();
    let assignment = store
        .get_role_assignment(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("role assignment"))?;
    require_grant(&caller, assignment.integration_id.as_ref())?;
    store.delete_role_assignment(&caller.org_id, &id).await?;
    state.grants.invalidate();
    let details = json!({"principal_id": assignment.principal_id.as_str(), "role": assignment.role,
                         "integration_id": assignment.integration_id.as_ref().map(|i| i.as_str())});
    audit::record(
        &state,
        &caller,
        "role_assignment.delete",
        ("role_assignment", id.as_str()),
        Some(details),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A label for people, e.g. "ci".
    name: String,
    /// Whom the token acts as; the caller when absent. Another principal needs principal.manage.
    principal_id: Option<String>,
    /// When it stops working (RFC 3339, in the future); never when absent.
    #[serde(default, deserialize_with = "herald_domain::time::optional_rfc3339")]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    id: String,
    name: String,
    principal_id: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            principal_id: t.principal_id.map(|p| p.to_string()),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// The new token's value is in this answer only; Herald stores just its hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    info: TokenView,
    token: String,
}

#[utoipa::path(post, path = "/v1/tokens", tag = "access", security(("bearer" = [])),
    description = "Any caller may make tokens for itself; for another principal it needs principal.manage.",
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let store = state.engine.store();
    let principal = match body.principal_id.as_deref() {
        Some(raw) => {
            let id = PrincipalId::parse(raw)
                .ok_or_else(|| ApiError::invalid("principal_id", "is not a principal id"))?;
            if caller.principal_id.as_ref() != Some(&id) {
                caller.require(Permission::PrincipalManage)?;
            }
            if store.get_principal(&caller.org_id, &id).await?.is_none() {
                return Err(ApiError::invalid("principal_id", "no such principal"));
            }
            id
        }
        None => caller.principal_id.clone().ok_or_else(|| {
            ApiError::invalid(
                "principal_id",
                "is required: this token predates principals",
            )
        })?,
    };
    let token = herald_crypto::generate_token();
    let id = store
        .insert_token(&NewToken {
            org: &caller.org_id,
            principal: &principal,
            name,
            token_hash: &herald_crypto::hash_token(&token),
            expires_at: body.expires_at,
        })
        .await?;
    let info = store
        .get_token(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("token"))?;
    let details =
        json!({"principal_id": principal.as_str(), "name": name, "expires_at": body.expires_at});
    audit::record(
        &state,
        &caller,
        "token.create",
        ("token", id.as_str()),
        Some(details),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            info: info.into(),
            token,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/tokens", tag = "access", security(("bearer" = [])),
    description = "The caller's own tokens; with principal.manage, every token of the organisation. Never their values.",
    responses((status = 200, body = Vec<TokenView>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let store = state.engine.store();
    let tokens = if caller.grants.allows(Permission::PrincipalManage) {
        store.list_tokens(&caller.org_id, None).await?
    } else {
        match &caller.principal_id {
            Some(principal) => store.list_tokens(&caller.org_id, Some(principal)).await?,
            None => Vec::new(),
        }
    };
    Ok(Json(tokens.into_iter().map(Into::into).collect()))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "access", security(("bearer" = [])),
    description = "Revokes a token at once. The caller's own tokens, or any with principal.manage.",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = TokenId::parse(&id).ok_or(ApiError::NotFound("token"))?;
    let store = state.engine.store();
    let token = store
        .get_token(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("token"))?;
    let own = token.principal_id.is_some() && token.principal_id == caller.principal_id;
    if !own && !caller.grants.allows(Permission::PrincipalManage) {
        // Other people's tokens are not even acknowledged.
        return Err(ApiError::NotFound("token"));
    }
    store.revoke_token(&caller.org_id, &id).await?;
    state.tokens.clear();
    audit::record(
        &state,
        &caller,
        "token.revoke",
        ("token", id.as_str()),
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// e.g. integration.update
    action: Option<String>,
    resource_id: Option<String>,
    /// The principal who acted.
    actor_id: Option<String>,
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditView {
    id: String,
    at: DateTime<Utc>,
    /// The principal who acted, and with which token.
    actor_id: Option<String>,
    token_id: Option<String>,
    /// The client's address.
    source: Option<String>,
    action: String,
    resource_type: String,
    resource_id: String,
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at,
            actor_id: e.actor_id,
            token_id: e.token_id,
            source: e.source,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            details: e.details,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    data: Vec<AuditView>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "access", security(("bearer" = ["audit.read"])),
    params(AuditQuery), responses((status = 200, body = AuditPage, description = "Newest first"), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Permission::AuditRead)?;
    let limit = crate::routes::page_limit(query.limit)?;
    let filter = AuditFilter {
        action: query.action,
        resource_id: query.resource_id,
        actor_id: query.actor_id,
    };
    let page = state
        .engine
        .store()
        .list_audit(
            &caller.org_id,
            &filter,
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(AuditPage {
        data: page.items.into_iter().map(Into::into).collect(),
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    org_id: String,
    principal_id: Option<String>,
    /// The token used; null for a caller that acts through another surface (the Slack app).
    token_id: Option<String>,
    /// Organisation roles held directly or through groups.
    roles: Vec<&'static str>,
    /// What those roles allow organisation-wide.
    permissions: Vec<&'static str>,
}

#[utoipa::path(get, path = "/v1/me", tag = "access", security(("bearer" = [])),
    responses((status = 200, body = Me)))]
pub async fn me(Extension(caller): Extension<Caller>) -> Json<Me> {
    let mut roles: Vec<&'static str> = caller.grants.org.iter().map(|r| r.as_str()).collect();
    roles.sort_unstable();
    Json(Me {
        org_id: caller.org_id.to_string(),
        principal_id: caller.principal_id.as_ref().map(|p| p.to_string()),
        token_id: caller.token_id.as_ref().map(|t| t.to_string()),
        roles,
        permissions: caller.grants.org_permissions(),
    })
}

async fn load_principal(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Principal, ApiError> {
    let id = PrincipalId::parse(id).ok_or(ApiError::NotFound("principal"))?;
    state
        .engine
        .store()
        .get_principal(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("principal"))
}

fn conflict(error: StoreError, field: &str, message: &str) -> ApiError {
    match error {
        StoreError::Conflict(_) => {
            ApiError::Conflict(herald_domain::FieldError::new(field, message))
        }
        other => other.into(),
    }
}
