//! Console sessions: an HttpOnly, SameSite=Lax cookie whose hash finds a stored session that
//! acts as a user (password sign-in) or as the API token it was opened with. Each session has
//! a CSRF token derived from its secret, which every state-changing form must carry.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use herald_domain::{OrgId, PrincipalId};
use herald_server::app::{ApiError, Caller};
use herald_server::AppState;
use herald_store::ConsoleSession;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::Console;

pub const SESSION_COOKIE: &str = "herald_session";
/// Holds the sign-in form's CSRF token before there is a session (double submit).
pub const SIGN_IN_COOKIE: &str = "herald_sign_in";
/// A session ends this long after sign-in, used or not (Grafana's default is 30 days with
/// rotation; an admin console that can change credentials gets one working day).
pub const SESSION_TTL: Duration = Duration::hours(12);

/// The browser's signed-in session: who acts, and the token its forms must carry.
#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
    pub display_name: String,
    pub(crate) id_hash: String,
}

impl Session {
    /// Whether a form's `csrf` field is this session's token (constant time). For surfaces
    /// that post forms of their own with a console session (the Slack app's link page).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        constant_time_eq(presented, &self.csrf)
    }
}

/// A fresh random secret, URL-safe.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    hex::encode(digest.finalize())
}

fn session_hash(secret: &str) -> String {
    sha256_hex(&["herald-console-session", secret])
}

fn csrf_of(secret: &str) -> String {
    sha256_hex(&["herald-console-csrf", secret])
}

/// The value of one cookie of the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure behind HTTPS.
pub(crate) fn set_cookie(console: &Console, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if console.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are hex")
}

/// The client's address, for rate limits and the audit log.
pub(crate) fn client_address(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The client's address, as an extractor (absent when served without connect info).
pub struct ClientAddress(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}

/// The session a request's cookie stands for, if it is live and its principal or token still
/// is. For other surfaces served beside the console (the Slack app's link page): a person
/// signed in to the console is known there too.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
    source: Option<String>,
) -> Result<Option<Session>, ApiError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let id_hash = session_hash(secret);
    let Some(stored) = state
        .engine
        .store()
        .find_session(&id_hash, Utc::now())
        .await?
    else {
        return Ok(None);
    };
    let caller = match (&stored.principal_id, &stored.token_hash) {
        (Some(principal), _) => {
            let source = source.unwrap_or_else(|| "console".into());
            Caller::for_principal(state, &stored.org_id, principal, source).await?
        }
        (None, Some(token_hash)) => {
            match herald_server::app::caller_for_token_hash(state, token_hash.clone(), source).await
            {
                Ok(caller) => Some(caller),
                Err(ApiError::Unauthorized) => None,
                Err(other) => return Err(other),
            }
        }
        (None, None) => None,
    };
    Ok(caller.map(|caller| Session {
        caller,
        csrf: csrf_of(secret),
        display_name: stored.display_name,
        id_hash,
    }))
}

/// Who a new session acts as.
pub(crate) enum SignedInAs {
    User(PrincipalId),
    Token(String),
}

/// Stores a new session and returns the cookie that carries it.
pub(crate) async fn open_session(
    console: &Console,
    org: &OrgId,
    who: SignedInAs,
    display_name: String,
) -> Result<HeaderValue, ApiError> {
    let secret = random_secret();
    let now = Utc::now();
    let (principal_id, token_hash) = match who {
        SignedInAs::User(principal) => (Some(principal), None),
        SignedInAs::Token(hash) => (None, Some(hash)),
    };
    let session = ConsoleSession {
        id_hash: session_hash(&secret),
        org_id: org.clone(),
        principal_id,
        token_hash,
        display_name,
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    let store = console.state.engine.store();
    store.insert_session(&session).await?;
    // Sign-ins are rare; they sweep up expired sessions as they go.
    let _ = store.delete_expired_sessions(now).await;
    Ok(set_cookie(
        console,
        SESSION_COOKIE,
        &secret,
        SESSION_TTL.num_seconds(),
    ))
}

/// Ends the session and clears its cookie.
pub(crate) async fn close_session(
    console: &Console,
    session: &Session,
) -> Result<HeaderValue, ApiError> {
    console
        .state
        .engine
        .store()
        .delete_session(&session.id_hash)
        .await?;
    Ok(set_cookie(console, SESSION_COOKIE, "", 0))
}

/// Extracts the signed-in session; without one, a page request is sent to sign in.
pub struct SignedIn(pub Session);

impl FromRequestParts<Arc<Console>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Response> {
        let source = client_address(parts);
        match current_session(&console.state, &parts.headers, source).await {
            Ok(Some(session)) => Ok(SignedIn(session)),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let next = if parts.method == axum::http::Method::GET {
                    next
                } else {
                    "/"
                };
                let target = format!("/sign-in?next={}", crate::pages::url_encode(next));
                Err(Redirect::to(&target).into_response())
            }
            Err(error) => Err(crate::pages::error_page(console, None, error)),
        }
    }
}

/// A state-changing form post of a signed-in session, refused with 403 unless it carries the
/// session's CSRF token in the field `csrf`.
pub struct SignedInForm {
    pub session: Session,
    pub fields: Vec<(String, String)>,
}

impl SignedInForm {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value, trimmed; empty counts as absent.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

impl FromRequest<Arc<Console>> for SignedInForm {
    type Rejection = Response;

    async fn from_request(request: Request, console: &Arc<Console>) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let SignedIn(session) = SignedIn::from_request_parts(&mut parts, console).await?;
        let request = Request::from_parts(parts, body);
        let axum::Form(fields) =
            axum::Form::<Vec<(String, String)>>::from_request(request, console)
                .await
                .map_err(IntoResponse::into_response)?;
        let presented = fields
            .iter()
            .find(|(key, _)| key == "csrf")
            .map(|(_, v)| v.as_str());
        if !presented.is_some_and(|token| constant_time_eq(token, &session.csrf)) {
            return Err(crate::pages::forbidden_csrf(console));
        }
        Ok(SignedInForm { session, fields })
    }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_and_stored_hash_are_derived_apart_from_the_secret() {
        let secret = random_secret();
        assert_eq!(secret.len(), 64);
        assert_ne!(csrf_of(&secret), session_hash(&secret));
        assert!(!csrf_of(&secret).contains(&secret));
        assert_ne!(csrf_of(&secret), csrf_of(&random_secret()));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; herald_session_x=2; herald_session=abc"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "b"), None);
    }
}
