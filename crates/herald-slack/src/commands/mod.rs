//! `/herald subscribe <pattern> [scope]`, `unsubscribe <id|pattern>`, `list`, `link`, `help`.
//!
//! Subscribing creates an integration event (and the supply its scope needs) on the
//! workspace's integration that delivers to the channel the command was typed in; it runs
//! through the API's own operations as the Herald principal linked to the Slack user, so
//! the same permissions apply and the audit log says who did it, from Slack. Answers are
//! ephemeral, except those that announce a change to the channel.

mod parse;

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_domain::error::error_chain;
use herald_domain::{IntegrationEventId, Permission, ScopeKind, Trigger};
use herald_providers::slack::actions::escape_mrkdwn;
use herald_server::app::{
    create_integration_event, create_supply, delete_integration_event, delete_supply,
    update_integration, Caller, CreateIntegrationEvent, UpdateIntegration,
};
use herald_server::error::ApiError;
use herald_store::{SlackInstallation, SlackSubscription};
use serde_json::{json, Value};

pub use parse::{parse, Command, ScopeArg};

use crate::inbound::within_budget;
use crate::links::{acting_as, Acting};
use crate::{web_api, SlackApp};

/// One `/herald` command as Slack sent it.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub team_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub user_id: String,
    pub user_name: String,
    pub text: String,
    pub response_url: String,
}

/// What the person (or, announcing a change, the channel) sees.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    in_channel: bool,
    text: String,
}

impl Answer {
    pub(crate) fn ephemeral(text: impl Into<String>) -> Self {
        Self {
            in_channel: false,
            text: text.into(),
        }
    }

    fn announce(text: impl Into<String>) -> Self {
        Self {
            in_channel: true,
            text: text.into(),
        }
    }

    fn json(&self) -> Value {
        let kind = if self.in_channel {
            "in_channel"
        } else {
            "ephemeral"
        };
        json!({"response_type": kind, "text": self.text})
    }
}

pub(crate) async fn handle(app: Arc<SlackApp>, form: HashMap<String, String>) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let invocation = Invocation {
        team_id: field("team_id"),
        channel_id: field("channel_id"),
        channel_name: field("channel_name"),
        user_id: field("user_id"),
        user_name: field("user_name"),
        text: field("text"),
        response_url: field("response_url"),
    };
    let worker = app.clone();
    let late = invocation.clone();
    match within_budget(&app, async move { run(&worker, &invocation).await }).await {
        Ok(answer) => Json(answer.json()).into_response(),
        Err(still_running) => {
            // Slack gives up after 3 seconds: acknowledge now, answer when it is done.
            tokio::spawn(async move {
                if let Ok(answer) = still_running.await {
                    web_api::respond(&app, &late.response_url, &answer.json()).await;
                }
            });
            Json(Answer::ephemeral("Working on it…").json()).into_response()
        }
    }
}

const HELP: &str = "*Herald* tells this channel about runs, scans and incidents.\n\
• `/herald subscribe <pattern> [scope]` — e.g. `/herald subscribe iac.run.*` or `/herald subscribe iac.run.failed stack:prod` (scopes: `stack:NAME`, `namespace:NAME`, `module:NAME`; none: everywhere)\n\
• `/herald unsubscribe <id|pattern>` — stop one\n\
• `/herald list` — this channel's subscriptions\n\
• `/herald link` — link your Slack account to your Herald user (needed to subscribe and to approve runs)\n\
• `/herald help` — this";

pub(crate) async fn run(app: &SlackApp, invocation: &Invocation) -> Answer {
    let command = parse(&invocation.text);
    match command {
        Command::Help => return Answer::ephemeral(HELP),
        Command::Unknown(problem) => {
            return Answer::ephemeral(format!("{}\n\n{HELP}", escape_mrkdwn(&problem)))
        }
        Command::Link => return crate::links::start(app, invocation).await,
        _ => {}
    }
    let (caller, installation) =
        match acting_as(app, &invocation.team_id, &invocation.user_id).await {
            Ok(Acting::Linked {
                caller,
                installation,
            }) => (*caller, *installation),
            Ok(Acting::NotInstalled) => return Answer::ephemeral(NOT_INSTALLED),
            Ok(Acting::NotLinked) => return Answer::ephemeral(NOT_LINKED),
            Err(reason) => {
                tracing::error!(%reason, "could not resolve a Slack user");
                return Answer::ephemeral(INTERNAL);
            }
        };
    let context = Context {
        app,
        invocation,
        caller: &caller,
        installation: &installation,
    };
    let result = match command {
        Command::Subscribe { pattern, scope } => context.subscribe(&pattern, &scope).await,
        Command::Unsubscribe { target } => context.unsubscribe(&target).await,
        Command::List => context.list().await,
        _ => unreachable!("answered above"),
    };
    result.unwrap_or_else(|error| Answer::ephemeral(explain(&error)))
}

const NOT_INSTALLED: &str = "Herald is not connected to this Slack workspace. A Herald admin connects it with *Add to Slack* on the Slack integration.";
pub(crate) const NOT_LINKED: &str = "Your Slack account is not linked to a Herald user yet, so Herald cannot tell what you may do. Type `/herald link` to link it (you confirm once, signed in to Herald), or ask a Herald admin to link you.";
const INTERNAL: &str = "Herald could not do that just now (an internal error). Please try again.";

/// A refusal in words a person can act on.
fn explain(error: &ApiError) -> String {
    match error {
        ApiError::Forbidden(permission) => format!(
            "You may not do that: it needs the permission `{}` on this workspace's Herald integration. \
             Ask an owner of your Herald organisation for a role that has it (for example Contributor on the integration).",
            permission.as_str()
        ),
        ApiError::NotFound(_) => "You may not see this workspace's Herald integration. Ask an owner of your Herald organisation for a role on it.".into(),
        ApiError::Invalid(field) | ApiError::Conflict(field) => {
            format!("`{}`: {}", escape_mrkdwn(&field.field), escape_mrkdwn(&field.message))
        }
        other => {
            tracing::error!(error = %error_chain(other), "a /herald command failed");
            INTERNAL.into()
        }
    }
}

struct Context<'a> {
    app: &'a SlackApp,
    invocation: &'a Invocation,
    caller: &'a Caller,
    installation: &'a SlackInstallation,
}

impl Context<'_> {
    fn state(&self) -> &herald_server::AppState {
        &self.app.state
    }

    fn channel_label(&self) -> String {
        if self.invocation.channel_name.is_empty() {
            self.invocation.channel_id.clone()
        } else {
            format!("#{}", self.invocation.channel_name)
        }
    }

    async fn subscribe(&self, pattern: &str, scope: &ScopeArg) -> Result<Answer, ApiError> {
        let integration_id = self.installation.integration_id.to_string();
        let (scope_body, suffix) = match scope {
            ScopeArg::Organisation => (json!({"kind": "organisation"}), String::new()),
            ScopeArg::Named(kind, name) => (
                json!({"kind": kind.as_str(), "name": name}),
                format!(" ({} {name})", kind.as_str()),
            ),
        };
        let name = format!("{} {pattern}{suffix}", self.channel_label());
        let body: CreateIntegrationEvent = serde_json::from_value(json!({
            "integration_id": integration_id, "name": name, "trigger": pattern,
            "scope": scope_body, "destinations": [self.invocation.channel_id],
        }))
        .map_err(ApiError::internal)?;
        let demand = match create_integration_event(self.state(), self.caller, body).await {
            Err(ApiError::Conflict(_)) => {
                return Ok(Answer::ephemeral(format!(
                    "This channel is already subscribed to `{}` {}.",
                    escape_mrkdwn(pattern),
                    escape_mrkdwn(&scope.describe())
                )))
            }
            other => other?,
        };
        // The supply its scope needs, unless it is there already.
        let supplied = match scope {
            ScopeArg::Organisation => self.supply_everywhere().await.map(|set| (None, set)),
            ScopeArg::Named(kind, name) => {
                match create_supply(self.state(), self.caller, *kind, &integration_id, name).await {
                    Ok(row) => Ok((Some(row.id.to_string()), false)),
                    Err(ApiError::Conflict(_)) => Ok((None, false)),
                    Err(error) => Err(error),
                }
            }
        };
        let (supply_id, set_all_modules) = match supplied {
            Ok(supplied) => supplied,
            Err(error) => {
                // Nothing half-made: the integration event goes again.
                let _ =
                    delete_integration_event(self.state(), self.caller, demand.id.as_str()).await;
                return Err(error);
            }
        };
        let record = SlackSubscription {
            integration_event_id: demand.id.to_string(),
            org_id: self.caller.org_id.clone(),
            integration_id: self.installation.integration_id.clone(),
            team_id: self.invocation.team_id.clone(),
            channel_id: self.invocation.channel_id.clone(),
            supply_id,
            set_all_modules,
            created_by: self.caller.principal_id.clone(),
            created_at: self.app.now(),
        };
        self.app
            .engine()
            .store()
            .insert_slack_subscription(&record)
            .await?;
        Ok(Answer::announce(format!(
            "<@{}> subscribed this channel to `{}` {}. (`{}`; `/herald unsubscribe {}` stops it.)",
            self.invocation.user_id,
            escape_mrkdwn(&demand.trigger.to_string()),
            escape_mrkdwn(&scope.describe()),
            demand.id,
            demand.id
        )))
    }

    /// Sets `is_supplied_to_all_modules` if it is not; true if this did.
    async fn supply_everywhere(&self) -> Result<bool, ApiError> {
        let row = self
            .app
            .engine()
            .store()
            .get_integration(&self.caller.org_id, &self.installation.integration_id)
            .await?
            .ok_or(ApiError::NotFound("integration"))?;
        if row.integration.supplied_to_all_modules {
            return Ok(false);
        }
        self.set_supplied_to_all(true).await?;
        Ok(true)
    }

    async fn set_supplied_to_all(&self, all: bool) -> Result<(), ApiError> {
        let body: UpdateIntegration =
            serde_json::from_value(json!({"is_supplied_to_all_modules": all}))
                .map_err(ApiError::internal)?;
        update_integration(
            self.state(),
            self.caller,
            self.installation.integration_id.as_str(),
            body,
        )
        .await
        .map(|_| ())
    }

    async fn unsubscribe(&self, target: &str) -> Result<Answer, ApiError> {
        let store = self.app.engine().store();
        let org = &self.caller.org_id;
        let subscriptions = store
            .slack_subscriptions_of_channel(
                org,
                &self.invocation.team_id,
                &self.invocation.channel_id,
            )
            .await?;
        let wanted = if IntegrationEventId::parse(target).is_some() {
            None
        } else {
            Some(Trigger::parse(target).map_err(ApiError::Invalid)?)
        };
        let mut removed = Vec::new();
        for subscription in subscriptions {
            let Some(id) = IntegrationEventId::parse(&subscription.integration_event_id) else {
                continue;
            };
            let Some(demand) = store.get_integration_event(org, &id).await? else {
                continue;
            };
            let chosen = match &wanted {
                Some(trigger) => &demand.trigger == trigger,
                None => demand.id.as_str() == target,
            };
            if !chosen {
                continue;
            }
            delete_integration_event(self.state(), self.caller, demand.id.as_str()).await?;
            self.release_supply(&subscription, demand.scope.kind())
                .await?;
            store
                .delete_slack_subscription(&subscription.integration_event_id)
                .await?;
            removed.push(format!(
                "`{}` {}",
                escape_mrkdwn(&demand.trigger.to_string()),
                escape_mrkdwn(&describe_scope(&demand.scope))
            ));
        }
        if removed.is_empty() {
            return Ok(Answer::ephemeral(format!(
                "This channel has no subscription `{}`. `/herald list` shows its subscriptions.",
                escape_mrkdwn(target)
            )));
        }
        Ok(Answer::announce(format!(
            "<@{}> unsubscribed this channel from {}.",
            self.invocation.user_id,
            removed.join(", ")
        )))
    }

    /// Removes the supply a subscription made, once no other subscription relies on it.
    async fn release_supply(
        &self,
        subscription: &SlackSubscription,
        kind: ScopeKind,
    ) -> Result<(), ApiError> {
        let store = self.app.engine().store();
        let integration = &subscription.integration_id;
        let except = &subscription.integration_event_id;
        if let Some(supply) = &subscription.supply_id {
            if store
                .slack_subscriptions_relying_on(integration, Some(supply), except)
                .await?
                .is_empty()
            {
                match delete_supply(self.state(), self.caller, kind, supply).await {
                    Ok(()) | Err(ApiError::NotFound(_)) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        if subscription.set_all_modules
            && store
                .slack_subscriptions_relying_on(integration, None, except)
                .await?
                .is_empty()
        {
            self.set_supplied_to_all(false).await?;
        }
        Ok(())
    }

    async fn list(&self) -> Result<Answer, ApiError> {
        self.caller.require_on(
            Permission::IntegrationRead,
            &self.installation.integration_id,
        )?;
        let store = self.app.engine().store();
        let org = &self.caller.org_id;
        let mut lines = Vec::new();
        for subscription in store
            .slack_subscriptions_of_channel(
                org,
                &self.invocation.team_id,
                &self.invocation.channel_id,
            )
            .await?
        {
            let Some(id) = IntegrationEventId::parse(&subscription.integration_event_id) else {
                continue;
            };
            if let Some(demand) = store.get_integration_event(org, &id).await? {
                lines.push(format!(
                    "• `{}` {} (`{}`){}",
                    escape_mrkdwn(&demand.trigger.to_string()),
                    escape_mrkdwn(&describe_scope(&demand.scope)),
                    demand.id,
                    if demand.enabled { "" } else { " — disabled" }
                ));
            }
        }
        if lines.is_empty() {
            return Ok(Answer::ephemeral(
                "This channel has no subscriptions. `/herald subscribe iac.run.*` adds one.",
            ));
        }
        Ok(Answer::ephemeral(format!(
            "This channel's subscriptions:\n{}",
            lines.join("\n")
        )))
    }
}

fn describe_scope(scope: &herald_domain::Scope) -> String {
    match scope {
        herald_domain::Scope::Organisation => "everywhere".into(),
        herald_domain::Scope::Named(kind, name) => format!("in {} {name}", kind.as_str()),
    }
}
