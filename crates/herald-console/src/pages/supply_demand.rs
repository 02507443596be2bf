//! An integration's supplies (the stacks, namespaces and modules it serves) and integration
//! events (which trigger on which scope notifies it), created and removed on its page.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use herald_domain::ScopeKind;
use herald_server::app::{self, api, ApiError};
use serde_json::{json, Value};

use super::{as_caller, error_page, parse, see_other};
use crate::session::{Session, SignedInForm};
use crate::Console;

const SUPPLY_KINDS: [ScopeKind; 3] = [ScopeKind::Stack, ScopeKind::Namespace, ScopeKind::Module];

/// The integration's supplies of every kind and its integration events, as the API lists them.
pub(crate) async fn of_integration(
    console: &Console,
    session: &Session,
    id: &str,
) -> Result<(Vec<Value>, Value), ApiError> {
    let mut supplies = Vec::new();
    for kind in SUPPLY_KINDS {
        let (state, caller) = as_caller(console, session);
        let query = api::ApiQuery(parse(json!({"integration_id": id, "limit": 250}))?);
        let page = match kind {
            ScopeKind::Stack => {
                serde_json::to_value(api::list_stack_supplies(state, caller, query).await?.0)
            }
            ScopeKind::Namespace => {
                serde_json::to_value(api::list_namespace_supplies(state, caller, query).await?.0)
            }
            _ => serde_json::to_value(api::list_module_supplies(state, caller, query).await?.0),
        }
        .expect("pages serialise");
        for mut row in page["data"].as_array().cloned().unwrap_or_default() {
            row["name"] = row[kind.as_str()].clone();
            supplies.push(row);
        }
    }
    let (state, caller) = as_caller(console, session);
    let query = api::ApiQuery(parse(json!({"integration_id": id, "limit": 250}))?);
    let demands = serde_json::to_value(api::list_integration_events(state, caller, query).await?.0)
        .expect("pages serialise");
    Ok((supplies, demands))
}

fn back_to(id: &str) -> String {
    format!("/integrations/{id}#supply-demand")
}

/// An error of the form as the integration page shows it, or the error page.
async fn failed(console: &Console, session: &Session, id: &str, error: ApiError) -> Response {
    match super::field_error(&error) {
        Some((field, message)) => {
            let message = format!("{field}: {message}");
            super::integrations::integration_page(console, session, id, None, Some(message)).await
        }
        None => error_page(console, Some(session), error),
    }
}

pub async fn add_supply(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let kind = form
        .get("kind")
        .and_then(ScopeKind::parse)
        .filter(|k| SUPPLY_KINDS.contains(k));
    let result = match kind {
        Some(kind) => app::create_supply(
            &console.state,
            &form.session.caller,
            kind,
            &id,
            form.get("name").unwrap_or_default().trim(),
        )
        .await
        .map(|_| ()),
        None => Err(ApiError::invalid(
            "kind",
            "must be stack, namespace or module",
        )),
    };
    match result {
        Ok(()) => see_other(&back_to(&id)),
        Err(error) => failed(&console, &form.session, &id, error).await,
    }
}

pub async fn remove_supply(
    State(console): State<Arc<Console>>,
    Path((kind, supply)): Path<(String, String)>,
    form: SignedInForm,
) -> Response {
    let back = super::safe_back(form.get("back"), "/integrations");
    let result = match ScopeKind::parse(&kind).filter(|k| SUPPLY_KINDS.contains(k)) {
        Some(kind) => app::delete_supply(&console.state, &form.session.caller, kind, &supply).await,
        None => Err(ApiError::NotFound("supply")),
    };
    match result {
        Ok(()) => see_other(&back),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

pub async fn add_integration_event(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let scope_kind = form.get("scope_kind").unwrap_or("organisation");
    let scope = match form.text("scope_name") {
        Some(name) if scope_kind != "organisation" => json!({"kind": scope_kind, "name": name}),
        _ => json!({"kind": scope_kind}),
    };
    let body = json!({
        "integration_id": id,
        "name": form.get("name").unwrap_or_default().trim(),
        "trigger": form.get("trigger").unwrap_or_default().trim(),
        "scope": scope,
    });
    let result = async {
        let body = serde_json::from_value(body)
            .map_err(|e| ApiError::invalid("scope.kind", e.to_string()))?;
        app::create_integration_event(&console.state, &form.session.caller, body).await
    }
    .await;
    match result {
        Ok(_) => see_other(&back_to(&id)),
        Err(error) => failed(&console, &form.session, &id, error).await,
    }
}

pub async fn remove_integration_event(
    State(console): State<Arc<Console>>,
    Path(demand): Path<String>,
    form: SignedInForm,
) -> Response {
    let back = super::safe_back(form.get("back"), "/integrations");
    match app::delete_integration_event(&console.state, &form.session.caller, &demand).await {
        Ok(_) => see_other(&back),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}
