//! A plausible config for every kind, and plausible answers from each service, for `herald
//! render` previews and docs. None of the credentials is real, and nothing is sent.

use std::sync::Mutex;

use chrono::Utc;
use herald_domain::Kind;
use serde_json::{json, Value};

use crate::{Method, Outbound, Response, SendError, Transport};

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

/// Answers every request as the service plausibly would and records it, so a preview runs the
/// real exchange loop and shows the requests that depend on an answer (the Jira transition
/// looked up and then made, the GitHub issue closed) without sending anything.
pub struct ExampleAnswers {
    kind: Kind,
    config: Value,
    sent: Mutex<Vec<Outbound>>,
}

impl ExampleAnswers {
    pub fn new(kind: Kind, config: &Value) -> Self {
        Self {
            kind,
            config: config.clone(),
            sent: Mutex::default(),
        }
    }

    /// Every request the exchange made, in order.
    pub fn into_sent(self) -> Vec<Outbound> {
        self.sent.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn answer(&self, request: &Outbound) -> Response {
        let (status, body) = match request {
            Outbound::Mail(_) => (250, "2.0.0 Ok: queued".to_owned()),
            Outbound::Exec(_) => (0, String::new()),
            Outbound::Http(http) => {
                let path = http.url.path().trim_end_matches('/');
                let body = match (self.kind, http.method) {
                    (Kind::Jira, Method::Post) if path.ends_with("/issue") => {
                        json!({"id": "10001", "key": "OPS-1"})
                    }
                    (Kind::Jira, Method::Get) if path.ends_with("/transitions") => {
                        let name = self.config["resolve_transition"].as_str().unwrap_or("Done");
                        json!({"transitions": [{"id": "31", "name": name, "to": {"name": name}}]})
                    }
                    (Kind::Github, Method::Post) if path.ends_with("/issues") => {
                        json!({"number": 1})
                    }
                    (Kind::Github, Method::Get) => json!({"permissions": {"push": true}}),
                    (Kind::Slack, _) => {
                        json!({"ok": true, "channel": "C0123456789", "ts": "1700000000.000100"})
                    }
                    (Kind::Telegram, _) => json!({"ok": true, "result": {"message_id": 1}}),
                    _ => json!({"id": "example-id"}),
                };
                (200, body.to_string())
            }
        };
        Response {
            status,
            headers: Vec::new(),
            body: body.into_bytes(),
            received_at: Utc::now(),
        }
    }
}

impl Transport for ExampleAnswers {
    async fn send(&self, request: &Outbound) -> Result<Response, SendError> {
        let response = self.answer(request);
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request.clone());
        Ok(response)
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
