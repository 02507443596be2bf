use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Map, Value};

use super::card::{shown_colour, shown_text};
use super::{TeamsProvider, MAX_BODY_BYTES};
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const URL: &str =
    "https://example.webhook.office.com/webhookb2/abc@def/IncomingWebhook/SECRETPART/xyz";

fn waiting_event() -> Value {
    json!({"type": "iac.run.waiting_for_approval", "title": "Plan ready: net", "summary": "2 to add, 1 to change",
        "status": "waiting_for_approval", "severity": "high", "environment": "prod",
        "facts": {"workspace": "net", "commit": "abc123"},
        "url": "https://ci.example/runs/1", "approve_url": "https://ci.example/runs/1/approve"})
}

fn render(fixture: &Fixture, config: &Value) -> Vec<OutboundRequest> {
    TeamsProvider
        .render(&fixture.ctx(), config)
        .unwrap()
        .into_iter()
        .map(|o| o.http().unwrap().clone())
        .collect()
}

fn json_body(request: &OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn renders_an_adaptive_card_in_the_message_envelope() {
    let fixture = Fixture::new(Kind::Teams, waiting_event());
    let requests = render(&fixture, &json!({"webhook_url": URL}));
    let [request] = requests.as_slice() else {
        panic!("one request")
    };
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.as_str(), URL);
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = json_body(request);
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(attachment["contentUrl"].is_null());
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    let blocks = card["body"].as_array().unwrap();
    assert_eq!(shown_text(&blocks[0]), "Plan ready: net");
    assert_eq!(blocks[0]["inlines"][0]["weight"], "Bolder");
    assert_eq!(shown_colour(&blocks[1]), "Attention");
    assert_eq!(
        shown_text(&blocks[1]),
        "Status: waiting for approval · Severity: high"
    );
    assert_eq!(shown_text(&blocks[2]), "2 to add, 1 to change");
    let facts: Vec<String> = blocks[3..].iter().map(shown_text).collect();
    assert_eq!(
        facts,
        ["Workspace: net", "Commit: abc123", "Environment: prod"]
    );
    let actions: Vec<_> = card["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap(),
                a["title"].as_str().unwrap(),
                a["url"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("Action.OpenUrl", "View run", "https://ci.example/runs/1"),
            (
                "Action.OpenUrl",
                "Approve run",
                "https://ci.example/runs/1/approve"
            )
        ]
    );
}

#[test]
fn the_status_colour_follows_the_outcome() {
    let colour = |event: Value| {
        let fixture = Fixture::new(Kind::Teams, event);
        let body = json_body(&render(&fixture, &json!({"webhook_url": URL}))[0]);
        shown_colour(&body["attachments"][0]["content"]["body"][1])
    };
    assert_eq!(colour(json!({"type": "x", "status": "applied"})), "Good");
    assert_eq!(colour(json!({"type": "iac.run.failed"})), "Attention");
    assert_eq!(
        colour(json!({"type": "x", "status": "running", "severity": "medium"})),
        "Warning"
    );
}

#[test]
fn one_request_per_url_in_order_with_the_same_card() {
    let fixture = Fixture::new(Kind::Teams, waiting_event());
    let urls = [
        "https://a.example.webhook.office.com/x",
        "https://prod-1.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=S1",
    ];
    let requests = render(&fixture, &json!({"webhook_urls": urls}));
    let sent: Vec<_> = requests.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(sent, urls);
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn a_huge_event_stays_within_the_size_limit() {
    let facts: Map<String, Value> = (0..300)
        .map(|i| {
            (
                format!("fact_{i:03}_{}", "n".repeat(150)),
                json!("\"v\"".repeat(300)),
            )
        })
        .collect();
    let fixture = Fixture::new(
        Kind::Teams,
        json!({"type": "x", "title": "T".repeat(1024), "summary": "<\"s\">\n".repeat(2_700),
            "status": "failed", "facts": facts, "url": format!("https://ci.example/{}", "u".repeat(2000))}),
    );
    let request = &render(&fixture, &json!({"webhook_url": URL}))[0];
    assert!(
        request.body.len() <= MAX_BODY_BYTES && request.body.len() < 28 * 1024,
        "{} bytes",
        request.body.len()
    );
    let card = &json_body(request)["attachments"][0]["content"];
    let blocks = card["body"].as_array().unwrap();
    let last = shown_text(blocks.last().unwrap());
    assert!(last.starts_with("More facts: "), "{last}");
    assert!(blocks.len() > 4, "some facts are kept");
    assert_eq!(card["actions"][0]["title"], "View run", "the link survives");
    assert_eq!(shown_text(&card["body"][1]), "Status: failed");
}

#[test]
fn classification_table() {
    let post = Outbound::from(OutboundRequest::post_json(URL.parse().unwrap(), vec![]));
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        TeamsProvider.classify(&post, &response(status, headers, body))
    };
    let delivered = Outcome::Delivered { external_id: None };
    assert_eq!(classify(200, &[], "1"), delivered, "legacy connector");
    assert_eq!(classify(202, &[], ""), delivered, "Workflows");
    let throttled = classify(
        200,
        &[],
        "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0",
    );
    assert!(
        matches!(throttled, Outcome::Retry { ref reason, .. } if reason.contains("429")),
        "{throttled:?}"
    );
    assert!(matches!(
        classify(200, &[], "… returned HTTP error 413 …"),
        Outcome::Failed { .. }
    ));
    assert!(matches!(
        classify(429, &[("Retry-After", "3")], ""),
        Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
    ));
    for status in [500, 502, 503, 504] {
        assert!(
            matches!(classify(status, &[], ""), Outcome::Retry { .. }),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 410, 413] {
        let outcome = classify(status, &[], "Summary or Text is required.");
        assert!(
            matches!(&outcome, Outcome::Failed { reason } if reason.contains(&status.to_string())),
            "{status}: {outcome:?}"
        );
    }
    assert!(matches!(
        classify(400, &[], "Summary or Text is required."),
        Outcome::Failed { reason } if reason.contains("Summary or Text is required")
    ));
    assert!(matches!(
        classify(410, &[], ""),
        Outcome::Failed { reason } if reason.contains("Workflows")
    ));
}

#[test]
fn config_validation_names_the_key() {
    let nine = vec![URL; 9];
    let cases = [
        (json!({}), "webhook_url"),
        (json!({"webhook_url": ""}), "webhook_url"),
        (
            json!({"webhook_url": "ftp://x.example/hook"}),
            "webhook_url",
        ),
        (
            json!({"webhook_url": "http://x.webhook.office.com/hook"}),
            "webhook_url",
        ),
        (
            json!({"webhook_url": "https://u:p@x.example/"}),
            "webhook_url",
        ),
        (json!({"webhook_url": 5}), "webhook_url"),
        (
            json!({"webhook_url": URL, "webhook_urls": [URL]}),
            "webhook_urls",
        ),
        (json!({"webhook_urls": []}), "webhook_urls"),
        (json!({"webhook_urls": URL}), "webhook_urls"),
        (json!({"webhook_urls": nine}), "webhook_urls"),
        (
            json!({"webhook_urls": ["https://a.example/h", "not a url"]}),
            "webhook_urls[1]",
        ),
        (json!({"webhook_urls": [URL, URL]}), "webhook_urls[1]"),
        (json!({"webhook_url": URL, "colour": "red"}), "colour"),
    ];
    for (config, field) in cases {
        assert_eq!(
            TeamsProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    let number_in_list = TeamsProvider
        .validate(&json!({"webhook_urls": ["https://a.example/h", 7]}))
        .unwrap_err();
    assert!(
        number_in_list.field.starts_with("webhook_urls"),
        "{number_in_list}"
    );
    for good in [
        json!({"webhook_url": URL}),
        json!({"webhook_urls": [URL, "https://b.example/h"]}),
        json!({"webhook_url": "http://127.0.0.1:8080/hook"}),
    ] {
        assert!(TeamsProvider.validate(&good).is_ok(), "{good}");
    }
}

#[test]
fn validation_errors_never_echo_the_url() {
    for config in [
        json!({"webhook_url": "http://x.example/SECRETPART"}),
        json!({"webhook_urls": ["https://x.example/a", "gopher://x.example/SECRETPART"]}),
    ] {
        let error = TeamsProvider.validate(&config).unwrap_err().to_string();
        assert!(!error.contains("SECRETPART"), "{error}");
        assert_eq!(Redactor::from_config(&config).scrub(&error), error);
    }
}

#[test]
fn the_destination_is_a_hash_at_four_per_second() {
    let one = TeamsProvider.destination(&json!({"webhook_url": URL}));
    assert!(one.key.starts_with("teams:"), "{}", one.key);
    assert!(!one.key.contains("SECRETPART"));
    assert_eq!(one.rate, Some(Rate::new(4.0, 4)));
    let other = TeamsProvider.destination(&json!({"webhook_url": "https://b.example/h"}));
    assert_ne!(one.key, other.key);
    assert_eq!(
        one,
        TeamsProvider.destination(&json!({"webhook_urls": [URL]}))
    );
}

#[tokio::test]
async fn posts_to_each_url_of_a_fake_in_order() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body("1"), Reply::status(202)]);
    let config = json!({"webhook_urls": [fake.url("/legacy/IncomingWebhook/S1"), fake.url("/workflows/invoke?sig=S2")]});
    let fixture = Fixture::new(Kind::Teams, waiting_event());
    let result = exchange(&loopback_sender(), &TeamsProvider, &fixture.ctx(), &config).await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = fake.received();
    let paths: Vec<_> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/legacy/IncomingWebhook/S1", "/workflows/invoke?sig=S2"]
    );
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let body = request.json();
        assert_eq!(body["type"], "message");
        assert_eq!(body["attachments"][0]["content"]["type"], "AdaptiveCard");
    }
}

#[tokio::test]
async fn the_first_failing_url_decides_and_stops_the_rest() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body("Microsoft Teams endpoint returned HTTP error 429")]);
    let config = json!({"webhook_urls": [fake.url("/a"), fake.url("/b")]});
    let fixture = Fixture::new(Kind::Teams, waiting_event());
    let result = exchange(&loopback_sender(), &TeamsProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(result.outcome, Outcome::Retry { .. }),
        "{result:?}"
    );
    assert_eq!(fake.received().len(), 1);

    fake.script([Reply::status(404)]);
    let result = exchange(&loopback_sender(), &TeamsProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(result.outcome, Outcome::Failed { .. }),
        "{result:?}"
    );
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn a_connection_test_posts_a_visible_test_card() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(202)]);
    let config = json!({"webhook_url": fake.url("/workflows/invoke?sig=S")});
    let fixture = Fixture::new(
        Kind::Teams,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let result = exchange(&loopback_sender(), &TeamsProvider, &fixture.ctx(), &config).await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/workflows/invoke?sig=S");
    assert_eq!(
        shown_text(&received[0].json()["attachments"][0]["content"]["body"][0]),
        "Herald test event"
    );
}
