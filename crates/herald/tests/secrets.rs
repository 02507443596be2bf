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
    assert!(
        log.contains("\"delivery_id\""),
        "the attempts' log was captured"
    );
    for secret in [SECRET_PATH, "xoxSECRETPATH", "C2FVsBQIhrscChlQIMV", TOKEN] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
        for answer in &answers {
            assert!(!answer.contains(secret), "{secret} leaked into {answer}");
        }
    }
    herald.kill_9();
}

/// Every credential-bearing kind, through every flow: create, read, list, rotate, test,
/// deliver against a service that echoes each request (credentials included) back in its
/// errors, the delivery
/// log, the audit log, tokens. No credential may reach a log line, an API answer (but the one
/// that shows a new token once) or any byte of the database files.
#[tokio::test]
async fn no_credential_of_any_kind_leaks_anywhere() {
    use base64::Engine as _;
    let fake = Receiver::start().await;
    let slack = "xoxb-1111-2222-LEAKSLACKTOKEN";
    let pagerduty = "LEAKPD0123456789abcdef0123456789";
    let jira = "LEAKJIRATOKEN123";
    let jira_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("leak@example.com:{jira}"));
    let telegram = "123456789:LEAKTELEGRAMTOKENabcdefghijklmnopqr";
    let github = "ghp_LEAKGITHUBTOKEN0123";
    let opsgenie = "LEAKOPSGENIEKEY-0123";
    let custom = "LEAKCUSTOMKEY-0123";
    let rotated = "xoxb-3333-4444-LEAKROTATEDTOKEN";
    let secrets = [
        slack,
        pagerduty,
        jira,
        &jira_basic,
        telegram,
        github,
        opsgenie,
        custom,
        rotated,
        TOKEN,
    ];
    // A careless service that quotes the whole request back in its error.
    fake.set_fallback(Reply::status(500).body("bad request:").echoing());
    let base = fake.url("");
    let endpoints = ["slack", "telegram", "pagerduty", "opsgenie_us", "github"]
        .map(|name| format!("{name}={base}"))
        .join(",");
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[
        ("HERALD_DATA_DIR", dir.path().display().to_string()),
        ("HERALD_WORKERS", "4".to_owned()),
        ("HERALD_LOG", "debug".to_owned()),
        ("HERALD_PROVIDER_ENDPOINTS", endpoints),
    ]);
    let configs = [
        (
            "slack",
            json!({"bot_token": slack, "default_channel": "C0123"}),
        ),
        ("pagerduty", json!({"routing_key": pagerduty})),
        (
            "jira",
            json!({"base_url": base, "email": "leak@example.com", "api_token": jira, "project_key": "OPS"}),
        ),
        (
            "telegram",
            json!({"bot_token": telegram, "chat_id": -100123}),
        ),
        ("github", json!({"repo": "acme/infra", "token": github})),
        ("opsgenie", json!({"api_key": opsgenie})),
        (
            "custom",
            json!({"api_url": format!("{base}/custom"), "api_key": custom}),
        ),
    ];
    let mut answers = Vec::new();
    let mut ids = Vec::new();
    for (kind, config) in configs {
        let body = json!({"kind": kind, "name": format!("leaky {kind}"), "config": config});
        let (text, created) = herald
            .call_text(reqwest::Method::POST, "/v1/integrations", Some(body))
            .await;
        answers.push(text);
        let id = created["id"].as_str().unwrap().to_owned();
        answers.push(
            herald
                .call_text(
                    reqwest::Method::POST,
                    &format!("/v1/integrations/{id}/test"),
                    None,
                )
                .await
                .0,
        );
        ids.push(id);
    }
    // Rotate one credential; the old and the new must both stay hidden.
    let patch = json!({"config": {"bot_token": rotated}});
    answers.push(
        herald
            .call_text(
                reqwest::Method::PATCH,
                &format!("/v1/integrations/{}", ids[0]),
                Some(patch),
            )
            .await
            .0,
    );

    let event = json!({"type": "scan_done", "correlation_key": "leak-1", "title": "leak test"});
    let event_id = herald
        .call(reqwest::Method::POST, "/v1/events", Some(event))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Every integration's delivery is attempted at least once (tests came first).
    fake.wait_for(ids.len() * 3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, created_token) = herald
        .call_text(
            reqwest::Method::POST,
            "/v1/tokens",
            Some(json!({"name": "ci"})),
        )
        .await;
    let new_token = created_token["token"].as_str().unwrap().to_owned();
    let mut paths = vec![
        "/v1/integrations".to_owned(),
        "/v1/deliveries".to_owned(),
        "/v1/audit".to_owned(),
        "/v1/tokens".to_owned(),
        "/v1/me".to_owned(),
        format!("/v1/events/{event_id}"),
        format!("/v1/events/{event_id}/routing"),
    ];
    paths.extend(ids.iter().map(|id| format!("/v1/integrations/{id}")));
    let deliveries = herald
        .call(reqwest::Method::GET, "/v1/deliveries", None)
        .await;
    paths.extend(
        deliveries["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| format!("/v1/deliveries/{}", d["id"].as_str().unwrap())),
    );
    let mut redacted_excerpts = 0;
    for path in &paths {
        let (text, _) = herald.call_text(reqwest::Method::GET, path, None).await;
        redacted_excerpts += text.matches("[redacted]").count();
        answers.push(text);
    }
    assert!(redacted_excerpts > 0, "the echoes were stored, scrubbed");
    let log_lines = herald.log.clone();
    herald.kill_9();
    let log = log_lines.lock().unwrap().join("\n");
    assert!(
        log.contains("\"delivery_id\""),
        "the attempts' log was captured"
    );
    let mut database = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "master.key" {
            database.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(database.len() > 10_000, "the database files were read");
    let database = String::from_utf8_lossy(&database);
    for secret in secrets.iter().copied().chain([new_token.as_str()]) {
        assert!(
            !database.contains(secret),
            "{secret} is in the database files"
        );
        assert!(!log.contains(secret), "{secret} leaked into the log");
        for answer in &answers {
            assert!(!answer.contains(secret), "{secret} leaked into {answer}");
        }
    }
}
