//! Signing in (with an API token, or as a user with a password) and out.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::PrincipalKind;
use herald_server::app::ApiError;

use super::{error_page, query_value, render, see_other, QueryPairs};
use crate::rate_limit::{ADDRESS_FAILURES, USER_FAILURES};
use crate::session::{
    close_session, constant_time_eq, cookie, current_session, open_session, random_secret,
    set_cookie, ClientAddress, SignedInAs, SignedInForm, SIGN_IN_COOKIE,
};
use crate::Console;

/// Where to go after signing in: only a path of this site.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/".into())
}

pub async fn form(
    State(console): State<Arc<Console>>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    let next = safe_next(query_value(&query, "next"));
    if let Ok(Some(_)) = current_session(&console.state, &headers, source).await {
        return see_other(&next);
    }
    sign_in_page(&console, StatusCode::OK, &next, None, "")
}

fn sign_in_page(
    console: &Console,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    user: &str,
) -> Response {
    let csrf = random_secret();
    let ctx = minijinja::context! {
        title => "Sign in", csrf => csrf, next => next, error => error, user_name => user,
    };
    let mut response = render(console, status, "sign_in.html", ctx);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(console, SIGN_IN_COOKIE, &csrf, 3600),
    );
    response
}

pub async fn submit(
    State(console): State<Arc<Console>>,
    ClientAddress(source): ClientAddress,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| query_value(&fields, name);
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let presented = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(presented, expected) {
        return super::forbidden_csrf(&console);
    }
    let next = safe_next(field("next"));
    let address_key = format!("addr:{}", source.as_deref().unwrap_or("unknown"));
    let now = Instant::now();
    let result = match field("token") {
        Some(token) => {
            if console
                .limiter
                .blocked(&[(&address_key, ADDRESS_FAILURES)], now)
            {
                return too_many(&console, &next);
            }
            sign_in_with_token(&console, &token, source)
                .await
                .map_err(|e| (e, vec![address_key.clone()]))
        }
        None => {
            let org_name = field("org").unwrap_or_else(|| "default".into());
            let user = field("user").unwrap_or_default();
            let user_key = format!("user:{org_name}/{user}");
            let keys = [
                (user_key.as_str(), USER_FAILURES),
                (address_key.as_str(), ADDRESS_FAILURES),
            ];
            if console.limiter.blocked(&keys, now) {
                return too_many(&console, &next);
            }
            let password = fields
                .iter()
                .find(|(k, _)| k == "password")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let result = sign_in_with_password(&console, &org_name, &user, password).await;
            if result.is_ok() {
                console.limiter.clear(&user_key);
            }
            result.map_err(|e| (e, vec![user_key.clone(), address_key.clone()]))
        }
    };
    match result {
        Ok(cookie) => {
            let mut response = see_other(&next);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&console, SIGN_IN_COOKIE, "", 0),
            );
            response
        }
        Err((ApiError::Unauthorized, keys)) => {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            console.limiter.record_failure(&keys, now);
            tracing::info!(source = ?address_key, "a console sign-in failed");
            let message = if field("token").is_some() {
                "That token is not valid (unknown, expired or revoked)."
            } else {
                "Wrong user name or password."
            };
            sign_in_page(
                &console,
                StatusCode::UNAUTHORIZED,
                &next,
                Some(message),
                &field("user").unwrap_or_default(),
            )
        }
        Err((other, _)) => error_page(&console, None, other),
    }
}

fn too_many(console: &Console, next: &str) -> Response {
    let mut response = sign_in_page(
        console,
        StatusCode::TOO_MANY_REQUESTS,
        next,
        Some("Too many failed sign-ins. Wait 15 minutes and try again."),
        "",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("900"));
    response
}

async fn sign_in_with_token(
    console: &Console,
    token: &str,
    source: Option<String>,
) -> Result<axum::http::HeaderValue, ApiError> {
    let caller = herald_server::app::caller_for_token(&console.state, token, source).await?;
    let store = console.state.engine.store();
    let display = match &caller.principal_id {
        Some(principal) => store
            .get_principal(&caller.org_id, principal)
            .await?
            .map(|p| format!("{} (token)", p.name))
            .unwrap_or_else(|| "API token".into()),
        None => "API token".into(),
    };
    let hash = herald_crypto::hash_token(token);
    open_session(console, &caller.org_id, SignedInAs::Token(hash), display).await
}

async fn sign_in_with_password(
    console: &Console,
    org_name: &str,
    user: &str,
    password: String,
) -> Result<axum::http::HeaderValue, ApiError> {
    let store = console.state.engine.store();
    let mut found = None;
    if let Some(org) = store.find_org(org_name).await? {
        if let Some(principal) = store
            .find_principal(&org, PrincipalKind::User, user)
            .await?
        {
            if let Some(hash) = store.password_hash(&org, &principal.id).await? {
                found = Some((org, principal, hash));
            }
        }
    }
    // Without a user, a decoy hash is checked, so timing does not tell which names exist.
    let stored = found
        .as_ref()
        .map(|(_, _, hash)| hash.clone())
        .unwrap_or_else(|| crate::password::decoy_hash().to_owned());
    let matches =
        tokio::task::spawn_blocking(move || crate::password::verify_password(&password, &stored))
            .await
            .unwrap_or(false);
    match found {
        Some((org, principal, _)) if matches => {
            open_session(
                console,
                &org,
                SignedInAs::User(principal.id),
                principal.name,
            )
            .await
        }
        _ => Err(ApiError::Unauthorized),
    }
}

pub async fn sign_out(State(console): State<Arc<Console>>, form: SignedInForm) -> Response {
    match close_session(&console, &form.session).await {
        Ok(cookie) => {
            let mut response = see_other("/sign-in");
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(error) => error_page(&console, Some(&form.session), error),
    }
    .into_response()
}
