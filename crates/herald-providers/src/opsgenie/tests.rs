use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

use super::render::{
    MAX_ALIAS, MAX_DESCRIPTION, MAX_DETAILS_CHARS, MAX_ENTITY, MAX_MESSAGE, MAX_TAG, MAX_TAGS,
};
use super::OpsgenieProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{
    exchange, Destination, Method, Outbound, OutboundRequest, Outcome, Provider, Redactor,
};

const KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889";

fn config() -> Value {
    json!({"api_key": KEY})
}

fn fixture(event: Value) -> Fixture {
    Fixture::new(Kind::Opsgenie, event)
}

fn active_event() -> Value {
    json!({
        "type": "health.incident.opened",
        "title": "db-1 unhealthy",
        "summary": "Disk 95% on db-1",
        "status": "down",
        "severity": "critical",
        "environment": "prod",
        "target_id": "db-1",
        "correlation_key": "inc/7?x#y",
        "url": "https://status.example/inc/7",
        "facts": {"host": "db-1", "used_pct": 95}
    })
}

fn resolved_event() -> Value {
    json!({"type": "health.incident.resolved", "status": "resolved", "title": "db-1 healthy",
        "correlation_key": "inc/7?x#y"})
}

fn rendered(fixture: &Fixture, config: &Value) -> Vec<OutboundRequest> {
    OpsgenieProvider
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
fn a_create_carries_the_alert_fields() {
    let fixture = fixture(active_event());
    let [request] = rendered(&fixture, &config()).try_into().unwrap();
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.url.as_str(), "https://api.opsgenie.com/v2/alerts");
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("GenieKey {KEY}").as_str())
    );
    let body = body(&request);
    assert_eq!(body["message"], "[CRITICAL] db-1 unhealthy");
    assert_eq!(body["alias"], "inc/7?x#y");
    assert_eq!(body["entity"], "db-1");
    assert_eq!(body["source"], "Herald");
    assert_eq!(body["priority"], "P1");
    assert_eq!(
        body["tags"],
        json!(["herald", "health.incident.opened", "prod", "critical"])
    );
    let description = body["description"].as_str().unwrap();
    assert!(description.contains("Disk 95% on db-1"), "{description}");
    assert!(description.contains("View run: https://status.example/inc/7"));
    let details = &body["details"];
    assert_eq!(details["Event ID"], fixture.event.id.as_str());
    assert_eq!(details["Status"], "down");
    assert_eq!(details["View run"], "https://status.example/inc/7");
    assert_eq!(details["host"], "db-1");
    assert_eq!(details["used_pct"], "95");
}

#[test]
fn the_eu_region_uses_the_eu_endpoint() {
    let fixture = fixture(active_event());
    let eu = json!({"api_key": KEY, "region": "eu"});
    assert_eq!(
        rendered(&fixture, &eu)[0].url.as_str(),
        "https://api.eu.opsgenie.com/v2/alerts"
    );
    let us = json!({"api_key": KEY, "region": "us"});
    assert_eq!(
        rendered(&fixture, &us)[0].url.as_str(),
        "https://api.opsgenie.com/v2/alerts"
    );
}

#[test]
fn priority_follows_severity_then_phase() {
    let cases = [
        (json!({"type": "x", "severity": "critical"}), "P1"),
        (json!({"type": "x", "severity": "high"}), "P2"),
        (json!({"type": "x", "severity": "medium"}), "P3"),
        (json!({"type": "x", "severity": "low"}), "P4"),
        (json!({"type": "x", "severity": "info"}), "P5"),
        (json!({"type": "scan_failed", "status": "failed"}), "P2"),
        (json!({"type": "scan_started"}), "P5"),
    ];
    for (event, expected) in cases {
        let requests = rendered(&fixture(event.clone()), &config());
        assert_eq!(body(&requests[0])["priority"], expected, "{event}");
    }
}

#[test]
fn a_resolved_event_closes_by_alias_with_the_alias_encoded() {
    let fixture = fixture(resolved_event());
    let [request] = rendered(&fixture, &config()).try_into().unwrap();
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        "https://api.opsgenie.com/v2/alerts/inc%2F7%3Fx%23y/close?identifierType=alias"
    );
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("GenieKey {KEY}").as_str())
    );
    let body = body(&request);
    assert_eq!(body["user"], "Herald");
    assert_eq!(body["source"], "Herald");
    assert!(body["note"].as_str().unwrap().contains("db-1 healthy"));
}

#[test]
fn aliases_that_cannot_be_a_path_segment_become_digests() {
    for key in [".", ".."] {
        let open = fixture(json!({"type": "x", "correlation_key": key}));
        let alias = body(&rendered(&open, &config())[0])["alias"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            alias.starts_with("herald:") && alias.len() <= MAX_ALIAS,
            "{alias}"
        );
        let close = fixture(json!({"type": "x", "status": "resolved", "correlation_key": key}));
        let url = rendered(&close, &config())[0].url.clone();
        assert_eq!(
            url.path(),
            format!("/v2/alerts/{alias}/close"),
            "close addresses the alert the create opened"
        );
    }
    // Correlation keys (at most 256 bytes) always fit the 512-character alias.
    let long = "k".repeat(256);
    let open = fixture(json!({"type": "x", "correlation_key": long}));
    assert_eq!(body(&rendered(&open, &config())[0])["alias"], long);
    let plain = fixture(json!({"type": "acme.thing"}));
    assert_eq!(
        body(&rendered(&plain, &config())[0])["alias"],
        format!("herald:{}", plain.event.id)
    );
}

#[test]
fn a_huge_event_stays_within_every_limit() {
    let facts: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("fact{i}"), Value::from("é".repeat(5_000))))
        .collect();
    let fixture = fixture(json!({
        "type": "x",
        "title": "T".repeat(1024),
        "summary": "s".repeat(16 * 1024),
        "target_id": "t".repeat(256),
        "environment": "e".repeat(256),
        "severity": "low",
        "correlation_key": "c".repeat(256),
        "url": format!("https://ci.example/{}", "u".repeat(2000)),
        "facts": facts,
    }));
    let body = body(&rendered(&fixture, &config())[0]);
    let chars = |v: &Value| v.as_str().unwrap().chars().count();
    assert!(chars(&body["message"]) <= MAX_MESSAGE);
    assert!(chars(&body["alias"]) <= MAX_ALIAS);
    assert!(chars(&body["description"]) <= MAX_DESCRIPTION);
    assert!(body["description"].as_str().unwrap().ends_with('…'));
    assert!(chars(&body["entity"]) <= MAX_ENTITY);
    let tags = body["tags"].as_array().unwrap();
    assert!(tags.len() <= MAX_TAGS);
    assert!(tags.iter().all(|t| chars(t) <= MAX_TAG));
    let details = body["details"].as_object().unwrap();
    let total: usize = details
        .iter()
        .map(|(k, v)| k.chars().count() + chars(v))
        .sum();
    assert!(total <= MAX_DETAILS_CHARS, "{total}");
    assert!(details.contains_key("Omitted"));
    assert!(details.contains_key("fact0"));
}

#[test]
fn classification_follows_the_alert_api() {
    let fixture = fixture(active_event());
    let create: Outbound = rendered(&fixture, &config())[0].clone().into();
    let close: Outbound = rendered(&self::fixture(resolved_event()), &config())[0]
        .clone()
        .into();
    let probe: Outbound = rendered(
        &self::fixture(json!({"type": "herald.test"})).for_test(),
        &config(),
    )[0]
    .clone()
    .into();
    let accepted = r#"{"result": "Request will be processed", "took": 0.302, "requestId": "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#;
    let alias = Outcome::Delivered {
        external_id: Some("inc/7?x#y".into()),
    };
    assert_eq!(
        OpsgenieProvider.classify(&create, &response(202, &[], accepted)),
        alias
    );
    assert_eq!(
        OpsgenieProvider.classify(&close, &response(202, &[], accepted)),
        alias
    );
    for status in [400, 401, 402, 403, 404, 422] {
        let outcome = OpsgenieProvider.classify(
            &create,
            &response(
                status,
                &[],
                r#"{"message": "Key format is not valid!", "took": 0.0}"#,
            ),
        );
        let Outcome::Failed { reason } = outcome else {
            panic!("{status} fails")
        };
        assert!(reason.contains(&format!("HTTP {status}")), "{reason}");
        assert!(reason.contains("Key format is not valid!"), "{reason}");
    }
    assert_eq!(
        OpsgenieProvider.classify(
            &create,
            &response(429, &[("X-RateLimit-Period-In-Sec", "60")], "")
        ),
        Outcome::Retry {
            after: Some(Duration::from_secs(60)),
            reason: "Opsgenie rate limit (HTTP 429)".into()
        }
    );
    assert!(matches!(
        OpsgenieProvider.classify(&create, &response(429, &[("Retry-After", "5"), ("X-RateLimit-Period-In-Sec", "60")], "")),
        Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(5)
    ));
    for status in [500, 502, 503, 504] {
        assert!(matches!(
            OpsgenieProvider.classify(&create, &response(status, &[], "")),
            Outcome::Retry { .. }
        ));
    }
    // 404 means "no such request": the key was accepted. Only for the probe.
    assert_eq!(
        OpsgenieProvider.classify(
            &probe,
            &response(404, &[], r#"{"message": "Request not found"}"#)
        ),
        Outcome::Delivered { external_id: None }
    );
    for status in [401, 403] {
        let Outcome::Failed { reason } =
            OpsgenieProvider.classify(&probe, &response(status, &[], ""))
        else {
            panic!("{status} fails the probe")
        };
        assert!(reason.contains("API key"), "{reason}");
    }
    let echo = format!(r#"{{"message": "Key {KEY} is not valid"}}"#);
    let Outcome::Failed { reason } = OpsgenieProvider.classify(&create, &response(401, &[], &echo))
    else {
        panic!("401 fails")
    };
    assert!(!reason.contains(KEY), "{reason}");
}

#[test]
fn validation_names_the_key_and_never_echoes_it() {
    let cases = [
        (json!({}), "api_key"),
        (json!({"api_key": ""}), "api_key"),
        (json!({"api_key": 7}), "api_key"),
        (json!({"api_key": "eb243592 faa2"}), "api_key"),
        (json!({"api_key": "eb243592\r\nX-Evil: 1"}), "api_key"),
        (json!({"api_key": "k".repeat(129)}), "api_key"),
        (json!({"api_key": KEY, "region": "apac"}), "region"),
        (json!({"api_key": KEY, "region": 1}), "region"),
        (json!({"api_key": KEY, "team": "sre"}), "team"),
    ];
    for (config, field) in cases {
        let error = OpsgenieProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, field, "{config}");
        let text = error.to_string();
        assert!(!text.contains("eb243592"), "{text}");
        assert_eq!(
            Redactor::from_config(&json!({"api_key": config["api_key"]})).scrub(&text),
            text
        );
    }
    assert!(OpsgenieProvider.validate(&config()).is_ok());
    assert!(OpsgenieProvider
        .validate(&json!({"api_key": KEY, "region": "eu"}))
        .is_ok());
}

#[test]
fn the_destination_is_the_hashed_key_without_a_pace() {
    let destination = OpsgenieProvider.destination(&config());
    assert_eq!(destination, Destination::hashed(Kind::Opsgenie, KEY, None));
    assert!(!destination.key.contains(KEY));
}

fn accepted() -> Reply {
    Reply::status(202).body(
        r#"{"result": "Request will be processed", "took": 0.302, "requestId": "43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#,
    )
}

#[tokio::test]
async fn an_alert_is_created_then_closed_by_alias() {
    let fake = Receiver::start().await;
    let sender = loopback_sender();
    fake.script([accepted(), accepted(), accepted()]);

    let open = fixture(active_event()).at(&fake.url(""));
    let opened = exchange(&sender, &OpsgenieProvider, &open.ctx(), &config()).await;
    assert_eq!(
        opened.outcome,
        Outcome::Delivered {
            external_id: Some("inc/7?x#y".into())
        }
    );

    let mut again = active_event();
    again["status"] = json!("degraded");
    let again = fixture(again).with_prior("inc/7?x#y").at(&fake.url(""));
    let deduped = exchange(&sender, &OpsgenieProvider, &again.ctx(), &config()).await;
    assert_eq!(deduped.external_id.as_deref(), Some("inc/7?x#y"));

    let close = fixture(resolved_event())
        .with_prior("inc/7?x#y")
        .at(&fake.url(""));
    let closed = exchange(&sender, &OpsgenieProvider, &close.ctx(), &config()).await;
    assert_eq!(
        closed.outcome,
        Outcome::Delivered {
            external_id: Some("inc/7?x#y".into())
        }
    );

    let received = fake.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.header("authorization"),
            Some(format!("GenieKey {KEY}").as_str())
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    assert_eq!(received[0].path, "/v2/alerts");
    assert_eq!(received[0].json()["alias"], "inc/7?x#y");
    assert_eq!(received[0].json()["message"], "[CRITICAL] db-1 unhealthy");
    assert_eq!(received[1].path, "/v2/alerts");
    assert_eq!(received[1].json()["alias"], "inc/7?x#y");
    assert_eq!(
        received[2].path,
        "/v2/alerts/inc%2F7%3Fx%23y/close?identifierType=alias"
    );
    assert_eq!(received[2].json()["user"], "Herald");
    assert_eq!(received[2].json()["source"], "Herald");
}

#[tokio::test]
async fn the_connection_test_looks_up_a_request_that_cannot_exist() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(404).body(r#"{"message": "Request not found", "took": 0.01}"#)]);
    let fixture = fixture(json!({"type": "herald.test", "title": "Herald test event"}))
        .for_test()
        .at(&fake.url(""));
    let result = exchange(
        &loopback_sender(),
        &OpsgenieProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert!(
        matches!(result.outcome, Outcome::Delivered { .. }),
        "{result:?}"
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "GET");
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("GenieKey {KEY}").as_str())
    );
    let id = received[0]
        .path
        .strip_prefix("/v2/alerts/requests/")
        .expect("the request-status path");
    let shape: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(shape, [8, 4, 4, 4, 12], "{id}");
    assert!(received[0].body.is_empty());

    fake.script([Reply::status(401).body(r#"{"message": "Could not authenticate", "took": 0.0}"#)]);
    let refused = exchange(
        &loopback_sender(),
        &OpsgenieProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    let Outcome::Failed { reason } = refused.outcome else {
        panic!("{refused:?}")
    };
    assert!(reason.contains("Could not authenticate"), "{reason}");
}
