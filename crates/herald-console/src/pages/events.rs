//! Recent events with filters, and one event: its envelope, its deliveries, and why each integration did or did not get it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use herald_server::app::{api, ApiError};
use serde_json::json;

use super::{as_caller, base, error_page, page, parse, query_value, to_ctx, utc_time, QueryPairs};
use crate::session::SignedIn;
use crate::Console;

pub async fn show(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let event = api::get_event(state, caller, Path(id.clone())).await?.0;
        let (state, caller) = as_caller(&console, &session);
        let q = parse(json!({"event_id": id, "limit": 250}))?;
        let deliveries = api::list_deliveries(state, caller, api::ApiQuery(q))
            .await?
            .0;
        let (state, caller) = as_caller(&console, &session);
        let routing = api::explain_stored(state, caller, Path(id.clone()))
            .await?
            .0;
        Ok::<_, ApiError>((event, deliveries, routing))
    }
    .await;
    match result {
        Ok((event, deliveries, routing)) => {
            let envelope = serde_json::to_string_pretty(&event).unwrap_or_default();
            let ctx = minijinja::context! {
                event => to_ctx(&event), envelope => envelope,
                deliveries => to_ctx(&deliveries), routing => to_ctx(&routing),
                ..base(&session, "Event", "events")
            };
            page(&console, "event.html", ctx)
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}

pub async fn list(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    let filter = json!({
        "type": query_value(&query, "type"),
        "target_id": query_value(&query, "target_id"),
        "correlation_key": query_value(&query, "correlation_key"),
        "since": query_value(&query, "since"),
        "until": query_value(&query, "until"),
    });
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let q = parse(json!({
            "type": filter["type"], "target_id": filter["target_id"],
            "correlation_key": filter["correlation_key"],
            "since": utc_time(query_value(&query, "since")),
            "until": utc_time(query_value(&query, "until")),
            "cursor": query_value(&query, "cursor"), "limit": 50,
        }))?;
        Ok::<_, ApiError>(api::list_events(state, caller, api::ApiQuery(q)).await?.0)
    }
    .await;
    match result {
        Ok(events) => {
            let ctx = minijinja::context! {
                events => to_ctx(&events), filter => filter,
                ..base(&session, "Events", "events")
            };
            page(&console, "events.html", ctx)
        }
        Err(ApiError::Invalid(e)) => {
            let ctx = minijinja::context! {
                events => json!({"data": []}), filter => filter,
                error => format!("{}: {}", e.field, e.message),
                ..base(&session, "Events", "events")
            };
            super::render(
                &console,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "events.html",
                ctx,
            )
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}
