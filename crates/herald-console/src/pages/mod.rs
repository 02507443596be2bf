//! The pages. Each handler resolves the session, runs the API's handlers in-process as its
//! caller, and renders one template.

pub mod access;
pub mod audit;
pub mod catalogue;
pub mod dashboard;
pub mod deliveries;
pub mod events;
pub mod integrations;
pub mod routing;
pub mod sign_in;
pub mod supply_demand;
pub mod users;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use herald_server::app::ApiError;
use minijinja::Value as Ctx;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::session::Session;
use crate::Console;

/// The handler arguments an in-process API call takes.
pub(crate) fn as_caller(
    console: &Console,
    session: &Session,
) -> (
    axum::extract::State<herald_server::AppState>,
    Extension<herald_server::app::Caller>,
) {
    (
        axum::extract::State(console.state.clone()),
        Extension(session.caller.clone()),
    )
}

/// An API request type from JSON, as the API would parse its body or query.
pub(crate) fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid("query", e.to_string()))
}

pub(crate) fn to_ctx(value: &impl Serialize) -> Ctx {
    Ctx::from_serialize(value)
}

/// What every page's layout needs: who is signed in, the CSRF token, the page's title and
/// which navigation entry is current.
pub(crate) fn base(session: &Session, title: &str, nav: &str) -> Ctx {
    minijinja::context! {
        user => session.display_name,
        csrf => session.csrf,
        title => title,
        nav => nav,
    }
}

pub(crate) fn render(console: &Console, status: StatusCode, template: &str, ctx: Ctx) -> Response {
    match console
        .templates
        .get_template(template)
        .and_then(|t| t.render(ctx))
    {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(template, error = %error, "a console page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

pub(crate) fn page(console: &Console, template: &str, ctx: Ctx) -> Response {
    render(console, StatusCode::OK, template, ctx)
}

/// An API error as a page: 403, 404, 409, 422 and 503 say what happened; a 500 says only
/// that it did (the cause is logged).
pub(crate) fn error_page(
    console: &Console,
    session: Option<&Session>,
    error: ApiError,
) -> Response {
    let message = match &error {
        // The API's answer logs the cause; the page only says it happened.
        ApiError::Internal(_) => "Something went wrong on the server; it is logged.".to_owned(),
        ApiError::Invalid(e) | ApiError::Conflict(e) => format!("{}: {}", e.field, e.message),
        other => sentence(&other.to_string()),
    };
    // The status the API answers this error with (which also logs a 500's cause).
    let status = error.into_response().status();
    let ctx = match session {
        Some(session) => {
            minijinja::context! { message => message, status => status.as_u16(), ..base(session, "Error", "") }
        }
        None => {
            minijinja::context! { message => message, status => status.as_u16(), title => "Error" }
        }
    };
    render(console, status, "error.html", ctx)
}

/// A form post without its session's CSRF token.
pub(crate) fn forbidden_csrf(console: &Console) -> Response {
    let ctx = minijinja::context! {
        title => "Refused",
        status => 403,
        message => "This form was sent without its security token (CSRF). Reload the page and try again.",
    };
    render(console, StatusCode::FORBIDDEN, "error.html", ctx)
}

fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

pub(crate) fn url_encode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

/// After a successful post: back to a page (303, so reloading does not post again).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A field error of the API, with the field relative to the form (`config.webhook_url`
/// stays as it is, it is the input's name).
pub(crate) fn field_error(error: &ApiError) -> Option<(String, String)> {
    match error {
        ApiError::Invalid(e) | ApiError::Conflict(e) => Some((e.field.clone(), e.message.clone())),
        _ => None,
    }
}

/// A page's query string, as pairs.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

pub(crate) fn query_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A same-site path to return to after a post, or `fallback`.
pub(crate) fn safe_back(back: Option<&str>, fallback: &str) -> String {
    back.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or(fallback)
        .to_owned()
}

/// A `datetime-local` input's value (UTC, as the form says) as RFC 3339.
pub(crate) fn utc_time(raw: Option<String>) -> Option<String> {
    raw.map(|t| match t.len() {
        16 => format!("{t}:00Z"),
        _ if t.ends_with('Z') || t.contains('+') => t,
        _ => format!("{t}Z"),
    })
}
