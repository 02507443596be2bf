//! Integration secrets at rest: what deleting an integration leaves behind.

mod support;

use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    deleting_an_integration_leaves_no_row_and_no_blob,
    |app: support::TestApp| async move {
        let id = app
            .create_webhook("doomed", "http://127.0.0.1:9/hook", json!({}))
            .await;
        assert_eq!(
            app.delete(&format!("/v1/integrations/{id}")).await,
            StatusCode::NO_CONTENT
        );
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM integrations WHERE id = $1")
            .bind(&id)
            .fetch_one(app.engine.store().pool())
            .await
            .unwrap();
        assert_eq!(count, 0);
        let (status, _) = app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);

on_both_backends!(
    a_destination_echoing_the_encoded_credential_gets_it_scrubbed,
    |app: support::TestApp| async move {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        use base64::Engine;
        use herald_testkit::{Receiver, Reply};

        const KEY: &str = "cust0m-api-key-5ecret/value+1";
        let receiver = Receiver::start().await;
        // A debug echo: the header it received, base64 (standard and URL-safe) and
        // percent-encoded, as an error page might show it.
        let echo = format!(
            "headers={} alt={} q={}",
            STANDARD.encode(format!("x-api-key: {KEY}")),
            URL_SAFE_NO_PAD.encode(KEY),
            "cust0m-api-key-5ecret%2Fvalue%2B1",
        );
        receiver.script([Reply::status(400).body(&echo)]);
        let (status, created) = app
            .post(
                "/v1/integrations",
                json!({"kind": "custom", "name": "echoing",
                       "config": {"api_url": receiver.url("/in"), "api_key": KEY}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        app.emit(json!({"type": "scan_done"})).await;
        app.step().await;
        assert_eq!(receiver.received()[0].header("x-api-key"), Some(KEY));
        let id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let delivery = app.delivery(&id).await;
        let excerpt = delivery["attempts"][0]["response_excerpt"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(excerpt.matches("[redacted]").count(), 3, "{excerpt}");
        let stored = delivery.to_string();
        for leaked in [
            &STANDARD.encode(KEY)[..24],
            &URL_SAFE_NO_PAD.encode(KEY)[..24],
            "5ecret",
        ] {
            assert!(!stored.contains(leaked), "{leaked} in {stored}");
        }
    }
);
