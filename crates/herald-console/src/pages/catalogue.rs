//! The event catalogue: every type events may have (Herald's presets and the organisation's
//! registered ones) with its description and schema; register a type and delete a registered
//! one. All through the `/v1/event-types` handlers, with their checks and audit records.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald_domain::Permission;
use herald_server::app::{api, ApiError};
use serde_json::json;

use super::{as_caller, base, error_page, field_error, parse, render, see_other, to_ctx};
use crate::session::{Session, SignedIn, SignedInForm};
use crate::Console;

/// What the register form was sent with, shown again beside its error.
#[derive(Default, serde::Serialize)]
struct Draft {
    id: String,
    description: String,
    schema: String,
}

pub async fn list(State(console): State<Arc<Console>>, SignedIn(session): SignedIn) -> Response {
    catalogue_page(&console, &session, StatusCode::OK, Draft::default(), None).await
}

async fn catalogue_page(
    console: &Console,
    session: &Session,
    status: StatusCode,
    draft: Draft,
    error: Option<(String, String)>,
) -> Response {
    let (state, caller) = as_caller(console, session);
    let types = match parse(json!({})) {
        Ok(q) => api::list_event_types(state, caller, api::ApiQuery(q)).await,
        Err(e) => Err(e),
    };
    match types {
        Ok(types) => {
            // Schemas shown as indented JSON, as they would be registered.
            let types: Vec<serde_json::Value> = serde_json::to_value(&types.0)
                .ok()
                .and_then(|page| page.get("data").cloned())
                .and_then(|data| data.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .map(|mut t| {
                    let pretty = t
                        .get("schema")
                        .filter(|s| !s.is_null())
                        .and_then(|s| serde_json::to_string_pretty(s).ok());
                    t["schema_text"] = json!(pretty);
                    t
                })
                .collect();
            let ctx = minijinja::context! {
                types => types,
                can_manage => session.caller.grants.allows(Permission::CatalogueManage),
                draft => to_ctx(&draft),
                error_field => error.as_ref().map(|e| e.0.clone()),
                error => error.map(|e| e.1),
                ..base(session, "Event catalogue", "catalogue")
            };
            render(console, status, "catalogue.html", ctx)
        }
        Err(error) => error_page(console, Some(session), error),
    }
}

/// Registers a type, as `POST /v1/event-types` does; a field error shows beside its field.
pub async fn register(State(console): State<Arc<Console>>, form: SignedInForm) -> Response {
    let draft = Draft {
        id: form.text("id").unwrap_or_default(),
        description: form.text("description").unwrap_or_default(),
        schema: form.text("schema").unwrap_or_default(),
    };
    let result = async {
        let schema = match draft.schema.as_str() {
            "" => serde_json::Value::Null,
            text => serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| ApiError::invalid("schema", format!("is not JSON: {e}")))?,
        };
        let body =
            parse(json!({"id": draft.id, "description": draft.description, "schema": schema}))?;
        let (state, caller) = as_caller(&console, &form.session);
        api::register_event_type(state, caller, api::ApiJson(body)).await
    }
    .await;
    match result {
        Ok(_) => see_other("/catalogue"),
        Err(error) => match field_error(&error) {
            Some(field) => {
                let status = error_status(&error);
                catalogue_page(&console, &form.session, status, draft, Some(field)).await
            }
            None => error_page(&console, Some(&form.session), error),
        },
    }
}

/// Deletes a registered type, as `DELETE /v1/event-types/{id}` does (a preset answers 409).
pub async fn delete(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    match api::delete_event_type(state, caller, Path(id)).await {
        Ok(_) => see_other("/catalogue"),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

fn error_status(error: &ApiError) -> StatusCode {
    match error {
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}
