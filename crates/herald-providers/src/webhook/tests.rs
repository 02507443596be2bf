use chrono::{TimeZone, Utc};
use herald_domain::{Event, EventId, EventInput, Kind};
use serde_json::{json, Value};

use super::signature::SigningSecret;
use super::WebhookProvider;
use crate::{
    Endpoints, Outbound, OutboundRequest, Outcome, Provider, Purpose, Redactor, RenderContext,
    Response, Target,
};

fn post() -> Outbound {
    OutboundRequest::post_json("https://x.example/".parse().unwrap(), vec![]).into()
}

/// The Standard Webhooks reference libraries' vectors (shared/reference/providers.md §12).
#[test]
fn reproduces_the_standard_webhooks_test_vectors() {
    let vectors = [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];
    for (secret, id, ts, body, expected) in vectors {
        let secret = SigningSecret::parse(secret).unwrap();
        assert_eq!(secret.sign(id, ts, body.as_bytes()), expected);
        assert!(secret.verify(id, ts, body.as_bytes(), expected, ts));
    }
}

#[test]
fn verification_follows_the_reference_libraries_negative_cases() {
    let secret = SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let (id, ts, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        br#"{"test": 2432232314}"#.as_slice(),
    );
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(!secret.verify(
        id,
        ts,
        body,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
        ts
    ));
    assert!(!secret.verify(id, ts, body, "v1,", ts));
    assert!(secret.verify(id, ts, body, &format!("v2,abc v1,Zm9v {good}"), ts));
    assert!(
        !secret.verify(id, ts, body, good, ts + 301),
        "outside the 5-minute tolerance"
    );
    assert!(SigningSecret::parse("").is_err());
    assert!(SigningSecret::parse("whsec_").is_err());
}

fn event() -> Event {
    let new = serde_json::from_value::<EventInput>(json!({"type": "scan_done", "target_id": "t1"}))
        .unwrap()
        .parse()
        .unwrap();
    Event::from_new(&EventId::generate(), &new, Utc::now())
}

fn target() -> Target {
    Target {
        delivery_id: "dlv_1".into(),
        integration_id: "int_1".into(),
        integration_name: "ops".into(),
        kind: Kind::Webhook,
    }
}

fn config() -> Value {
    json!({"webhook_url": "https://receiver.example.com/hook?token=SECRETTOKEN", "hmac_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
}

#[test]
fn renders_a_signed_post_with_envelope_and_integration() {
    let event = event();
    let target = target();
    let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let ctx = RenderContext {
        event: &event,
        target: &target,
        prior: None,
        earlier: &[],
        now,
        purpose: Purpose::Delivery,
        endpoints: &Endpoints::default(),
        destination: None,
        prepared: None,
    };
    let requests = WebhookProvider.render(&ctx, &config()).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("one HTTP request")
    };
    assert_eq!(
        request.url.as_str(),
        "https://receiver.example.com/hook?token=SECRETTOKEN"
    );
    let header = |n: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name == n)
            .map(|h| h.value.clone())
            .unwrap()
    };
    assert_eq!(header("webhook-id"), "dlv_1");
    assert_eq!(header("webhook-timestamp"), "1700000000");
    let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert!(secret.verify(
        "dlv_1",
        1_700_000_000,
        &request.body,
        &header("webhook-signature"),
        1_700_000_000
    ));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "scan_done");
    assert_eq!(
        body["integration"],
        json!({"id": "int_1", "name": "ops", "kind": "webhook"})
    );
}

#[test]
fn every_attempt_sends_the_same_body_under_the_same_id() {
    let event = event();
    let target = target();
    let render = |secs| {
        let ctx = RenderContext {
            event: &event,
            target: &target,
            prior: None,
            earlier: &[],
            now: Utc.timestamp_opt(secs, 0).unwrap(),
            purpose: Purpose::Delivery,
            endpoints: &Endpoints::default(),
            destination: None,
            prepared: None,
        };
        WebhookProvider.render(&ctx, &config()).unwrap()[0]
            .http()
            .unwrap()
            .clone()
    };
    let (first, retry) = (render(1_700_000_000), render(1_700_000_600));
    assert_eq!(first.body, retry.body);
    assert_eq!(first.headers[1], retry.headers[1]);
}

#[test]
fn config_validation_names_the_key() {
    let cases = [
        (json!({}), "webhook_url"),
        (json!({"webhook_url": "ftp://x.example"}), "webhook_url"),
        (json!({"webhook_url": "not a url"}), "webhook_url"),
        (
            json!({"webhook_url": "https://u:p@x.example"}),
            "webhook_url",
        ),
        (json!({"webhook_url": 5}), "webhook_url"),
        (
            json!({"webhook_url": "https://x.example", "hmac_secret": "whsec_c2hvcnQ="}),
            "hmac_secret",
        ),
        (
            json!({"webhook_url": "https://x.example", "colour": "red"}),
            "colour",
        ),
    ];
    for (config, field) in cases {
        assert_eq!(
            WebhookProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    assert!(WebhookProvider.validate(&config()).is_ok());
}

#[test]
fn classification_uses_the_shared_table() {
    let response = |status| Response {
        status,
        headers: vec![],
        body: vec![],
        received_at: Utc::now(),
    };
    assert!(matches!(
        WebhookProvider.classify(&post(), &response(204)),
        Outcome::Delivered { .. }
    ));
    assert!(matches!(
        WebhookProvider.classify(&post(), &response(503)),
        Outcome::Retry { .. }
    ));
    assert!(matches!(
        WebhookProvider.classify(&post(), &response(410)),
        Outcome::Failed { .. }
    ));
}

#[test]
fn validation_errors_never_echo_secrets() {
    let config = json!({"webhook_url": "https://x.example/SECRETPATH", "hmac_secret": "whsec_TOPSECRETBUTINVALID"});
    let error = WebhookProvider.validate(&config).unwrap_err().to_string();
    assert!(!error.contains("TOPSECRET"), "{error}");
    assert_eq!(Redactor::from_config(&config).scrub(&error), error);
}

/// The engine renders from the config it prepared once; what goes out must not differ, with
/// or without a workspace's URL in place of the configured one, and a prepared value of
/// another type is passed over.
#[test]
fn a_prepared_config_renders_the_same_requests() {
    let (event, target, config) = (event(), target(), config());
    let prepared = WebhookProvider
        .prepare(&config)
        .expect("a valid config is prepared");
    let not_ours: crate::Prepared = std::sync::Arc::new(5_u8);
    let render = |destination: Option<&str>, prepared: Option<&crate::Prepared>| {
        let ctx = RenderContext {
            event: &event,
            target: &target,
            prior: None,
            earlier: &[],
            now: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            purpose: Purpose::Delivery,
            endpoints: &Endpoints::default(),
            destination,
            prepared: prepared.map(|p| p.as_ref()),
        };
        let rendered = WebhookProvider.render(&ctx, &config).unwrap();
        rendered[0].http().unwrap().clone()
    };
    for destination in [None, Some("https://elsewhere.example/hook")] {
        let parsed = render(destination, None);
        assert_eq!(render(destination, Some(&prepared)), parsed);
        assert_eq!(render(destination, Some(&not_ours)), parsed);
    }
    let moved = render(Some("https://elsewhere.example/hook"), Some(&prepared));
    assert_eq!(moved.url.as_str(), "https://elsewhere.example/hook");
    assert!(WebhookProvider.prepare(&json!({})).is_none());
}
