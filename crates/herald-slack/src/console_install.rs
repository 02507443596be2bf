//! Add to Slack from the console: a Slack integration's page posts its CSRF-protected form to
//! `POST /slack/install/{id}`. Served here, beside the OAuth callback, so the console does not
//! depend on the Slack app; the person is known by their console session, and the install
//! runs the same code and permission check as `POST /v1/integrations/{id}/slack/install`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use herald_server::error::ApiError;

use crate::oauth::authorize_existing;
use crate::pages::page;
use crate::SlackApp;

pub async fn install_from_console(
    State(app): State<Arc<SlackApp>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let back = format!(
        "/integrations/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    let session = match herald_console::current_session(&app.state, &headers, None).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
            return Redirect::to(&format!("/sign-in?next={next}")).into_response();
        }
        Err(error) => return refused(error),
    };
    let presented = fields
        .iter()
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value.as_str());
    if !presented.is_some_and(|token| session.csrf_matches(token)) {
        return page(
            StatusCode::FORBIDDEN,
            "Refused",
            &["This form was sent without its security token (CSRF). Reload the page and try again.".into()],
            "",
        );
    }
    match authorize_existing(&app, &session.caller, &id).await {
        // 303: the browser leaves for Slack with a GET.
        Ok(install) => Redirect::to(&install.url).into_response(),
        Err(error) => refused(error),
    }
}

/// An API error as a page: its status, and what happened (a 500 only says that it did; the
/// API's answer logs the cause).
fn refused(error: ApiError) -> Response {
    let message = match &error {
        ApiError::Internal(_) => "Something went wrong on the server; it is logged.".to_owned(),
        other => other.to_string(),
    };
    let status = error.into_response().status();
    page(status, "Add to Slack", &[message], "")
}
