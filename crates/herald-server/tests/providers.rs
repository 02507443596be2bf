//! Issue 3, end to end through the real server and store: per-destination pacing and pauses,
//! ordered follow-ups that reuse the first delivery's external id, templates, and the
//! providers' correlation round trips against local fakes of their APIs.

mod support;

use std::future::Future;
use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Runs `body` against a fresh server whose fixed-address services (Slack's Web API,
/// PagerDuty, GitHub, ...) all point at one local fake.
async fn with_fake<F, Fut>(db: support::Db, body: F)
where
    F: FnOnce(support::TestApp, Receiver) -> Fut,
    Fut: Future<Output = ()>,
{
    let fake = Receiver::start().await;
    let base = fake.url("");
    let app = support::spawn_app_with(db, |config| {
        config.provider_endpoints = [
            "slack",
            "telegram",
            "webex",
            "pagerduty",
            "opsgenie_us",
            "github",
        ]
        .iter()
        .map(|name| format!("{name}={base}"))
        .collect::<Vec<_>>()
        .join(",");
    })
    .await;
    body(app, fake).await
}

macro_rules! against_a_fake {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                with_fake(support::Db::Sqlite, $body).await;
            }

            #[tokio::test]
            async fn postgres() {
                with_fake(support::Db::Postgres, $body).await;
            }
        }
    };
}

async fn create(app: &support::TestApp, body: Value) -> String {
    let (status, created) = app.post("/v1/integrations", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// The one delivery of `event_id`, with its attempts.
async fn delivery_of(app: &support::TestApp, event_id: &str) -> Value {
    let deliveries = app.deliveries(&format!("event_id={event_id}")).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    app.delivery(deliveries[0]["id"].as_str().unwrap()).await
}

on_both_backends!(
    a_429_pauses_only_that_destination_for_its_retry_after,
    |app: support::TestApp| async move {
        let (busy, calm) = (Receiver::start().await, Receiver::start().await);
        busy.script([Reply::status(429).header("retry-after", "30")]);
        app.create_webhook("busy", &busy.url("/hook"), json!({}))
            .await;
        app.create_webhook("calm", &calm.url("/hook"), json!({}))
            .await;

        let first = app.emit(json!({"type": "scan_done"})).await;
        assert_eq!(app.step_all().await, 2);
        let second = app.emit(json!({"type": "scan_done"})).await;
        app.step_all().await;
        // The calm destination got both events; the busy one is paused and got only the first.
        assert_eq!(calm.received().len(), 2);
        assert_eq!(busy.received().len(), 1);

        // Still paused 29 s later, though the second event's delivery is due.
        app.clock.advance(Duration::from_secs(29));
        app.step_all().await;
        assert_eq!(busy.received().len(), 1);

        // After the Retry-After, both go out; the wait cost the second delivery no attempt.
        app.clock.advance(Duration::from_secs(5));
        app.step_all().await;
        assert_eq!(busy.received().len(), 3);
        for (event, attempts) in [(&first, 2), (&second, 1)] {
            let busy_delivery = app
                .deliveries(&format!("event_id={event}"))
                .await
                .into_iter()
                .find(|d| d["integration_name"] == "busy")
                .unwrap();
            let delivery = app.delivery(busy_delivery["id"].as_str().unwrap()).await;
            assert_eq!(delivery["status"], "success", "{delivery}");
            assert_eq!(delivery["attempts"].as_array().unwrap().len(), attempts);
        }
    }
);

on_both_backends!(
    follow_ups_wait_for_the_delivery_before_them,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([Reply::status(503)]);
        app.create_webhook("ops", &receiver.url("/hook"), json!({}))
            .await;
        let run = |status: &str| json!({"type": "iac.run.applying", "correlation_key": "run-7", "status": status});
        let (planned, applied) = (
            app.emit(run("planned")).await,
            app.emit(run("applied")).await,
        );
        let other = app
            .emit(json!({"type": "iac.run.applying", "correlation_key": "run-8"}))
            .await;

        // The first of run-7 fails once; its follow-up is held back, while run-8 flows.
        app.step_all().await;
        let statuses: Vec<_> = receiver
            .received()
            .iter()
            .map(|r| r.json()["status"].clone())
            .collect();
        assert_eq!(receiver.received().len(), 2, "{statuses:?}");
        assert_eq!(delivery_of(&app, &applied).await["status"], "pending");
        assert_eq!(delivery_of(&app, &other).await["status"], "success");

        // Once the first succeeds on retry, the follow-up goes, after it.
        app.clock.advance(Duration::from_secs(6));
        app.step_all().await;
        let order: Vec<_> = receiver
            .received()
            .iter()
            .filter(|r| r.json()["correlation_key"] == "run-7")
            .map(|r| r.json()["status"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(order, ["planned", "planned", "applied"]);
        assert_eq!(delivery_of(&app, &planned).await["status"], "success");
        assert_eq!(delivery_of(&app, &applied).await["status"], "success");
    }
);

/// The paths the fake saw, in order.
fn paths(fake: &Receiver) -> Vec<String> {
    fake.received().iter().map(|r| r.path.clone()).collect()
}

against_a_fake!(
    slack_follow_ups_update_the_first_message_in_place,
    |app: support::TestApp, fake: Receiver| async move {
        fake.set_fallback(
            Reply::status(200)
                .body(r#"{"ok": true, "channel": "C0999", "ts": "1700000000.000100"}"#),
        );
        let integration = create(
            &app,
            json!({"kind": "slack", "name": "runs", "config": {"bot_token": "xoxb-1-2-secret", "default_channel": "alerts"},
                   "template": {"title": "{{ facts.workspace }}: {{ title }}"}}),
        )
        .await;
        // The commit is only known at planning; the later events do not repeat it.
        let run = |status: &str| {
            let mut facts = json!({"workspace": "network"});
            if status == "planning" {
                facts["commit"] = json!("abc123");
            }
            json!({"type": "iac.run.applying", "correlation_key": "run-1", "title": "Apply", "status": status,
                   "facts": facts, "url": "https://ci.example/runs/1"})
        };
        let events = [
            app.emit(run("planning")).await,
            app.emit(run("applying")).await,
            app.emit(run("applied")).await,
        ];
        // Slack takes one message per second per channel: the follow-ups wait their turn.
        app.step_all().await;
        assert_eq!(paths(&fake), ["/chat.postMessage"]);
        for _ in 0..3 {
            app.clock.advance(Duration::from_millis(1100));
            app.step_all().await;
        }

        // One post, then updates of exactly that message; the resolution also replies in its
        // thread, so people are notified.
        assert_eq!(
            paths(&fake),
            [
                "/chat.postMessage",
                "/chat.update",
                "/chat.update",
                "/chat.postMessage"
            ]
        );
        let received = fake.received();
        assert_eq!(
            received[0].header("authorization"),
            Some("Bearer xoxb-1-2-secret")
        );
        let first = received[0].json();
        assert_eq!(first["channel"], "alerts");
        assert!(
            first["text"].as_str().unwrap().contains("network: Apply"),
            "{first}"
        );
        for update in &received[1..3] {
            let body = update.json();
            assert_eq!(
                (body["channel"].as_str(), body["ts"].as_str()),
                (Some("C0999"), Some("1700000000.000100"))
            );
        }
        // The applied card still shows the commit from planning: what the run accumulated.
        let applied = received[2].json().to_string();
        assert!(applied.contains("abc123"), "{applied}");
        assert!(applied.contains("\"Applied\""), "{applied}");
        assert_eq!(received[3].json()["thread_ts"], "1700000000.000100");
        assert_eq!(received[3].json()["text"], "Applied: network: Apply");
        for event in &events {
            let delivery = delivery_of(&app, event).await;
            assert_eq!(delivery["status"], "success", "{delivery}");
            assert_eq!(delivery["external_id"], "C0999:1700000000.000100");
            assert_eq!(delivery["integration_id"], integration.as_str());
        }
    }
);

on_both_backends!(
    a_bad_template_is_refused_with_its_line,
    |app: support::TestApp| async move {
        let (status, body) = app
            .post(
                "/v1/integrations",
                json!({"kind": "slack", "name": "x", "config": {"webhook_url": "https://hooks.slack.com/services/T/B/x"},
                       "template": {"text": "ok\n{% if status %}never closed"}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "template.text");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("line 2:"),
            "{body}"
        );
        let (_, list) = app.get("/v1/integrations").await;
        assert_eq!(
            list["data"].as_array().unwrap().len(),
            0,
            "nothing half-created"
        );
    }
);

/// Three events of one incident or run: opened, still going, resolved.
async fn emit_lifecycle(app: &support::TestApp, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for status in ["failed", "retrying", "resolved"] {
        let event = json!({"type": "health.incident.created", "correlation_key": key, "title": "db-1 down",
                           "severity": "critical", "status": status, "target_id": "db-1"});
        ids.push(app.emit(event).await);
    }
    ids
}

async fn assert_external_ids(app: &support::TestApp, events: &[String], expected: &str) {
    for event in events {
        let delivery = delivery_of(app, event).await;
        assert_eq!(delivery["status"], "success", "{delivery}");
        assert_eq!(delivery["external_id"], expected, "{delivery}");
    }
}

against_a_fake!(
    pagerduty_follow_ups_share_the_dedup_key_and_resolve_it,
    |app: support::TestApp, fake: Receiver| async move {
        fake.set_fallback(
            Reply::status(202).body(
                r#"{"status": "success", "message": "Event processed", "dedup_key": "inc-9"}"#,
            ),
        );
        let routing_key = "e93facc04764012d7bfb002500d5d1a6";
        create(
            &app,
            json!({"kind": "pagerduty", "name": "sre", "config": {"routing_key": routing_key}}),
        )
        .await;
        let events = emit_lifecycle(&app, "inc-9").await;
        app.step_all().await;

        assert_eq!(paths(&fake), ["/v2/enqueue"; 3]);
        let bodies: Vec<Value> = fake.received().iter().map(|r| r.json()).collect();
        let actions: Vec<_> = bodies
            .iter()
            .map(|b| b["event_action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["trigger", "trigger", "resolve"]);
        for body in &bodies {
            assert_eq!(
                (body["routing_key"].as_str(), body["dedup_key"].as_str()),
                (Some(routing_key), Some("inc-9"))
            );
        }
        assert_eq!(bodies[0]["payload"]["severity"], "critical");
        assert_eq!(bodies[0]["payload"]["source"], "db-1");
        assert_external_ids(&app, &events, "inc-9").await;
    }
);

against_a_fake!(
    jira_opens_an_issue_then_comments_then_transitions_it,
    |app: support::TestApp, fake: Receiver| async move {
        fake.script([
            Reply::status(201).body(r#"{"id": "10000", "key": "OPS-24", "self": "x"}"#),
            Reply::status(201).body(r#"{"id": "1"}"#),
            Reply::status(201).body(r#"{"id": "2"}"#),
            Reply::status(200).body(r#"{"transitions": [{"id": "21", "name": "In Progress", "to": {"name": "In Progress"}},
                                                          {"id": "31", "name": "Done", "to": {"name": "Done"}}]}"#),
            Reply::status(204),
        ]);
        let config = json!({"base_url": fake.url(""), "email": "herald@example.com", "api_token": "jira-token-1",
                            "project_key": "OPS", "resolve_transition": "Done"});
        create(
            &app,
            json!({"kind": "jira", "name": "ops", "config": config}),
        )
        .await;
        let events = emit_lifecycle(&app, "inc-10").await;
        app.step_all().await;

        let received = fake.received();
        let calls: Vec<_> = received
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(
            calls,
            [
                "POST /rest/api/3/issue",
                "POST /rest/api/3/issue/OPS-24/comment",
                "POST /rest/api/3/issue/OPS-24/comment",
                "GET /rest/api/3/issue/OPS-24/transitions",
                "POST /rest/api/3/issue/OPS-24/transitions",
            ]
        );
        use base64::Engine as _;
        let basic =
            base64::engine::general_purpose::STANDARD.encode("herald@example.com:jira-token-1");
        assert_eq!(
            received[0].header("authorization"),
            Some(format!("Basic {basic}").as_str())
        );
        let created = received[0].json();
        assert_eq!(created["fields"]["project"]["key"], "OPS");
        assert_eq!(created["fields"]["description"]["type"], "doc");
        assert_eq!(received[4].json()["transition"]["id"], "31");
        assert_external_ids(&app, &events, "OPS-24").await;
    }
);

against_a_fake!(
    github_opens_an_issue_then_comments_then_closes_it,
    |app: support::TestApp, fake: Receiver| async move {
        fake.script([
            Reply::status(201)
                .body(r#"{"number": 42, "html_url": "https://github.com/acme/infra/issues/42"}"#),
            Reply::status(201).body(r#"{"id": 1}"#),
            Reply::status(201).body(r#"{"id": 2}"#),
            Reply::status(200).body(r#"{"number": 42, "state": "closed"}"#),
        ]);
        create(&app, json!({"kind": "github", "name": "infra", "config": {"repo": "acme/infra", "token": "ghp_secret1"}})).await;
        let events = emit_lifecycle(&app, "inc-11").await;
        app.step_all().await;

        let received = fake.received();
        let calls: Vec<_> = received
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(
            calls,
            [
                "POST /repos/acme/infra/issues",
                "POST /repos/acme/infra/issues/42/comments",
                "POST /repos/acme/infra/issues/42/comments",
                "PATCH /repos/acme/infra/issues/42",
            ]
        );
        assert_eq!(
            received[0].header("authorization"),
            Some("Bearer ghp_secret1")
        );
        assert_eq!(
            received[0].header("x-github-api-version"),
            Some("2022-11-28")
        );
        assert_eq!(received[3].json()["state"], "closed");
        assert_external_ids(&app, &events, "42").await;
    }
);

against_a_fake!(
    the_test_endpoint_proves_a_slack_token_and_posting_to_its_channel,
    |app: support::TestApp, fake: Receiver| async move {
        fake.script([
            Reply::status(200).body(r#"{"ok": true, "team": "acme", "user": "herald", "team_id": "T1", "user_id": "U1"}"#),
            Reply::status(200).body(r#"{"ok": true, "channel": "C1", "ts": "1700000000.000100"}"#),
            Reply::status(200).body(r#"{"ok": true, "team": "acme", "user": "herald", "team_id": "T1", "user_id": "U1"}"#),
            Reply::status(200).body(r#"{"ok": false, "error": "not_in_channel"}"#),
        ]);
        let id = create(&app, json!({"kind": "slack", "name": "t", "config": {"bot_token": "xoxb-9-9-secret", "default_channel": "C1"}})).await;
        let (status, ok) = app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (ok["ok"].as_bool(), ok["status"].as_u64()),
            (Some(true), Some(200)),
            "{ok}"
        );
        let (_, refused) = app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(refused["ok"], false, "{refused}");
        let response = refused["response"].as_str().unwrap();
        assert!(response.contains("not_in_channel"), "{refused}");
        assert_eq!(
            paths(&fake),
            [
                "/auth.test",
                "/chat.postMessage",
                "/auth.test",
                "/chat.postMessage"
            ]
        );
        assert_eq!(fake.received()[1].json()["channel"], "C1");
        assert!(
            app.deliveries("").await.is_empty(),
            "a test records no delivery"
        );
    }
);
