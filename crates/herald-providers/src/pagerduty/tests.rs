use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

use super::render::{MAX_BODY_BYTES, MAX_DEDUP_KEY, MAX_SUMMARY};
use super::PagerDutyProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Destination, Outbound, Outcome, Provider, Rate, Redactor};

const KEY: &str = "e93facc04764012d7bfb002500d5d1a6";

fn config() -> Value {
    json!({"routing_key": KEY})
}

fn fixture(event: Value) -> Fixture {
    Fixture::new(Kind::Pagerduty, event)
}

fn active_event() -> Value {
    json!({
        "type": "iac.run.waiting_for_approval",
        "title": "Apply net-prod",
        "summary": "3 to add, 1 to destroy",
        "status": "waiting_for_approval",
        "severity": "high",
        "environment": "prod",
        "target_id": "mod-net",
        "correlation_key": "run-42",
        "url": "https://ci.example/run/42",
        "approve_url": "https://ci.example/run/42/approve",
        "facts": {"workspace": "net-prod", "commit": "abc123", "zeta": 7}
    })
}

fn rendered(fixture: &Fixture) -> Vec<crate::OutboundRequest> {
    PagerDutyProvider
        .render(&fixture.ctx(), &config())
        .unwrap()
        .into_iter()
        .map(|o| o.http().expect("an HTTP request").clone())
        .collect()
}

fn body(request: &crate::OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn a_trigger_carries_the_alert_fields() {
    let fixture = fixture(active_event());
    let requests = rendered(&fixture);
    let [request] = requests.as_slice() else {
        panic!("one request")
    };
    assert_eq!(
        request.url.as_str(),
        "https://events.pagerduty.com/v2/enqueue"
    );
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json")
    );
    assert_eq!(
        request.header_value("authorization"),
        None,
        "no auth header"
    );
    let body = body(request);
    assert_eq!(body["routing_key"], KEY);
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["dedup_key"], "run-42");
    assert_eq!(body["client"], "Herald");
    let payload = &body["payload"];
    assert_eq!(payload["summary"], "[HIGH] Apply net-prod");
    assert_eq!(payload["source"], "mod-net");
    assert_eq!(payload["severity"], "error");
    assert_eq!(payload["timestamp"], fixture.event.timestamp.as_str());
    assert_eq!(payload["class"], "iac.run.waiting_for_approval");
    assert_eq!(payload["group"], "prod");
    let details = &payload["custom_details"];
    assert_eq!(details["Status"], "waiting for approval");
    assert_eq!(details["Environment"], "prod");
    assert_eq!(details["Event ID"], fixture.event.id.as_str());
    assert_eq!(details["Summary"], "3 to add, 1 to destroy");
    assert_eq!(details["Workspace"], "net-prod");
    assert_eq!(details["Commit"], "abc123");
    assert_eq!(details["zeta"], "7");
    assert_eq!(
        body["links"],
        json!([
            {"href": "https://ci.example/run/42", "text": "View run"},
            {"href": "https://ci.example/run/42/approve", "text": "Approve run"}
        ])
    );
}

#[test]
fn severity_maps_to_pagerduty_levels_and_falls_back_to_the_phase() {
    let cases = [
        (json!({"type": "x", "severity": "critical"}), "critical"),
        (json!({"type": "x", "severity": "high"}), "error"),
        (json!({"type": "x", "severity": "medium"}), "warning"),
        (json!({"type": "x", "severity": "low"}), "info"),
        (json!({"type": "x", "severity": "info"}), "info"),
        (json!({"type": "iac.run.failed"}), "error"),
        (json!({"type": "x", "status": "errored"}), "error"),
        (json!({"type": "x", "status": "running"}), "info"),
        (
            json!({"type": "x", "status": "waiting_for_approval"}),
            "info",
        ),
    ];
    for (event, expected) in cases {
        let requests = rendered(&fixture(event.clone()));
        assert_eq!(
            body(&requests[0])["payload"]["severity"],
            expected,
            "{event}"
        );
    }
}

#[test]
fn the_dedup_key_comes_from_the_prior_the_correlation_key_or_the_event() {
    let plain = fixture(json!({"type": "scan_done"}));
    assert_eq!(
        body(&rendered(&plain)[0])["dedup_key"],
        format!("herald:{}", plain.event.id)
    );
    let with_prior = fixture(active_event()).with_prior("run-42");
    assert_eq!(body(&rendered(&with_prior)[0])["dedup_key"], "run-42");
    let long = "k".repeat(256);
    let long_key = fixture(json!({"type": "x", "correlation_key": long}));
    let key = body(&rendered(&long_key)[0])["dedup_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        key.starts_with("herald:") && key.len() <= MAX_DEDUP_KEY,
        "{key}"
    );
    let again = fixture(json!({"type": "y", "correlation_key": long}));
    assert_eq!(
        body(&rendered(&again)[0])["dedup_key"],
        key,
        "stable per key"
    );
}

#[test]
fn a_resolved_event_sends_only_the_resolve_fields() {
    let fixture = fixture(
        json!({"type": "iac.run.finished", "status": "applied", "correlation_key": "run-42",
        "title": "Apply net-prod", "facts": {"a": 1}}),
    );
    let requests = rendered(&fixture);
    assert_eq!(
        body(&requests[0]),
        json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "run-42"})
    );
}

#[test]
fn a_huge_event_stays_within_every_limit() {
    let facts: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("fact{i}"), Value::from("é\"".repeat(50_000))))
        .collect();
    let fixture = fixture(json!({
        "type": "x",
        "title": "T".repeat(1024),
        "severity": "critical",
        "summary": "s".repeat(16 * 1024),
        "target_id": "t".repeat(256),
        "environment": "e".repeat(256),
        "correlation_key": "c".repeat(256),
        "url": format!("https://ci.example/{}", "u".repeat(2000)),
        "facts": facts,
    }));
    let requests = rendered(&fixture);
    assert!(
        requests[0].body.len() <= MAX_BODY_BYTES,
        "{} bytes",
        requests[0].body.len()
    );
    let body = body(&requests[0]);
    let summary = body["payload"]["summary"].as_str().unwrap();
    assert!(summary.chars().count() <= MAX_SUMMARY);
    assert!(summary.ends_with('…'));
    assert!(body["dedup_key"].as_str().unwrap().chars().count() <= MAX_DEDUP_KEY);
    let details = body["payload"]["custom_details"].as_object().unwrap();
    assert!(details.contains_key("fact0"));
    assert!(details["Omitted"]
        .as_str()
        .unwrap()
        .contains("more facts did not fit"));
}

#[test]
fn classification_follows_the_events_api() {
    let request = &rendered(&fixture(active_event()))[0];
    let request: Outbound = request.clone().into();
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        PagerDutyProvider.classify(&request, &response(status, headers, body))
    };
    assert_eq!(
        classify(
            202,
            &[],
            r#"{"status": "success", "message": "Event processed", "dedup_key": "run-42"}"#
        ),
        Outcome::Delivered {
            external_id: Some("run-42".into())
        }
    );
    // Without a body the key we sent is still the alert's key.
    assert_eq!(
        classify(202, &[], ""),
        Outcome::Delivered {
            external_id: Some("run-42".into())
        }
    );
    let Outcome::Failed { reason } = classify(
        400,
        &[],
        &format!(
            r#"{{"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key {KEY}"]}}"#
        ),
    ) else {
        panic!("400 fails")
    };
    assert!(reason.contains("HTTP 400"), "{reason}");
    assert!(reason.contains("Event object is invalid"), "{reason}");
    assert!(reason.contains("Invalid routing key"), "{reason}");
    assert!(!reason.contains(KEY), "{reason}");
    assert_eq!(
        classify(429, &[], ""),
        Outcome::Retry {
            after: Some(Duration::from_secs(30)),
            reason: "PagerDuty rate limit for this routing key (HTTP 429)".into()
        }
    );
    assert!(matches!(
        classify(429, &[("retry-after", "90")], ""),
        Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(90)
    ));
    for status in [500, 502, 503] {
        assert!(
            matches!(classify(status, &[], ""), Outcome::Retry { .. }),
            "{status}"
        );
    }
    for status in [401, 403, 404, 413] {
        assert!(
            matches!(classify(status, &[], ""), Outcome::Failed { .. }),
            "{status}"
        );
    }
    assert!(matches!(
        classify(202, &[], r#"{"status": "invalid event", "message": "no"}"#),
        Outcome::Failed { .. }
    ));
}

#[test]
fn validation_names_the_key_and_never_echoes_it() {
    let cases = [
        json!({}),
        json!({"routing_key": 5}),
        json!({"routing_key": ""}),
        json!({"routing_key": "e93facc04764012d7bfb002500d5d1a"}),
        json!({"routing_key": "e93facc04764012d7bfb002500d5d1a6f"}),
        json!({"routing_key": "e93facc04764012d7bfb002500d5d1a "}),
        json!({"routing_key": "e93facc04764012d7bfb-02500d5d1a6"}),
    ];
    for config in cases {
        let error = PagerDutyProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, "routing_key", "{config}");
        let text = error.to_string();
        assert_eq!(Redactor::from_config(&config).scrub(&text), text, "{text}");
    }
    assert_eq!(
        PagerDutyProvider
            .validate(&json!({"routing_key": KEY, "region": "eu"}))
            .unwrap_err()
            .field,
        "region"
    );
    assert!(PagerDutyProvider.validate(&config()).is_ok());
    assert!(PagerDutyProvider
        .validate(&json!({"routing_key": "R0123456789ABCDEFGHIJKLMNOPQRSTU"}))
        .is_ok());
}

#[test]
fn the_destination_is_the_hashed_routing_key_at_pagerdutys_pace() {
    let destination = PagerDutyProvider.destination(&config());
    assert_eq!(
        destination,
        Destination::hashed(Kind::Pagerduty, KEY, Some(Rate::new(2.0, 10)))
    );
    assert!(!destination.key.contains(KEY));
    assert_ne!(
        destination.key,
        PagerDutyProvider
            .destination(&json!({"routing_key": "R0123456789ABCDEFGHIJKLMNOPQRSTU"}))
            .key
    );
}

fn accepted(dedup_key: &str) -> Reply {
    Reply::status(202).body(
        &json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})
            .to_string(),
    )
}

#[tokio::test]
async fn a_correlation_triggers_updates_and_resolves_one_alert() {
    let fake = Receiver::start().await;
    let sender = loopback_sender();

    fake.script([accepted("run-42")]);
    let first = fixture(active_event()).at(&fake.url(""));
    let opened = exchange(&sender, &PagerDutyProvider, &first.ctx(), &config()).await;
    assert_eq!(
        opened.outcome,
        Outcome::Delivered {
            external_id: Some("run-42".into())
        }
    );

    fake.script([accepted("run-42")]);
    let mut follow_up = active_event();
    follow_up["status"] = json!("applying");
    let follow_up = fixture(follow_up).with_prior("run-42").at(&fake.url(""));
    let updated = exchange(&sender, &PagerDutyProvider, &follow_up.ctx(), &config()).await;
    assert_eq!(updated.external_id.as_deref(), Some("run-42"));

    fake.script([accepted("run-42")]);
    let done = fixture(json!({"type": "iac.run.finished", "status": "applied",
        "correlation_key": "run-42", "severity": "high"}))
    .with_prior("run-42")
    .at(&fake.url(""));
    let resolved = exchange(&sender, &PagerDutyProvider, &done.ctx(), &config()).await;
    assert_eq!(
        resolved.outcome,
        Outcome::Delivered {
            external_id: Some("run-42".into())
        }
    );

    let received = fake.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v2/enqueue");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("authorization"), None);
        assert_eq!(request.json()["routing_key"], KEY);
        assert_eq!(request.json()["dedup_key"], "run-42");
    }
    let actions: Vec<Value> = received
        .iter()
        .map(|r| r.json()["event_action"].clone())
        .collect();
    assert_eq!(
        actions,
        [json!("trigger"), json!("trigger"), json!("resolve")]
    );
    assert_eq!(
        received[1].json()["payload"]["custom_details"]["Status"],
        "applying"
    );
    assert!(received[2].json().get("payload").is_none());
}

#[tokio::test]
async fn the_connection_test_triggers_and_resolves_a_test_alert() {
    let fake = Receiver::start().await;
    let key = "herald-test:dlv_0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4";
    fake.script([accepted(key), accepted(key)]);
    let fixture = fixture(json!({"type": "herald.test", "title": "Herald test event",
        "status": "test", "severity": "critical"}))
    .for_test()
    .at(&fake.url(""));
    let result = exchange(
        &loopback_sender(),
        &PagerDutyProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert!(
        matches!(result.outcome, Outcome::Delivered { .. }),
        "{result:?}"
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    let (trigger, resolve) = (received[0].json(), received[1].json());
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], key);
    assert_eq!(trigger["payload"]["severity"], "info", "never pages loudly");
    assert_eq!(
        resolve,
        json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": key})
    );
}

#[tokio::test]
async fn a_rejected_test_stops_before_the_resolve() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(400).body(
        r#"{"status": "invalid event", "message": "Event object is invalid", "errors": ["Length of 'routing_key' is incorrect"]}"#,
    )]);
    let fixture = fixture(json!({"type": "herald.test"}))
        .for_test()
        .at(&fake.url(""));
    let result = exchange(
        &loopback_sender(),
        &PagerDutyProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    let Outcome::Failed { reason } = result.outcome else {
        panic!("{result:?}")
    };
    assert!(reason.contains("routing_key"), "{reason}");
    assert_eq!(fake.received().len(), 1);
}
