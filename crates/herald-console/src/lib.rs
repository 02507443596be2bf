//! Herald's web console: every admin task in a browser, served by `herald serve` at `/`.
//!
//! Server-rendered HTML (MiniJinja templates that escape by default), one stylesheet and a
//! few lines of JavaScript, all embedded in the binary. Each page runs the API's own handlers
//! in-process (`herald_server::app`) as the signed-in caller, so permissions, validation and
//! the audit log are the API's; the console never calls its own HTTP API.

mod assets;
mod forms;
mod pages;
pub mod password;
mod rate_limit;
mod session;
mod templates;

use std::sync::Arc;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use herald_server::{AppState, Surface};
use utoipa_axum::router::OpenApiRouter;

pub use password::{hash_password, verify_password, PasswordError};
pub use session::{current_session, Session, SESSION_COOKIE, SESSION_TTL};

/// The console of one deployment.
pub struct Console {
    pub(crate) state: AppState,
    /// Behind HTTPS (`HERALD_PUBLIC_URL` is https): cookies are marked Secure.
    pub(crate) secure_cookies: bool,
    pub(crate) limiter: rate_limit::SignInLimiter,
    pub(crate) templates: minijinja::Environment<'static>,
    /// The Slack app is on: a Slack integration's page has Add to Slack, which posts to the
    /// Slack app's `/slack/install/{id}`.
    pub(crate) add_to_slack: bool,
}

impl Console {
    /// `public_url`: where browsers reach Herald, if known; an `https` one makes cookies Secure.
    pub fn new(state: &AppState, public_url: Option<&str>) -> Arc<Self> {
        Self::with_slack_app(state, public_url, false)
    }

    /// As [`Console::new`]; `slack_app_on` says the Slack app is served beside the console
    /// (its `/slack/install/{id}` route), so Slack integrations get an Add to Slack button.
    pub fn with_slack_app(
        state: &AppState,
        public_url: Option<&str>,
        slack_app_on: bool,
    ) -> Arc<Self> {
        let secure_cookies = public_url.is_some_and(|url| url.starts_with("https://"));
        Arc::new(Self {
            state: state.clone(),
            secure_cookies,
            limiter: Default::default(),
            templates: templates::environment(),
            add_to_slack: slack_app_on,
        })
    }

    /// The console's pages and assets (public routes with their own sign-in); it adds nothing
    /// to `/v1`.
    pub fn surface(self: &Arc<Self>) -> Surface {
        use pages::*;
        let public = Router::new()
            .route("/", get(dashboard::page_route))
            .route("/sign-in", get(sign_in::form).post(sign_in::submit))
            .route("/sign-out", post(sign_in::sign_out))
            .route("/integrations", get(integrations::list))
            .route(
                "/integrations/new",
                get(integrations::new_form).post(integrations::create),
            )
            .route("/integrations/{id}", get(integrations::show))
            .route(
                "/integrations/{id}/edit",
                get(integrations::edit_form).post(integrations::update),
            )
            .route("/integrations/{id}/test", post(integrations::test))
            .route(
                "/integrations/{id}/enabled",
                post(integrations::set_enabled),
            )
            .route(
                "/integrations/{id}/delete",
                get(integrations::confirm_delete).post(integrations::delete),
            )
            .route("/integrations/{id}/attachments", post(routing::attach))
            .route("/attachments/{id}/delete", post(routing::detach))
            .route(
                "/integrations/{id}/supplies",
                post(supply_demand::add_supply),
            )
            .route(
                "/supplies/{kind}/{id}/delete",
                post(supply_demand::remove_supply),
            )
            .route(
                "/integrations/{id}/integration-events",
                post(supply_demand::add_integration_event),
            )
            .route(
                "/integration-events/{id}/delete",
                post(supply_demand::remove_integration_event),
            )
            .route("/workspaces/{module}", get(routing::workspace))
            .route("/routing", get(routing::explain))
            .route("/deliveries", get(deliveries::list))
            .route("/deliveries/{id}", get(deliveries::show))
            .route("/deliveries/{id}/retry", post(deliveries::retry))
            .route("/deliveries/{id}/retry-now", post(deliveries::retry_now))
            .route("/events", get(events::list))
            .route("/events/{id}", get(events::show))
            .route("/catalogue", get(catalogue::list).post(catalogue::register))
            .route("/catalogue/{id}/delete", post(catalogue::delete))
            .route("/access", get(access::overview))
            .route("/access/principals", post(access::create_principal))
            .route(
                "/access/principals/{id}/delete",
                post(access::delete_principal),
            )
            .route("/access/groups/{id}", get(access::group))
            .route("/access/groups/{id}/members", post(access::add_member))
            .route(
                "/access/groups/{id}/members/{member}/delete",
                post(access::remove_member),
            )
            .route("/access/roles", post(access::grant))
            .route("/access/roles/{id}/delete", post(access::revoke))
            .route("/access/tokens", post(access::create_token))
            .route("/access/tokens/{id}/revoke", post(access::revoke_token))
            .route("/audit", get(audit::list))
            .route("/users", get(users::list))
            .route("/users/{id}/password", post(users::set_password))
            .route("/assets/{file}", get(assets::serve))
            .layer(middleware::from_fn(assets::security_headers))
            .with_state(self.clone());
        Surface {
            api: OpenApiRouter::new(),
            public,
        }
    }
}
