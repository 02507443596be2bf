//! Delivery behaviour, end to end: signed requests, retries, permanent failures, re-queueing,
//! idempotency and the seed's three filters.

mod support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use herald_testkit::{Receiver, Reply};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Verifies a Standard Webhooks signature independently of Herald's own signing code.
fn signature_verifies(id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = B64.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    header.split(' ').any(|candidate| candidate == expected)
}

on_both_backends!(
    a_signed_request_arrives_through_the_running_worker,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let integration =
        app.create_webhook("ops", &receiver.url("/hooks/herald"), json!({"config": {"webhook_url": receiver.url("/hooks/herald"), "hmac_secret": SECRET}})).await;
        let shutdown = CancellationToken::new();
        let worker = tokio::spawn(app.engine.clone().run(shutdown.clone()));

        let event_id = app
        .emit(json!({"type": "scan_done", "target_id": "t1", "title": "Scan finished", "facts": {"findings": 3}}))
        .await;
        let received = receiver.wait_for(1, Duration::from_secs(10)).await;
        shutdown.cancel();
        worker.await.unwrap();

        let request = &received[0];
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/hooks/herald")
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        let (id, timestamp) = (
            request.header("webhook-id").unwrap(),
            request.header("webhook-timestamp").unwrap(),
        );
        assert!(signature_verifies(
            id,
            timestamp,
            &request.body,
            request.header("webhook-signature").unwrap()
        ));
        let body = request.json();
        assert_eq!(body["id"], event_id.as_str());
        assert_eq!(body["type"], "scan_done");
        assert_eq!(body["facts"], json!({"findings": 3}));
        assert_eq!(
            body["integration"],
            json!({"id": integration, "name": "ops", "kind": "webhook"})
        );

        let deliveries = app.deliveries(&format!("event_id={event_id}")).await;
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0]["id"], id, "webhook-id is the delivery id");
        // The worker's commit may trail the receiver by a moment (up to 10 s under load).
        let mut status = deliveries[0]["status"].clone();
        for _ in 0..500 {
            if status == "success" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            status = app.delivery(id).await["status"].clone();
        }
        assert_eq!(status, "success");
    }
);

on_both_backends!(
    three_failures_then_success_gives_four_attempts,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([
            Reply::status(503).body("down for maintenance"),
            Reply::status(500),
            Reply::status(502),
            Reply::status(204),
        ]);
        app.create_webhook("flaky", &receiver.url("/"), json!({}))
            .await;
        let event_id = app.emit(json!({"type": "scan_done"})).await;

        assert_eq!(app.step().await, 1);
        let id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let after_first = app.delivery(&id).await;
        assert_eq!(after_first["status"], "retrying");
        assert_eq!(app.step().await, 0, "the retry is not due before its delay");
        for delay in [5, 300, 1800] {
            assert_eq!(app.step_after(Duration::from_secs(delay)).await, 1);
        }

        let delivery = app.delivery(&id).await;
        assert_eq!(delivery["status"], "success");
        assert_eq!(delivery["event_id"], event_id.as_str());
        assert_eq!(delivery["next_attempt_at"], Value::Null);
        let attempts = delivery["attempts"].as_array().unwrap();
        let outcomes: Vec<_> = attempts
            .iter()
            .map(|a| {
                (
                    a["number"].clone(),
                    a["outcome"].clone(),
                    a["status_code"].clone(),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            vec![
                (json!(1), json!("retry"), json!(503)),
                (json!(2), json!("retry"), json!(500)),
                (json!(3), json!("retry"), json!(502)),
                (json!(4), json!("delivered"), json!(204)),
            ]
        );
        assert_eq!(attempts[0]["response_excerpt"], "down for maintenance");
        assert_eq!(attempts[0]["error"], "HTTP 503");

        // Receivers can dedupe: every try carried the same id and the same bytes.
        let received = receiver.received();
        assert_eq!(received.len(), 4);
        assert!(received
            .iter()
            .all(|r| r.header("webhook-id") == Some(id.as_str()) && r.body == received[0].body));
    }
);

on_both_backends!(
    gone_fails_after_one_attempt,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.set_fallback(Reply::status(410));
        app.create_webhook("gone", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        app.step().await;
        let id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let delivery = app.delivery(&id).await;
        assert_eq!(delivery["status"], "failed");
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(delivery["last_status_code"], 410);
        assert_eq!(
            app.step_after(Duration::from_secs(86_400)).await,
            0,
            "nothing more is tried"
        );
    }
);

on_both_backends!(
    exhausted_deliveries_fail_and_can_be_requeued,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.set_fallback(Reply::status(503));
        app.create_webhook("down", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        app.step().await;
        for delay in [5, 300, 1800, 7200] {
            app.step_after(Duration::from_secs(delay)).await;
        }
        let id = app.deliveries("status=failed").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let failed = app.delivery(&id).await;
        assert_eq!(failed["attempt_count"], 5, "one attempt plus four retries");
        assert!(
            failed["last_error"]
                .as_str()
                .unwrap()
                .contains("gave up after 5 attempts"),
            "{failed}"
        );

        let (status, _) = app
            .post(
                "/v1/deliveries/dlv_00000000000000000000000000000000/retry",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        receiver.set_fallback(Reply::status(200));
        let (status, requeued) = app
            .post(&format!("/v1/deliveries/{id}/retry"), json!({}))
            .await;
        assert_eq!(
            (status, requeued["status"].as_str()),
            (StatusCode::ACCEPTED, Some("pending"))
        );
        let (status, conflict) = app
            .post(&format!("/v1/deliveries/{id}/retry"), json!({}))
            .await;
        assert_eq!(
            (status, conflict["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );

        app.step_after(Duration::from_millis(1)).await;
        let delivered = app.delivery(&id).await;
        assert_eq!(delivered["status"], "success");
        assert_eq!(delivered["attempt_count"], 6);
    }
);

on_both_backends!(
    retry_after_pushes_the_next_attempt_back,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([Reply::status(429).header("retry-after", "120")]);
        app.create_webhook("throttled", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        app.step().await;
        let delivery = &app.deliveries("").await[0];
        let next: chrono::DateTime<chrono::Utc> = delivery["next_attempt_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let wait = (next - app.clock.now()).num_seconds();
        assert!(
            (119..=121).contains(&wait),
            "next attempt in {wait}s, not the schedule's 5s"
        );
        assert_eq!(app.step_after(Duration::from_secs(60)).await, 0);
        assert_eq!(app.step_after(Duration::from_secs(60)).await, 1);
    }
);

on_both_backends!(
    an_idempotency_key_replays_without_new_deliveries,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        app.create_webhook("once", &receiver.url("/"), json!({}))
            .await;
        let event = json!({"type": "scan_done", "idempotency_key": "scan-7f3a"});
        let first = app.emit(event.clone()).await;
        let response = app
            .client
            .post(format!("{}/v1/events", app.base))
            .bearer_auth(support::TOKEN)
            .json(&event)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(
            response.headers().get("idempotent-replayed").unwrap(),
            "true"
        );
        let replay: Value = response.json().await.unwrap();
        assert_eq!(replay["id"], first.as_str());
        assert_eq!(app.deliveries("").await.len(), 1);
        app.step().await;
        assert_eq!(receiver.received().len(), 1);
    }
);

on_both_backends!(
    the_three_filters_admit_and_reject,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let url = receiver.url("/");
        let by_event = app
            .create_webhook(
                "by-event",
                &url,
                json!({"events": ["scan_done", "finding_new"]}),
            )
            .await;
        let by_target = app
            .create_webhook(
                "by-target",
                &url,
                json!({"target_ids": ["repo-1", "dast-2"]}),
            )
            .await;
        let by_severity = app
            .create_webhook("by-severity", &url, json!({"severity_filter": "high"}))
            .await;
        let disabled = app
            .create_webhook("disabled", &url, json!({"enabled": false}))
            .await;

        let cases = [
            (
                json!({"type": "scan_done", "target_id": "repo-1"}),
                [true, true, true],
            ),
            (
                json!({"type": "scan_started", "target_id": "repo-9"}),
                [false, false, true],
            ),
            (
                json!({"type": "finding_new", "target_id": "dast-2", "severity": "critical"}),
                [true, true, true],
            ),
            (
                json!({"type": "finding_new", "target_id": "repo-1", "severity": "medium"}),
                [true, true, false],
            ),
            (
                json!({"type": "finding_changed", "severity": "high"}),
                [false, false, true],
            ),
            (json!({"type": "finding_changed"}), [false, false, false]),
            (
                json!({"type": "scan_failed", "severity": "info"}),
                [false, false, true],
            ),
        ];
        for (event, expected) in cases {
            let event_id = app.emit(event.clone()).await;
            let got: Vec<String> = app
                .deliveries(&format!("event_id={event_id}"))
                .await
                .iter()
                .map(|d| d["integration_id"].as_str().unwrap().to_owned())
                .collect();
            for (integration, admitted) in [&by_event, &by_target, &by_severity]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(
                    got.contains(integration),
                    admitted,
                    "{event} → {integration}"
                );
            }
            assert!(
                !got.contains(&disabled),
                "disabled integrations get nothing"
            );
        }
        let for_target = app.deliveries(&format!("integration_id={by_target}")).await;
        assert_eq!(for_target.len(), 3);
    }
);

on_both_backends!(
    deleting_an_integration_ends_its_pending_deliveries,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let id = app
            .create_webhook("doomed", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        assert_eq!(
            app.delete(&format!("/v1/integrations/{id}")).await,
            StatusCode::NO_CONTENT
        );
        let delivery = &app.deliveries("").await[0];
        assert_eq!(
            (delivery["status"].as_str(), delivery["last_error"].as_str()),
            (Some("failed"), Some("integration deleted"))
        );
        assert_eq!(app.step().await, 0);
        assert!(receiver.received().is_empty());
    }
);

on_both_backends!(
    routing_follows_integration_changes_at_once,
    |app: support::TestApp| async move {
        let (old, new) = (Receiver::start().await, Receiver::start().await);
        let scan_done = || json!({"type": "scan_done"});
        // An event first, so the organisation's routing input is loaded (and cached).
        assert_eq!(app.emit_and_count(scan_done()).await, 0);

        let id = app.create_webhook("late", &old.url("/"), json!({})).await;
        assert_eq!(
            app.emit_and_count(scan_done()).await,
            1,
            "a new integration hears the next event"
        );

        let path = format!("/v1/integrations/{id}");
        app.patch(&path, json!({"config": {"webhook_url": new.url("/")}}))
            .await;
        app.emit(scan_done()).await;
        // The test app steps one delivery at a time.
        assert_eq!(app.step().await + app.step().await, 2);
        let sent = (old.received().len(), new.received().len());
        assert_eq!(
            sent,
            (0, 2),
            "both pending deliveries go out under the new URL"
        );

        app.patch(&path, json!({"enabled": false})).await;
        assert_eq!(
            app.emit_and_count(scan_done()).await,
            0,
            "a disabled integration hears nothing"
        );
        app.patch(&path, json!({"enabled": true})).await;
        assert_eq!(app.emit_and_count(scan_done()).await, 1);
        assert_eq!(app.delete(&path).await, StatusCode::NO_CONTENT);
        assert_eq!(
            app.emit_and_count(scan_done()).await,
            0,
            "a deleted integration hears nothing"
        );
    }
);

on_both_backends!(
    binary_response_bodies_are_recorded,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([Reply::status(500).body("bad\0gateway\0")]);
        app.create_webhook("binary", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        assert_eq!(
            app.step().await,
            1,
            "the attempt with a NUL-laden body is recorded"
        );
        app.step_after(Duration::from_secs(5)).await;
        let id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let delivery = app.delivery(&id).await;
        assert_eq!(delivery["status"], "success");
        assert_eq!(
            delivery["attempts"][0]["response_excerpt"],
            "bad\u{FFFD}gateway\u{FFFD}"
        );
    }
);
