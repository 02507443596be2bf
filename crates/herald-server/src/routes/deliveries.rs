//! The delivery log: every delivery with its attempts, and manual re-queueing.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use herald_domain::{
    Attempt, Delivery, DeliveryId, DeliveryStatus, EventId, FieldError, IntegrationId,
};
use herald_store::{DeliveryFilter, RequeueError};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::AppState;
use herald_domain::Permission;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    integration_id: Option<String>,
    event_id: Option<String>,
    /// pending, retrying, success or failed.
    status: Option<String>,
    /// Only the deliveries of one run (or other chain of correlated events).
    correlation_key: Option<String>,
    /// Only deliveries of events of this type, e.g. `iac.run.applied` (an alias such as a
    /// scanner's short name means its type).
    #[param(example = "iac.run.applied")]
    event_type: Option<String>,
    /// RFC 3339; deliveries created at or after this time.
    #[param(format = DateTime, example = "2026-11-27T00:00:00Z")]
    since: Option<String>,
    /// RFC 3339; deliveries created before this time.
    #[param(format = DateTime, example = "2026-11-28T00:00:00Z")]
    until: Option<String>,
    /// 1 to 250; default 50.
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as given; absent for the first page.
    #[param(value_type = Option<String>)]
    cursor: Option<crate::cursor::PageCursor>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    data: Vec<Delivery>,
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub(crate) delivery: Delivery,
    pub(crate) attempts: Vec<Attempt>,
}

#[utoipa::path(get, path = "/v1/deliveries", tag = "deliveries", security(("bearer" = ["delivery.read"])), params(ListQuery),
    responses((status = 200, body = DeliveryPage, description = "Newest first"), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    caller.require(Permission::DeliveryRead)?;
    let limit = crate::routes::page_limit(query.limit)?;
    let invalid = |field: &str, what: &str| {
        ApiError::Invalid(FieldError::new(field, format!("is not {what}")))
    };
    let (since, until) =
        crate::routes::time_window(query.since.as_deref(), query.until.as_deref())?;
    let filter = DeliveryFilter {
        integration_id: query
            .integration_id
            .map(|raw| {
                IntegrationId::parse(&raw)
                    .ok_or_else(|| invalid("integration_id", "an integration id"))
            })
            .transpose()?,
        event_id: query
            .event_id
            .map(|raw| EventId::parse(&raw).ok_or_else(|| invalid("event_id", "an event id")))
            .transpose()?,
        status: query
            .status
            .map(|raw| {
                DeliveryStatus::parse(&raw)
                    .ok_or_else(|| invalid("status", "one of pending, retrying, success, failed"))
            })
            .transpose()?,
        correlation_key: query.correlation_key,
        event_type: query.event_type.map(|raw| raw.trim().to_owned()),
        since,
        until,
    };
    let page = state
        .engine
        .store()
        .list_deliveries(
            &caller.org_id,
            &filter,
            crate::cursor::PageCursor::position_of(&query.cursor),
            limit,
        )
        .await?;
    Ok(Json(DeliveryPage {
        data: page.items,
        next_cursor: crate::cursor::PageCursor::next(page.next_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "deliveries", security(("bearer" = ["delivery.read"])),
    params(("id" = String, Path)), responses((status = 200, body = DeliveryDetail), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    caller.require(Permission::DeliveryRead)?;
    let id = DeliveryId::parse(&id).ok_or(ApiError::NotFound("delivery"))?;
    let (delivery, attempts) = state
        .engine
        .store()
        .get_delivery(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok(Json(DeliveryDetail { delivery, attempts }))
}

#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "deliveries", security(("bearer" = ["delivery.retry"])),
    params(("id" = String, Path)),
    responses((status = 202, body = DeliveryDetail, description = "Re-queued with a fresh retry budget"),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not failed")))]
pub async fn retry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryDetail>), ApiError> {
    caller.require(Permission::DeliveryRetry)?;
    let id = DeliveryId::parse(&id).ok_or(ApiError::NotFound("delivery"))?;
    let store = state.engine.store();
    match store.requeue_failed(&caller.org_id, &id, Utc::now()).await {
        Ok(()) => {}
        Err(RequeueError::NotFound) => return Err(ApiError::NotFound("delivery")),
        Err(error @ RequeueError::NotFailed(_)) => {
            return Err(ApiError::Conflict(FieldError::new(
                "status",
                error.to_string(),
            )))
        }
        Err(RequeueError::Store(error)) => return Err(error.into()),
    }
    state.engine.wake();
    let (delivery, attempts) = store
        .get_delivery(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeliveryDetail { delivery, attempts }),
    ))
}
