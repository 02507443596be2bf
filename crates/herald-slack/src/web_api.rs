//! Herald's calls to Slack: `oauth.v2.access` (install and token refresh), `chat.update`, and
//! answers posted to a `response_url`. All go through the engine's guarded sender (timeouts,
//! no redirects, the outbound address policy); Web API calls go to the `slack` endpoint
//! (Slack's, or `HERALD_PROVIDER_ENDPOINTS` in tests).

use base64::Engine as _;
use herald_providers::{join, Method, OutboundRequest};
use serde_json::Value;

use crate::SlackApp;

/// Why a call to Slack did not succeed. Never holds a token or the answer's body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("Slack could not be reached: {0}")]
    Unreachable(String),
    #[error("Slack answered HTTP {0}")]
    Status(u16),
    #[error("Slack's answer was not JSON")]
    NotJson,
    /// `{"ok": false, "error": "…"}`: Slack's error code, e.g. `invalid_code`.
    #[error("Slack refused: {0}")]
    Refused(String),
}

/// Sends a Web API request and returns the answer's JSON when it says `ok`.
pub(crate) async fn call(app: &SlackApp, request: &OutboundRequest) -> Result<Value, CallError> {
    let response = app
        .engine()
        .sender()
        .send_http(request)
        .await
        .map_err(|e| CallError::Unreachable(e.to_string()))?;
    if !(200..300).contains(&response.status) {
        return Err(CallError::Status(response.status));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|_| CallError::NotJson)?;
    if body["ok"] == Value::Bool(true) {
        Ok(body)
    } else {
        let code = body["error"].as_str().unwrap_or("unknown_error");
        // Slack's codes are short identifiers; keep it that way in logs and pages.
        let code: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        Err(CallError::Refused(code))
    }
}

/// `oauth.v2.access` with the app's client credentials (HTTP Basic, as Slack prefers) and a
/// form body: `code` and `redirect_uri` to install, or `grant_type=refresh_token`.
pub(crate) async fn oauth_access(
    app: &SlackApp,
    form: &[(&str, &str)],
) -> Result<Value, CallError> {
    let config = app.config();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        config.client_id,
        config.client_secret.expose()
    ));
    let body = {
        let mut encoder = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in form {
            encoder.append_pair(name, value);
        }
        encoder.finish()
    };
    let mut request = OutboundRequest::new(
        Method::Post,
        join(&app.engine().endpoints().slack, "oauth.v2.access"),
    )
    .header("authorization", format!("Basic {basic}"))
    .header("content-type", "application/x-www-form-urlencoded");
    request.body = body.into_bytes();
    call(app, &request).await
}

/// Posts a message to a `response_url` (an ephemeral answer, or a late answer to a command).
/// Failures are logged: the person may see nothing, but nothing else depends on it.
pub(crate) async fn respond(app: &SlackApp, response_url: &str, message: &Value) {
    let Ok(url) = url::Url::parse(response_url) else {
        tracing::warn!("the response_url Slack sent is not a URL");
        return;
    };
    let mut request = OutboundRequest::new(Method::Post, url)
        .header("content-type", "application/json; charset=utf-8");
    request.body = serde_json::to_vec(message).expect("JSON serialises");
    match app.engine().sender().send_http(&request).await {
        Ok(response) if (200..300).contains(&response.status) => {}
        Ok(response) => {
            tracing::warn!(
                status = response.status,
                "Slack refused an answer to a response_url"
            )
        }
        Err(error) => tracing::warn!(%error, "could not answer through response_url"),
    }
}
