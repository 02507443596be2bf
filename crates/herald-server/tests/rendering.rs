//! Issue 9 (event text and links reaching destinations) and issue 10 (finished runs read as
//! finished), through the real server: links are normalised once at ingest, refused with 422
//! naming the field when they cannot be, and every destination gets the same encoded URL.

mod support;

use herald_testkit::{Receiver, Reply};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    links_are_normalised_at_ingest_and_unusable_ones_refused,
    |app: support::TestApp| async move {
        let (status, body) = app
            .post(
                "/v1/events",
                json!({"type": "scan_done", "approve_url": "javascript:alert(1)"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "approve_url", "{body}");
        let (status, body) = app
            .post(
                "/v1/events",
                json!({"type": "scan_done", "url": "https://user:pw@ci.example/runs/1"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "url", "{body}");

        let id = app
            .emit(json!({"type": "scan_done", "url": "https://CI.example/runs/a b/<x>|(y)?q={1}"}))
            .await;
        let (status, stored) = app.get(&format!("/v1/events/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            stored["url"],
            "https://ci.example/runs/a%20b/%3Cx%3E%7C(y)?q=%7B1%7D"
        );
    }
);

on_both_backends!(
    every_destination_gets_the_same_encoded_url,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.set_fallback(Reply::status(200).body("ok"));
        for (kind, config) in [
            ("slack", json!({"webhook_url": receiver.url("/slack")})),
            ("teams", json!({"webhook_url": receiver.url("/teams")})),
            (
                "google_chat",
                json!({"webhook_url": receiver.url("/v1/spaces/S1/messages?key=k&token=t")}),
            ),
        ] {
            let (status, created) = app
                .post(
                    "/v1/integrations",
                    json!({"kind": kind, "name": kind, "config": config}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
        }
        app.emit(json!({"type": "iac.run.applied", "title": "Run #44",
                        "url": "https://ci.example/runs/<44>|x y"}))
            .await;
        app.step_all().await;
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        let encoded = "https://ci.example/runs/%3C44%3E%7Cx%20y";
        for request in &received {
            let body = request.json().to_string();
            assert!(body.contains(encoded), "{}: {body}", request.path);
            assert!(!body.contains("<44>"), "{}: {body}", request.path);
        }
        let teams = received.iter().find(|r| r.path == "/teams").unwrap();
        assert_eq!(
            teams.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        // An applied run reads as applied, in green, not as a grey "Open".
        let slack = received.iter().find(|r| r.path == "/slack").unwrap().json();
        assert_eq!(slack["attachments"][0]["text"], "Applied");
        assert_eq!(slack["attachments"][0]["color"], "#2EB67D");
    }
);
