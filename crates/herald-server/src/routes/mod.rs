//! The route tree. Handlers carry their OpenAPI description, so `/openapi.json` is generated
//! from the same code that serves the routes.

pub(crate) mod access;
pub(crate) mod attachments;
pub(crate) mod deliveries;
pub(crate) mod event_types;
pub(crate) mod events;
pub(crate) mod integration_events;
pub(crate) mod integrations;
mod openapi;
pub(crate) mod recovery;
pub(crate) mod routing;
mod scopes;
pub(crate) mod supplies;

use axum::routing::get;
use axum::{middleware, Json, Router};
use chrono::{DateTime, Utc};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Events in; native, durable, audited deliveries out."),
    modifiers(&BearerAuth),
    tags((name = "integrations"), (name = "events"), (name = "deliveries"),
         (name = "scopes", description = "The scope tree: stacks, namespaces, modules"),
         (name = "supplies", description = "Which stacks, namespaces and modules an integration serves"),
         (name = "integration events", description = "Demand: which trigger on which scope notifies an integration"),
         (name = "event types", description = "The event catalogue"),
         (name = "routing", description = "Workspace attachments: an integration attached to a module, with its overrides"),
         (name = "access", description = "Users, groups, service principals, role assignments, tokens and the audit log")),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Routes another crate adds to the server (the Slack app, the console). They call the same
/// application code and permission checks as the API's own handlers, in-process.
pub struct Surface {
    /// Served behind the bearer-token check like `/v1`, and documented in `/openapi.json`.
    pub api: OpenApiRouter<AppState>,
    /// Served as they are: inbound webhooks, browser redirects, pages.
    pub public: Router,
}

pub fn router(state: AppState, surfaces: Vec<Surface>) -> Router {
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi());
    let mut public = Vec::new();
    for surface in surfaces {
        api = api.merge(surface.api);
        public.push(surface.public);
    }
    let (v1, openapi) = api
        .routes(routes!(integrations::create, integrations::list))
        .routes(routes!(
            integrations::get_one,
            integrations::update,
            integrations::delete
        ))
        .routes(routes!(integrations::test))
        .routes(routes!(events::emit, events::list))
        .routes(routes!(events::get_one))
        .routes(routes!(routing::explain_stored))
        .routes(routes!(routing::explain_dry_run))
        .routes(routes!(scopes::create_stack, scopes::list_stacks))
        .routes(routes!(scopes::get_stack, scopes::delete_stack))
        .routes(routes!(scopes::create_namespace, scopes::list_namespaces))
        .routes(routes!(scopes::get_namespace, scopes::delete_namespace))
        .routes(routes!(scopes::create_module, scopes::list_modules))
        .routes(routes!(scopes::get_module, scopes::delete_module))
        .routes(routes!(
            supplies::create_stack_supply,
            supplies::list_stack_supplies
        ))
        .routes(routes!(
            supplies::get_stack_supply,
            supplies::delete_stack_supply
        ))
        .routes(routes!(
            supplies::create_namespace_supply,
            supplies::list_namespace_supplies
        ))
        .routes(routes!(
            supplies::get_namespace_supply,
            supplies::delete_namespace_supply
        ))
        .routes(routes!(
            supplies::create_module_supply,
            supplies::list_module_supplies
        ))
        .routes(routes!(
            supplies::get_module_supply,
            supplies::delete_module_supply
        ))
        .routes(routes!(
            integration_events::create,
            integration_events::list
        ))
        .routes(routes!(
            integration_events::get_one,
            integration_events::update,
            integration_events::delete
        ))
        .routes(routes!(event_types::register, event_types::list))
        .routes(routes!(event_types::get_one, event_types::delete))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::get_one))
        .routes(routes!(deliveries::retry))
        .routes(routes!(recovery::retry_now_route))
        .routes(routes!(recovery::resend_failed_route))
        .routes(routes!(recovery::replay_event_route))
        .routes(routes!(recovery::pause_route))
        .routes(routes!(recovery::resume_route))
        .routes(routes!(access::create_principal, access::list_principals))
        .routes(routes!(access::get_principal, access::delete_principal))
        .routes(routes!(access::list_members))
        .routes(routes!(access::add_member, access::remove_member))
        .routes(routes!(
            access::create_role_assignment,
            access::list_role_assignments
        ))
        .routes(routes!(access::delete_role_assignment))
        .routes(routes!(access::create_token, access::list_tokens))
        .routes(routes!(access::revoke_token))
        .routes(routes!(access::list_audit))
        .routes(routes!(access::me))
        .routes(routes!(attachments::create, attachments::list))
        .routes(routes!(
            attachments::get_one,
            attachments::update,
            attachments::delete
        ))
        .split_for_parts();
    let mut openapi = serde_json::to_value(&openapi).expect("the OpenAPI document serialises");
    openapi::document_shared_answers(&mut openapi);
    publish_config_schemas(&mut openapi, state.engine.registry());
    let v1 = v1.route_layer(middleware::from_fn_with_state(
        state.clone(),
        crate::auth::require_token,
    ));
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(move || async move { Json(openapi) }))
        .merge(v1)
        .with_state(state)
        .layer(middleware::from_fn(crate::error::json_errors));
    for routes in public {
        app = app.merge(routes);
    }
    app.fallback(|| async { ApiError::NotFound("route") })
        .layer(middleware::from_fn(crate::request_id::with_request_id))
}

/// Adds each kind's config schema as `IntegrationConfig.<kind>`, the shape of `config` in
/// `POST /v1/integrations` for that kind. Secret fields are `writeOnly`.
fn publish_config_schemas(openapi: &mut serde_json::Value, registry: &herald_providers::Registry) {
    let schemas = &mut openapi["components"]["schemas"];
    for kind in registry.kinds() {
        let provider = registry.get(kind).expect("a listed kind has a provider");
        schemas[format!("IntegrationConfig.{}", kind.as_str())] = provider.config_schema();
    }
}

/// A worker process's routes: the probes only.
pub fn probes_only(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound("route") })
        .with_state(state)
}

/// Liveness: the process serves HTTP. It does not touch the database, so an outage there
/// does not get the process restarted (that is what `/readyz` is for).
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the database commits a write within a second and, where this process runs
/// workers, they run. 503 otherwise (and from the moment shutdown begins).
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let readiness = state.engine.readiness(state.expect_workers).await;
    let status = match readiness.ready {
        true => axum::http::StatusCode::OK,
        false => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = serde_json::json!({
        "status": if readiness.ready { "ready" } else { "unready" },
        "checks": readiness,
    });
    (status, Json(body)).into_response()
}

/// The Prometheus text exposition. Open like the probes, unless `HERALD_METRICS_TOKEN` is
/// set: then it needs that bearer token (compared in constant time).
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(expected) = &state.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer_token)
            .unwrap_or_default();
        // Digests of equal length, compared without an early exit: neither the token's length
        // nor its first differing byte shows in the time taken.
        let (given, expected) = (
            herald_crypto::hash_token(given),
            herald_crypto::hash_token(expected),
        );
        let same = given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if !same {
            return ApiError::Unauthorized.into_response();
        }
    }
    match state.engine.metrics_text().await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// Where a time-filtered list starts and ends; either end may be open.
pub(crate) type TimeWindow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A list's `since` and `until` query parameters: RFC 3339 within the accepted years, each
/// refusal naming its parameter, and `until` after `since` when both are given.
pub(crate) fn time_window(
    since: Option<&str>,
    until: Option<&str>,
) -> Result<TimeWindow, ApiError> {
    let parse = |field: &str, raw: Option<&str>| {
        raw.map(|raw| {
            herald_domain::time::parse_rfc3339(raw)
                .map_err(|reason| ApiError::invalid(field, reason))
        })
        .transpose()
    };
    let (since, until) = (parse("since", since)?, parse("until", until)?);
    if let (Some(since), Some(until)) = (since, until) {
        if until <= since {
            return Err(ApiError::invalid("until", "must be after since"));
        }
    }
    Ok((since, until))
}

/// Page sizes: 1 to 250, 50 by default.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        limit @ 1..=250 => Ok(limit),
        _ => Err(ApiError::invalid("limit", "must be between 1 and 250")),
    }
}
