//! `/metrics`, read by a real Prometheus text parser: PyPI `prometheus-client`'s
//! `text_string_to_metric_families` (scripts/test installs it).

mod support;

use std::time::Duration;

use herald_testkit::{parse_with_prometheus_client, Receiver, Reply};
use serde_json::{json, Value};

fn sample<'a>(samples: &'a [Value], name: &str, labels: Value) -> Option<&'a Value> {
    samples.iter().find(|s| {
        s["name"] == name
            && labels
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &s["labels"][k] == v)
    })
}

fn value(samples: &[Value], name: &str, labels: Value) -> f64 {
    sample(samples, name, labels.clone()).unwrap_or_else(|| panic!("no sample {name} {labels}"))
        ["value"]
        .as_f64()
        .unwrap()
}

on_both_backends!(
    metrics_parse_and_count_what_happened,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([Reply::status(204), Reply::status(204), Reply::status(503)]);
        let paused = Receiver::start().await;
        app.create_webhook(
            "counted",
            &receiver.url("/"),
            json!({"events": ["scan_done"]}),
        )
        .await;
        let held = app
            .create_webhook(
                "held",
                &paused.url("/"),
                json!({"events": ["scan_started"]}),
            )
            .await;
        let (status, _) = app
            .post(&format!("/v1/integrations/{held}/pause"), json!({}))
            .await;
        assert_eq!(status, reqwest::StatusCode::OK);
        for _ in 0..3 {
            app.emit(json!({"type": "scan_done"})).await;
        }
        app.emit(json!({"type": "scan_started"})).await;
        assert_eq!(app.step_all().await, 3);
        // The failed one's retry comes due and waits (no worker steps now).
        app.clock.advance(Duration::from_secs(65));

        let response = app
            .client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = response.text().await.unwrap();
        let samples = parse_with_prometheus_client(&text);

        let accepted: f64 = samples
            .iter()
            .filter(|s| s["name"] == "herald_events_accepted_total")
            .map(|s| s["value"].as_f64().unwrap())
            .sum();
        assert_eq!(accepted, 4.0);
        let counted = json!({"kind": "webhook", "outcome": "delivered"});
        assert_eq!(value(&samples, "herald_deliveries_total", counted), 2.0);
        let retried = json!({"kind": "webhook", "outcome": "retry"});
        assert_eq!(value(&samples, "herald_deliveries_total", retried), 1.0);
        let inf = sample(
            &samples,
            "herald_attempt_duration_seconds_bucket",
            json!({"kind": "webhook", "le": "+Inf"}),
        )
        .unwrap();
        assert_eq!(inf["type"], "histogram");
        assert_eq!(
            value(
                &samples,
                "herald_attempt_duration_seconds_count",
                json!({"kind": "webhook"})
            ),
            3.0
        );
        assert!(value(&samples, "herald_ingest_batch_size_count", json!({})) >= 1.0);
        assert_eq!(
            value(
                &samples,
                "herald_queue_deliveries",
                json!({"status": "retrying"})
            ),
            1.0
        );
        assert_eq!(
            value(
                &samples,
                "herald_queue_deliveries",
                json!({"status": "pending"})
            ),
            1.0,
            "the paused integration's delivery"
        );
        let age = value(&samples, "herald_queue_oldest_due_age_seconds", json!({}));
        assert!(
            (50.0..70.0).contains(&age),
            "the retry was due after ~6 s of the 65 s: {age}"
        );
        assert_eq!(
            value(&samples, "herald_integrations_paused", json!({})),
            1.0
        );
        assert_eq!(value(&samples, "herald_circuits_open", json!({})), 0.0);
        assert!(value(&samples, "herald_db_pool_max_connections", json!({})) >= 1.0);
        assert!(value(&samples, "herald_db_pool_connections", json!({})) >= 1.0);
        // Outside the pool: ingest, results and claims each have a connection of their own on
        // PostgreSQL, and all three have been used; on SQLite they share the writer's.
        let held = match app.db {
            support::Db::Sqlite => 1.0,
            support::Db::Postgres => 3.0,
        };
        assert_eq!(
            value(&samples, "herald_db_held_connections", json!({})),
            held
        );
        let idle = value(&samples, "herald_db_held_idle_connections", json!({}));
        assert!((0.0..=held).contains(&idle), "{idle} of {held} idle");
    }
);
