//! Herald as a Slack app: Add to Slack (OAuth v2), signed inbound requests (slash commands,
//! interactivity, the Events API), `/herald` commands and approvals from Slack.
//!
//! Shaped like Slack's Bolt: every inbound request is verified before it is parsed,
//! installations and OAuth states sit behind small stores, and each request is acknowledged
//! within Slack's 3 seconds, slower work answering through `response_url`. Everything it does
//! runs through the same application code and permission checks as the API
//! (`herald_server::app`), in-process, as the Herald principal linked to the Slack user.

mod approvals;
mod commands;
mod config;
mod console_install;
mod inbound;
mod lifecycle;
mod links;
pub mod manifest;
mod oauth;
mod pages;
mod refresh;
pub mod signature;
mod stores;
mod web_api;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use herald_engine::Engine;
use herald_server::{AppState, Surface};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::{ConfigError, SlackAppConfig};
pub use refresh::RefreshReport;
pub use stores::{Installations, OAuthStates};

/// Slack never sends more: a slash command is a few hundred bytes, an interactive payload
/// carries the clicked message (at most 50 blocks of at most 3,000 characters).
pub const MAX_INBOUND_BODY: usize = 512 * 1024;
/// How often the maintenance loop refreshes rotating tokens and forgets spent rows.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// The Slack app of one deployment: its configuration, the state the API shares, its stores.
pub struct SlackApp {
    config: SlackAppConfig,
    state: AppState,
    installations: Installations,
    oauth_states: OAuthStates,
}

impl SlackApp {
    pub fn new(config: SlackAppConfig, state: &AppState) -> Arc<Self> {
        let store = state.engine.store().clone();
        Arc::new(Self {
            config,
            state: state.clone(),
            installations: Installations::new(store.clone()),
            oauth_states: OAuthStates::new(store),
        })
    }

    pub fn config(&self) -> &SlackAppConfig {
        &self.config
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.state.engine
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.state.engine.now()
    }

    /// The routes: the inbound endpoint, the manifest, the OAuth redirect and the link page
    /// (public), and the install and link calls under `/v1` (bearer token, in the OpenAPI
    /// document).
    pub fn surface(self: &Arc<Self>) -> Surface {
        let api = OpenApiRouter::new()
            .routes(routes!(oauth::install_existing))
            .routes(routes!(oauth::install_new))
            .routes(routes!(links::create, links::list))
            .routes(routes!(links::delete))
            .routes(routes!(links::confirm))
            .layer(Extension(self.clone()));
        let public = Router::new()
            .route("/slack/manifest", get(manifest_route))
            .route("/slack_oauth", get(oauth::callback))
            .route(
                "/slack/install/{id}",
                post(console_install::install_from_console),
            )
            .route(
                "/slack/link",
                get(links::link_page).post(links::page_confirm),
            )
            .route(
                "/webhooks/slack",
                post(inbound::inbound).layer(DefaultBodyLimit::max(MAX_INBOUND_BODY)),
            )
            .with_state(self.clone());
        Surface { api, public }
    }

    /// One round of upkeep: refreshes rotating tokens that expire within 10 minutes, and
    /// forgets handled event ids, spent states and link codes. Tests call it directly.
    pub async fn maintain(&self) -> RefreshReport {
        let report = refresh::refresh_due(self).await;
        let now = self.now();
        let receipts_before = now - chrono::Duration::hours(1);
        if let Err(error) = self
            .engine()
            .store()
            .prune_slack(receipts_before, now)
            .await
        {
            tracing::warn!(error = %herald_domain::error::error_chain(&error), "could not prune Slack rows");
        }
        report
    }

    /// Runs [`SlackApp::maintain`] every minute until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => { self.maintain().await; }
            }
        }
    }
}

async fn manifest_route(
    axum::extract::State(app): axum::extract::State<Arc<SlackApp>>,
) -> Json<serde_json::Value> {
    Json(manifest::manifest(&app.config))
}
