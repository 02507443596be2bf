//! `POST /v1/events`: accept a platform event. The 202 comes only after the event and all its
//! deliveries are committed together. `GET /v1/events` lists what was accepted.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_domain::{Event, EventId, EventInput};
use herald_engine::IngestError;
use herald_store::EventFilter;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};
use crate::AppState;
use herald_domain::Permission;

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventAccepted {
    id: String,
}

/// Set on the answer when an idempotency key matched an earlier event.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

#[utoipa::path(post, path = "/v1/events", tag = "events", security(("bearer" = ["event.publish"])), request_body = EventInput,
    responses((status = 202, body = EventAccepted, description = "Stored durably with all its deliveries"),
              (status = 400, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "The database is unavailable (full, unreachable); nothing was stored. Retry after the `Retry-After` seconds"),
              (status = 422, body = ErrorBody, description = "Invalid, of a type not in the catalogue (field `type`), or `data` breaking the type's schema (field `data.…`)")))]
pub async fn emit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<Response, ApiError> {
    caller.require(Permission::EventPublish)?;
    let new = input.parse()?;
    let accepted = state
        .engine
        .accept_event(&caller.org_id, new)
        .await
        .map_err(|error| match error {
            IngestError::Refused(field) => ApiError::Invalid(field),
            IngestError::Stopped => ApiError::Unavailable,
            other => ApiError::internal(other),
        })?;
    tracing::info!(event_id = %accepted.id, deliveries = accepted.deliveries, replayed = accepted.replayed, "event accepted");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(EventAccepted {
            id: accepted.id.to_string(),
        }),
    )
        .into_response();
    if accepted.replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", security(("bearer" = ["event.read"])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The stored event envelope", body = Object), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Event>, ApiError> {
    caller.require(Permission::EventRead)?;
    let id = EventId::parse(&id).ok_or(ApiError::NotFound("event"))?;
    let stored = state
        .engine
        .store()
        .get_event(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    Ok(Json(stored.event))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The exact event type, e.g. `iac.run.applied`.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// The module or workspace the events are about (their `target_id`).
    target_id: Option<String>,
    correlation_key: Option<String>,
    /// RFC 3339; events received at or after this time.
    since: Option<String>,
    /// RFC 3339; events received before this time.
    until: Option<String>,
    /// 1 to 250; default 50.
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    #[schema(value_type = Vec<Object>)]
    data: Vec<Event>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = ["event.read"])), params(ListQuery),
    responses((status = 200, body = EventPage, description = "Stored event envelopes, newest first"),
              (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<EventPage>, ApiError> {
    caller.require(Permission::EventRead)?;
    let limit = crate::routes::page_limit(query.limit)?;
    let (since, until) =
        crate::routes::time_window(query.since.as_deref(), query.until.as_deref())?;
    let filter = EventFilter {
        event_type: query.event_type,
        target_id: query.target_id,
        correlation_key: query.correlation_key,
        since,
        until,
    };
    let page = state
        .engine
        .store()
        .list_events(
            &caller.org_id,
            &filter,
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(EventPage {
        data: page.items,
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}
