//! Token rotation: with it on, Slack's bot tokens expire (after 12 hours) and come with a
//! refresh token. Herald refreshes each one before it expires, with
//! `grant_type=refresh_token`, and stores the new pair sealed. One instance does it: a claim
//! on the installation row keeps the others off for a while.

use chrono::Duration;
use herald_domain::error::error_chain;
use herald_providers::slack::SlackConfig;
use herald_store::SlackInstallation;
use serde_json::{json, Value};

use crate::web_api::{self, CallError};
use crate::SlackApp;

/// Tokens expiring sooner than this are refreshed.
const REFRESH_AHEAD: Duration = Duration::minutes(10);
/// How long a claim keeps other instances off (and how long a failure waits to try again).
const CLAIM_FOR: Duration = Duration::minutes(2);

/// What one round of refreshing did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    pub refreshed: usize,
    pub failed: usize,
}

pub(crate) async fn refresh_due(app: &SlackApp) -> RefreshReport {
    let now = app.now();
    let mut report = RefreshReport::default();
    let due = match app
        .engine()
        .store()
        .slack_tokens_to_refresh(now + REFRESH_AHEAD, now)
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "could not list Slack tokens to refresh");
            return report;
        }
    };
    for installation in due {
        let claimed = app
            .engine()
            .store()
            .claim_slack_refresh(&installation.integration_id, now, now + CLAIM_FOR)
            .await;
        if !matches!(claimed, Ok(true)) {
            continue;
        }
        match refresh_one(app, &installation).await {
            Ok(()) => report.refreshed += 1,
            Err(reason) => {
                report.failed += 1;
                // The claim stays: the next try waits until it runs out.
                tracing::warn!(integration_id = %installation.integration_id, %reason, "could not refresh a Slack token");
            }
        }
    }
    report
}

async fn refresh_one(app: &SlackApp, installation: &SlackInstallation) -> Result<(), String> {
    let store = app.engine().store();
    let org = &installation.org_id;
    let mut row = store
        .get_integration(org, &installation.integration_id)
        .await
        .map_err(|e| error_chain(&e))?
        .ok_or("the integration is gone")?;
    let current = app.engine().open_config(&row)?;
    let refresh_token = match SlackConfig::parse(&current) {
        Ok(SlackConfig::App { install, .. }) => install.refresh_token,
        _ => None,
    }
    .ok_or("the integration holds no refresh token")?;
    let answer = web_api::oauth_access(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ],
    )
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(CallError::Refused(code)) if code == "invalid_refresh_token" => {
            let reason = format!(
                "Slack refused the refresh token ({code}); connect the workspace again with Add to Slack"
            );
            crate::lifecycle::disable(app, &row.integration, &reason, "slack:token_refresh").await;
            return Err(reason);
        }
        Err(error) => return Err(error.to_string()),
    };
    let now = app.now();
    let access_token = answer["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or("Slack's answer has no access_token")?;
    let expires_at = answer["expires_in"]
        .as_i64()
        .map(|secs| now + Duration::seconds(secs));
    let Value::Object(mut config) = current else {
        return Err("the stored config is not an object".into());
    };
    config.insert("bot_token".into(), access_token.into());
    // Slack may rotate the refresh token too; keep the newest.
    if let Some(next) = answer["refresh_token"].as_str().filter(|t| !t.is_empty()) {
        config.insert("refresh_token".into(), next.into());
    }
    config.insert(
        "token_expires_at".into(),
        json!(expires_at.map(|t| t.timestamp())),
    );
    herald_server::app::set_config(&app.state, &mut row, &Value::Object(config))
        .map_err(|e| e.to_string())?;
    row.integration.updated_at = now;
    store
        .update_integration(&row)
        .await
        .map_err(|e| error_chain(&e))?;
    app.engine().integrations_changed(org);
    store
        .finish_slack_refresh(&installation.integration_id, expires_at)
        .await
        .map_err(|e| error_chain(&e))?;
    herald_server::app::audit_system(
        &app.state,
        org,
        "slack:token_refresh",
        "integration.update",
        ("integration", installation.integration_id.as_str()),
        Some(json!({"changed": ["config.bot_token", "config.refresh_token", "config.token_expires_at"]})),
    )
    .await;
    Ok(())
}
