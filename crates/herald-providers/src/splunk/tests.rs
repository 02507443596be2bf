use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

use super::render::MAX_BODY_BYTES;
use super::SplunkProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Destination, Method, OutboundRequest, Outcome, Provider, Redactor};

const TOKEN: &str = "12345678-abcd-1234-abcd-1234abcd5678";

fn config_at(hec_url: &str) -> Value {
    json!({"hec_url": hec_url, "token": TOKEN})
}

fn event() -> Value {
    json!({
        "type": "scan_done",
        "title": "Scan of app finished",
        "target_id": "app-1",
        "severity": "medium",
        "occurred_at": "2026-07-01T12:00:00.123Z",
        "correlation_key": "scan-9",
        "facts": {"findings": 3},
        "data": {"raw": [1, 2]}
    })
}

fn rendered(fixture: &Fixture, config: &Value) -> Vec<OutboundRequest> {
    SplunkProvider
        .render(&fixture.ctx(), config)
        .unwrap()
        .into_iter()
        .map(|o| o.http().expect("an HTTP request").clone())
        .collect()
}

fn body(request: &OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn an_event_carries_the_envelope_and_indexed_fields() {
    let fixture = Fixture::new(Kind::Splunk, event());
    let config = json!({"hec_url": "https://splunk.example.com:8088", "token": TOKEN,
        "index": "alerts", "sourcetype": "herald:event"});
    let [request] = rendered(&fixture, &config).try_into().unwrap();
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        "https://splunk.example.com:8088/services/collector/event"
    );
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("Splunk {TOKEN}").as_str())
    );
    let body = body(&request);
    assert_eq!(body["time"], json!(1782907200.123));
    assert_eq!(body["host"], "app-1");
    assert_eq!(body["source"], "herald");
    assert_eq!(body["sourcetype"], "herald:event");
    assert_eq!(body["index"], "alerts");
    assert_eq!(
        body["fields"],
        json!({"herald_event_id": fixture.event.id, "herald_event_type": "scan_done"})
    );
    let envelope = &body["event"];
    assert_eq!(envelope["id"], fixture.event.id.as_str());
    assert_eq!(envelope["type"], "scan_done");
    assert_eq!(envelope["correlation_key"], "scan-9");
    assert_eq!(envelope["data"], json!({"raw": [1, 2]}));
    assert_eq!(
        envelope["integration"],
        json!({"id": fixture.target.integration_id, "name": "ops alerts", "kind": "splunk"})
    );
}

#[test]
fn defaults_leave_out_the_index_and_use_json_sourcetype() {
    let fixture = Fixture::new(Kind::Splunk, json!({"type": "x"}));
    let body = body(&rendered(&fixture, &config_at("https://splunk.example.com:8088"))[0]);
    assert_eq!(body["sourcetype"], "_json");
    assert!(body.get("index").is_none());
    assert!(body.get("host").is_none());
}

#[test]
fn the_url_may_be_the_base_or_the_event_endpoint() {
    let fixture = Fixture::new(Kind::Splunk, json!({"type": "x"}));
    let cases = [
        (
            "https://s.example:8088",
            "https://s.example:8088/services/collector/event",
        ),
        (
            "https://s.example:8088/",
            "https://s.example:8088/services/collector/event",
        ),
        (
            "https://s.example:8088/services/collector/event",
            "https://s.example:8088/services/collector/event",
        ),
        (
            "https://s.example:8088/services/collector/event/1.0",
            "https://s.example:8088/services/collector/event",
        ),
        (
            "https://s.example:8088/services/collector/",
            "https://s.example:8088/services/collector/event",
        ),
        (
            "https://proxy.example/splunk",
            "https://proxy.example/splunk/services/collector/event",
        ),
    ];
    for (hec_url, expected) in cases {
        assert_eq!(
            rendered(&fixture, &config_at(hec_url))[0].url.as_str(),
            expected,
            "{hec_url}"
        );
    }
}

#[test]
fn a_huge_event_is_cut_to_the_request_limit() {
    let facts: serde_json::Map<String, Value> = (0..300)
        .map(|i| (format!("fact{i}"), Value::from("f".repeat(5_000))))
        .collect();
    let fixture = Fixture::new(
        Kind::Splunk,
        json!({"type": "x", "summary": "s".repeat(16 * 1024), "facts": facts,
            "data": {"blob": "d".repeat(1_500_000)}}),
    );
    let request = &rendered(&fixture, &config_at("https://s.example:8088"))[0];
    assert!(
        request.body.len() <= MAX_BODY_BYTES,
        "{}",
        request.body.len()
    );
    let event = &body(request)["event"];
    assert!(event.get("data").is_none());
    assert_eq!(event["herald_truncated"], json!(["data", "facts cut"]));
    assert_eq!(
        event["facts"]["fact0"].as_str().unwrap().chars().count(),
        1024
    );
    assert_eq!(event["summary"].as_str().unwrap().len(), 16 * 1024);

    let small = Fixture::new(Kind::Splunk, event_with_data());
    let untouched = body(&rendered(&small, &config_at("https://s.example:8088"))[0]);
    assert!(untouched["event"].get("herald_truncated").is_none());
}

fn event_with_data() -> Value {
    json!({"type": "x", "data": {"blob": "d".repeat(10_000)}})
}

#[test]
fn classification_follows_the_hec_codes() {
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        SplunkProvider.classify(
            &OutboundRequest::new(Method::Post, "https://s.example/".parse().unwrap()).into(),
            &response(status, headers, body),
        )
    };
    let hec = |code: i64, text: &str| json!({"text": text, "code": code}).to_string();
    assert_eq!(
        classify(200, &[], &hec(0, "Success")),
        Outcome::Delivered { external_id: None }
    );
    assert_eq!(
        classify(200, &[], &hec(17, "HEC is healthy")),
        Outcome::Delivered { external_id: None }
    );
    let failed = [
        (403, 1, "Token disabled"),
        (401, 2, "Token is required"),
        (401, 3, "Invalid authorization"),
        (403, 4, "Invalid token"),
        (400, 5, "No data"),
        (400, 6, "Invalid data format"),
        (400, 7, "Incorrect index"),
        (400, 10, "Data channel is missing"),
        (400, 11, "Invalid data channel"),
        (400, 12, "Event field is required"),
        (400, 13, "Event field cannot be blank"),
        (400, 14, "ACK is disabled"),
        (400, 15, "Error in handling indexed fields"),
        (400, 16, "Query string authorization is not enabled"),
    ];
    for (status, code, text) in failed {
        assert_eq!(
            classify(status, &[], &hec(code, text)),
            Outcome::Failed {
                reason: format!("splunk HEC code {code}: {text}")
            }
        );
    }
    let retried = [
        (500, 8, "Internal server error"),
        (503, 9, "Server is busy"),
        (503, 18, "HEC is unhealthy, queues are full"),
        (503, 19, "HEC is unhealthy, ack service unavailable"),
        (
            503,
            20,
            "HEC is unhealthy, queues are full, ack service unavailable",
        ),
    ];
    for (status, code, text) in retried {
        assert!(
            matches!(
                classify(status, &[("Retry-After", "12")], &hec(code, text)),
                Outcome::Retry { after: Some(d), reason } if d == Duration::from_secs(12)
                    && reason == format!("splunk HEC code {code}: {text}")
            ),
            "{code}"
        );
    }
    // Outside the table the HTTP status decides, with the HEC text kept.
    assert!(matches!(
        classify(429, &[("retry-after", "30")], &hec(27, "Queue at capacity")),
        Outcome::Retry { after: Some(d), reason } if d == Duration::from_secs(30)
            && reason.contains("code 27")
    ));
    assert!(matches!(
        classify(400, &[], &hec(21, "Invalid token")),
        Outcome::Failed { reason } if reason == "splunk HEC code 21: Invalid token"
    ));
    // Not HEC at all: the shared table.
    assert!(matches!(classify(429, &[], ""), Outcome::Retry { .. }));
    assert!(matches!(
        classify(502, &[], "<html>"),
        Outcome::Retry { .. }
    ));
    assert!(matches!(
        classify(404, &[], "<html>"),
        Outcome::Failed { .. }
    ));
}

#[test]
fn validation_names_the_key_and_never_echoes_secrets() {
    let good = "https://s.example:8088";
    let cases = [
        (json!({"token": TOKEN}), "hec_url"),
        (json!({"hec_url": good}), "token"),
        (
            json!({"hec_url": "ftp://s.example", "token": TOKEN}),
            "hec_url",
        ),
        (json!({"hec_url": "not a url", "token": TOKEN}), "hec_url"),
        (
            json!({"hec_url": "https://u:p@s.example", "token": TOKEN}),
            "hec_url",
        ),
        (
            json!({"hec_url": "https://s.example/?token=abc", "token": TOKEN}),
            "hec_url",
        ),
        (
            json!({"hec_url": "https://s.example/services/collector/raw", "token": TOKEN}),
            "hec_url",
        ),
        (json!({"hec_url": good, "token": ""}), "token"),
        (json!({"hec_url": good, "token": "12345678 abcd"}), "token"),
        (json!({"hec_url": good, "token": "1234\n5678"}), "token"),
        (
            json!({"hec_url": good, "token": TOKEN, "index": ""}),
            "index",
        ),
        (
            json!({"hec_url": good, "token": TOKEN, "index": " alerts"}),
            "index",
        ),
        (
            json!({"hec_url": good, "token": TOKEN, "sourcetype": "a\nb"}),
            "sourcetype",
        ),
        (
            json!({"hec_url": good, "token": TOKEN, "source": "x"}),
            "source",
        ),
    ];
    for (config, field) in cases {
        let error = SplunkProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, field, "{config}");
        let text = error.to_string();
        assert_eq!(Redactor::from_config(&config).scrub(&text), text, "{text}");
    }
    let ok = json!({"hec_url": good, "token": TOKEN, "index": "alerts", "sourcetype": "herald"});
    assert!(SplunkProvider.validate(&ok).is_ok());
    let error = SplunkProvider
        .validate(&json!({"hec_url": "https://s.example/?token=SECRETVALUE", "token": TOKEN}))
        .unwrap_err()
        .to_string();
    assert!(!error.contains("SECRETVALUE"), "{error}");
}

#[test]
fn the_destination_is_the_collector_host() {
    assert_eq!(
        SplunkProvider.destination(&config_at(
            "https://s.example:8088/services/collector/event"
        )),
        Destination::new(Kind::Splunk, "s.example:8088", None)
    );
}

#[tokio::test]
async fn an_event_reaches_the_collector() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body(r#"{"text": "Success", "code": 0}"#)]);
    let fixture = Fixture::new(Kind::Splunk, event());
    let config = json!({"hec_url": fake.url("/services/collector/event"), "token": TOKEN,
        "index": "alerts"});
    let result = exchange(&loopback_sender(), &SplunkProvider, &fixture.ctx(), &config).await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/services/collector/event");
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Splunk {TOKEN}").as_str())
    );
    assert_eq!(received[0].header("content-type"), Some("application/json"));
    let body = received[0].json();
    assert_eq!(body["index"], "alerts");
    assert_eq!(body["event"]["type"], "scan_done");
    assert_eq!(body["fields"]["herald_event_type"], "scan_done");
}

#[tokio::test]
async fn a_rejected_index_fails_with_the_hec_code() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(400)
        .body(r#"{"text": "Incorrect index", "code": 7, "invalid-event-number": 0}"#)]);
    let fixture = Fixture::new(Kind::Splunk, event());
    let config = json!({"hec_url": fake.url(""), "token": TOKEN, "index": "nope"});
    let result = exchange(&loopback_sender(), &SplunkProvider, &fixture.ctx(), &config).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            reason: "splunk HEC code 7: Incorrect index".into()
        }
    );
}

#[tokio::test]
async fn the_connection_test_checks_health_then_sends_a_test_event() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(200).body(r#"{"text": "HEC is healthy", "code": 17}"#),
        Reply::status(200).body(r#"{"text": "Success", "code": 0}"#),
    ]);
    let fixture = Fixture::new(
        Kind::Splunk,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let config = json!({"hec_url": fake.url("/"), "token": TOKEN, "sourcetype": "mine"});
    let result = exchange(&loopback_sender(), &SplunkProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(result.outcome, Outcome::Delivered { .. }),
        "{result:?}"
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].path, "/services/collector/health");
    assert_eq!(received[1].method, "POST");
    assert_eq!(received[1].path, "/services/collector/event");
    assert_eq!(
        received[1].header("authorization"),
        Some(format!("Splunk {TOKEN}").as_str())
    );
    assert_eq!(received[1].json()["sourcetype"], "herald:test");

    // An unhealthy collector stops the test before anything is sent.
    fake.script([
        Reply::status(503).body(r#"{"text": "HEC is unhealthy, queues are full", "code": 18}"#)
    ]);
    let result = exchange(&loopback_sender(), &SplunkProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(result.outcome, Outcome::Retry { .. }),
        "{result:?}"
    );
    assert_eq!(fake.received().len(), 3);
}
