//! A plausible config for every kind, for `herald render` previews and docs. None of the
//! credentials is real.

use herald_domain::Kind;
use serde_json::{json, Value};

pub fn example_config(kind: Kind) -> Value {
    match kind {
        Kind::Slack => {
            json!({"bot_token": "xoxb-000000000000-0000000000000-exampleexampleexample", "default_channel": "C0123456789"})
        }
        Kind::Teams => {
            json!({"webhook_url": "https://example.webhook.office.com/webhookb2/example@example/IncomingWebhook/example/example"})
        }
        Kind::GoogleChat => {
            json!({"webhook_url": "https://chat.googleapis.com/v1/spaces/AAAAexample/messages?key=example-key&token=example-token"})
        }
        Kind::Discord => {
            json!({"webhook_url": "https://discord.com/api/webhooks/123456789012345678/example-webhook-token"})
        }
        Kind::Webex => {
            json!({"bot_token": "example-webex-bot-token", "room_id": "Y2lzY29zcGFyazovL3VzL1JPT00vZXhhbXBsZQ"})
        }
        Kind::Telegram => {
            json!({"bot_token": "123456789:AAExampleExampleExampleExampleExamp", "chat_id": -1001234567890_i64})
        }
        Kind::Pagerduty => json!({"routing_key": "e93facc04764012d7bfb002500d5d1a6"}),
        Kind::Opsgenie => json!({"api_key": "00000000-0000-0000-0000-000000000000"}),
        Kind::Splunk => {
            json!({"hec_url": "https://splunk.example.com:8088", "token": "00000000-0000-0000-0000-000000000000"})
        }
        Kind::Jira => {
            json!({"base_url": "https://example.atlassian.net", "email": "herald@example.com", "api_token": "example-api-token", "project_key": "OPS"})
        }
        Kind::Github => json!({"repo": "example/infra", "token": "github_pat_example"}),
        Kind::Email => {
            json!({"smtp_url": "smtps://herald%40example.com:example-password@smtp.example.com:465", "from": "herald@example.com", "to": ["oncall@example.com"]})
        }
        Kind::Script => json!({"command": "/bin/cat"}),
        Kind::Webhook => {
            json!({"webhook_url": "https://receiver.example.com/herald", "hmac_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
        }
        Kind::Custom => {
            json!({"api_url": "https://api.example.com/herald", "api_key": "example-api-key"})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Registry, RegistryOptions};

    /// `herald render` falls back to these, so each must pass its provider's validation.
    #[test]
    fn every_example_config_is_valid() {
        let registry = Registry::builtin(RegistryOptions {
            enable_script: true,
        });
        assert_eq!(registry.kinds().len(), Kind::ALL.len());
        for kind in Kind::ALL {
            let provider = registry.get(kind).unwrap();
            assert_eq!(provider.validate(&example_config(kind)), Ok(()), "{kind:?}");
        }
    }
}
