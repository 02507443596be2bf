//! The delivery log: filters, each delivery's attempts timeline, Retry for failed ones and
//! Retry now for ones waiting between retries.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use herald_server::app::{api, ApiError};
use serde_json::json;

use super::{
    as_caller, base, error_page, page, parse, query_value, render, see_other, to_ctx, utc_time,
    QueryPairs,
};
use crate::session::{SignedIn, SignedInForm};
use crate::Console;

pub async fn list(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    // The filters as the form shows them again (times as the datetime-local inputs gave them).
    let filter = json!({
        "integration_id": query_value(&query, "integration_id"),
        "status": query_value(&query, "status"),
        "event_id": query_value(&query, "event_id"),
        "event_type": query_value(&query, "event_type"),
        "since": query_value(&query, "since"),
        "until": query_value(&query, "until"),
    });
    let cursor = query_value(&query, "cursor");
    let integrations = match integration_names(&console, &session).await {
        Ok(names) => names,
        Err(error) => return error_page(&console, Some(&session), error),
    };
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let q = parse(json!({
            "integration_id": filter["integration_id"], "status": filter["status"],
            "event_id": filter["event_id"], "event_type": filter["event_type"],
            "since": utc_time(query_value(&query, "since")),
            "until": utc_time(query_value(&query, "until")),
            "cursor": cursor, "limit": 50,
        }))?;
        Ok::<_, ApiError>(
            api::list_deliveries(state, caller, api::ApiQuery(q))
                .await?
                .0,
        )
    }
    .await;
    // The filters again on the Older link, so paging keeps them.
    let kept: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            filter
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))),
        )
        .finish();
    let (status, deliveries, error) = match result {
        Ok(deliveries) => (StatusCode::OK, to_ctx(&deliveries), None),
        Err(ApiError::Invalid(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            to_ctx(&json!({"data": []})),
            Some(format!("{}: {}", e.field, e.message)),
        ),
        Err(error) => return error_page(&console, Some(&session), error),
    };
    let ctx = minijinja::context! {
        deliveries => deliveries,
        integrations => integrations,
        statuses => ["pending", "retrying", "success", "failed"],
        filter => filter,
        kept => kept,
        error => error,
        ..base(&session, "Delivery log", "deliveries")
    };
    render(&console, status, "deliveries.html", ctx)
}

pub async fn show(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let (state, caller) = as_caller(&console, &session);
    match api::get_delivery(state, caller, Path(id)).await {
        Ok(detail) => {
            let ctx = minijinja::context! { delivery => to_ctx(&detail.0), ..base(&session, "Delivery", "deliveries") };
            page(&console, "delivery.html", ctx)
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}

pub async fn retry(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    let (state, caller) = as_caller(&console, &form.session);
    match api::retry_delivery(state, caller, Path(id.clone())).await {
        Ok(_) => see_other(&format!("/deliveries/{id}")),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

/// Retry now: a delivery waiting between retries is due at once, through the same
/// operation as `POST /v1/deliveries/{id}/retry-now` (its permission, its 409, its audit).
pub async fn retry_now(
    State(console): State<Arc<Console>>,
    Path(id): Path<String>,
    form: SignedInForm,
) -> Response {
    match herald_server::app::retry_now(&console.state, &form.session.caller, &id).await {
        Ok(_) => see_other(&format!("/deliveries/{id}")),
        Err(error) => error_page(&console, Some(&form.session), error),
    }
}

/// The names of the integrations the caller may read, for the filter: one query, checked
/// with the grants `GET /v1/integrations` uses.
pub(crate) async fn integration_names(
    console: &Console,
    session: &crate::Session,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let all = console
        .state
        .engine
        .store()
        .list_all_integrations(&session.caller.org_id)
        .await?;
    let grants = &session.caller.grants;
    Ok(all
        .into_iter()
        .filter(|i| grants.allows_on(herald_domain::Permission::IntegrationRead, &i.id))
        .map(|i| json!({"id": i.id.as_str(), "name": i.name}))
        .collect())
}
