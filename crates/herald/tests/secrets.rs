//! The leak test: known secrets through every flow of the real binary.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use serde_json::json;
use support::{Herald, TOKEN};

/// Known secrets pass through every flow: none may surface in a log line, an API answer or a
/// stored attempt, even when the receiver echoes its URL back in an error.
#[tokio::test]
async fn secrets_never_reach_logs_answers_or_the_delivery_log() {
    const SECRET_PATH: &str = "T0SECRET/B0SECRET/xoxSECRETPATH";
    const HMAC: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let receiver = Receiver::start().await;
    let url = receiver.url(&format!("/services/{SECRET_PATH}"));
    receiver.set_fallback(Reply::status(500).body(&format!("no route for {url} (key {HMAC})")));
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[
        ("HERALD_DATA_DIR", dir.path().display().to_string()),
        ("HERALD_WORKERS", "4".to_owned()),
        ("HERALD_LOG", "debug".to_owned()),
    ]);
    let mut answers = Vec::new();
    let (text, created) = herald
        .call_text(
            reqwest::Method::POST,
            "/v1/integrations",
            Some(json!({"kind": "webhook", "name": "leaky", "config": {"webhook_url": url, "hmac_secret": HMAC}})),
        )
        .await;
    answers.push(text);
    let id = created["id"].as_str().unwrap().to_owned();
    let (text, _) = herald
        .call_text(
            reqwest::Method::POST,
            &format!("/v1/integrations/{id}/test"),
            None,
        )
        .await;
    answers.push(text);
    herald
        .call(
            reqwest::Method::POST,
            "/v1/events",
            Some(json!({"type": "scan_done"})),
        )
        .await;
    receiver.wait_for(3, Duration::from_secs(30)).await;
    for path in [
        format!("/v1/integrations/{id}"),
        "/v1/integrations".to_owned(),
        "/v1/deliveries".to_owned(),
    ] {
        answers.push(herald.call_text(reqwest::Method::GET, &path, None).await.0);
    }
    let delivery = herald
        .call(reqwest::Method::GET, "/v1/deliveries", None)
        .await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (detail, parsed) = herald
        .call_text(
            reqwest::Method::GET,
            &format!("/v1/deliveries/{delivery}"),
            None,
        )
        .await;
    assert!(
        parsed["attempts"][0]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("[redacted]"),
        "{detail}"
    );
    answers.push(detail);
    let log = herald.log.lock().unwrap().join("\n");
    assert!(log.contains("delivery attempt"), "the log was captured");
    for secret in [SECRET_PATH, "xoxSECRETPATH", "C2FVsBQIhrscChlQIMV", TOKEN] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
        for answer in &answers {
            assert!(!answer.contains(secret), "{secret} leaked into {answer}");
        }
    }
    herald.kill_9();
}
