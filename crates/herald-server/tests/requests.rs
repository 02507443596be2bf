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
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
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

fn many(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// A 422 naming `field`.
fn refused(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
}

on_both_backends!(
    every_list_has_a_documented_cap_and_repeats_are_dropped,
    |app: TestApp| async move {
        // target_ids: 10,000 accepted (repeats dropped, order kept), 10,001 refused.
        let mut ids = many("t-", 10_000);
        ids.insert(1, "t-0".into());
        ids.truncate(10_000);
        let id = app
            .create_webhook(
                "many targets",
                "https://receiver.example.com/hook",
                json!({"target_ids": ids}),
            )
            .await;
        let (_, created) = app.get(&format!("/v1/integrations/{id}")).await;
        let kept = created["target_ids"].as_array().unwrap();
        assert_eq!(kept.len(), 9_999, "the repeated t-0 is kept once");
        assert_eq!(
            (kept[0].as_str(), kept[1].as_str()),
            (Some("t-0"), Some("t-1"))
        );
        let body = json!({"kind": "webhook", "name": "too many", "config": {"webhook_url": "https://x.example.com"},
                          "target_ids": many("t-", 10_001)});
        let (status, error) = app.post("/v1/integrations", body).await;
        refused(status, &error, "target_ids");
        assert!(error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10000"));
        let (status, error) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"events": many("type.", 257)}),
            )
            .await;
        refused(status, &error, "events");

        // An integration's destinations: 8 per list, 50 environments.
        let urls = |n| many("https://hooks.example.com/", n);
        let (status, error) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"destinations": {"default": urls(9)}}),
            )
            .await;
        refused(status, &error, "destinations.default");
        let (status, error) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"destinations": {"environments": {"production": urls(9)}}}),
            )
            .await;
        refused(status, &error, "destinations.environments.production");
        let environments: serde_json::Map<String, Value> = many("env-", 51)
            .into_iter()
            .map(|env| (env, json!(["https://hooks.example.com/a"])))
            .collect();
        let (status, error) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"destinations": {"environments": environments}}),
            )
            .await;
        refused(status, &error, "destinations.environments");
        // The cap counts what is sent; repeats are then dropped.
        let mut eight = urls(7);
        eight.push(eight[0].clone());
        let (status, patched) = app
            .patch(
                &format!("/v1/integrations/{id}"),
                json!({"destinations": {"default": eight}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["destinations"]["default"], json!(urls(7)));

        // An attachment's destinations: the same caps.
        app.post("/v1/stacks", json!({"name": "s"})).await;
        app.post("/v1/namespaces", json!({"name": "n", "stack": "s"}))
            .await;
        app.post("/v1/modules", json!({"name": "m", "namespace": "n"}))
            .await;
        let body = json!({"integration_id": id, "module": "m", "run_after": "plan",
                          "destinations": {"default": urls(9)}});
        let (status, error) = app.post("/v1/attachments", body).await;
        refused(status, &error, "destinations.default");

        // An integration event's destinations and environments.
        let demand = |extra: Value| {
            let mut body = json!({"integration_id": id, "name": "runs", "trigger": "iac.run.*",
                                  "scope": {"kind": "organisation"}});
            for (key, value) in extra.as_object().unwrap() {
                body[key] = value.clone();
            }
            body
        };
        let (status, error) = app
            .post(
                "/v1/integration-events",
                demand(json!({"destinations": urls(9)})),
            )
            .await;
        refused(status, &error, "destinations");
        let (status, error) = app
            .post(
                "/v1/integration-events",
                demand(json!({"environments": many("env-", 101)})),
            )
            .await;
        refused(status, &error, "environments");
        let (status, created) = app
            .post(
                "/v1/integration-events",
                demand(json!({"environments": ["prod", "prod", "dev"]})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["environments"], json!(["prod", "dev"]));
    }
);

on_both_backends!(
    cursors_are_opaque_and_a_malformed_one_is_refused,
    |app: TestApp| async move {
        let mut created = Vec::new();
        for name in ["a", "b", "c"] {
            created.push(
                app.create_webhook(name, "https://receiver.example.com/hook", json!({}))
                    .await,
            );
        }
        // Paging with the cursors given visits every integration once.
        let mut seen = Vec::new();
        let mut path = "/v1/integrations?limit=2".to_owned();
        loop {
            let (status, page) = app.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for item in page["data"].as_array().unwrap() {
                seen.push(item["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    assert!(
                        !created.iter().any(|id| cursor.contains(id.as_str())),
                        "the cursor shows an id: {cursor}"
                    );
                    path = format!("/v1/integrations?limit=2&cursor={cursor}");
                }
                None => break,
            }
        }
        seen.sort();
        created.sort();
        assert_eq!(seen, created);
        // Garbage, an empty cursor or a bare id is refused on every listing, naming `cursor`.
        let listings = [
            "/v1/integrations",
            "/v1/integration-events",
            "/v1/deliveries",
            "/v1/attachments",
            "/v1/principals",
            "/v1/audit",
            "/v1/stacks",
            "/v1/namespaces",
            "/v1/modules",
            "/v1/stack-supplies",
        ];
        for listing in listings {
            for cursor in ["garbage", "", created[0].as_str()] {
                let (status, body) = app.get(&format!("{listing}?cursor={cursor}")).await;
                refused(status, &body, "cursor");
            }
        }
    }
);

on_both_backends!(
    only_rfc3339_times_within_the_years_1970_to_9999_are_accepted,
    |app: TestApp| async move {
        for occurred_at in [
            "+99999-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-01-02",
            "yesterday",
        ] {
            let (status, body) = app
                .post(
                    "/v1/events",
                    json!({"type": "scan_done", "occurred_at": occurred_at}),
                )
                .await;
            refused(status, &body, "occurred_at");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(!message.contains("line 1"), "{message}");
        }
        let (status, body) = app
            .post(
                "/v1/tokens",
                json!({"name": "far", "expires_at": "+99999-01-01T00:00:00Z"}),
            )
            .await;
        refused(status, &body, "expires_at");
        for (parameter, time) in [
            ("since", "%2B99999-01-01T00:00:00Z"),
            ("until", "-0001-01-01T00:00:00Z"),
        ] {
            let (status, body) = app.get(&format!("/v1/events?{parameter}={time}")).await;
            refused(status, &body, parameter);
        }
        // An offset is read as the same instant in UTC, and returned as RFC 3339.
        let id = app
            .emit(json!({"type": "scan_done", "occurred_at": "2026-01-02T05:04:05+02:00"}))
            .await;
        let (_, event) = app.get(&format!("/v1/events/{id}")).await;
        assert_eq!(event["timestamp"], "2026-01-02T03:04:05.000Z", "{event}");
    }
);

on_both_backends!(
    the_openapi_document_says_what_the_api_answers,
    |app: TestApp| async move {
        let document: Value = app
            .client
            .get(format!("{}/openapi.json", app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut lists = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                let responses = operation["responses"].as_object().unwrap();
                let parameters = operation["parameters"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for parameter in &parameters {
                    let name = parameter["name"].as_str().unwrap();
                    let placed_in_path = path.contains(&format!("{{{name}}}"));
                    match placed_in_path {
                        true => assert_eq!(parameter["in"], "path", "{at} {name}"),
                        false => {
                            assert_eq!(parameter["in"], "query", "{at} {name}");
                            assert_ne!(parameter["required"], true, "{at} {name}");
                        }
                    }
                    if name == "limit" {
                        assert_eq!(parameter["schema"]["minimum"], 1, "{at}");
                        assert_eq!(parameter["schema"]["maximum"], 250, "{at}");
                    }
                    if name == "cursor" {
                        assert_eq!(parameter["schema"]["minLength"], 1, "{at}");
                    }
                }
                let has_query = parameters.iter().any(|p| p["in"] == "query");
                let has_body = operation.get("requestBody").is_some();
                lists += usize::from(parameters.iter().any(|p| p["name"] == "cursor"));
                assert!(responses.contains_key("401"), "{at} documents 401");
                for status in ["400", "415", "422"].into_iter().filter(|_| has_body) {
                    assert!(responses.contains_key(status), "{at} documents {status}");
                }
                if has_query {
                    assert!(responses.contains_key("422"), "{at} documents 422");
                }
            }
        }
        assert!(lists >= 12, "{lists} list operations take a cursor");
        let create = &document["components"]["schemas"]["CreateIntegration"]["properties"];
        assert_eq!(create["name"]["minLength"], 1);
        assert_eq!(create["kind"]["minLength"], 1);
        // What the document says, the server does: an empty query parameter is refused.
        let (status, body) = app.get("/v1/stacks?name=").await;
        refused(status, &body, "name");
    }
);

on_both_backends!(
    an_array_is_not_read_as_an_object,
    |app: TestApp| async move {
        // Found by schemathesis: serde reads a struct's fields by position from an array.
        let id = app
            .create_webhook("ops", "https://receiver.example.com/hook", json!({}))
            .await;
        let one = format!("/v1/integrations/{id}");
        let (status, body) = app.patch(&one, json!([null, null])).await;
        refused(status, &body, "body");
        let (status, body) = app.patch(&one, json!({"template": [null, null]})).await;
        refused(status, &body, "template");
        let (status, body) = app
            .patch(&one, json!({"destinations": [["https://a.example.com"]]}))
            .await;
        refused(status, &body, "destinations");
        let (status, body) = app
            .post(
                "/v1/integration-events",
                json!({"integration_id": id, "name": "x", "trigger": "*", "scope": ["organisation"]}),
            )
            .await;
        refused(status, &body, "scope");
        // Objects still work, and null still clears.
        let (status, body) = app
            .patch(&one, json!({"template": {"title": "{{ title }}"}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app.patch(&one, json!({"template": null})).await;
        assert_eq!((status, &body["template"]), (StatusCode::OK, &Value::Null));
    }
);

on_both_backends!(
    patching_an_integration_whose_filters_are_inert_warns,
    |app: TestApp| async move {
        let id = app
            .create_webhook(
                "ops",
                "https://receiver.example.com/hook",
                json!({"severity_filter": "high"}),
            )
            .await;
        let one = format!("/v1/integrations/{id}");
        // Routed by its filters: nothing to warn about.
        let (status, body) = app.patch(&one, json!({"name": "ops hook"})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.get("warnings").is_none(), "{body}");
        let (status, _) = app
            .post(
                "/v1/integration-events",
                json!({"integration_id": id, "name": "runs", "trigger": "iac.run.*",
                       "scope": {"kind": "organisation"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = app.patch(&one, json!({"events": ["scan_done"]})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["routing_model"], "supply_demand");
        let fields: Vec<&str> = body["warnings"]
            .as_array()
            .expect("a warnings list")
            .iter()
            .map(|w| w["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, vec!["events", "severity_filter"], "{body}");
        assert!(body["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no longer applies"));
        // Cleared filters: nothing to warn about any more.
        let (_, body) = app
            .patch(&one, json!({"events": null, "severity_filter": null}))
            .await;
        assert!(body.get("warnings").is_none(), "{body}");
    }
);
