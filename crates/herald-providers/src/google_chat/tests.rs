use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Map, Value};

use super::render::{MAX_BODY_BYTES, MAX_TEXT_CHARS};
use super::GoogleChatProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const URL: &str =
    "https://chat.googleapis.com/v1/spaces/AAAAspace1/messages?key=KEYVALUE123&token=TOKENSECRET456";

fn event() -> Value {
    json!({"type": "iac.run.failed", "title": "Apply failed: net", "summary": "1 error <x> & more",
        "status": "failed", "severity": "high", "correlation_key": "run-42",
        "facts": {"workspace": "net", "zone": "<b>eu</b>"}, "url": "https://ci.example/runs/42"})
}

fn render(fixture: &Fixture, config: &Value) -> OutboundRequest {
    let requests = GoogleChatProvider.render(&fixture.ctx(), config).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("one HTTP request")
    };
    request.clone()
}

fn query(request: &OutboundRequest) -> Vec<(String, String)> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn renders_text_and_a_card_with_header_facts_and_buttons() {
    let fixture = Fixture::new(Kind::GoogleChat, event());
    let request = render(&fixture, &json!({"webhook_url": URL}));
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v1/spaces/AAAAspace1/messages");
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    // Plain text for notifications: the message `text` would read Chat's own formatting.
    assert!(body.get("text").is_none());
    assert_eq!(body["fallbackText"], "[HIGH] Apply failed: net");
    let card = &body["cardsV2"][0];
    assert_eq!(card["cardId"], format!("herald-{}", fixture.event.id));
    assert_eq!(
        card["card"]["header"],
        json!({"title": "Apply failed: net"})
    );
    let sections = card["card"]["sections"].as_array().unwrap();
    assert_eq!(
        sections[0]["widgets"][0]["textParagraph"]["text"],
        "<font color=\"#E01E5A\"><b>Status: failed · Severity: high</b></font>"
    );
    assert_eq!(
        sections[1]["widgets"][0]["textParagraph"]["text"],
        "1 error &lt;x&gt; &amp; more"
    );
    assert_eq!(
        sections[2]["widgets"][1]["decoratedText"],
        json!({"topLabel": "zone", "text": "&lt;b&gt;eu&lt;/b&gt;", "wrapText": true})
    );
    assert_eq!(
        sections[3]["widgets"][0]["buttonList"]["buttons"][0],
        json!({"text": "View run", "onClick": {"openLink": {"url": "https://ci.example/runs/42"}}})
    );
}

#[test]
fn a_correlated_event_goes_into_its_thread_keeping_key_and_token() {
    let fixture = Fixture::new(Kind::GoogleChat, event());
    let config = json!({"webhook_url": format!("{URL}&messageReplyOption=MESSAGE_REPLY_OPTION_UNSPECIFIED&threadKey=old")});
    let request = render(&fixture, &config);
    assert_eq!(
        query(&request),
        [
            ("key".to_owned(), "KEYVALUE123".to_owned()),
            ("token".to_owned(), "TOKENSECRET456".to_owned()),
            (
                "messageReplyOption".to_owned(),
                "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD".to_owned()
            ),
        ]
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["thread"], json!({"threadKey": "run-42"}));
}

#[test]
fn an_uncorrelated_event_starts_no_thread() {
    let fixture = Fixture::new(Kind::GoogleChat, json!({"type": "acme.thing"}));
    let request = render(&fixture, &json!({"webhook_url": URL}));
    assert_eq!(request.url.as_str(), URL);
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert!(body.get("thread").is_none());
    assert!(body["cardsV2"][0]["card"]["header"]
        .get("subtitle")
        .is_none());
    assert_eq!(
        body["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"],
        "acme.thing",
        "a card always has a section"
    );
}

#[test]
fn a_huge_event_stays_within_the_limits() {
    let facts: Map<String, Value> = (0..300)
        .map(|i| {
            (
                format!("fact_{i:03}_{}", "<".repeat(100)),
                json!("&".repeat(450)),
            )
        })
        .collect();
    let fixture = Fixture::new(
        Kind::GoogleChat,
        json!({"type": "x", "title": "é".repeat(512), "summary": "<\"s\">\n".repeat(2_700),
            "status": "failed", "correlation_key": "k", "facts": facts}),
    );
    let request = render(&fixture, &json!({"webhook_url": URL}));
    assert!(
        request.body.len() <= MAX_BODY_BYTES,
        "{} bytes",
        request.body.len()
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert!(body["fallbackText"].as_str().unwrap().chars().count() <= MAX_TEXT_CHARS);
    let sections = body["cardsV2"][0]["card"]["sections"].as_array().unwrap();
    let facts = sections[2]["widgets"].as_array().unwrap();
    assert_eq!(
        facts.last().unwrap()["decoratedText"]["topLabel"],
        "More facts"
    );
    assert_eq!(body["thread"]["threadKey"], "k");
}

#[test]
fn classification_table() {
    let post = Outbound::from(OutboundRequest::post_json(URL.parse().unwrap(), vec![]));
    let classify = |status, body: &str| {
        GoogleChatProvider.classify(&post, &response(status, &[("retry-after", "5")], body))
    };
    assert_eq!(
        classify(
            200,
            r#"{"name": "spaces/AAAAspace1/messages/BBB.BBB", "thread": {"name": "spaces/AAAAspace1/threads/CCC"}}"#
        ),
        Outcome::Delivered {
            external_id: Some("spaces/AAAAspace1/messages/BBB.BBB".into())
        }
    );
    let error = |code: u16, status: &str| {
        format!(
            r#"{{"error": {{"code": {code}, "message": "details here", "status": "{status}"}}}}"#
        )
    };
    for (code, status) in [
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
    ] {
        let outcome = classify(code, &error(code, status));
        assert!(
            matches!(&outcome, Outcome::Retry { reason, after: Some(d) }
                if reason.contains(status) && *d == Duration::from_secs(5)),
            "{outcome:?}"
        );
    }
    for (code, status) in [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
    ] {
        let outcome = classify(code, &error(code, status));
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: format!("Google Chat HTTP {code} {status}: details here")
            }
        );
    }
    assert_eq!(
        classify(403, "<html>forbidden</html>"),
        Outcome::Failed {
            reason: "Google Chat HTTP 403".into()
        }
    );
}

#[test]
fn config_validation_names_the_key() {
    let cases = [
        json!({}),
        json!({"webhook_url": ""}),
        json!({"webhook_url": 3}),
        json!({"webhook_url": "ftp://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t"}),
        json!({"webhook_url": "http://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t"}),
        json!({"webhook_url": "https://chat.googleapis.com/v1/spaces/A/messages?key=k"}),
        json!({"webhook_url": "https://chat.googleapis.com/v1/spaces/A/messages?key=k&token="}),
        json!({"webhook_url": "https://chat.googleapis.com/v1/spaces//messages?key=k&token=t"}),
        json!({"webhook_url": "https://chat.googleapis.com/v1/rooms/A?key=k&token=t"}),
        json!({"webhook_url": "https://u:p@chat.googleapis.com/v1/spaces/A/messages?key=k&token=t"}),
    ];
    for config in cases {
        assert_eq!(
            GoogleChatProvider.validate(&config).unwrap_err().field,
            "webhook_url",
            "{config}"
        );
    }
    assert_eq!(
        GoogleChatProvider
            .validate(&json!({"webhook_url": URL, "thread": "x"}))
            .unwrap_err()
            .field,
        "thread"
    );
    assert!(GoogleChatProvider
        .validate(&json!({"webhook_url": URL}))
        .is_ok());
    assert!(GoogleChatProvider
        .validate(&json!({"webhook_url": "http://127.0.0.1:9/v1/spaces/A/messages?key=k&token=t"}))
        .is_ok());
}

#[test]
fn validation_errors_never_echo_the_credential() {
    let config =
        json!({"webhook_url": "https://chat.googleapis.com/v1/spaces/A/messages?key=KEYVALUE123"});
    let error = GoogleChatProvider
        .validate(&config)
        .unwrap_err()
        .to_string();
    assert!(!error.contains("KEYVALUE123"), "{error}");
    assert_eq!(Redactor::from_config(&config).scrub(&error), error);
}

#[test]
fn the_destination_is_the_space_at_one_per_second() {
    let destination = GoogleChatProvider.destination(&json!({"webhook_url": URL}));
    assert_eq!(destination.key, "google_chat:AAAAspace1");
    assert_eq!(destination.rate, Some(Rate::new(1.0, 1)));
}

#[tokio::test]
async fn posts_a_thread_reply_to_a_fake_and_returns_the_message_name() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200)
        .body(r#"{"name": "spaces/S1/messages/M1", "thread": {"name": "spaces/S1/threads/T1"}}"#)]);
    let config = json!({"webhook_url": fake.url("/v1/spaces/S1/messages?key=K1&token=T1")});
    let fixture = Fixture::new(Kind::GoogleChat, event());
    let result = exchange(
        &loopback_sender(),
        &GoogleChatProvider,
        &fixture.ctx(),
        &config,
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("spaces/S1/messages/M1".into())
        }
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(
        received[0].path,
        "/v1/spaces/S1/messages?key=K1&token=T1&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
    );
    assert_eq!(
        received[0].header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    let body = received[0].json();
    assert_eq!(body["thread"]["threadKey"], "run-42");
    assert!(body["cardsV2"][0]["card"]["header"]["title"].is_string());
    assert!(body["fallbackText"].is_string());
}

#[tokio::test]
async fn a_connection_test_posts_a_visible_test_message() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body(r#"{"name": "spaces/S1/messages/M2"}"#)]);
    let config = json!({"webhook_url": fake.url("/v1/spaces/S1/messages?key=K1&token=T1")});
    let fixture = Fixture::new(
        Kind::GoogleChat,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let result = exchange(
        &loopback_sender(),
        &GoogleChatProvider,
        &fixture.ctx(),
        &config,
    )
    .await;
    assert!(matches!(result.outcome, Outcome::Delivered { .. }));
    let received = fake.received();
    assert_eq!(received[0].path, "/v1/spaces/S1/messages?key=K1&token=T1");
    assert_eq!(received[0].json()["fallbackText"], "Herald test event");

    fake.script([Reply::status(403).body(
        r#"{"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}"#,
    )]);
    let result = exchange(
        &loopback_sender(),
        &GoogleChatProvider,
        &fixture.ctx(),
        &config,
    )
    .await;
    assert!(
        matches!(&result.outcome, Outcome::Failed { reason } if reason.contains("PERMISSION_DENIED")),
        "{result:?}"
    );
}
