//! `GET /slack/manifest`: the app manifest for this deployment, in the shape of seed 003's,
//! to paste into "Create New App → From an app manifest".

use serde_json::{json, Value};

use crate::SlackAppConfig;

/// What the features need: posting (also to public channels the bot was not invited to), the
/// slash command, and reading the team's and users' names for messages and links.
pub const BOT_SCOPES: &[&str] = &[
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "team:read",
    "users:read",
];

pub fn manifest(config: &SlackAppConfig) -> Value {
    let inbound = config.public("/webhooks/slack");
    json!({
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": "Herald",
            "description": "Run, scan and incident notifications from Herald, with approvals",
            "background_color": "#1d1c1d",
            "long_description": "Herald routes lifecycle events from your platforms (IaC runs, CI jobs, scans, incidents) to the channels that asked for them. Subscribe a channel with /herald subscribe iac.run.*, and approve or reject runs that wait for approval right from the message."
        },
        "features": {
            "bot_user": {"display_name": "Herald", "always_online": true},
            "slash_commands": [{
                "command": "/herald",
                "url": inbound,
                "description": "Subscribe this channel to Herald events",
                "usage_hint": "subscribe <pattern> [scope], unsubscribe <id|pattern>, list, link or help",
                "should_escape": false
            }]
        },
        "oauth_config": {
            "redirect_urls": [config.public("/slack_oauth")],
            "scopes": {"bot": BOT_SCOPES}
        },
        "settings": {
            "event_subscriptions": {
                "request_url": inbound,
                "bot_events": ["app_uninstalled", "tokens_revoked"]
            },
            "interactivity": {"is_enabled": true, "request_url": inbound},
            "org_deploy_enabled": false,
            "socket_mode_enabled": false,
            "token_rotation_enabled": false
        }
    })
}
