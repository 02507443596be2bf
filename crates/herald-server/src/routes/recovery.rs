//! Replay and recovery: send a waiting delivery now, re-send an integration's failed
//! deliveries, replay an event, and pause or resume an integration.

use std::collections::HashMap;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use herald_domain::{
    Attempt, Delivery, DeliveryId, EventId, FieldError, Integration, IntegrationId, Permission,
};
use herald_store::{NewReplay, RetryNowError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::deliveries::DeliveryDetail;
use crate::routes::integrations::{load, view, IntegrationView};
use crate::AppState;

#[utoipa::path(post, path = "/v1/deliveries/{id}/retry-now", tag = "deliveries", security(("bearer" = ["delivery.retry"])),
    params(("id" = String, Path)),
    responses((status = 202, body = DeliveryDetail, description = "Due now; its retry schedule is unchanged"),
              (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "Not waiting for an attempt: it has ended, or is being sent")))]
pub async fn retry_now_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryDetail>), ApiError> {
    let (delivery, attempts) = retry_now(&state, &caller, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeliveryDetail { delivery, attempts }),
    ))
}

/// Sends a delivery that waits between retries (or behind its destination's pace) at once, as
/// `POST /v1/deliveries/{id}/retry-now` does. Its retry schedule stays where it is.
pub async fn retry_now(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Delivery, Vec<Attempt>), ApiError> {
    caller.require(Permission::DeliveryRetry)?;
    let id = DeliveryId::parse(id).ok_or(ApiError::NotFound("delivery"))?;
    let store = state.engine.store();
    match store
        .retry_now(&caller.org_id, &id, state.engine.now())
        .await
    {
        Ok(()) => {}
        Err(RetryNowError::NotFound) => return Err(ApiError::NotFound("delivery")),
        Err(error @ RetryNowError::NotWaiting(_)) => {
            return Err(ApiError::Conflict(FieldError::new(
                "status",
                error.to_string(),
            )))
        }
        Err(RetryNowError::Store(error)) => return Err(error.into()),
    }
    state.engine.wake();
    audit::record(
        state,
        caller,
        "delivery.retry_now",
        ("delivery", id.as_str()),
        None,
    )
    .await;
    store
        .get_delivery(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendFailed {
    /// Required: failed deliveries created at or after this time (RFC 3339). Checked after
    /// the integration is found, so that another organisation's id answers 404 whatever the body.
    #[serde(default, deserialize_with = "herald_domain::time::optional_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    since: Option<DateTime<Utc>>,
    /// ... and before this time; default now.
    #[serde(default, deserialize_with = "herald_domain::time::optional_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Resent {
    /// How many failed deliveries were queued again.
    requeued: u64,
}

#[utoipa::path(post, path = "/v1/integrations/{id}/resend-failed", tag = "deliveries", security(("bearer" = ["delivery.retry"])),
    params(("id" = String, Path)), request_body = ResendFailed,
    responses((status = 202, body = Resent, description = "Every failed delivery of the window queued again, due now, with a fresh retry budget"),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resend_failed_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ResendFailed>,
) -> Result<(StatusCode, Json<Resent>), ApiError> {
    let requeued = resend_failed(&state, &caller, &id, body).await?;
    Ok((StatusCode::ACCEPTED, Json(Resent { requeued })))
}

/// Queues every failed delivery of an integration within a time window again, as
/// `POST /v1/integrations/{id}/resend-failed` does. Returns how many.
pub async fn resend_failed(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: ResendFailed,
) -> Result<u64, ApiError> {
    caller.require(Permission::DeliveryRetry)?;
    let row = load(state, caller, id, Permission::IntegrationRead).await?;
    let since = body
        .since
        .ok_or_else(|| ApiError::invalid("since", "is required"))?;
    let now = state.engine.now();
    let until = body.until.unwrap_or(now);
    if since >= until {
        return Err(ApiError::invalid(
            "since",
            "must be before `until` (default now)",
        ));
    }
    let integration = &row.integration;
    let requeued = state
        .engine
        .store()
        .resend_failed(&caller.org_id, &integration.id, since, until, now)
        .await?;
    state.engine.wake();
    audit::record(
        state,
        caller,
        "delivery.resend_failed",
        ("integration", integration.id.as_str()),
        Some(json!({"since": since, "until": until, "requeued": requeued})),
    )
    .await;
    tracing::info!(integration_id = %integration.id, requeued, "failed deliveries queued again");
    Ok(requeued)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayEvent {
    /// Only to these integrations; absent: to every integration that got the event. An
    /// integration that did not get it gets it at its own destination.
    integration_ids: Option<Vec<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// The new deliveries, one per destination, each with its own id and `replay: true`.
    data: Vec<Delivery>,
}

#[utoipa::path(post, path = "/v1/events/{id}/replay", tag = "deliveries", security(("bearer" = ["delivery.retry"])),
    params(("id" = String, Path)), request_body = ReplayEvent,
    responses((status = 202, body = Replayed, description = "New deliveries of the event, due now, recorded as replays"),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replay_event_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplayEvent>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let data = replay_event(&state, &caller, &id, body.integration_ids).await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { data })))
}

/// Sends a stored event again, as new deliveries recorded as replays, as
/// `POST /v1/events/{id}/replay` does: to every integration that got it, or to those named.
pub async fn replay_event(
    state: &AppState,
    caller: &Caller,
    id: &str,
    integration_ids: Option<Vec<String>>,
) -> Result<Vec<Delivery>, ApiError> {
    caller.require(Permission::DeliveryRetry)?;
    let event_id = EventId::parse(id).ok_or(ApiError::NotFound("event"))?;
    let store = state.engine.store();
    let stored = store
        .get_event(&caller.org_id, &event_id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let originals = store.original_deliveries(&caller.org_id, &event_id).await?;
    // Which integrations, in the order given (or of the original deliveries).
    let chosen: Vec<IntegrationId> = match integration_ids {
        Some(ids) if ids.is_empty() => {
            return Err(ApiError::invalid(
                "integration_ids",
                "must name at least one integration (leave it out for all)",
            ))
        }
        Some(ids) => {
            let mut chosen = Vec::with_capacity(ids.len());
            for (i, raw) in ids.iter().enumerate() {
                let field = format!("integration_ids[{i}]");
                let id = IntegrationId::parse(raw)
                    .ok_or_else(|| ApiError::invalid(field, "is not an integration id"))?;
                if !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
            chosen
        }
        None => {
            let mut chosen: Vec<IntegrationId> = Vec::new();
            for original in &originals {
                if !chosen.contains(&original.integration_id) {
                    chosen.push(original.integration_id.clone());
                }
            }
            chosen
        }
    };
    let mut integrations: HashMap<IntegrationId, Integration> = HashMap::new();
    for (i, id) in chosen.iter().enumerate() {
        let row = store.get_integration(&caller.org_id, id).await?;
        match row {
            Some(row) if caller.require_on(Permission::IntegrationRead, id).is_ok() => {
                integrations.insert(id.clone(), row.integration);
            }
            _ => {
                return Err(ApiError::invalid(
                    format!("integration_ids[{i}]"),
                    "no such integration",
                ))
            }
        }
    }
    let now = state.engine.now();
    let mut replays = Vec::new();
    for id in &chosen {
        let integration = &integrations[id];
        let mut destinations: Vec<(String, Option<DeliveryId>)> = originals
            .iter()
            .filter(|o| &o.integration_id == id)
            .map(|o| (o.destination.clone(), Some(o.id.clone())))
            .collect();
        if destinations.is_empty() {
            destinations.push((String::new(), None));
        }
        for (destination, replay_of) in destinations {
            replays.push(NewReplay {
                id: DeliveryId::generate(),
                integration_id: id.clone(),
                integration_name: integration.name.clone(),
                kind: integration.kind,
                destination,
                replay_of,
            });
        }
    }
    let inserted = store
        .insert_replays(
            &caller.org_id,
            &event_id,
            stored.event.correlation_key.as_deref(),
            &replays,
            now,
        )
        .await?;
    if !inserted {
        // Retention pruned the event since it was read.
        return Err(ApiError::NotFound("event"));
    }
    state.engine.wake();
    let ids: Vec<&str> = replays.iter().map(|r| r.id.as_str()).collect();
    audit::record(
        state,
        caller,
        "event.replay",
        ("event", event_id.as_str()),
        Some(json!({"deliveries": ids})),
    )
    .await;
    tracing::info!(event_id = %event_id, deliveries = replays.len(), "event replayed");
    let mut created = Vec::with_capacity(replays.len());
    for replay in &replays {
        if let Some((delivery, _)) = store.get_delivery(&caller.org_id, &replay.id).await? {
            created.push(delivery);
        }
    }
    Ok(created)
}

#[utoipa::path(post, path = "/v1/integrations/{id}/pause", tag = "integrations", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)),
    responses((status = 200, body = IntegrationView, description = "Paused: its deliveries wait, untried, until it is resumed"),
              (status = 404, body = ErrorBody)))]
pub async fn pause_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    let integration = set_paused(&state, &caller, &id, true).await?;
    Ok(Json(view(&state, integration).await?))
}

#[utoipa::path(post, path = "/v1/integrations/{id}/resume", tag = "integrations", security(("bearer" = ["integration.update"])),
    params(("id" = String, Path)),
    responses((status = 200, body = IntegrationView, description = "Resumed: what waited is sent now"),
              (status = 404, body = ErrorBody)))]
pub async fn resume_route(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    let integration = set_paused(&state, &caller, &id, false).await?;
    Ok(Json(view(&state, integration).await?))
}

/// Pauses or resumes an integration, as `POST /v1/integrations/{id}/pause` and `/resume` do.
/// Pausing or resuming twice changes nothing the second time.
pub async fn set_paused(
    state: &AppState,
    caller: &Caller,
    id: &str,
    paused: bool,
) -> Result<Integration, ApiError> {
    let row = load(state, caller, id, Permission::IntegrationUpdate).await?;
    let mut integration = row.integration;
    if integration.paused_at.is_some() == paused {
        return Ok(integration);
    }
    let now = state.engine.now();
    integration.paused_at = paused.then_some(now);
    integration.updated_at = now;
    let updated = state
        .engine
        .store()
        .set_paused(&caller.org_id, &integration.id, integration.paused_at, now)
        .await?;
    if !updated {
        return Err(ApiError::NotFound("integration"));
    }
    state.engine.integrations_changed(&caller.org_id);
    state.engine.wake();
    let action = match paused {
        true => "integration.pause",
        false => "integration.resume",
    };
    audit::record(
        state,
        caller,
        action,
        ("integration", integration.id.as_str()),
        None,
    )
    .await;
    tracing::info!(integration_id = %integration.id, paused, "integration {}", if paused { "paused" } else { "resumed" });
    Ok(integration)
}
