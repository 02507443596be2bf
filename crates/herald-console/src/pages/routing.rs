//! Routing: attaching an integration to a workspace (module) with its overrides, the
//! workspace's page, and Routing explained for a stored or a hypothetical event.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use herald_server::app::{api, ApiError};
use serde_json::{json, Value};

use super::{as_caller, base, error_page, page, parse, query_value, see_other, to_ctx, QueryPairs};
use crate::session::{SignedIn, SignedInForm};
use crate::Console;

fn lines(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn attach(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let overrides = lines(form.get("destinations"));
    let destinations = if overrides.is_empty() {
        Value::Null
    } else {
        json!({"default": overrides})
    };
    let body = json!({
        "integration_id": id,
        "module": form.get("module").unwrap_or_default(),
        "run_after": form.get("run_after").unwrap_or("all"),
        "destinations": destinations,
    });
    let result = async {
        let body = serde_json::from_value(body)
            .map_err(|e| ApiError::invalid("run_after", e.to_string()))?;
        let (state, caller) = as_caller(&console, &form.session);
        api::create_attachment(state, caller, api::ApiJson(body)).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/integrations/{id}#routing")),
        Err(error) => match super::field_error(&error) {
            Some((field, message)) => {
                let message = format!("{field}: {message}");
                super::integrations::integration_page(
                    &console,
                    &form.session,
                    &id,
                    None,
                    Some(message),
                )
                .await
            }
            None => error_page(&console, Some(&form.session), error),
        },
    }
}

pub async fn detach(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    match api::delete_attachment(state, caller, Path(id)).await {
        Ok(_) => see_other(&super::safe_back(form.get("back"), "/integrations")),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

pub async fn workspace(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(module): Path<String>,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let q = parse(json!({"module": module, "limit": 250}))?;
        let attachments = api::list_attachments(state, caller, api::ApiQuery(q))
            .await?
            .0;
        let integrations = super::integrations::all_integrations(&console, &session).await?;
        Ok::<_, ApiError>((attachments, integrations))
    }
    .await;
    match result {
        Ok((attachments, integrations)) => {
            let names: serde_json::Map<String, Value> = integrations
                .iter()
                .map(|i| {
                    (
                        i["id"].as_str().unwrap_or_default().to_owned(),
                        json!({"name": i["name"], "kind": i["kind"]}),
                    )
                })
                .collect();
            let ctx = minijinja::context! {
                module => module, attachments => to_ctx(&attachments), integrations => names,
                ..base(&session, &format!("Workspace {module}"), "routing")
            };
            page(&console, "workspace.html", ctx)
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}

/// `?event_id=` explains a stored event; otherwise the form's fields describe a hypothetical
/// one (a dry run: nothing is stored or sent).
pub async fn explain(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    let event_id = query_value(&query, "event_id");
    let event_type = query_value(&query, "type");
    let hypothetical = json!({
        "type": event_type, "target_id": query_value(&query, "target_id"),
        "severity": query_value(&query, "severity"), "environment": query_value(&query, "environment"),
    });
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        if let Some(id) = &event_id {
            return Ok(Some(
                api::explain_stored(state, caller, Path(id.clone()))
                    .await?
                    .0,
            ));
        }
        if event_type.is_none() {
            return Ok(None);
        }
        let mut input = hypothetical.clone();
        input
            .as_object_mut()
            .expect("an object")
            .retain(|_, v| !v.is_null());
        let input =
            serde_json::from_value(input).map_err(|e| ApiError::invalid("event", e.to_string()))?;
        Ok::<_, ApiError>(Some(
            api::explain_dry_run(state, caller, api::ApiJson(input))
                .await?
                .0,
        ))
    }
    .await;
    let (explanation, error) = match result {
        Ok(explanation) => (explanation, None),
        Err(error) => match super::field_error(&error) {
            Some((field, message)) => (None, Some(format!("{field}: {message}"))),
            None => return error_page(&console, Some(&session), error),
        },
    };
    let ctx = minijinja::context! {
        explanation => explanation.as_ref().map(to_ctx),
        error => error,
        event_id => event_id,
        form => hypothetical,
        ..base(&session, "Routing explained", "routing")
    };
    page(&console, "routing.html", ctx)
}
