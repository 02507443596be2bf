//! Routing explained: for each integration, whether it gets an event and, if not, why.

use std::collections::HashMap;

use axum::extract::{Extension, Path, State};
use axum::Json;
use chrono::Utc;
use herald_domain::{
    DeliveryId, Event, EventId, EventInput, Integration, Kind, Location, OrgId, Routed,
    RoutingModel, Verdict,
};
use herald_store::DeliveryFilter;
use serde::Serialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::AppState;
use herald_domain::Permission;

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoutingExplanation {
    /// The stored event explained; null for a dry run.
    event_id: Option<String>,
    /// Where the event happened: its module (`target_id`) and the module's namespace and stack,
    /// the registered tree winning over the event's own fields.
    location: Location,
    integrations: Vec<RoutingDecision>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoutingDecision {
    integration_id: String,
    name: String,
    kind: Kind,
    /// Which rule decided: `filters` or `supply_demand`.
    routing_model: RoutingModel,
    /// `deliver` or `skip`.
    verdict: &'static str,
    /// Why not, when skipped: `{"code": …, …details}`. Codes: `disabled`; filters model:
    /// `event_not_subscribed`, `target_not_in_scope`, `severity_below_filter`; supply ∩ demand:
    /// `no_matching_demand`, `filtered_by_environment`, `filtered_by_severity`, `not_supplied`.
    #[schema(value_type = Option<Object>)]
    reason: Option<Value>,
    /// Supply ∩ demand, delivered: the integration events that matched.
    integration_event_ids: Vec<String>,
    /// For a stored event: the delivery it got, if any.
    delivery_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/events/{id}/routing", tag = "events", security(("bearer" = ["event.read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = RoutingExplanation,
               description = "Each integration's verdict under the current configuration, with the delivery the event got"),
              (status = 404, body = ErrorBody)))]
pub async fn explain_stored(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RoutingExplanation>, ApiError> {
    caller.require(Permission::EventRead)?;
    let id = EventId::parse(&id).ok_or(ApiError::NotFound("event"))?;
    let store = state.engine.store();
    let stored = store
        .get_event(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let mut delivered: HashMap<String, DeliveryId> = HashMap::new();
    let filter = DeliveryFilter {
        event_id: Some(id.clone()),
        ..DeliveryFilter::default()
    };
    let mut cursor = None;
    loop {
        let page = store
            .list_deliveries(&caller.org_id, &filter, cursor.as_deref(), 250)
            .await?;
        delivered.extend(
            page.items
                .into_iter()
                .map(|d| (d.integration_id.to_string(), d.id)),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let (location, integrations) =
        explain(&state, &caller.org_id, &stored.event, &delivered).await?;
    Ok(Json(RoutingExplanation {
        event_id: Some(id.to_string()),
        location,
        integrations,
    }))
}

#[utoipa::path(post, path = "/v1/routing/explain", tag = "events", security(("bearer" = ["integration.read"])), request_body = EventInput,
    responses((status = 200, body = RoutingExplanation, description = "A dry run: nothing is stored or sent"),
              (status = 422, body = ErrorBody)))]
pub async fn explain_dry_run(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<Json<RoutingExplanation>, ApiError> {
    caller.require(Permission::IntegrationRead)?;
    let new = input.parse()?;
    let event = Event::from_new(&EventId::generate(), &new, Utc::now());
    // Refused as ingest would refuse it.
    let routing = state.engine.routing_for(&caller.org_id).await?;
    routing
        .catalogue()
        .check(&event.event_type, event.data.as_ref())?;
    let (location, integrations) = explain(&state, &caller.org_id, &event, &HashMap::new()).await?;
    Ok(Json(RoutingExplanation {
        event_id: None,
        location,
        integrations,
    }))
}

async fn explain(
    state: &AppState,
    org: &OrgId,
    event: &Event,
    delivered: &HashMap<String, DeliveryId>,
) -> Result<(Location, Vec<RoutingDecision>), ApiError> {
    let explanation = state.engine.explain_routing(org, event).await?;
    let decisions = explanation
        .verdicts
        .into_iter()
        .map(|(integration, routed)| decision(integration, routed, delivered))
        .collect();
    Ok((explanation.location, decisions))
}

fn decision(
    integration: Integration,
    routed: Routed,
    delivered: &HashMap<String, DeliveryId>,
) -> RoutingDecision {
    let (verdict, reason) = match routed.verdict {
        Verdict::Deliver => ("deliver", None),
        Verdict::Skip { reason } => (
            "skip",
            Some(serde_json::to_value(reason).expect("reasons serialise")),
        ),
    };
    let id = integration.id.to_string();
    RoutingDecision {
        delivery_id: delivered.get(&id).map(ToString::to_string),
        integration_id: id,
        name: integration.name,
        kind: integration.kind,
        routing_model: routed.model,
        verdict,
        reason,
        integration_event_ids: routed.matched.iter().map(ToString::to_string).collect(),
    }
}
