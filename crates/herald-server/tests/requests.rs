//! Issue 9's API items, end to end: what a request must look like (media type, auth scheme),
//! that every error answer is the documented JSON, list sizes and their caps, cursors, times.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use support::{TestApp, TOKEN};

/// Sends `body` with the given Content-Type header (or none) and returns the status and body.
async fn send_with_type(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(TOKEN)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: the answer is not JSON: {text:?}"));
    (status, body)
}

on_both_backends!(
    a_body_not_declared_json_is_refused_with_415_on_every_json_endpoint,
    |app: TestApp| async move {
        let integration = app
            .create_webhook("ops", "https://receiver.example.com/hook", json!({}))
            .await;
        let event = json!({"type": "scan_done"}).to_string();
        let endpoints = [
            (Method::POST, "/v1/events".to_owned(), event.clone()),
            (
                Method::POST,
                "/v1/integrations".to_owned(),
                json!({"kind": "webhook", "name": "x", "config": {"webhook_url": "https://x.example.com"}}).to_string(),
            ),
            (
                Method::PATCH,
                format!("/v1/integrations/{integration}"),
                json!({"name": "renamed"}).to_string(),
            ),
            (
                Method::POST,
                "/v1/principals".to_owned(),
                json!({"kind": "user", "name": "u"}).to_string(),
            ),
            (
                Method::POST,
                "/v1/stacks".to_owned(),
                json!({"name": "s"}).to_string(),
            ),
        ];
        for (method, path, body) in &endpoints {
            for content_type in [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
            ] {
                let (status, answer) =
                    send_with_type(&app, method.clone(), path, content_type, body).await;
                assert_eq!(
                    status,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "{method} {path} with {content_type:?}: {answer}"
                );
                assert_eq!(answer["error"]["code"], "unsupported_media_type");
                assert_eq!(answer["error"]["field"], "content-type");
                assert!(answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"));
            }
        }
        // Nothing was created by the refused requests.
        let (_, events) = app.get("/v1/deliveries").await;
        assert_eq!(events["data"], json!([]));
        let (_, integrations) = app.get("/v1/integrations").await;
        assert_eq!(integrations["data"].as_array().unwrap().len(), 1);
        // With a charset parameter it is JSON.
        let (status, answer) = send_with_type(
            &app,
            Method::POST,
            "/v1/events",
            Some("application/json; charset=utf-8"),
            &event,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    }
);

on_both_backends!(
    the_bearer_scheme_is_case_insensitive,
    |app: TestApp| async move {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let response = app
                .client
                .get(format!("{}/v1/integrations", app.base))
                .header("authorization", format!("{scheme} {TOKEN}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        }
        let response = app
            .client
            .get(format!("{}/v1/integrations", app.base))
            .header("authorization", format!("Basic {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
);

on_both_backends!(
    answers_made_below_the_handlers_are_the_documented_json_error,
    |app: TestApp| async move {
        // A method the path does not take: 405 with its Allow header, in the JSON format.
        let response = app
            .client
            .put(format!("{}/v1/integrations", app.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
        // A path segment that is not UTF-8 once decoded: 400 naming the path.
        let (status, body) =
            send_with_type(&app, Method::GET, "/v1/integrations/%FF%FE", None, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "bad_request");
        assert_eq!(body["error"]["field"], "path");
        // Malformed JSON: 400 naming the body.
        let (status, body) = app.post_raw("/v1/events", "{\"type\": ").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "malformed_json");
        // A query parameter of the wrong type: 422.
        let (status, body) = app.get("/v1/integrations?limit=lots").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid_field");
    }
);

on_both_backends!(
    a_pattern_in_an_integrations_events_points_to_integration_events,
    |app: TestApp| async move {
        let (status, body) = app
            .post(
                "/v1/integrations",
                json!({"kind": "webhook", "name": "runs", "config": {"webhook_url": "https://x.example.com"},
                       "events": ["iac.run.*"]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["field"], "events[0]");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("integration event") && message.contains("/v1/integration-events"),
            "{message}"
        );
    }
);
