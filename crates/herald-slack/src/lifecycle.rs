//! The Events API's lifecycle events: `app_uninstalled` and `tokens_revoked` disable the
//! integrations that can no longer post, with the reason on the integration and in the audit
//! log. Installing again (Add to Slack) turns them back on.

use herald_domain::error::error_chain;
use herald_domain::Integration;
use serde_json::Value;

use crate::SlackApp;

/// Handles one `event_callback`; other event types are acknowledged and ignored.
pub(crate) async fn handle(app: &SlackApp, envelope: &Value) -> Result<(), String> {
    let team_id = envelope["team_id"].as_str().unwrap_or_default();
    let event = &envelope["event"];
    let installations = app
        .installations
        .of_team(team_id)
        .await
        .map_err(|e| error_chain(&e))?;
    let (affected, reason): (Vec<_>, String) = match event["type"].as_str() {
        Some("app_uninstalled") => (
            installations,
            "the Slack app was uninstalled from the workspace".into(),
        ),
        Some("tokens_revoked") => {
            let bots: Vec<&str> = event["tokens"]["bot"]
                .as_array()
                .map(|ids| ids.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (
                installations
                    .into_iter()
                    .filter(|i| bots.contains(&i.bot_user_id.as_str()))
                    .collect(),
                "Slack revoked the bot's token".into(),
            )
        }
        _ => return Ok(()),
    };
    for installation in affected {
        let row = app
            .engine()
            .store()
            .get_integration(&installation.org_id, &installation.integration_id)
            .await
            .map_err(|e| error_chain(&e))?;
        if let Some(row) = row {
            let team = installation.team_name.as_deref().unwrap_or(team_id);
            let reason = format!("{reason} ({team}, {team_id})");
            disable(app, &row.integration, &reason, "slack:events").await;
        }
    }
    Ok(())
}

/// Disables an integration on Herald's own initiative, saying why, through the engine's one
/// mechanism (the reason on the integration, the audit log, `herald.integration.disabled`).
/// Already disabled: nothing changes (a retried or repeated event records nothing twice).
pub(crate) async fn disable(app: &SlackApp, integration: &Integration, reason: &str, source: &str) {
    if let Err(error) = app
        .engine()
        .disable_integration(&integration.org_id, &integration.id, reason, source)
        .await
    {
        tracing::error!(integration_id = %integration.id, error = %error_chain(&error), "could not disable an integration");
    }
}
