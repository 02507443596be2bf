use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

use super::CustomProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Destination, Method, OutboundRequest, Outcome, Provider, Redactor};

const KEY: &str = "ak_live_0123456789abcdef";

fn event() -> Value {
    json!({"type": "iac.run.applied", "status": "COMPLETED", "target_id": "net-prod",
        "facts": {"workspace": "production-infra", "job": "job-1"}})
}

fn render(fixture: &Fixture, config: &Value) -> OutboundRequest {
    let requests = CustomProvider.render(&fixture.ctx(), config).unwrap();
    let [request] = requests.as_slice() else {
        panic!("one request")
    };
    request.http().unwrap().clone()
}

#[test]
fn posts_the_envelope_with_the_key_and_idempotency_headers() {
    let fixture = Fixture::new(Kind::Custom, event());
    let config = json!({"api_url": "https://hooks.example.com/herald?team=a", "api_key": KEY});
    let request = render(&fixture, &config);
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        "https://hooks.example.com/herald?team=a"
    );
    assert_eq!(request.header_value("x-api-key"), Some(KEY));
    assert_eq!(
        request.header_value("webhook-id"),
        Some(fixture.target.delivery_id.as_str())
    );
    assert_eq!(
        request.header_value("webhook-timestamp"),
        Some("1750000000")
    );
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json")
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["id"], fixture.event.id.as_str());
    assert_eq!(body["type"], "iac.run.applied");
    assert_eq!(body["facts"]["workspace"], "production-infra");
    assert_eq!(
        body["integration"],
        json!({"id": fixture.target.integration_id, "name": "ops alerts", "kind": "custom"})
    );
}

#[test]
fn the_key_header_can_be_renamed() {
    let fixture = Fixture::new(Kind::Custom, event());
    let config = json!({"api_url": "https://hooks.example.com/", "api_key": format!("Bearer {KEY}"),
        "api_key_header": "Authorization"});
    let request = render(&fixture, &config);
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(request.header_value("x-api-key"), None);
}

#[test]
fn validation_names_the_key_and_never_echoes_secrets() {
    let url = "https://hooks.example.com/";
    let cases = [
        (json!({"api_key": KEY}), "api_url"),
        (json!({"api_url": url}), "api_key"),
        (
            json!({"api_url": "ftp://hooks.example.com", "api_key": KEY}),
            "api_url",
        ),
        (
            json!({"api_url": "hooks.example.com", "api_key": KEY}),
            "api_url",
        ),
        (
            json!({"api_url": "https://user:pw@hooks.example.com", "api_key": KEY}),
            "api_url",
        ),
        (json!({"api_url": url, "api_key": ""}), "api_key"),
        (
            json!({"api_url": url, "api_key": "abc\r\nX-Evil: 1"}),
            "api_key",
        ),
        (json!({"api_url": url, "api_key": " padded-key"}), "api_key"),
        (json!({"api_url": url, "api_key": "clé-secrète"}), "api_key"),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": ""}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "X Key"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "X-Key:"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "Host"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "content-length"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "Transfer-Encoding"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "Connection"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "Proxy-Foo"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "api_key_header": "webhook-id"}),
            "api_key_header",
        ),
        (
            json!({"api_url": url, "api_key": KEY, "description": "x"}),
            "description",
        ),
    ];
    for (config, field) in cases {
        let error = CustomProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, field, "{config}");
        let text = error.to_string();
        assert_eq!(Redactor::from_config(&config).scrub(&text), text, "{text}");
    }
    assert!(CustomProvider
        .validate(&json!({"api_url": url, "api_key": KEY}))
        .is_ok());
    assert!(CustomProvider
        .validate(&json!({"api_url": url, "api_key": KEY, "api_key_header": "X-InfraDots-Token"}))
        .is_ok());
}

#[test]
fn classification_uses_the_shared_table() {
    let request = OutboundRequest::new(Method::Post, "https://x.example/".parse().unwrap()).into();
    let classify = |status| CustomProvider.classify(&request, &response(status, &[], ""));
    assert_eq!(classify(200), Outcome::Delivered { external_id: None });
    assert!(matches!(classify(429), Outcome::Retry { .. }));
    assert!(matches!(classify(503), Outcome::Retry { .. }));
    assert!(matches!(classify(401), Outcome::Failed { .. }));
}

#[test]
fn the_destination_is_the_receiving_host() {
    let config = json!({"api_url": "https://hooks.example.com:8443/x", "api_key": KEY});
    assert_eq!(
        CustomProvider.destination(&config),
        Destination::new(Kind::Custom, "hooks.example.com:8443", None)
    );
}

#[tokio::test]
async fn delivers_to_the_receiver_and_tests_with_a_visible_event() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(202), Reply::status(200)]);
    let config = json!({"api_url": fake.url("/infradots/hook"), "api_key": KEY});
    let sender = loopback_sender();

    let fixture = Fixture::new(Kind::Custom, event());
    let result = exchange(&sender, &CustomProvider, &fixture.ctx(), &config).await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });

    let test = Fixture::new(
        Kind::Custom,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let tested = exchange(&sender, &CustomProvider, &test.ctx(), &config).await;
    assert_eq!(tested.outcome, Outcome::Delivered { external_id: None });

    let received = fake.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/infradots/hook");
        assert_eq!(request.header("x-api-key"), Some(KEY));
        assert_eq!(
            request.header("webhook-id"),
            Some(fixture.target.delivery_id.as_str())
        );
        assert!(request.header("webhook-timestamp").is_some());
    }
    assert_eq!(received[0].json()["type"], "iac.run.applied");
    assert_eq!(received[1].json()["title"], "Herald test event");
    assert_eq!(received[1].json()["integration"]["kind"], "custom");

    fake.script([Reply::status(401)]);
    let refused = exchange(&sender, &CustomProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(refused.outcome, Outcome::Failed { .. }),
        "{refused:?}"
    );
}
