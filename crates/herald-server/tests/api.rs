//! The Integrations and Events APIs: auth, validation, secrecy, updates, tests, OpenAPI.

mod support;

use herald_testkit::{Receiver, Reply};
use reqwest::StatusCode;
use serde_json::{json, Value};

on_both_backends!(
    v1_needs_a_token_but_health_and_openapi_do_not,
    |app: support::TestApp| async move {
        for (token, expected) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some("wrong-token-wrong-token"), StatusCode::UNAUTHORIZED),
        ] {
            let mut request = app.client.get(format!("{}/v1/integrations", app.base));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), expected);
            assert_eq!(
                response.headers().get("www-authenticate").unwrap(),
                "Bearer"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
        let health = app
            .client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let openapi: Value = app
            .client
            .get(format!("{}/openapi.json", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(openapi["openapi"].as_str().unwrap().starts_with("3.1"));
        for path in [
            "/v1/integrations",
            "/v1/integrations/{id}",
            "/v1/integrations/{id}/test",
            "/v1/events",
            "/v1/deliveries",
            "/v1/deliveries/{id}/retry",
            "/v1/events/{id}/routing",
            "/v1/routing/explain",
        ] {
            assert!(openapi["paths"].get(path).is_some(), "{path} is documented");
        }
        assert!(openapi["components"]["schemas"]
            .get("CreateIntegration")
            .is_some());
    }
);

on_both_backends!(
    config_values_are_never_returned_nor_stored_in_plaintext,
    |app: support::TestApp| async move {
        let url = "http://127.0.0.1:9/hook/SECRET-PATH-42";
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let (status, created) = app
        .post("/v1/integrations", json!({"kind": "webhook", "name": "secretive", "config": {"webhook_url": url, "hmac_secret": secret}}))
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["id"].as_str().unwrap();
        assert_eq!(
            created["config_keys"],
            json!(["webhook_url", "hmac_secret"])
        );
        let (_, one) = app.get(&format!("/v1/integrations/{id}")).await;
        let (_, list) = app.get("/v1/integrations").await;
        let (_, patched) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"name": "renamed"}),
            )
            .await;
        for body in [&created, &one, &list, &patched] {
            let text = body.to_string();
            assert!(
                !text.contains("SECRET-PATH-42") && !text.contains("C2FVsBQIhrsc"),
                "leaked: {text}"
            );
            assert!(body.get("config").is_none());
        }
        let row: (String,) = sqlx::query_as("SELECT config_sealed FROM integrations WHERE id = $1")
            .bind(id)
            .fetch_one(app.engine.store().pool())
            .await
            .unwrap();
        assert!(
            row.0.starts_with("hsb2.")
                && !row.0.contains("SECRET-PATH")
                && !row.0.contains("C2FVsBQIhrsc")
        );
    }
);

on_both_backends!(
    bad_input_is_refused_by_field_and_nothing_is_half_created,
    |app: support::TestApp| async move {
        let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
            (
                "malformed json",
                Value::Null,
                StatusCode::BAD_REQUEST,
                "body",
            ),
            (
                "unknown kind",
                json!({"kind": "carrier_pigeon", "name": "a", "config": {}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "kind",
            ),
            (
                "missing webhook_url",
                json!({"kind": "webhook", "name": "a", "config": {}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.webhook_url",
            ),
            (
                "non-http url",
                json!({"kind": "webhook", "name": "a", "config": {"webhook_url": "file:///etc/passwd"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.webhook_url",
            ),
            (
                "wrong type",
                json!({"kind": "webhook", "name": "a", "enabled": "yes", "config": {"webhook_url": "http://127.0.0.1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "enabled",
            ),
            (
                "wrong list type",
                json!({"kind": "webhook", "name": "a", "events": "scan_done", "config": {"webhook_url": "http://127.0.0.1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events",
            ),
            (
                "bad severity",
                json!({"kind": "webhook", "name": "a", "severity_filter": "urgent", "config": {"webhook_url": "http://127.0.0.1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "severity_filter",
            ),
            (
                "unknown field",
                json!({"kind": "webhook", "name": "a", "colour": "red", "config": {"webhook_url": "http://127.0.0.1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "colour",
            ),
            (
                "missing name",
                json!({"kind": "webhook", "config": {"webhook_url": "http://127.0.0.1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "name",
            ),
            (
                "config not an object",
                json!({"kind": "webhook", "name": "a", "config": "http://127.0.0.1/"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config",
            ),
            (
                "bad secret",
                json!({"kind": "webhook", "name": "a", "config": {"webhook_url": "http://127.0.0.1/", "hmac_secret": "whsec_"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.hmac_secret",
            ),
            (
                "hostile address",
                json!({"kind": "webhook", "name": "a", "config": {"webhook_url": "http://169.254.169.254/latest/meta-data"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.webhook_url",
            ),
            (
                "metadata by name",
                json!({"kind": "webhook", "name": "a", "config": {"webhook_url": "http://metadata.google.internal./computeMetadata/v1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.webhook_url",
            ),
            (
                "hostile address in a list",
                json!({"kind": "teams", "name": "a", "config": {"webhook_urls": ["https://example.webhook.office.com/x", "http://[::ffff:a9fe:a9fe]/"]}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.webhook_urls[1]",
            ),
            (
                "hostile SMTP server",
                json!({"kind": "email", "name": "a", "config": {"smtp_url": "smtps://u:p@0xa9fea9fe/", "from": "a@example.com", "to": ["b@example.com"]}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "config.smtp_url",
            ),
            (
                "bad event type",
                json!({"kind": "webhook", "name": "a", "events": ["ok", "not ok"], "config": {"webhook_url": "http://127.0.0.1/"}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "events[1]",
            ),
        ];
        for (what, body, status, field) in cases {
            let (got, error) = if body.is_null() {
                app.post_raw("/v1/integrations", r#"{"kind": "webhook", "name": "#)
                    .await
            } else {
                app.post("/v1/integrations", body).await
            };
            assert_eq!(got, status, "{what}: {error}");
            assert_eq!(error["error"]["field"], field, "{what}: {error}");
            assert!(!error["error"]["message"].as_str().unwrap().is_empty());
        }
        let (_, list) = app.get("/v1/integrations").await;
        assert_eq!(list["data"], json!([]), "nothing was half-created");

        let events: Vec<(Value, &str)> = vec![
            (json!({"type": "scan_done", "colour": "red"}), "colour"),
            (
                json!({"type": "scan_done", "severity": "urgent"}),
                "severity",
            ),
            (json!({"type": 5}), "type"),
            (json!({"summary": "no type"}), "type"),
            (
                json!({"type": "scan_done", "occurred_at": "yesterday"}),
                "occurred_at",
            ),
            (
                json!({"type": "scan_done", "url": "javascript:alert(1)"}),
                "url",
            ),
        ];
        for (event, field) in events {
            let (status, error) = app.post("/v1/events", event.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{event}: {error}");
            assert_eq!(error["error"]["field"], field, "{event}: {error}");
        }
        let (status, _) = app.post_raw("/v1/events", "{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let huge = format!(
            r#"{{"type": "scan_done", "summary": "{}"}}"#,
            "x".repeat(3 << 20)
        );
        let (status, error) = app.post_raw("/v1/events", &huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error["error"]["code"], "payload_too_large");
        let (status, error) = app.get("/v1/deliveries?status=lost").await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
        );
    }
);

on_both_backends!(
    patch_updates_normalises_and_merges_config,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let id = app
            .create_webhook(
                "patchable",
                &receiver.url("/a"),
                json!({"events": ["scan_done"], "target_ids": ["t1"], "severity_filter": "low"}),
            )
            .await;
        let path = format!("/v1/integrations/{id}");
        let (status, patched) = app
        .patch(&path, json!({"name": "patched", "events": [], "target_ids": null, "enabled": false, "config": {"hmac_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}))
        .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], "patched");
        assert_eq!(
            patched["events"],
            Value::Null,
            "empty arrays normalise to null"
        );
        assert_eq!(patched["target_ids"], Value::Null);
        assert_eq!(patched["severity_filter"], "low", "absent fields stay");
        assert_eq!(patched["enabled"], false);
        assert_eq!(
            patched["config_keys"],
            json!(["webhook_url", "hmac_secret"]),
            "config is merged, not replaced"
        );

        let (status, error) = app
            .patch(&path, json!({"config": {"webhook_url": null}}))
            .await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("config.webhook_url"))
        );
        let (status, error) = app.patch(&path, json!({"kind": "slack"})).await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("kind"))
        );
        let (_, unchanged) = app.get(&path).await;
        assert_eq!(
            unchanged["config_keys"],
            json!(["webhook_url", "hmac_secret"]),
            "a refused PATCH changes nothing"
        );

        app.create_webhook("taken", &receiver.url("/b"), json!({}))
            .await;
        let (status, error) = app.patch(&path, json!({"name": "taken"})).await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::CONFLICT, Some("name"))
        );

        let (status, found) = app.get("/v1/integrations?name=taken").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(found["data"].as_array().unwrap().len(), 1);
        assert_eq!(found["data"][0]["name"], "taken");

        assert_eq!(app.delete(&path).await, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&path).await, StatusCode::NOT_FOUND);
        assert_eq!(
            app.get("/v1/integrations/not-an-id").await.0,
            StatusCode::NOT_FOUND
        );
    }
);

on_both_backends!(
    the_test_call_sends_a_test_event_and_reports,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        receiver.script([
            Reply::status(200).body("thanks"),
            Reply::status(500).body("boom"),
        ]);
        let id = app
            .create_webhook("testable", &receiver.url("/t"), json!({}))
            .await;
        let (status, result) = app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            result,
            json!({"ok": true, "status": 200, "response": "thanks"})
        );
        assert_eq!(receiver.received()[0].json()["type"], "herald.test");
        let (_, result) = app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(
            result,
            json!({"ok": false, "status": 500, "response": "boom"})
        );
        assert!(
            app.deliveries("").await.is_empty(),
            "tests are not recorded as deliveries"
        );
    }
);

on_both_backends!(
    lists_page_newest_first,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        app.create_webhook("pager", &receiver.url("/"), json!({}))
            .await;
        let mut emitted = Vec::new();
        for _ in 0..5 {
            emitted.push(app.emit(json!({"type": "scan_done"})).await);
        }
        let (_, first) = app.get("/v1/deliveries?limit=2").await;
        let cursor = first["next_cursor"].as_str().unwrap();
        let (_, second) = app
            .get(&format!("/v1/deliveries?limit=2&cursor={cursor}"))
            .await;
        let (_, third) = app
            .get(&format!(
                "/v1/deliveries?limit=2&cursor={}",
                second["next_cursor"].as_str().unwrap()
            ))
            .await;
        let events: Vec<_> = [&first, &second, &third]
            .iter()
            .flat_map(|page| {
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["event_id"].as_str().unwrap().to_owned())
            })
            .collect();
        emitted.reverse();
        assert_eq!(events, emitted);
        assert_eq!(third["next_cursor"], Value::Null);
        assert_eq!(
            app.get("/v1/deliveries?limit=0").await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (status, event) = app.get(&format!("/v1/events/{}", emitted[0])).await;
        assert_eq!(
            (status, event["type"].as_str()),
            (StatusCode::OK, Some("scan_done"))
        );
    }
);

on_both_backends!(
    routing_is_explained_for_stored_and_hypothetical_events,
    |app: support::TestApp| async move {
        let receiver = Receiver::start().await;
        let url = receiver.url("/");
        let by_event = app
            .create_webhook("by-event", &url, json!({"events": ["scan_done"]}))
            .await;
        let by_severity = app
            .create_webhook("by-severity", &url, json!({"severity_filter": "high"}))
            .await;
        let off = app
            .create_webhook("off", &url, json!({"enabled": false}))
            .await;
        let verdicts = |explanation: &Value| -> Vec<(String, String, Value, Value)> {
            explanation["integrations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let id = d["integration_id"].as_str().unwrap().to_owned();
                    (
                        id,
                        d["verdict"].as_str().unwrap().to_owned(),
                        d["reason"].clone(),
                        d["delivery_id"].clone(),
                    )
                })
                .collect()
        };

        let (status, dry) = app
            .post(
                "/v1/routing/explain",
                json!({"type": "finding_new", "severity": "medium"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dry}");
        assert_eq!(dry["event_id"], Value::Null);
        assert_eq!(
            verdicts(&dry),
            vec![
                (
                    by_event.clone(),
                    "skip".into(),
                    json!({"code": "event_not_subscribed", "event_type": "finding_new"}),
                    Value::Null
                ),
                (
                    by_severity.clone(),
                    "skip".into(),
                    json!({"code": "severity_below_filter", "severity": "medium", "minimum": "high"}),
                    Value::Null
                ),
                (
                    off.clone(),
                    "skip".into(),
                    json!({"code": "disabled"}),
                    Value::Null
                ),
            ]
        );
        assert!(
            app.deliveries("").await.is_empty(),
            "a dry run stores and sends nothing"
        );

        let event_id = app.emit(json!({"type": "scan_done"})).await;
        let (status, stored) = app.get(&format!("/v1/events/{event_id}/routing")).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        assert_eq!(stored["event_id"], event_id.as_str());
        let decisions = verdicts(&stored);
        let event_delivery = app
            .deliveries(&format!("event_id={event_id}&integration_id={by_event}"))
            .await;
        let severity_delivery = app
            .deliveries(&format!("event_id={event_id}&integration_id={by_severity}"))
            .await;
        assert_eq!(
            decisions[0],
            (
                by_event,
                "deliver".into(),
                Value::Null,
                event_delivery[0]["id"].clone()
            )
        );
        assert_eq!(
            decisions[1],
            (
                by_severity,
                "deliver".into(),
                Value::Null,
                severity_delivery[0]["id"].clone()
            )
        );
        assert_eq!(
            decisions[2],
            (off, "skip".into(), json!({"code": "disabled"}), Value::Null)
        );

        let missing = app
            .get("/v1/events/evt_00000000000000000000000000000000/routing")
            .await;
        assert_eq!(missing.0, StatusCode::NOT_FOUND);
        let (status, error) = app
            .post("/v1/routing/explain", json!({"type": "scan done"}))
            .await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("type"))
        );
    }
);
