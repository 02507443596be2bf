//! One event: its envelope, its deliveries, and why each integration did or did not get it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use herald_server::app::{api, ApiError};
use serde_json::json;

use super::{as_caller, base, error_page, page, parse, to_ctx};
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
