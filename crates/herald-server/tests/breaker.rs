//! A destination that keeps failing: the circuit breaker, auto-disable with its operator
//! events delivered through a real webhook integration, and the receiver's abort header.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

/// Runs a test body once against SQLite and once against PostgreSQL, with the config adjusted.
macro_rules! on_both_backends_with {
    ($name:ident, $adjust:expr, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                ($body)(support::spawn_app_with(support::Db::Sqlite, $adjust).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                ($body)(support::spawn_app_with(support::Db::Postgres, $adjust).await).await;
            }
        }
    };
}

on_both_backends_with!(
    a_failing_destination_is_held_back_probed_and_closed_by_a_success,
    |config: &mut herald_server::ServeConfig| {
        config.breaker_threshold = 3;
        config.breaker_cooldown = Duration::from_secs(30);
    },
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.set_fallback(Reply::status(503));
        app.create_webhook("down", &receiver.url("/"), json!({}))
            .await;
        for i in 0..5 {
            app.emit(json!({"type": "scan_done", "title": format!("e{i}")}))
                .await;
        }
        // Three failures in a row open the circuit: the other two are not even tried.
        app.step_all().await;
        assert_eq!(receiver.received().len(), 3);
        app.clock.advance(Duration::from_secs(10));
        assert_eq!(app.step_all().await, 0, "held back during the cool-down");
        assert_eq!(receiver.received().len(), 3);
        let pending = app.deliveries("status=pending").await;
        assert_eq!(pending.len(), 2, "held back, not failed: {pending:?}");

        // After the cool-down one probe goes; it fails, and the circuit opens again (60 s).
        app.clock.advance(Duration::from_secs(21));
        assert_eq!(app.step().await, 1);
        assert_eq!(app.step().await, 0, "one probe at a time");
        assert_eq!(receiver.received().len(), 4);
        app.clock.advance(Duration::from_secs(45));
        assert_eq!(app.step_all().await, 0, "the cool-down doubled");

        // The receiver is back: the next probe succeeds and the backlog flows.
        receiver.set_fallback(Reply::status(204));
        app.clock.advance(Duration::from_secs(20));
        let sent = app.step_all().await;
        assert_eq!(sent, 5, "the probe, then everything else");
        assert_eq!(app.deliveries("status=success").await.len(), 5);
    }
);

on_both_backends!(
    the_abort_header_stops_the_retries_of_that_message,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([
            Reply::status(500).header("webhook-delivery", "abort-message"),
            Reply::status(503),
        ]);
        app.create_webhook("aborting", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done", "title": "stop"}))
            .await;
        app.emit(json!({"type": "scan_done", "title": "go on"}))
            .await;
        assert_eq!(app.step_all().await, 2);
        let deliveries = app.deliveries("").await;
        let of = |title: &str| {
            let index = usize::from(title == "stop");
            deliveries[index]["id"].as_str().unwrap().to_owned()
        };
        let aborted = app.delivery(&of("stop")).await;
        assert_eq!(aborted["status"], "failed", "{aborted}");
        assert_eq!(aborted["next_attempt_at"], Value::Null);
        assert_eq!(aborted["attempts"][0]["outcome"], "aborted");
        assert!(aborted["last_error"]
            .as_str()
            .unwrap()
            .contains("abort-message"));
        // The other message, without the header, is retried as usual.
        assert_eq!(app.delivery(&of("go on")).await["status"], "retrying");
        receiver.set_fallback(Reply::status(204));
        assert_eq!(app.step_after(Duration::from_secs(3600)).await, 1);
        assert_eq!(receiver.received().len(), 3);
        assert_eq!(app.delivery(&of("stop")).await["status"], "failed");
    }
);

on_both_backends_with!(
    an_integration_failing_for_the_period_is_disabled_and_the_operator_hears_of_it,
    |config: &mut herald_server::ServeConfig| {
        config.breaker_threshold = 2;
        config.breaker_cooldown = Duration::from_secs(30);
        config.auto_disable_after = Duration::from_secs(3600);
    },
    |app: support::TestApp| async move {
        let broken = Receiver::start().await;
        broken.set_fallback(Reply::status(500));
        let operator = Receiver::start().await;
        let failing = app
            .create_webhook("broken", &broken.url("/"), json!({"events": ["scan_done"]}))
            .await;
        app.create_webhook(
            "operator",
            &operator.url("/ops"),
            json!({"events": ["herald.integration.failing", "herald.integration.disabled",
                              "herald.delivery.exhausted"]}),
        )
        .await;
        // A catch-all integration does not get operator events.
        let everything = Receiver::start().await;
        app.create_webhook("everything", &everything.url("/all"), json!({}))
            .await;

        app.emit(json!({"type": "scan_done", "title": "one"})).await;
        app.emit(json!({"type": "scan_done", "title": "two"})).await;
        app.step_all().await;
        // Two failures opened the circuit: the early warning went out, once.
        let heard = operator.received();
        assert_eq!(heard.len(), 1, "{heard:?}");
        let warning = heard[0].json();
        assert_eq!(warning["type"], "herald.integration.failing");
        assert_eq!(warning["data"]["integration_id"], failing.as_str());
        assert_eq!(warning["data"]["integration_name"], "broken");
        assert!(warning["data"]["failing_since"].is_string());
        assert_eq!(
            app.get(&format!("/v1/integrations/{failing}")).await.1["enabled"],
            true
        );

        // An hour of nothing but failures: the next failed attempt disables it.
        app.clock.advance(Duration::from_secs(3601));
        app.step_all().await;
        let (_, integration) = app.get(&format!("/v1/integrations/{failing}")).await;
        assert_eq!(integration["enabled"], false, "{integration}");
        let reason = integration["disabled_reason"].as_str().unwrap();
        assert!(reason.contains("every attempt failed for 1h"), "{reason}");

        // The disabled event, and the exhausted deliveries (ended by the disabling when they
        // next come due), reached the operator through Herald's own routing and delivery.
        app.clock.advance(Duration::from_secs(600));
        app.step_all().await;
        let types: Vec<String> = operator
            .received()
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(types[0], "herald.integration.failing");
        assert_eq!(
            types
                .iter()
                .filter(|t| *t == "herald.integration.failing")
                .count(),
            1,
            "{types:?}"
        );
        let disabled = operator
            .received()
            .into_iter()
            .map(|r| r.json())
            .find(|e| e["type"] == "herald.integration.disabled")
            .expect("the disabled event arrived");
        assert_eq!(disabled["data"]["reason"], reason);
        assert_eq!(disabled["severity"], "critical");
        assert_eq!(
            types
                .iter()
                .filter(|t| *t == "herald.delivery.exhausted")
                .count(),
            2,
            "both of its deliveries ended undelivered: {types:?}"
        );
        assert!(everything
            .received()
            .iter()
            .all(|r| !r.json()["type"].as_str().unwrap().starts_with("herald.")));

        // Recorded in the audit log as Herald's own doing.
        let (_, audit) = app.get("/v1/audit?limit=250").await;
        assert!(audit["data"].as_array().unwrap().iter().any(|e| {
            e["action"] == "integration.disable" && e["source"] == "herald:auto-disable"
        }));
    }
);

on_both_backends_with!(
    a_success_ends_the_run_of_failures,
    |config: &mut herald_server::ServeConfig| {
        config.breaker_threshold = 100;
        config.auto_disable_after = Duration::from_secs(3600);
    },
    |app: support::TestApp| async move {
        let flaky = Receiver::start().await;
        flaky.script([Reply::status(500), Reply::status(204)]);
        flaky.set_fallback(Reply::status(500));
        let id = app
            .create_webhook("flaky", &flaky.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        app.step_all().await; // fails
        app.clock.advance(Duration::from_secs(3000));
        app.step_all().await; // the retry succeeds: the run of failures is over
        app.emit(json!({"type": "scan_done"})).await;
        app.clock.advance(Duration::from_secs(3000));
        app.step_all().await; // fails: a new run, 0 s old, although the first failure was 100 min ago
        let (_, integration) = app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(integration["enabled"], true, "{integration}");
    }
);
