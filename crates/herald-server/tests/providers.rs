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
        config.provider_endpoints = ["slack", "telegram", "webex", "pagerduty", "opsgenie_us", "github"]
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
        app.create_webhook("busy", &busy.url("/hook"), json!({})).await;
        app.create_webhook("calm", &calm.url("/hook"), json!({})).await;

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
        app.create_webhook("ops", &receiver.url("/hook"), json!({})).await;
        let run = |status: &str| json!({"type": "iac.run", "correlation_key": "run-7", "status": status});
        let (planned, applied) = (app.emit(run("planned")).await, app.emit(run("applied")).await);
        let other = app.emit(json!({"type": "iac.run", "correlation_key": "run-8"})).await;

        // The first of run-7 fails once; its follow-up is held back, while run-8 flows.
        app.step_all().await;
        let statuses: Vec<_> = receiver.received().iter().map(|r| r.json()["status"].clone()).collect();
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
