//! Users and their console passwords: an owner (anyone with `principal.manage`) sets or
//! resets them; setting one ends the user's open sessions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use herald_domain::{Permission, PrincipalId};
use herald_server::app::{self, api, ApiError};
use serde_json::json;

use super::{as_caller, base, error_page, parse, render, see_other, to_ctx};
use crate::session::{Session, SignedIn, SignedInForm};
use crate::Console;

pub async fn list(State(console): State<Arc<Console>>, SignedIn(session): SignedIn) -> Response {
    users_page(&console, &session, StatusCode::OK, None, None).await
}

async fn users_page(
    console: &Console,
    session: &Session,
    status: StatusCode,
    error: Option<(String, String)>,
    notice: Option<String>,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(console, session);
        let q = parse(json!({"kind": "user", "limit": 250}))?;
        let users = api::list_principals(state, caller, api::ApiQuery(q))
            .await?
            .0;
        let with_password = console
            .state
            .engine
            .store()
            .principals_with_password(&session.caller.org_id)
            .await?;
        Ok::<_, ApiError>((users, with_password))
    }
    .await;
    match result {
        Ok((users, with_password)) => {
            let with_password: Vec<String> =
                with_password.iter().map(ToString::to_string).collect();
            let ctx = minijinja::context! {
                users => to_ctx(&users),
                with_password => with_password,
                can_manage => session.caller.grants.allows(Permission::PrincipalManage),
                error_user => error.as_ref().map(|e| e.0.clone()),
                error => error.map(|e| e.1),
                notice => notice,
                ..base(session, "Users", "users")
            };
            render(console, status, "users.html", ctx)
        }
        Err(error) => error_page(console, Some(session), error),
    }
}

/// Sets a user's password, as `herald users set-password` does.
pub async fn set_password(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let session = &form.session;
    let password = form.get("password").unwrap_or_default().to_owned();
    let result = async {
        session.caller.require(Permission::PrincipalManage)?;
        let principal = PrincipalId::parse(&id).ok_or(ApiError::NotFound("principal"))?;
        let store = console.state.engine.store();
        let found = store
            .get_principal(&session.caller.org_id, &principal)
            .await?
            .ok_or(ApiError::NotFound("principal"))?;
        if found.kind != herald_domain::PrincipalKind::User {
            return Err(ApiError::invalid("principal", "only users have passwords"));
        }
        let hash = tokio::task::spawn_blocking(move || crate::password::hash_password(&password))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::invalid("password", e.to_string()))?;
        store
            .set_password_hash(&session.caller.org_id, &principal, &hash, Utc::now())
            .await?;
        store
            .delete_sessions_of(&session.caller.org_id, &principal)
            .await?;
        app::audit(
            &console.state,
            &session.caller,
            "principal.set_password",
            ("principal", principal.as_str()),
            None,
        )
        .await;
        Ok(found.name)
    }
    .await;
    match result {
        Ok(name) => {
            // A user who set their own password ended their own password sessions too.
            let store = console.state.engine.store();
            if matches!(
                store.find_session(&session.id_hash, Utc::now()).await,
                Ok(None)
            ) {
                return see_other("/sign-in");
            }
            users_page(
                &console,
                session,
                StatusCode::OK,
                None,
                Some(format!("The password of {name} is set.")),
            )
            .await
        }
        Err(ApiError::Invalid(e)) => {
            users_page(
                &console,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((id, format!("{}: {}", e.field, e.message))),
                None,
            )
            .await
        }
        Err(error) => error_page(&console, Some(session), error),
    }
}
