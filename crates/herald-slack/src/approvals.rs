//! Approve and Reject from Slack. A click (verified like every inbound request) is checked
//! against the linked principal's `approval.decide`, becomes a `herald.approval.decided`
//! event routed like any other (to the platform's callback webhook, say), and the message is
//! edited to say who decided what, and when. The first decision stands: a second click
//! changes nothing and the clicker is told so, ephemerally.

use chrono::{DateTime, SecondsFormat, Utc};
use herald_domain::error::error_chain;
use herald_domain::{EventId, EventInput, IntegrationId, Permission};
use herald_providers::slack::actions::{
    chat_update, decided_blocks, escape_mrkdwn, Decision, DecisionValue,
};
use herald_providers::slack::SlackConfig;
use herald_server::app::{audit, Caller};
use herald_store::{ApprovalDecision, SlackInstallation};
use serde_json::{json, Value};

use crate::links::{acting_as, Acting};
use crate::{web_api, SlackApp};

/// The clicked button and where it was.
struct Click {
    decision: Decision,
    value: DecisionValue,
    team_id: String,
    user_id: String,
    user_name: Option<String>,
    channel_id: String,
    message_ts: String,
    blocks: Vec<Value>,
    response_url: String,
}

impl Click {
    fn read(payload: &Value) -> Option<Self> {
        let action = payload["actions"].as_array()?.iter().find(|a| {
            a["action_id"]
                .as_str()
                .and_then(Decision::of_action)
                .is_some()
        })?;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Some(Self {
            decision: Decision::of_action(action["action_id"].as_str()?)?,
            value: DecisionValue::parse(action["value"].as_str()?)?,
            team_id: text(&payload["team"]["id"]).or_else(|| text(&payload["user"]["team_id"]))?,
            user_id: text(&payload["user"]["id"])?,
            user_name: text(&payload["user"]["username"])
                .or_else(|| text(&payload["user"]["name"])),
            channel_id: text(&payload["container"]["channel_id"])
                .or_else(|| text(&payload["channel"]["id"]))?,
            message_ts: text(&payload["container"]["message_ts"])
                .or_else(|| text(&payload["message"]["ts"]))?,
            blocks: payload["message"]["blocks"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            response_url: text(&payload["response_url"]).unwrap_or_default(),
        })
    }
}

/// Handles a `block_actions` payload; buttons that are not Herald's are ignored.
pub(crate) async fn handle(app: &SlackApp, payload: &Value) {
    let Some(click) = Click::read(payload) else {
        return;
    };
    if let Err(message) = decide(app, &click).await {
        tell(app, &click, &message).await;
    }
}

/// Tells the clicker alone.
async fn tell(app: &SlackApp, click: &Click, text: &str) {
    if click.response_url.is_empty() {
        return;
    }
    let message = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    web_api::respond(app, &click.response_url, &message).await;
}

/// Takes the decision; `Err` is what to tell the clicker.
async fn decide(app: &SlackApp, click: &Click) -> Result<(), String> {
    let internal = |what: String| {
        tracing::error!(reason = %what, "an approval from Slack failed");
        "Herald could not record your decision just now (an internal error). Please try again."
            .to_owned()
    };
    let (caller, _) = match acting_as(app, &click.team_id, &click.user_id)
        .await
        .map_err(internal)?
    {
        Acting::Linked {
            caller,
            installation,
        } => (caller, installation),
        Acting::NotLinked | Acting::NotInstalled => return Err(crate::commands::NOT_LINKED.into()),
    };
    let org = caller.org_id.clone();
    let store = app.engine().store();
    // Only a message of this workspace's integration in the clicker's organisation counts.
    let integration_id = IntegrationId::parse(&click.value.integration_id);
    let installation = match &integration_id {
        Some(id) => app
            .installations
            .of_integration(&org, id)
            .await
            .map_err(|e| internal(error_chain(&e)))?,
        None => None,
    };
    let Some(installation) = installation.filter(|i| i.team_id == click.team_id) else {
        return Err("This message is not from a Herald integration of your organisation.".into());
    };
    if caller.require(Permission::ApprovalDecide).is_err() {
        return Err(format!(
            "You may not approve or reject runs: that needs the permission `{}` (the Approver role, or Owner or Contributor). Ask an owner of your Herald organisation.",
            Permission::ApprovalDecide.as_str()
        ));
    }
    let event = match EventId::parse(&click.value.event_id) {
        Some(id) => store
            .get_event(&org, &id)
            .await
            .map_err(|e| internal(error_chain(&e)))?,
        None => None,
    };
    let Some(original) = event.map(|stored| stored.event) else {
        return Err("Herald no longer has the event this message is about.".into());
    };
    let decided_at = app.now();
    let principal = caller
        .principal_id
        .clone()
        .expect("a linked caller is a principal");
    let claim = ApprovalDecision {
        org_id: org.clone(),
        event_id: original.id.clone(),
        decision: click.decision.as_str().to_owned(),
        principal_id: principal.clone(),
        slack_team_id: Some(click.team_id.clone()),
        slack_user_id: Some(click.user_id.clone()),
        slack_user_name: click.user_name.clone(),
        decided_at,
        decision_event_id: String::new(),
    };
    if !store
        .claim_approval_decision(&claim)
        .await
        .map_err(|e| internal(error_chain(&e)))?
    {
        let first = store
            .approval_decision(&org, &original.id)
            .await
            .map_err(|e| internal(error_chain(&e)))?;
        return Err(match first {
            Some(first) => format!(
                "This run was already {} by {} at {}. The first decision stands; your click changed nothing.",
                first.decision,
                first.slack_user_id.map(|u| format!("<@{u}>")).unwrap_or_else(|| "someone".into()),
                first.decided_at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            None => "This run was already decided; your click changed nothing.".into(),
        });
    }
    let principal_name = store
        .get_principal(&org, &principal)
        .await
        .ok()
        .flatten()
        .map(|p| p.name);
    let input = decided_event(
        &original,
        click,
        &principal,
        principal_name.as_deref(),
        decided_at,
    );
    let accepted = match input.parse() {
        Ok(new) => app
            .engine()
            .accept_event(&org, new)
            .await
            .map_err(|e| e.to_string()),
        Err(field) => Err(field.to_string()),
    };
    let accepted = match accepted {
        Ok(accepted) => accepted,
        Err(reason) => {
            // Let a later click try again.
            let _ = store.release_approval_decision(&org, &original.id).await;
            return Err(internal(reason));
        }
    };
    store
        .set_decision_event(&org, &original.id, accepted.id.as_str())
        .await
        .map_err(|e| internal(error_chain(&e)))?;
    audit(
        &app.state,
        &caller,
        "approval.decide",
        ("event", &original.id),
        Some(json!({"decision": click.decision.as_str(), "decision_event_id": accepted.id.to_string()})),
    )
    .await;
    tracing::info!(event_id = %original.id, decision = click.decision.as_str(), decision_event_id = %accepted.id, "approval decided from Slack");
    update_message(
        app,
        &caller,
        &installation,
        click,
        principal_name.as_deref(),
        decided_at,
    )
    .await;
    Ok(())
}

/// The `herald.approval.decided` event: where the run was (so it routes like the run), what
/// was decided, by whom, about which event.
fn decided_event(
    original: &herald_domain::Event,
    click: &Click,
    principal: &herald_domain::PrincipalId,
    principal_name: Option<&str>,
    decided_at: DateTime<Utc>,
) -> EventInput {
    let verb = match click.decision {
        Decision::Approved => "Approved",
        Decision::Rejected => "Rejected",
    };
    let what = original
        .title
        .clone()
        .unwrap_or_else(|| original.event_type.clone());
    let mut title = format!("{verb}: {what}");
    if title.len() > 1000 {
        title = herald_providers::present::truncate_chars(&title, 250);
    }
    let data = json!({
        "decision": click.decision.as_str(),
        "original_event_id": original.id,
        "correlation_key": original.correlation_key,
        "run_url": original.url,
        "decided_at": decided_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "decided_by": {
            "principal_id": principal.to_string(),
            "principal_name": principal_name,
            "slack_user_id": click.user_id,
            "slack_user_name": click.user_name,
            "slack_team_id": click.team_id,
        },
    });
    let mut facts = serde_json::Map::new();
    facts.insert("decision".into(), click.decision.as_str().into());
    facts.insert(
        "decided by".into(),
        principal_name.unwrap_or(principal.as_str()).into(),
    );
    serde_json::from_value(json!({
        "type": "herald.approval.decided",
        "target_id": original.target_id,
        "namespace": original.namespace,
        "stack": original.stack,
        "environment": original.environment,
        "idempotency_key": format!("herald.approval.decided:{}", original.id),
        "title": title,
        "status": click.decision.as_str(),
        "url": original.url,
        "facts": facts,
        "data": data,
    }))
    .map(|mut input: EventInput| {
        // Absent fields stay absent rather than null strings.
        input.target_id = original.target_id.clone();
        input
    })
    .expect("the decided event's shape is fixed")
}

/// Edits the clicked message: the buttons go, a line says who decided what and when.
async fn update_message(
    app: &SlackApp,
    caller: &Caller,
    installation: &SlackInstallation,
    click: &Click,
    principal_name: Option<&str>,
    decided_at: DateTime<Utc>,
) {
    let Ok(Some(row)) = app
        .engine()
        .store()
        .get_integration(&caller.org_id, &installation.integration_id)
        .await
    else {
        return;
    };
    let token = match app
        .engine()
        .open_config(&row)
        .map(|c| SlackConfig::parse(&c))
    {
        Ok(Ok(SlackConfig::App { token, .. })) => token,
        _ => {
            tracing::warn!(integration_id = %installation.integration_id, "cannot edit the message: the integration holds no bot token");
            return;
        }
    };
    let (mark, verb) = match click.decision {
        Decision::Approved => (":white_check_mark:", "Approved"),
        Decision::Rejected => (":no_entry:", "Rejected"),
    };
    let when = decided_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let who = match principal_name {
        Some(name) => format!("<@{}> (Herald: {})", click.user_id, escape_mrkdwn(name)),
        None => format!("<@{}>", click.user_id),
    };
    let note = format!(
        "{mark} *{verb}* by {who} at <!date^{}^{{date_short_pretty}} {{time}}|{when}>",
        decided_at.timestamp()
    );
    let text = format!(
        "{verb} by {} at {when}",
        click.user_name.as_deref().unwrap_or(&click.user_id)
    );
    let request = chat_update(
        app.engine().endpoints(),
        &token,
        &click.channel_id,
        &click.message_ts,
        &text,
        decided_blocks(&click.blocks, &note),
    );
    if let Err(error) = web_api::call(app, &request).await {
        tracing::warn!(%error, "could not edit the decided message");
    }
}
