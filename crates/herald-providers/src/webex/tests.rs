use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Map, Value};

use super::render::{MAX_CARD_BYTES, MAX_TEXT_BYTES};
use super::{WebexConfig, WebexProvider};
use crate::teams::card::{shown_colour, shown_text};
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const TOKEN: &str = "NjBkYTk5ZmQtSECRETTOKEN-0000";
const ROOM: &str = "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQtNDNmMS0zYjU4LTkxNDctZjE0YmIwYzRkMTU0";

fn config() -> Value {
    json!({"bot_token": TOKEN, "room_id": ROOM})
}

fn event(status: &str) -> Value {
    json!({"type": "iac.run", "title": "Plan ready: net", "summary": "2 to add",
        "status": status, "severity": "medium", "correlation_key": "run-7",
        "facts": {"workspace": "net"}, "url": "https://ci.example/runs/7",
        "approve_url": "https://ci.example/runs/7/approve"})
}

fn render(fixture: &Fixture) -> OutboundRequest {
    let requests = WebexProvider.render(&fixture.ctx(), &config()).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("one HTTP request")
    };
    request.clone()
}

fn body(request: &OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn renders_markdown_text_and_one_adaptive_card() {
    let fixture = Fixture::new(Kind::Webex, event("waiting_for_approval"));
    let request = render(&fixture);
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.url.as_str(), "https://webexapis.com/v1/messages");
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json")
    );
    let body = body(&request);
    assert_eq!(body["roomId"], ROOM);
    assert!(body.get("parentId").is_none());
    assert_eq!(
        body["markdown"],
        "**\\[MEDIUM\\] Plan ready\\: net**\nStatus\\: waiting for approval · Severity\\: medium\n\n\
         2 to add\n\n- **Workspace\\:** net\n\n\
         [View run](https://ci.example/runs/7) · [Approve run](https://ci.example/runs/7/approve)"
    );
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("[MEDIUM] Plan ready: net\n"));
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "Webex takes one card per message");
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.3");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(shown_text(&card["body"][0]), "Plan ready: net");
    assert_eq!(shown_colour(&card["body"][1]), "Warning");
    assert_eq!(card["actions"][1]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][1]["title"], "Approve run");
}

#[test]
fn a_follow_up_replies_in_the_thread_of_the_prior() {
    let fixture = Fixture::new(Kind::Webex, event("applied")).with_prior("MSG-FIRST");
    let body = body(&render(&fixture));
    assert_eq!(body["parentId"], "MSG-FIRST");
    assert_eq!(body["roomId"], ROOM);
    assert_eq!(
        shown_colour(&body["attachments"][0]["content"]["body"][1]),
        "Good"
    );
}

#[test]
fn a_huge_event_stays_within_every_limit() {
    let facts: Map<String, Value> = (0..300)
        .map(|i| {
            (
                format!("fact_{i:03}_{}", "n".repeat(120)),
                json!("\"v\"".repeat(160)),
            )
        })
        .collect();
    let fixture = Fixture::new(
        Kind::Webex,
        json!({"type": "x", "title": "é".repeat(512), "summary": "<\"s\">\n".repeat(2_700),
            "status": "failed", "facts": facts, "url": format!("https://ci.example/{}", "u".repeat(2000))}),
    );
    let body = body(&render(&fixture));
    let markdown = body["markdown"].as_str().unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(markdown.len() <= MAX_TEXT_BYTES, "{}", markdown.len());
    assert!(text.len() <= MAX_TEXT_BYTES, "{}", text.len());
    assert!(
        markdown.contains("More facts"),
        "dropped facts are announced"
    );
    assert!(
        markdown.contains("[View run]("),
        "the link survives the cut"
    );
    let card = &body["attachments"][0]["content"];
    let card_len = card.to_string().len();
    assert!(card_len <= MAX_CARD_BYTES, "{card_len}");
    assert_eq!(card["version"], "1.3");
}

#[test]
fn classification_table() {
    let new = Outbound::from(OutboundRequest::post_json(
        "https://webexapis.com/v1/messages".parse().unwrap(),
        br#"{"roomId": "R"}"#.to_vec(),
    ));
    let reply = Outbound::from(OutboundRequest::post_json(
        "https://webexapis.com/v1/messages".parse().unwrap(),
        br#"{"roomId": "R", "parentId": "M1"}"#.to_vec(),
    ));
    let check = Outbound::from(OutboundRequest::new(
        Method::Get,
        "https://webexapis.com/v1/rooms/R".parse().unwrap(),
    ));
    let ok = response(200, &[], r#"{"id": "M2", "roomId": "R"}"#);
    assert_eq!(
        WebexProvider.classify(&new, &ok),
        Outcome::Delivered {
            external_id: Some("M2".into())
        }
    );
    assert_eq!(
        WebexProvider.classify(&reply, &ok),
        Outcome::Delivered { external_id: None },
        "a reply keeps the thread's first message as the prior"
    );
    assert_eq!(
        WebexProvider.classify(&check, &response(200, &[], r#"{"id": "R"}"#)),
        Outcome::Delivered { external_id: None }
    );
    for status in [423, 429] {
        let outcome = WebexProvider.classify(&new, &response(status, &[("Retry-After", "12")], ""));
        assert!(
            matches!(outcome, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(12)),
            "{status}: {outcome:?}"
        );
    }
    for status in [500, 502, 503, 504] {
        assert!(
            matches!(
                WebexProvider.classify(&new, &response(status, &[], "")),
                Outcome::Retry { .. }
            ),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 405, 409, 410, 415] {
        let body = r#"{"message": "Unable to post message to room", "errors": [{"description": "x"}], "trackingId": "ROUTER_ABC.123"}"#;
        assert_eq!(
            WebexProvider.classify(&new, &response(status, &[], body)),
            Outcome::Failed {
                reason: format!(
                    "Webex HTTP {status}: Unable to post message to room (trackingId ROUTER_ABC.123)"
                )
            },
            "{status}"
        );
    }
    assert_eq!(
        WebexProvider.classify(
            &new,
            &response(
                400,
                &[("trackingid", "ROUTER_H")],
                r#"{"errors": [{"description": "bad card"}]}"#
            )
        ),
        Outcome::Failed {
            reason: "Webex HTTP 400: bad card (trackingId ROUTER_H)".into()
        }
    );
}

#[test]
fn config_validation_names_the_key() {
    let cases = [
        (json!({"room_id": ROOM}), "bot_token"),
        (json!({"bot_token": TOKEN}), "room_id"),
        (json!({"bot_token": "", "room_id": ROOM}), "bot_token"),
        (json!({"bot_token": "a b", "room_id": ROOM}), "bot_token"),
        (json!({"bot_token": 7, "room_id": ROOM}), "bot_token"),
        (json!({"bot_token": TOKEN, "room_id": ""}), "room_id"),
        (json!({"bot_token": TOKEN, "room_id": "a/b c"}), "room_id"),
        (
            json!({"bot_token": TOKEN, "room_id": "r".repeat(513)}),
            "room_id",
        ),
        (
            json!({"bot_token": TOKEN, "room_id": ROOM, "parent_id": "x"}),
            "parent_id",
        ),
    ];
    for (config, field) in cases {
        assert_eq!(
            WebexProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    assert!(WebexProvider.validate(&config()).is_ok());
}

#[test]
fn the_token_never_shows() {
    let config = json!({"bot_token": "SECRETTOKEN with space", "room_id": ROOM});
    let error = WebexProvider.validate(&config).unwrap_err().to_string();
    assert!(!error.contains("SECRETTOKEN"), "{error}");
    assert_eq!(Redactor::from_config(&config).scrub(&error), error);
    let parsed = WebexConfig::parse(&self::config()).unwrap();
    assert!(!format!("{parsed:?}").contains("SECRETTOKEN"));
}

#[test]
fn the_destination_is_the_room() {
    let destination = WebexProvider.destination(&config());
    assert_eq!(destination.key, format!("webex:{ROOM}"));
    assert_eq!(destination.rate, Some(Rate::new(1.0, 2)));
    assert!(!destination.key.contains(TOKEN));
}

#[tokio::test]
async fn the_connection_test_reads_the_room_with_the_token() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(200).body(&format!(r#"{{"id": "{ROOM}", "title": "ops"}}"#)),
        Reply::status(404).body(
            r#"{"message": "Could not find a room with provided ID.", "trackingId": "ROUTER_X"}"#,
        ),
    ]);
    let fixture = Fixture::new(Kind::Webex, json!({"type": "herald.test"}))
        .at(&fake.url("/v1"))
        .for_test();
    let sender = loopback_sender();
    let result = exchange(&sender, &WebexProvider, &fixture.ctx(), &config()).await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = fake.received();
    assert_eq!(received.len(), 1, "nothing is posted");
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].path, format!("/v1/rooms/{ROOM}"));
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    let result = exchange(&sender, &WebexProvider, &fixture.ctx(), &config()).await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            reason: "Webex HTTP 404: Could not find a room with provided ID. (trackingId ROUTER_X)"
                .into()
        }
    );
}

#[tokio::test]
async fn a_correlated_run_threads_every_follow_up_under_the_first_message() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(200).body(r#"{"id": "MSG-1", "roomId": "R"}"#),
        Reply::status(200).body(r#"{"id": "MSG-2", "roomId": "R", "parentId": "MSG-1"}"#),
        Reply::status(200).body(r#"{"id": "MSG-3", "roomId": "R", "parentId": "MSG-1"}"#),
    ]);
    let base = fake.url("/v1");
    let sender = loopback_sender();

    let trigger = Fixture::new(Kind::Webex, event("waiting_for_approval")).at(&base);
    let first = exchange(&sender, &WebexProvider, &trigger.ctx(), &config()).await;
    assert_eq!(first.external_id.as_deref(), Some("MSG-1"));

    let mut prior = first.external_id.unwrap();
    for status in ["applying", "applied"] {
        let follow_up = Fixture::new(Kind::Webex, event(status))
            .at(&base)
            .with_prior(&prior);
        let result = exchange(&sender, &WebexProvider, &follow_up.ctx(), &config()).await;
        assert_eq!(
            result.outcome,
            Outcome::Delivered {
                external_id: Some("MSG-1".into())
            },
            "the engine keeps the first message as the prior"
        );
        prior = result.external_id.unwrap();
    }

    let received = fake.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.json()["roomId"], ROOM);
    }
    assert!(received[0].json().get("parentId").is_none());
    assert_eq!(received[1].json()["parentId"], "MSG-1");
    assert_eq!(received[2].json()["parentId"], "MSG-1");
    assert_eq!(
        shown_text(&received[2].json()["attachments"][0]["content"]["body"][1]),
        "Status: applied · Severity: medium"
    );
}
