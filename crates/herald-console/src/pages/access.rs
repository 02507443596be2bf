//! Access: principals (users, groups, service principals), each group's members, role
//! assignments and tokens. Every read and write runs the `/v1` access handlers in-process,
//! so who may grant what (nobody grants more than they hold) is decided there, once.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald_domain::{IntegrationRole, OrgRole, Permission};
use herald_server::app::{api, ApiError};
use serde_json::{json, Value};

use super::{
    as_caller, base, error_page, field_error, parse, render, see_other, to_ctx, url_encode,
    utc_time,
};
use crate::session::{Session, SignedIn, SignedInForm};
use crate::Console;

/// What a post leaves for the page it renders again: a field error, or the value of a token
/// just created (shown this once; Herald keeps only its hash).
#[derive(Default)]
struct Outcome {
    error: Option<(String, String)>,
    form: Option<&'static str>,
    new_token: Option<Value>,
}

pub async fn overview(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
) -> Response {
    access_page(&console, &session, StatusCode::OK, Outcome::default()).await
}

/// A handler's answer as JSON for a template; a 403 is "not shown" (`None`), so a caller
/// who may only see their own tokens still gets a page.
async fn visible<T: serde::Serialize>(
    result: Result<axum::Json<T>, ApiError>,
) -> Result<Option<Value>, ApiError> {
    match result {
        Ok(json) => Ok(Some(
            serde_json::to_value(&json.0).map_err(ApiError::internal)?,
        )),
        Err(ApiError::Forbidden(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

async fn access_page(
    console: &Console,
    session: &Session,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(console, session);
        let q = parse(json!({"limit": 250}))?;
        let principals =
            visible(api::list_principals(state, caller, api::ApiQuery(q)).await).await?;
        let (state, caller) = as_caller(console, session);
        let q = parse(json!({}))?;
        let assignments =
            visible(api::list_role_assignments(state, caller, api::ApiQuery(q)).await).await?;
        let (state, caller) = as_caller(console, session);
        let tokens = visible(api::list_tokens(state, caller).await).await?;
        let integrations = super::deliveries::integration_names(console, session).await?;
        Ok::<_, ApiError>((principals, assignments, tokens, integrations))
    }
    .await;
    let (principals, assignments, tokens, integrations) = match result {
        Ok(found) => found,
        Err(error) => return error_page(console, Some(session), error),
    };
    let principals: Vec<Value> = principals
        .as_ref()
        .and_then(|p| p["data"].as_array().cloned())
        .unwrap_or_default();
    let name_of = |id: &Value| -> Value {
        principals
            .iter()
            .find(|p| &p["id"] == id)
            .map(|p| p["name"].clone())
            .unwrap_or_else(|| id.clone())
    };
    let integration_name = |id: &Value| -> Value {
        integrations
            .iter()
            .find(|i| &i["id"] == id)
            .map(|i| i["name"].clone())
            .unwrap_or_else(|| id.clone())
    };
    let assignments: Option<Vec<Value>> =
        assignments.and_then(|a| a.as_array().cloned()).map(|all| {
            all.into_iter()
                .map(|mut a| {
                    a["principal_name"] = name_of(&a["principal_id"]);
                    if !a["integration_id"].is_null() {
                        a["integration_name"] = integration_name(&a["integration_id"]);
                    }
                    a
                })
                .collect()
        });
    let tokens: Option<Vec<Value>> = tokens.and_then(|t| t.as_array().cloned()).map(|all| {
        all.into_iter()
            .map(|mut t| {
                t["principal_name"] = name_of(&t["principal_id"]);
                t
            })
            .collect()
    });
    let grants = &session.caller.grants;
    let ctx = minijinja::context! {
        principals => principals,
        principals_shown => !principals.is_empty() || grants.allows(Permission::PrincipalRead),
        assignments => assignments,
        tokens => tokens,
        integrations => integrations,
        org_roles => OrgRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        integration_roles => IntegrationRole::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        can_manage => grants.allows(Permission::PrincipalManage),
        can_grant => grants.allows(Permission::RoleGrant),
        can_audit => grants.allows(Permission::AuditRead),
        me => session.caller.principal_id.as_ref().map(|p| p.to_string()),
        error_form => outcome.form,
        error_field => outcome.error.as_ref().map(|e| e.0.clone()),
        error => outcome.error.map(|e| e.1),
        new_token => outcome.new_token,
        ..base(session, "Access", "access")
    };
    render(console, status, "access.html", ctx)
}

/// After a post: back to the page on success; a field error re-renders it beside the form
/// it belongs to; anything else is an error page.
async fn answer(
    console: &Console,
    session: &Session,
    form: &'static str,
    result: Result<(), ApiError>,
    back: &str,
) -> Response {
    match result {
        Ok(()) => see_other(back),
        Err(error) => match field_error(&error) {
            Some(field) if back == "/access" => {
                let status = match error {
                    ApiError::Conflict(_) => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                let outcome = Outcome {
                    error: Some(field),
                    form: Some(form),
                    new_token: None,
                };
                access_page(console, session, status, outcome).await
            }
            _ => error_page(console, Some(session), error),
        },
    }
}

pub async fn create_principal(State(console): State<Arc<Console>>, form: SignedInForm) -> Response {
    let body = json!({"kind": form.text("kind"), "name": form.text("name").unwrap_or_default()});
    let result = async {
        let (state, caller) = as_caller(&console, &form.session);
        let _created = api::create_principal(state, caller, api::ApiJson(parse(body)?)).await?;
        Ok(())
    }
    .await;
    answer(&console, &form.session, "principal", result, "/access").await
}

pub async fn delete_principal(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    let result = api::delete_principal(state, caller, Path(id))
        .await
        .map(|_| ());
    answer(&console, &form.session, "principal", result, "/access").await
}

/// Grants a role on the organisation, or on one integration when one is chosen.
pub async fn grant(State(console): State<Arc<Console>>, form: SignedInForm) -> Response {
    let body = json!({
        "principal_id": form.text("principal_id").unwrap_or_default(),
        "role": form.text("role").unwrap_or_default(),
        "integration_id": form.text("integration_id"),
    });
    let result = async {
        let (state, caller) = as_caller(&console, &form.session);
        let _granted =
            api::create_role_assignment(state, caller, api::ApiJson(parse(body)?)).await?;
        Ok(())
    }
    .await;
    answer(&console, &form.session, "grant", result, "/access").await
}

pub async fn revoke(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    let result = api::delete_role_assignment(state, caller, Path(id))
        .await
        .map(|_| ());
    answer(&console, &form.session, "grant", result, "/access").await
}

/// Creates a token and shows its value on this one answer (a 200, not a redirect, so the
/// value is in no URL and no later page).
pub async fn create_token(State(console): State<Arc<Console>>, form: SignedInForm) -> Response {
    let body = json!({
        "name": form.text("name").unwrap_or_default(),
        "principal_id": form.text("principal_id"),
        "expires_at": utc_time(form.text("expires_at")),
    });
    let result = async {
        let (state, caller) = as_caller(&console, &form.session);
        let created = api::create_token(state, caller, api::ApiJson(parse(body)?)).await?;
        serde_json::to_value(&created.1 .0).map_err(ApiError::internal)
    }
    .await;
    match result {
        Ok(token) => {
            let outcome = Outcome {
                new_token: Some(token),
                ..Outcome::default()
            };
            let mut response = access_page(&console, &form.session, StatusCode::OK, outcome).await;
            // The page holds a secret: keep it out of every cache and the back-forward cache.
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(error) => answer(&console, &form.session, "token", Err(error), "/access").await,
    }
}

pub async fn revoke_token(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    let result = api::revoke_token(state, caller, Path(id)).await.map(|_| ());
    answer(&console, &form.session, "token", result, "/access").await
}

/// A group: its members, with add and remove.
pub async fn group(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let members = api::list_members(state, caller, Path(id.clone())).await?.0;
        let (state, caller) = as_caller(&console, &session);
        let q = parse(json!({"limit": 250}))?;
        let all = api::list_principals(state, caller, api::ApiQuery(q))
            .await?
            .0;
        Ok::<_, ApiError>((members, all))
    }
    .await;
    match result {
        Ok((members, all)) => {
            let all = serde_json::to_value(&all).unwrap_or_default();
            let all = all["data"].as_array().cloned().unwrap_or_default();
            // Only a group has members to manage; any other principal is not a group page.
            let Some(group) = all
                .iter()
                .find(|p| p["id"] == json!(id) && p["kind"] == "group")
                .cloned()
            else {
                return error_page(&console, Some(&session), ApiError::NotFound("group"));
            };
            let members = serde_json::to_value(&members).unwrap_or_default();
            let candidates: Vec<&Value> = all
                .iter()
                .filter(|p| p["id"] != group["id"])
                .filter(|p| {
                    !members
                        .as_array()
                        .is_some_and(|m| m.iter().any(|m| m["id"] == p["id"]))
                })
                .collect();
            let ctx = minijinja::context! {
                group => group,
                members => members,
                candidates => to_ctx(&candidates),
                can_manage => session.caller.grants.allows(Permission::PrincipalManage),
                ..base(&session, "Group", "access")
            };
            render(&console, StatusCode::OK, "group.html", ctx)
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}

pub async fn add_member(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let member = form.text("member_id").unwrap_or_default();
    let (state, caller) = as_caller(&console, &form.session);
    let result = api::add_member(state, caller, Path((id.clone(), member)))
        .await
        .map(|_| ());
    let back = format!("/access/groups/{}", url_encode(&id));
    answer(&console, &form.session, "member", result, &back).await
}

pub async fn remove_member(
    State(console): State<Arc<Console>>,
    Path((id, member)): Path<(String, String)>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    let result = api::remove_member(state, caller, Path((id.clone(), member)))
        .await
        .map(|_| ());
    let back = format!("/access/groups/{}", url_encode(&id));
    answer(&console, &form.session, "member", result, &back).await
}
