//! Workspace attachments end to end (issue 4, seed 001): an attached integration fires after
//! exactly its stage, and its channels resolve from four levels, first match wins, with one
//! delivery per resolved destination.

mod support;

use herald_testkit::{Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A server whose Slack Web API is a local fake answering ok.
async fn with_slack<F, Fut>(db: support::Db, body: F)
where
    F: FnOnce(support::TestApp, Receiver) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let fake = Receiver::start().await;
    fake.set_fallback(Reply::status(200).body(r#"{"ok": true, "channel": "C1", "ts": "1.1"}"#));
    let base = fake.url("");
    let app = support::spawn_app_with(db, |config| {
        config.provider_endpoints = format!("slack={base}");
    })
    .await;
    body(app, fake).await
}

macro_rules! with_a_slack_fake {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                with_slack(support::Db::Sqlite, $body).await;
            }

            #[tokio::test]
            async fn postgres() {
                with_slack(support::Db::Postgres, $body).await;
            }
        }
    };
}

async fn slack(app: &support::TestApp, name: &str, destinations: Value) -> String {
    let body = json!({"kind": "slack", "name": name, "destinations": destinations,
                      "config": {"bot_token": "xoxb-1-2-attach", "default_channel": "C0DEFAULT"}});
    let (status, created) = app.post("/v1/integrations", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn attach(
    app: &support::TestApp,
    integration: &str,
    module: &str,
    run_after: &str,
    destinations: Value,
) {
    let body = json!({"integration_id": integration, "module": module, "run_after": run_after, "destinations": destinations});
    let (status, created) = app.post("/v1/attachments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

/// The channels an event was delivered to, sorted.
async fn channels_of(app: &support::TestApp, fake: &Receiver, event: Value) -> Vec<String> {
    let before = fake.received().len();
    app.emit(event).await;
    // One message per second per channel: move past the pace between events.
    app.clock.advance(std::time::Duration::from_secs(2));
    app.step_all().await;
    let mut channels: Vec<String> = fake.received()[before..]
        .iter()
        .map(|r| r.json()["channel"].as_str().unwrap().to_owned())
        .collect();
    channels.sort();
    channels
}

with_a_slack_fake!(
    channels_resolve_from_four_levels_first_match_wins,
    |app: support::TestApp, fake: Receiver| async move {
        let org_level = json!({"default": ["C0ORG"], "environments": {"production": ["C0ORGPROD"], "staging": ["C0ORGSTG"]}});
        let id = slack(&app, "runs", org_level).await;
        attach(
            &app,
            &id,
            "network",
            "apply",
            json!({"default": ["C0WS"], "environments": {"production": ["C0WSPROD"]}}),
        )
        .await;
        attach(&app, &id, "database", "apply", json!({})).await;
        let applied = |module: &str, env: &str| json!({"type": "iac.run.applied", "target_id": module, "environment": env, "title": "Applied"});
        // Workspace environment override.
        assert_eq!(
            channels_of(&app, &fake, applied("network", "production")).await,
            ["C0WSPROD"]
        );
        // No workspace override for staging: the organisation's environment override.
        assert_eq!(
            channels_of(&app, &fake, applied("network", "staging")).await,
            ["C0ORGSTG"]
        );
        // No environment override anywhere: the workspace default.
        assert_eq!(
            channels_of(&app, &fake, applied("network", "dev")).await,
            ["C0WS"]
        );
        // A workspace without overrides: the organisation's environment, then its default.
        assert_eq!(
            channels_of(&app, &fake, applied("database", "production")).await,
            ["C0ORGPROD"]
        );
        assert_eq!(
            channels_of(&app, &fake, applied("database", "dev")).await,
            ["C0ORG"]
        );

        // Several channels: one delivery each, each with its own log row.
        let (status, body) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"destinations": {"default": ["C0A", "C0B"]}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            channels_of(&app, &fake, applied("database", "dev")).await,
            ["C0A", "C0B"]
        );
        let deliveries = app.deliveries("status=success").await;
        assert_eq!(deliveries.len(), 7);
    }
);

with_a_slack_fake!(
    run_after_fires_on_exactly_its_stage,
    |app: support::TestApp, fake: Receiver| async move {
        let mut ids = Vec::new();
        for (name, run_after) in [
            ("after-plan", "plan"),
            ("after-apply", "apply"),
            ("after-all", "all"),
        ] {
            let id = slack(
                &app,
                name,
                json!({"default": [format!("C0{}", run_after.to_uppercase())]}),
            )
            .await;
            attach(&app, &id, "network", run_after, json!({})).await;
            ids.push(id);
        }
        let cases: [(&str, &[&str]); 6] = [
            ("iac.run.plan_finished", &["C0ALL", "C0PLAN"]),
            ("iac.run.waiting_for_approval", &["C0ALL", "C0PLAN"]),
            ("iac.run.applied", &["C0ALL", "C0APPLY"]),
            ("iac.run.failed", &["C0ALL", "C0APPLY"]),
            ("iac.run.planning", &[]),
            ("iac.run.queued", &[]),
        ];
        for (event_type, expected) in cases {
            let event = json!({"type": event_type, "target_id": "network"});
            assert_eq!(
                channels_of(&app, &fake, event).await,
                expected,
                "{event_type}"
            );
        }
        // Another module's stage events reach none of them.
        let elsewhere = json!({"type": "iac.run.applied", "target_id": "database"});
        assert!(channels_of(&app, &fake, elsewhere).await.is_empty());
        // Attached integrations are routed by attachment, not by the scanner filters.
        let (_, integration) = app.get(&format!("/v1/integrations/{}", ids[0])).await;
        assert_eq!(integration["routing_model"], "supply_demand");
    }
);

on_both_backends!(
    bad_destinations_are_refused_by_field,
    |app: support::TestApp| async move {
        let hook = app
            .create_webhook("hook", "https://x.example.com/h", json!({}))
            .await;
        let body = json!({"integration_id": hook, "module": "m", "run_after": "plan",
                          "destinations": {"environments": {"production": ["https://ok.example.com/", "http://169.254.169.254/"]}}});
        let (status, error) = app.post("/v1/attachments", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(
            error["error"]["field"],
            "destinations.environments.production[1]"
        );
        let pagerduty = json!({"kind": "pagerduty", "name": "pd", "config": {"routing_key": "e93facc04764012d7bfb002500d5d1a6"},
                               "destinations": {"default": ["x"]}});
        let (status, error) = app.post("/v1/integrations", pagerduty).await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("destinations.default[0]")
            )
        );
        let (status, _) = app
            .post(
                "/v1/attachments",
                json!({"integration_id": hook, "module": "m", "run_after": "sometimes"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, list) = app.get("/v1/attachments").await;
        assert_eq!(
            list["data"].as_array().unwrap().len(),
            0,
            "nothing half-created"
        );
    }
);

with_a_slack_fake!(
    an_integration_events_template_comes_before_the_integrations,
    |app: support::TestApp, fake: Receiver| async move {
        let body = json!({"kind": "slack", "name": "runs", "is_supplied_to_all_modules": true,
                          "template": {"title": "INTEGRATION {{ title }}"},
                          "config": {"bot_token": "xoxb-1-2-attach", "default_channel": "C0DEFAULT"}});
        let (status, created) = app.post("/v1/integrations", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        for (name, trigger, template) in [
            (
                "applied",
                "iac.run.applied",
                json!({"title": "DEMAND {{ title }} in {{ target_id }}"}),
            ),
            ("failed", "iac.run.failed", Value::Null),
        ] {
            let mut demand = json!({"integration_id": id, "name": name, "trigger": trigger, "scope": {"kind": "organisation"}});
            if !template.is_null() {
                demand["template"] = template;
            }
            let (status, body) = app.post("/v1/integration-events", demand).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        // Attached as well: the attachment carries these events too, and has no template.
        attach(&app, id, "network", "apply", json!({})).await;
        let text = |event_type: &str| json!({"type": event_type, "target_id": "network", "title": "Run 7"});
        app.emit(text("iac.run.applied")).await;
        app.clock.advance(std::time::Duration::from_secs(2));
        app.emit(text("iac.run.failed")).await;
        app.step_all().await;
        app.clock.advance(std::time::Duration::from_secs(2));
        app.step_all().await;
        let texts: Vec<String> = fake
            .received()
            .iter()
            .map(|r| r.json()["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[0].contains("DEMAND Run 7 in network"), "{texts:?}");
        assert!(texts[1].contains("INTEGRATION Run 7"), "{texts:?}");
    }
);

with_a_slack_fake!(
    integration_events_may_name_their_own_destinations,
    |app: support::TestApp, fake: Receiver| async move {
        let integration = slack(&app, "subscribed", json!({"default": ["#org-default"]})).await;
        let (status, _) = app
            .patch(
                &format!("/v1/integrations/{integration}"),
                json!({"is_supplied_to_all_modules": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let demand = |name: &str, trigger: &str, destinations: Value| {
            json!({"integration_id": integration, "name": name, "trigger": trigger,
                   "scope": {"kind": "organisation"}, "destinations": destinations})
        };
        // Checked like the integration's own: a Slack integration takes channels.
        let (status, refused) = app
            .post(
                "/v1/integration-events",
                demand("bad", "iac.run.*", json!(["C1", "two words"])),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["error"]["field"], "destinations[1]");
        let (status, created) = app
            .post(
                "/v1/integration-events",
                demand("ops", "iac.run.*", json!(["C0OPS", "C0OPS", "#deploys"])),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["destinations"],
            json!(["C0OPS", "#deploys"]),
            "duplicates dropped"
        );
        // Its own destinations only.
        let failed = json!({"type": "iac.run.failed", "target_id": "network", "title": "x"});
        assert_eq!(
            channels_of(&app, &fake, failed.clone()).await,
            ["#deploys", "C0OPS"]
        );
        // Another integration event carrying the same event without destinations adds the
        // integration's own resolution; each channel gets one delivery.
        let (status, _) = app
            .post("/v1/integration-events", demand("all", "*", Value::Null))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            channels_of(&app, &fake, failed).await,
            ["#deploys", "#org-default", "C0OPS"]
        );
        let scan = json!({"type": "scan_done", "title": "scan"});
        assert_eq!(channels_of(&app, &fake, scan).await, ["#org-default"]);
        // Cleared by PATCH null: back to the integration's own.
        let id = created["id"].as_str().unwrap();
        let (status, patched) = app
            .patch(
                &format!("/v1/integration-events/{id}"),
                json!({"destinations": null}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["destinations"], Value::Null);
    }
);
