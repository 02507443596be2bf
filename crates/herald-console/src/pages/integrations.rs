//! Integrations: the list with filters, the generated Add and Edit forms, the integration's
//! page with Test, its routing and its recent deliveries, and Delete with confirmation.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald_domain::{Kind, Permission};
use herald_server::app::{self, api, ApiError};
use serde_json::{json, Map, Value};

use super::{
    as_caller, base, error_page, field_error, page, parse, query_value, render, see_other, to_ctx,
    QueryPairs,
};
use crate::forms::{self, FormField};
use crate::session::{Session, SignedIn, SignedInForm};
use crate::Console;

/// Every integration the caller may read, through the API's own listing (pages of 250).
pub(crate) async fn all_integrations(
    console: &Console,
    session: &Session,
) -> Result<Vec<Value>, ApiError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (state, caller) = as_caller(console, session);
        let query = parse(json!({"limit": 250, "cursor": cursor}))?;
        let page = api::list_integrations(state, caller, api::ApiQuery(query))
            .await?
            .0;
        let page = serde_json::to_value(&page).expect("pages serialise");
        items.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(items),
        }
    }
}

/// Failing: the newest delivery failed, or is waiting to retry after a failed attempt.
fn is_failing(status: &str) -> bool {
    matches!(status, "failed" | "retrying")
}

pub async fn list(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    match list_page(&console, &session, &query).await {
        Ok(response) => response,
        Err(error) => error_page(&console, Some(&session), error),
    }
}

async fn list_page(
    console: &Console,
    session: &Session,
    query: &[(String, String)],
) -> Result<Response, ApiError> {
    let kind_filter = query_value(query, "kind");
    let name_filter = query_value(query, "name").map(|n| n.to_lowercase());
    let failing_only = query_value(query, "failing").is_some();
    let integrations = all_integrations(console, session).await?;
    let last: HashMap<String, herald_store::LastDelivery> =
        if session.caller.grants.allows(Permission::DeliveryRead) {
            console
                .state
                .engine
                .store()
                .last_deliveries(&session.caller.org_id)
                .await?
                .into_iter()
                .map(|d| (d.integration_id.clone(), d))
                .collect()
        } else {
            HashMap::new()
        };
    let total = integrations.len();
    let rows: Vec<Value> = integrations
        .into_iter()
        .filter_map(|mut row| {
            let id = row["id"].as_str().unwrap_or_default().to_owned();
            let last = last.get(&id);
            let failing = last.is_some_and(|d| is_failing(&d.status));
            let kind = row["kind"].as_str().unwrap_or_default();
            let name = row["name"].as_str().unwrap_or_default().to_lowercase();
            let keep = kind_filter.as_deref().is_none_or(|k| k == kind)
                && name_filter.as_deref().is_none_or(|n| name.contains(n))
                && (!failing_only || failing);
            if !keep {
                return None;
            }
            row["failing"] = json!(failing);
            row["last_status"] = json!(last.map(|d| d.status.clone()));
            row["last_at"] = json!(last.map(|d| d.at.to_rfc3339()));
            Some(row)
        })
        .collect();
    let ctx = minijinja::context! {
        integrations => rows,
        total => total,
        kinds => kinds(console),
        filter_kind => kind_filter,
        filter_name => query_value(query, "name"),
        filter_failing => failing_only,
        ..base(session, "Integrations", "integrations")
    };
    Ok(page(console, "integrations.html", ctx))
}

fn kinds(console: &Console) -> Vec<&'static str> {
    console
        .state
        .engine
        .registry()
        .kinds()
        .into_iter()
        .map(Kind::as_str)
        .collect()
}

/// The kind a form names, with its config schema.
fn posted_kind(console: &Console, form: &SignedInForm) -> Option<(Kind, Value)> {
    let kind = Kind::parse(&form.text("kind")?)?;
    Some((kind, schema_of(console, kind)?))
}

fn schema_of(console: &Console, kind: Kind) -> Option<Value> {
    console
        .state
        .engine
        .registry()
        .get(kind)
        .map(|p| p.config_schema())
}

/// What the Add and Edit forms show besides the config fields.
#[derive(Default)]
struct Common {
    name: String,
    enabled: bool,
    events: String,
}

impl Common {
    fn from_form(form: &SignedInForm) -> Self {
        Self {
            name: form.get("name").unwrap_or_default().trim().to_owned(),
            enabled: form.get("enabled").is_some(),
            events: form.get("events").unwrap_or_default().to_owned(),
        }
    }

    fn events(&self) -> Value {
        let list: Vec<&str> = self
            .events
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if list.is_empty() {
            Value::Null
        } else {
            json!(list)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    console: &Console,
    session: &Session,
    status: StatusCode,
    kind: Kind,
    editing: Option<&str>,
    common: &Common,
    mut fields: Vec<FormField>,
    error: Option<(String, String)>,
) -> Response {
    let mut general_error = None;
    let mut common_errors: HashMap<&str, String> = HashMap::new();
    if let Some((field, message)) = error {
        if let Some(field_input) = fields.iter_mut().find(|f| f.name == field) {
            field_input.error = Some(message);
        } else if ["name", "events", "enabled"].contains(&field.as_str()) {
            let key = ["name", "events", "enabled"]
                .into_iter()
                .find(|k| *k == field)
                .unwrap_or("name");
            common_errors.insert(key, message);
        } else {
            general_error = Some(format!("{field}: {message}"));
        }
    }
    let title = match editing {
        Some(_) => format!("Edit {}", common.name),
        None => format!("Add a {} integration", kind.as_str()),
    };
    let ctx = minijinja::context! {
        kind => kind.as_str(),
        editing => editing,
        name => common.name,
        enabled => common.enabled,
        events => common.events,
        fields => fields,
        name_error => common_errors.get("name"),
        events_error => common_errors.get("events"),
        general_error => general_error,
        ..base(session, &title, "integrations")
    };
    render(console, status, "integration_form.html", ctx)
}

pub async fn new_form(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    let kind = query_value(&query, "kind").and_then(|k| Kind::parse(&k));
    let schema = kind.and_then(|k| schema_of(&console, k));
    match (kind, schema) {
        (Some(kind), Some(schema)) => {
            let fields = forms::fields(&schema, &Map::new(), &[]);
            let common = Common {
                enabled: true,
                ..Common::default()
            };
            form_page(
                &console,
                &session,
                StatusCode::OK,
                kind,
                None,
                &common,
                fields,
                None,
            )
        }
        _ => {
            let ctx = minijinja::context! { kinds => kinds(&console), choose_kind => true, ..base(&session, "Add an integration", "integrations") };
            page(&console, "integration_form.html", ctx)
        }
    }
}

pub async fn create(State(console): State<Arc<Console>>, form: SignedInForm) -> Response {
    let session = &form.session;
    let Some((kind, schema)) = posted_kind(&console, &form) else {
        return error_page(
            &console,
            Some(session),
            ApiError::invalid("kind", "is not a kind this server supports"),
        );
    };
    let common = Common::from_form(&form);
    // Typed values are never echoed back into the page: secret inputs come back empty.
    let refill = |error: (String, String)| {
        let mut fields = forms::fields(&schema, &Map::new(), &[]);
        for field in fields.iter_mut().filter(|f| !f.secret) {
            field.value = form.get(&field.name).unwrap_or_default().to_owned();
        }
        form_page(
            &console,
            session,
            StatusCode::UNPROCESSABLE_ENTITY,
            kind,
            None,
            &common,
            fields,
            Some(error),
        )
    };
    let config = match forms::config_from_form(&schema, &form.fields, false) {
        Ok(config) => config,
        Err((property, message)) => return refill((format!("config.{property}"), message)),
    };
    let body = json!({
        "kind": kind.as_str(), "name": common.name, "enabled": common.enabled,
        "events": common.events(), "config": config,
    });
    let result = async {
        let body =
            serde_json::from_value(body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
        app::create_integration(&console.state, &session.caller, body).await
    }
    .await;
    match result {
        Ok(created) => see_other(&format!("/integrations/{}", created.id)),
        Err(error) => match field_error(&error) {
            Some(field) => refill(field),
            None => error_page(&console, Some(session), error),
        },
    }
}

pub async fn show(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    integration_page(&console, &session, &id, None, None).await
}

/// The integration's page, with a test result or an attach error to show.
pub(crate) async fn integration_page(
    console: &Console,
    session: &Session,
    id: &str,
    test_result: Option<Value>,
    attach_error: Option<String>,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(console, session);
        let integration = api::get_integration(state, caller, Path(id.to_owned()))
            .await?
            .0;
        let (state, caller) = as_caller(console, session);
        let query = parse(json!({"integration_id": id, "limit": 250}))?;
        let attachments = api::list_attachments(state, caller, api::ApiQuery(query))
            .await?
            .0;
        let deliveries = if session.caller.grants.allows(Permission::DeliveryRead) {
            let (state, caller) = as_caller(console, session);
            let query = parse(json!({"integration_id": id, "limit": 10}))?;
            Some(
                api::list_deliveries(state, caller, api::ApiQuery(query))
                    .await?
                    .0,
            )
        } else {
            None
        };
        let (supplies, demands) =
            super::supply_demand::of_integration(console, session, id).await?;
        Ok::<_, ApiError>((integration, attachments, deliveries, supplies, demands))
    }
    .await;
    let (integration, attachments, deliveries, supplies, demands) = match result {
        Ok(found) => found,
        Err(error) => return error_page(console, Some(session), error),
    };
    let view = to_ctx(&integration);
    let name = serde_json::to_value(&integration)
        .ok()
        .and_then(|v| v["name"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let ctx = minijinja::context! {
        integration => view,
        attachments => to_ctx(&attachments),
        supplies => supplies,
        integration_events => demands,
        deliveries => deliveries.as_ref().map(to_ctx),
        test_result => test_result,
        attach_error => attach_error,
        add_to_slack => console.add_to_slack,
        ..base(session, &name, "integrations")
    };
    page(console, "integration.html", ctx)
}

pub async fn edit_form(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let view = serde_json::to_value(
            api::get_integration(state, caller, Path(id.clone()))
                .await?
                .0,
        )
        .expect("serialises");
        let current = app::editable_config(&console.state, &session.caller, &id).await?;
        Ok::<_, ApiError>((view, current))
    }
    .await;
    let (view, current) = match result {
        Ok(found) => found,
        Err(error) => return error_page(&console, Some(&session), error),
    };
    let Some(kind) = view["kind"].as_str().and_then(Kind::parse) else {
        return error_page(&console, Some(&session), ApiError::NotFound("integration"));
    };
    let Some(schema) = schema_of(&console, kind) else {
        return error_page(&console, Some(&session), ApiError::NotFound("integration"));
    };
    let set_keys: Vec<String> =
        serde_json::from_value(view["config_keys"].clone()).unwrap_or_default();
    let fields = forms::fields(&schema, &current, &set_keys);
    let events = view["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let common = Common {
        name: view["name"].as_str().unwrap_or_default().to_owned(),
        enabled: view["enabled"].as_bool().unwrap_or(true),
        events,
    };
    form_page(
        &console,
        &session,
        StatusCode::OK,
        kind,
        Some(&id),
        &common,
        fields,
        None,
    )
}

pub async fn update(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let session = &form.session;
    let Some((kind, schema)) = posted_kind(&console, &form) else {
        return error_page(
            &console,
            Some(session),
            ApiError::invalid("kind", "is not a kind this server supports"),
        );
    };
    let common = Common::from_form(&form);
    let refill = |error: (String, String)| async {
        let current = app::editable_config(&console.state, &session.caller, &id)
            .await
            .unwrap_or_default();
        let mut fields = forms::fields(&schema, &current, &[]);
        for field in fields.iter_mut() {
            if field.secret {
                field.is_set = true;
            } else {
                field.value = form.get(&field.name).unwrap_or_default().to_owned();
            }
        }
        form_page(
            &console,
            session,
            StatusCode::UNPROCESSABLE_ENTITY,
            kind,
            Some(&id),
            &common,
            fields,
            Some(error),
        )
    };
    let patch = match forms::config_from_form(&schema, &form.fields, true) {
        Ok(patch) => patch,
        Err((property, message)) => return refill((format!("config.{property}"), message)).await,
    };
    let body = json!({"name": common.name, "enabled": common.enabled, "events": common.events(), "config": patch});
    let result = async {
        let body =
            serde_json::from_value(body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
        app::update_integration(&console.state, &session.caller, &id, body).await
    }
    .await;
    match result {
        Ok(updated) => see_other(&format!("/integrations/{}", updated.id)),
        Err(error) => match field_error(&error) {
            Some(field) => refill(field).await,
            None => error_page(&console, Some(session), error),
        },
    }
}

pub async fn test(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    match api::test_integration(state, caller, Path(id.clone())).await {
        Ok(result) => {
            let result = serde_json::to_value(&result.0).expect("serialises");
            integration_page(&console, &form.session, &id, Some(result), None).await
        }
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

pub async fn set_enabled(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let enabled = form.get("enabled") == Some("true");
    let result = async {
        let body = serde_json::from_value(json!({"enabled": enabled}))
            .map_err(|e| ApiError::invalid("enabled", e.to_string()))?;
        app::update_integration(&console.state, &form.session.caller, &id, body).await
    }
    .await;
    match result {
        Ok(_) => see_other(&super::safe_back(form.get("back"), "/integrations")),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

pub async fn confirm_delete(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let (state, caller) = as_caller(&console, &session);
    match api::get_integration(state, caller, Path(id)).await {
        Ok(integration) => {
            let ctx = minijinja::context! { integration => to_ctx(&integration.0), ..base(&session, "Delete integration", "integrations") };
            page(&console, "confirm_delete.html", ctx)
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}

pub async fn delete(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    match api::delete_integration(state, caller, Path(id)).await {
        Ok(_) => see_other("/integrations"),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}
