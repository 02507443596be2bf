//! Replay and recovery, end to end: retry now, re-sending an integration's failed deliveries,
//! replaying an event, and pausing and resuming an integration.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    retry_now_sends_a_waiting_delivery_at_once,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([Reply::status(503)]);
        app.create_webhook("flaky", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        assert_eq!(app.step().await, 1);
        let id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.delivery(&id).await["status"], "retrying");
        assert_eq!(app.step().await, 0, "the retry waits for its delay");

        let (status, body) = app
            .post(&format!("/v1/deliveries/{id}/retry-now"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "retrying");
        // The clock has not moved: only "retry now" makes it due.
        assert_eq!(app.step().await, 1);
        let delivery = app.delivery(&id).await;
        assert_eq!(delivery["status"], "success");
        assert_eq!(delivery["attempts"].as_array().unwrap().len(), 2);

        // Not waiting any more: 409 with a JSON body naming why.
        let (status, body) = app
            .post(&format!("/v1/deliveries/{id}/retry-now"), json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "conflict");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("success"));
        let (status, _) = app
            .post(
                "/v1/deliveries/dlv_00000000000000000000000000/retry-now",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A reader may not.
        let (_, reader) = app.principal("user", "reader", &["Reader"]).await;
        let response = app
            .request_as(
                &reader,
                reqwest::Method::POST,
                &format!("/v1/deliveries/{id}/retry-now"),
                None,
            )
            .await;
        assert_eq!(response.0, StatusCode::FORBIDDEN);
    }
);

on_both_backends!(
    resend_failed_requeues_the_failed_deliveries_of_a_window,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.set_fallback(Reply::status(400));
        let integration = app
            .create_webhook("rejecting", &receiver.url("/"), json!({}))
            .await;
        // One failure well before the window, two inside it.
        app.emit(json!({"type": "scan_done", "title": "old"})).await;
        app.step_all().await;
        app.clock.advance(Duration::from_secs(3 * 3600));
        let window_start = app.engine.now() - chrono::Duration::minutes(1);
        for title in ["a", "b"] {
            app.emit(json!({"type": "scan_done", "title": title})).await;
        }
        app.step_all().await;
        let failed = app.deliveries("status=failed").await;
        assert_eq!(failed.len(), 3);

        receiver.set_fallback(Reply::status(204));
        let (status, body) = app
            .post(
                &format!("/v1/integrations/{integration}/resend-failed"),
                json!({"since": window_start}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["requeued"], 2);
        assert_eq!(app.step_all().await, 2);
        let titles: Vec<String> = receiver.received()[3..]
            .iter()
            .map(|r| r.json()["title"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(titles.len(), 2);
        assert!(titles.contains(&"a".to_owned()) && titles.contains(&"b".to_owned()));
        assert_eq!(app.deliveries("status=failed").await.len(), 1);
        assert_eq!(app.deliveries("status=success").await.len(), 2);

        // A window that ends before it starts is refused, naming the field.
        let (status, body) = app
            .post(
                &format!("/v1/integrations/{integration}/resend-failed"),
                json!({"since": app.engine.now() + chrono::Duration::hours(1)}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "since");
        // So is a time outside RFC 3339's four-digit years.
        let (status, body) = app
            .post(
                &format!("/v1/integrations/{integration}/resend-failed"),
                json!({"since": "+99999-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains("since"), "{body}");
    }
);

on_both_backends!(
    replaying_an_event_makes_new_deliveries_recorded_as_replays,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let first = app
            .create_webhook("first", &receiver.url("/first"), json!({}))
            .await;
        app.create_webhook("second", &receiver.url("/second"), json!({}))
            .await;
        let event = app
            .emit(json!({"type": "scan_done", "title": "replay me"}))
            .await;
        assert_eq!(app.step_all().await, 2);
        let originals = app.deliveries(&format!("event_id={event}")).await;
        assert_eq!(originals.len(), 2);

        // To every integration that got it.
        let (status, body) = app
            .post(&format!("/v1/events/{event}/replay"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let replays = body["data"].as_array().unwrap().clone();
        assert_eq!(replays.len(), 2);
        for replay in &replays {
            assert_eq!(replay["replay"], true);
            assert_eq!(replay["status"], "pending");
            assert!(originals
                .iter()
                .any(|o| o["id"] == replay["replay_of"] && o["id"] != replay["id"]));
        }
        assert_eq!(app.step_all().await, 2);
        let received = receiver.received();
        assert_eq!(received.len(), 4);
        let webhook_ids: std::collections::HashSet<&str> = received
            .iter()
            .map(|r| r.header("webhook-id").unwrap())
            .collect();
        assert_eq!(webhook_ids.len(), 4, "every replay has a new id");
        assert!(received[2..]
            .iter()
            .all(|r| r.json()["id"] == event.as_str() && r.json()["title"] == "replay me"));

        // To a chosen integration only.
        let (status, body) = app
            .post(
                &format!("/v1/events/{event}/replay"),
                json!({"integration_ids": [first]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
        assert_eq!(body["data"][0]["integration_id"], first.as_str());
        assert_eq!(app.step_all().await, 1);
        assert_eq!(receiver.received().last().unwrap().path, "/first");
        assert_eq!(app.deliveries(&format!("event_id={event}")).await.len(), 5);

        // An unknown integration is refused, naming it.
        let (status, body) = app
            .post(
                &format!("/v1/events/{event}/replay"),
                json!({"integration_ids": [first, "int_00000000000000000000000000"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "integration_ids[1]");
        let (status, _) = app
            .post(
                "/v1/events/evt_00000000000000000000000000/replay",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

on_both_backends!(
    a_paused_integration_keeps_its_deliveries_waiting_until_resumed,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let integration = app
            .create_webhook("paused", &receiver.url("/"), json!({}))
            .await;
        let (status, body) = app
            .post(&format!("/v1/integrations/{integration}/pause"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["paused_at"].is_string());

        app.emit(json!({"type": "scan_done"})).await;
        app.emit(json!({"type": "scan_done"})).await;
        assert_eq!(app.step_all().await, 0, "nothing is tried while paused");
        app.clock.advance(Duration::from_secs(24 * 3600));
        assert_eq!(app.step_all().await, 0, "nor a day later");
        assert!(app.engine.store().next_due_at().await.unwrap().is_none());
        let waiting = app.deliveries("").await;
        assert!(
            waiting.iter().all(|d| d["status"] == "pending"),
            "{waiting:?}"
        );
        assert!(receiver.received().is_empty());

        // A reader may not resume it.
        let (_, reader) = app.principal("user", "reader", &["Reader"]).await;
        let response = app
            .request_as(
                &reader,
                reqwest::Method::POST,
                &format!("/v1/integrations/{integration}/resume"),
                None,
            )
            .await;
        assert_eq!(response.0, StatusCode::FORBIDDEN);

        let (status, body) = app
            .post(&format!("/v1/integrations/{integration}/resume"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["paused_at"], Value::Null);
        assert_eq!(app.step_all().await, 2);
        assert_eq!(receiver.received().len(), 2);
        assert_eq!(app.deliveries("status=success").await.len(), 2);
    }
);
