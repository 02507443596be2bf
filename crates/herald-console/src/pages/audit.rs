//! The audit log: who did what to which resource, newest first, a page at a time, as
//! `GET /v1/audit` answers it (and with its permission, `audit.read`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use herald_server::app::api;
use serde_json::json;

use super::{as_caller, base, error_page, page, parse, query_value, to_ctx, QueryPairs};
use crate::session::SignedIn;
use crate::Console;

pub async fn list(
    State(console): State<Arc<Console>>,
    SignedIn(session): SignedIn,
    axum::extract::Query(query): QueryPairs,
) -> Response {
    let action = query_value(&query, "action");
    let cursor = query_value(&query, "cursor");
    let result = async {
        let (state, caller) = as_caller(&console, &session);
        let q = parse(json!({"action": action, "cursor": cursor, "limit": 50}))?;
        api::list_audit(state, caller, api::ApiQuery(q)).await
    }
    .await;
    match result {
        Ok(entries) => {
            let ctx = minijinja::context! {
                entries => to_ctx(&entries.0),
                filter_action => action,
                first_page => cursor.is_none(),
                ..base(&session, "Audit log", "access")
            };
            page(&console, "audit.html", ctx)
        }
        Err(error) => error_page(&console, Some(&session), error),
    }
}
