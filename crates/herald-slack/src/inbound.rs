//! `POST /webhooks/slack`: slash commands, interactivity and the Events API share one URL, as
//! in seed 003's manifest. Every request is verified before anything reads it; then it is
//! dispatched by its shape and acknowledged within Slack's 3 seconds.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_domain::error::error_chain;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{approvals, commands, lifecycle, signature, SlackApp};

pub async fn inbound(
    State(app): State<Arc<SlackApp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(refusal) = signature::verify(
        app.config.signing_secret.expose(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        app.now().timestamp(),
    ) {
        // Never the body: it is unauthenticated, and may carry anything.
        tracing::warn!(reason = %refusal, bytes = body.len(), "refused a request claiming to come from Slack");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "unauthorized", "message": refusal.to_string()}})),
        )
            .into_response();
    }
    let json_body = header("content-type").is_some_and(|t| t.starts_with("application/json"));
    if json_body {
        return events(app, &body).await;
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if let Some(payload) = form.get("payload") {
        let Ok(payload) = serde_json::from_str::<Value>(payload) else {
            return bad_request("the payload is not JSON");
        };
        return interactivity(app, payload).await;
    }
    if form.contains_key("command") {
        return commands::handle(app, form).await;
    }
    // Slack checks the certificate of a slash command's URL now and then.
    if form.contains_key("ssl_check") {
        return StatusCode::OK.into_response();
    }
    bad_request("not a slash command, an interaction or an event")
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"code": "bad_request", "message": message}})),
    )
        .into_response()
}

/// Runs `work` for at most the answer budget. `Err` hands back the still-running task, whose
/// result must then reach the person another way (`response_url`).
pub(crate) async fn within_budget<T: Send + 'static>(
    app: &SlackApp,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, JoinHandle<T>> {
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(app.config.ack_budget, &mut task).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(panicked)) => std::panic::resume_unwind(panicked.into_panic()),
        Err(_) => Err(task),
    }
}

/// The Events API: the URL check, and lifecycle events, each handled once however often
/// Slack retries it.
async fn events(app: Arc<SlackApp>, body: &[u8]) -> Response {
    let Ok(envelope) = serde_json::from_slice::<Value>(body) else {
        return bad_request("the body is not JSON");
    };
    match envelope["type"].as_str() {
        Some("url_verification") => {
            Json(json!({"challenge": envelope["challenge"]})).into_response()
        }
        Some("event_callback") => {
            let Some(event_id) = envelope["event_id"].as_str().map(str::to_owned) else {
                return bad_request("an event_callback without event_id");
            };
            let store = app.engine().store();
            match store.record_slack_event(&event_id, app.now()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(event_id, "a retried Slack event was already handled");
                    return StatusCode::OK.into_response();
                }
                Err(error) => {
                    tracing::error!(error = %error_chain(&error), "could not record a Slack event");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
            let worker = app.clone();
            let handled =
                within_budget(
                    &app,
                    async move { lifecycle::handle(&worker, &envelope).await },
                )
                .await;
            match handled {
                Ok(Ok(())) | Err(_) => StatusCode::OK.into_response(),
                Ok(Err(reason)) => {
                    // Let Slack's retry try again.
                    tracing::error!(event_id, %reason, "could not handle a Slack event");
                    let _ = store.forget_slack_event(&event_id).await;
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        _ => StatusCode::OK.into_response(),
    }
}

/// Button clicks. Slack shows nothing of the acknowledgement's body; answers go through
/// `response_url` and `chat.update`.
async fn interactivity(app: Arc<SlackApp>, payload: Value) -> Response {
    if payload["type"].as_str() != Some("block_actions") {
        return StatusCode::OK.into_response();
    }
    let worker = app.clone();
    // Whatever the budget, the decision finishes in its task.
    let _ = within_budget(
        &app,
        async move { approvals::handle(&worker, &payload).await },
    )
    .await;
    StatusCode::OK.into_response()
}
