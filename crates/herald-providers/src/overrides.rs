//! Workspace destination overrides across kinds: a resolved channel or URL replaces the
//! configured one where the kind is addressed that way, and is refused where it is not.

use herald_domain::Kind;
use serde_json::json;

use crate::examples::example_config;
use crate::testing::Fixture;
use crate::{Outbound, Registry, RegistryOptions};

fn render(kind: Kind, to: &str) -> Result<Vec<Outbound>, crate::RenderError> {
    let registry = Registry::builtin(RegistryOptions {
        enable_script: true,
    });
    let fixture = Fixture::new(kind, json!({"type": "iac.run.applied", "title": "Applied"})).to(to);
    registry
        .get(kind)
        .unwrap()
        .render(&fixture.ctx(), &example_config(kind))
}

fn only_http(requests: &[Outbound]) -> &crate::OutboundRequest {
    let [Outbound::Http(request)] = requests else {
        panic!("one HTTP request: {requests:?}")
    };
    request
}

#[test]
fn a_slack_bot_posts_to_the_workspace_channel() {
    let requests = render(Kind::Slack, "C0PROD").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&only_http(&requests).body).unwrap();
    assert_eq!(body["channel"], "C0PROD");
}

#[test]
fn url_kinds_send_to_the_workspace_url() {
    for kind in [Kind::Teams, Kind::Webhook, Kind::Custom] {
        let requests = render(kind, "https://hooks.example.com/prod").unwrap();
        assert_eq!(
            only_http(&requests).url.as_str(),
            "https://hooks.example.com/prod",
            "{kind:?}"
        );
    }
    // The webhook still signs with its own secret.
    let requests = render(Kind::Webhook, "https://hooks.example.com/prod").unwrap();
    assert!(only_http(&requests)
        .header_value("webhook-signature")
        .is_some());
    assert!(render(Kind::Teams, "not a url").is_err());
}

#[test]
fn kinds_with_a_fixed_destination_refuse_an_override() {
    for kind in [Kind::Pagerduty, Kind::Jira, Kind::Github, Kind::Discord] {
        assert!(render(kind, "C0PROD").is_err(), "{kind:?}");
    }
}
