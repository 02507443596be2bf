//! Add to Slack (OAuth v2). `POST /v1/integrations/{id}/slack/install` (or `/v1/slack/install`
//! for a new integration) answers Slack's authorize address with a single-use `state` bound to
//! the organisation, the principal and the integration. Slack sends the person back to
//! `GET /slack_oauth`, which exchanges the code at `oauth.v2.access` and stores the bot token
//! sealed in the integration's config. A wrong, reused or expired state, or a refusal from
//! Slack, gets a page that says so and changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use herald_domain::{IntegrationId, IntegrationName, Kind, Permission};
use herald_server::app::{
    create_integration, update_integration, Caller, CreateIntegration, UpdateIntegration,
};
use herald_server::error::{ApiError, ErrorBody};
use herald_server::extract::ApiJson;
use herald_store::SlackInstallation;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::manifest::BOT_SCOPES;
use crate::pages::page;
use crate::stores::{Issued, StateProblem};
use crate::web_api::{self, CallError};
use crate::SlackApp;

/// Where Slack asks the person to approve the install.
const AUTHORIZE_URL: &str = "https://slack.com/oauth/v2/authorize";

/// Where to send the person to approve the install.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstallUrl {
    /// Slack's authorize address with `client_id`, `scope`, `redirect_uri` and a single-use
    /// `state`.
    pub(crate) url: String,
    /// The state is refused after this.
    expires_at: DateTime<Utc>,
}

/// A Slack integration made by Add to Slack once the person approves.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSlackIntegration {
    /// Default: "Slack <workspace name>".
    name: Option<String>,
    /// A channel to post to when no subscription or destination names one.
    default_channel: Option<String>,
}

#[utoipa::path(post, path = "/v1/integrations/{id}/slack/install", tag = "slack",
    security(("bearer" = ["integration.update"])), params(("id" = String, Path)),
    responses((status = 200, body = InstallUrl), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn install_existing(
    Extension(app): Extension<Arc<SlackApp>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<InstallUrl>, ApiError> {
    authorize_existing(&app, &caller, &id).await.map(Json)
}

/// Slack's authorize address for connecting an existing Slack integration: what
/// `POST /v1/integrations/{id}/slack/install` answers, with its permission check
/// (`integration.update` on it). The console's Add to Slack button runs it too.
pub(crate) async fn authorize_existing(
    app: &SlackApp,
    caller: &Caller,
    id: &str,
) -> Result<InstallUrl, ApiError> {
    let id = IntegrationId::parse(id).ok_or(ApiError::NotFound("integration"))?;
    caller.require_on(Permission::IntegrationUpdate, &id)?;
    let row = app
        .engine()
        .store()
        .get_integration(&caller.org_id, &id)
        .await?
        .ok_or(ApiError::NotFound("integration"))?;
    if row.integration.kind != Kind::Slack {
        return Err(ApiError::invalid(
            "id",
            format!(
                "is a {} integration; Add to Slack connects Slack integrations",
                row.integration.kind.as_str()
            ),
        ));
    }
    issue(app, caller, Some(id), None).await
}

#[utoipa::path(post, path = "/v1/slack/install", tag = "slack",
    security(("bearer" = ["integration.create"])), request_body = NewSlackIntegration,
    responses((status = 200, body = InstallUrl), (status = 422, body = ErrorBody)))]
pub async fn install_new(
    Extension(app): Extension<Arc<SlackApp>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewSlackIntegration>,
) -> Result<Json<InstallUrl>, ApiError> {
    caller.require(Permission::IntegrationCreate)?;
    let name = body
        .name
        .as_deref()
        .map(IntegrationName::parse)
        .transpose()?
        .map(|n| n.as_str().to_owned());
    if let Some(channel) = &body.default_channel {
        let bare = channel.trim_start_matches('#');
        if bare.is_empty() || bare.len() > 100 || bare.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                "default_channel",
                "must be a Slack channel id or name",
            ));
        }
    }
    let new = json!({"name": name, "default_channel": body.default_channel});
    issue(&app, &caller, None, Some(new)).await.map(Json)
}

async fn issue(
    app: &SlackApp,
    caller: &Caller,
    integration_id: Option<IntegrationId>,
    new_integration: Option<Value>,
) -> Result<InstallUrl, ApiError> {
    // The callback acts as this principal again, with its permissions at that moment.
    let principal_id = caller.principal_id.clone().ok_or_else(|| {
        ApiError::invalid(
            "token",
            "a token of a principal is needed: the install finishes as that principal",
        )
    })?;
    let now = app.now();
    let state = app
        .oauth_states
        .issue(
            Issued {
                org_id: caller.org_id.clone(),
                principal_id,
                integration_id,
                new_integration,
            },
            now,
        )
        .await?;
    let mut url = url::Url::parse(AUTHORIZE_URL).expect("a valid constant");
    url.query_pairs_mut()
        .append_pair("client_id", &app.config.client_id)
        .append_pair("scope", &BOT_SCOPES.join(","))
        .append_pair("redirect_uri", &app.config.public("/slack_oauth"))
        .append_pair("state", &state);
    Ok(InstallUrl {
        url: url.into(),
        expires_at: now + crate::stores::STATE_TTL,
    })
}

/// `GET /slack_oauth?code=…&state=…` (or `?error=…&state=…` when the person declined).
pub async fn callback(
    State(app): State<Arc<SlackApp>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match finish(&app, &query).await {
        Ok(done) => page(
            StatusCode::OK,
            "Connected to Slack",
            &[
                format!(
                    "Herald is connected to the Slack workspace {} as the integration “{}”.",
                    done.team_name, done.integration_name
                ),
                "Next, in a Slack channel: type /herald link to link your Slack account to \
                 your Herald user, then /herald subscribe iac.run.* to have this channel hear \
                 about runs. Invite the Herald app to private channels first."
                    .into(),
            ],
            "",
        ),
        Err(failure) => {
            tracing::warn!(reason = %failure.log, "Add to Slack did not complete");
            page(failure.status, failure.title, &[failure.detail], "")
        }
    }
}

struct Connected {
    team_name: String,
    integration_name: String,
}

/// Why the callback stopped; nothing was changed.
struct Failure {
    status: StatusCode,
    title: &'static str,
    detail: String,
    log: String,
}

fn refused(title: &'static str, detail: impl Into<String>) -> Failure {
    let detail = detail.into();
    Failure {
        status: StatusCode::BAD_REQUEST,
        title,
        log: detail.clone(),
        detail,
    }
}

const START_AGAIN: &str = "Start again from Herald with Add to Slack.";

async fn finish(app: &SlackApp, query: &HashMap<String, String>) -> Result<Connected, Failure> {
    let internal = |what: &str| Failure {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        title: "Something went wrong",
        detail: "Herald could not finish connecting to Slack. Nothing was changed; try again."
            .into(),
        log: what.to_owned(),
    };
    let Some(state) = query.get("state").filter(|s| !s.is_empty()) else {
        return Err(refused(
            "This link is not valid",
            format!("The address has no state, so it did not come from Herald's Add to Slack. {START_AGAIN}"),
        ));
    };
    let issued = match app.oauth_states.consume(state, app.now()).await {
        Ok(Ok(issued)) => issued,
        Ok(Err(StateProblem::Unknown)) => {
            return Err(refused(
                "This link is not valid",
                format!("It was already used, or it did not come from this Herald. Nothing was changed. {START_AGAIN}"),
            ))
        }
        Ok(Err(StateProblem::Expired)) => {
            return Err(refused(
                "This link has expired",
                format!("Add to Slack links are valid for 10 minutes. Nothing was changed. {START_AGAIN}"),
            ))
        }
        Err(error) => return Err(internal(&herald_domain::error::error_chain(&error))),
    };
    if let Some(error) = query.get("error") {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(refused(
            "Slack was not connected",
            format!("Slack reports: {code}. Nothing was changed. {START_AGAIN}"),
        ));
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        return Err(refused(
            "This link is not valid",
            format!("Slack sent no code. {START_AGAIN}"),
        ));
    };
    let source = "slack:oauth".to_owned();
    let caller =
        match Caller::for_principal(&app.state, &issued.org_id, &issued.principal_id, source).await
        {
            Ok(Some(caller)) => caller,
            Ok(None) => return Err(refused(
                "This link is not valid",
                "The Herald user who started Add to Slack no longer exists. Nothing was changed.",
            )),
            Err(error) => return Err(internal(&error.to_string())),
        };
    // Checked again now: a permission can be withdrawn within the ten minutes.
    let allowed = match &issued.integration_id {
        Some(id) => caller.require_on(Permission::IntegrationUpdate, id),
        None => caller.require(Permission::IntegrationCreate),
    };
    if let Err(error) = allowed {
        return Err(Failure {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed",
            detail: format!("{error}. Nothing was changed."),
            log: error.to_string(),
        });
    }
    let redirect_uri = app.config.public("/slack_oauth");
    let answer = web_api::oauth_access(app, &[("code", code), ("redirect_uri", &redirect_uri)])
        .await
        .map_err(|error| Failure {
            status: StatusCode::BAD_GATEWAY,
            title: "Slack was not connected",
            detail: match &error {
                CallError::Refused(code) => {
                    format!("Slack refused the install: {code}. Nothing was changed. {START_AGAIN}")
                }
                other => format!("{other}. Nothing was changed. {START_AGAIN}"),
            },
            log: error.to_string(),
        })?;
    let grant = Grant::read(&answer, app.now()).map_err(|what| Failure {
        status: StatusCode::BAD_GATEWAY,
        title: "Slack was not connected",
        detail: format!("Slack's answer lacked {what}. Nothing was changed. {START_AGAIN}"),
        log: format!("oauth.v2.access answer without {what}"),
    })?;
    let integration =
        store_grant(app, &caller, &issued, &grant)
            .await
            .map_err(|error| match error {
                ApiError::Internal(_) => internal(&error.to_string()),
                other => Failure {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    title: "Slack was not connected",
                    detail: format!("{other}. Nothing was changed."),
                    log: other.to_string(),
                },
            })?;
    let installation = SlackInstallation {
        integration_id: integration.id.clone(),
        org_id: caller.org_id.clone(),
        team_id: grant.team_id.clone(),
        team_name: grant.team_name.clone(),
        enterprise_id: grant.enterprise_id.clone(),
        app_id: grant.app_id.clone(),
        bot_user_id: grant.bot_user_id.clone(),
        scopes: grant.scope.clone(),
        installed_by: caller.principal_id.clone(),
        installed_at: app.now(),
        token_expires_at: grant.expires_at,
    };
    app.installations
        .save(&installation)
        .await
        .map_err(|e| internal(&herald_domain::error::error_chain(&e)))?;
    tracing::info!(integration_id = %integration.id, team_id = %grant.team_id, "Slack workspace connected");
    Ok(Connected {
        team_name: grant.team_name.unwrap_or(grant.team_id),
        integration_name: integration.name,
    })
}

/// What `oauth.v2.access` granted: a bot token for one workspace.
pub(crate) struct Grant {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub team_id: String,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub bot_user_id: String,
    pub app_id: Option<String>,
    pub scope: Option<String>,
}

impl Grant {
    /// Reads an `ok` answer; `Err` names what is missing.
    pub(crate) fn read(answer: &Value, now: DateTime<Utc>) -> Result<Self, &'static str> {
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(Self {
            access_token: text(&answer["access_token"]).ok_or("a bot token")?,
            refresh_token: text(&answer["refresh_token"]),
            expires_at: answer["expires_in"]
                .as_i64()
                .map(|secs| now + chrono::Duration::seconds(secs)),
            team_id: text(&answer["team"]["id"]).ok_or("the workspace id")?,
            team_name: text(&answer["team"]["name"]),
            enterprise_id: text(&answer["enterprise"]["id"]),
            bot_user_id: text(&answer["bot_user_id"]).ok_or("the bot user")?,
            app_id: text(&answer["app_id"]),
            scope: text(&answer["scope"]),
        })
    }

    /// The config keys Add to Slack owns. Absent optional ones are set to null, so a merge
    /// removes what an earlier install left.
    pub(crate) fn config(&self) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert("bot_token".into(), self.access_token.clone().into());
        config.insert("team_id".into(), self.team_id.clone().into());
        config.insert("team_name".into(), json!(self.team_name));
        config.insert("bot_user_id".into(), self.bot_user_id.clone().into());
        config.insert("app_id".into(), json!(self.app_id));
        config.insert("refresh_token".into(), json!(self.refresh_token));
        config.insert(
            "token_expires_at".into(),
            json!(self.expires_at.map(|t| t.timestamp())),
        );
        config
    }
}

/// Stores the token sealed: on the integration the state names (replacing a pasted token or
/// webhook), or on a new Slack integration owned by the principal.
async fn store_grant(
    app: &SlackApp,
    caller: &Caller,
    issued: &Issued,
    grant: &Grant,
) -> Result<herald_domain::Integration, ApiError> {
    let mut config = grant.config();
    match &issued.integration_id {
        Some(id) => {
            config.insert("webhook_url".into(), Value::Null);
            let current = app
                .engine()
                .store()
                .get_integration(&caller.org_id, id)
                .await?
                .ok_or(ApiError::NotFound("integration"))?;
            let mut patch = json!({"config": config});
            // Installing again undoes what an uninstall did.
            if current.integration.disabled_reason.is_some() {
                patch["enabled"] = true.into();
            }
            let body: UpdateIntegration =
                serde_json::from_value(patch).map_err(ApiError::internal)?;
            update_integration(&app.state, caller, id.as_str(), body).await
        }
        None => {
            let new = issued.new_integration.clone().unwrap_or(Value::Null);
            if let Some(channel) = new["default_channel"].as_str() {
                config.insert("default_channel".into(), channel.into());
            }
            let config: Map<String, Value> =
                config.into_iter().filter(|(_, v)| !v.is_null()).collect();
            let team = grant
                .team_name
                .clone()
                .unwrap_or_else(|| grant.team_id.clone());
            let named = new["name"].as_str().map(str::to_owned);
            let name = named.clone().unwrap_or_else(|| format!("Slack {team}"));
            let create = |name: String| -> Result<CreateIntegration, ApiError> {
                serde_json::from_value(json!({"kind": "slack", "name": name, "config": config}))
                    .map_err(ApiError::internal)
            };
            match create_integration(&app.state, caller, create(name)?).await {
                // The default name is taken: tell the workspaces apart by id.
                Err(ApiError::Conflict(_)) if named.is_none() => {
                    let name = format!("Slack {team} ({})", grant.team_id);
                    create_integration(&app.state, caller, create(name)?).await
                }
                other => other,
            }
        }
    }
}
