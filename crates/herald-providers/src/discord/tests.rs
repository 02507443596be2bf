use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

use super::render::{
    CONTENT_MAX, DESCRIPTION_MAX, EMBED_TOTAL_MAX, FIELDS_MAX, FIELD_NAME_MAX, FIELD_VALUE_MAX,
    FOOTER_MAX, TITLE_MAX, USER_AGENT,
};
use super::{DiscordConfig, DiscordProvider};
use crate::present::Message;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const TOKEN: &str = "SeCrEtToKeN-abc_123";

fn config_at(base: &str) -> Value {
    json!({"webhook_url": format!("{base}/api/webhooks/123456789/{TOKEN}")})
}

fn config() -> Value {
    config_at("https://discord.com")
}

fn waiting_event() -> Value {
    json!({
        "type": "iac.run.waiting_for_approval",
        "title": "Apply network @everyone",
        "summary": "Plan: 3 to add, 1 to change.",
        "status": "waiting_for_approval",
        "severity": "high",
        "correlation_key": "run-42",
        "url": "https://ci.example/runs/42",
        "approve_url": "https://ci.example/runs/42/approve",
        "occurred_at": "2026-07-01T12:00:00Z",
        "facts": {"workspace": "net", "commit": "abc123", "note": ""}
    })
}

/// The event's own timestamp, as stored (RFC 3339 with milliseconds).
fn fixture_timestamp() -> String {
    Fixture::new(Kind::Discord, waiting_event()).event.timestamp
}

fn render_one(fixture: &Fixture) -> (OutboundRequest, Value) {
    let requests = DiscordProvider.render(&fixture.ctx(), &config()).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("one HTTP request, got {requests:?}")
    };
    let body = serde_json::from_slice(&request.body).unwrap();
    (request.clone(), body)
}

/// Text as Discord Markdown shows it typed.
fn md(text: &str) -> String {
    super::render::Md::text(text).into_string()
}

#[test]
fn renders_content_and_one_embed_from_the_message() {
    let (request, body) = render_one(&Fixture::new(Kind::Discord, waiting_event()));
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        format!("https://discord.com/api/webhooks/123456789/{TOKEN}?wait=true")
    );
    assert_eq!(request.header_value("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("DiscordBot (https://"));
    assert_eq!(body["content"], md("[HIGH] Apply network @everyone"));
    assert_eq!(body["content"], "\\[HIGH\\] Apply network \\@everyone");
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    let embeds = body["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    assert_eq!(embed["title"], md("Apply network @everyone"));
    assert_eq!(embed["url"], "https://ci.example/runs/42");
    assert_eq!(embed["color"], 0xE01E5A);
    assert_eq!(embed["timestamp"], fixture_timestamp());
    assert_eq!(
        embed["description"],
        format!(
            "{}\n\n{}\n\n\
             [View run](https://ci.example/runs/42) · [Approve run](https://ci.example/runs/42/approve)",
            md("Status: waiting for approval · Severity: high"),
            md("Plan: 3 to add, 1 to change.")
        )
    );
    assert_eq!(
        embed["fields"],
        json!([
            {"name": "Workspace", "value": "net", "inline": true},
            {"name": "Commit", "value": "abc123", "inline": true},
            {"name": "note", "value": "—", "inline": true},
        ])
    );
    assert_eq!(
        embed["footer"]["text"],
        "Herald · iac.run.waiting_for_approval"
    );
}

#[test]
fn a_minimal_event_leaves_out_what_it_does_not_have() {
    let (_, body) = render_one(&Fixture::new(Kind::Discord, json!({"type": "acme.thing"})));
    let embed = &body["embeds"][0];
    assert_eq!(body["content"], md("acme.thing"));
    assert!(embed.get("url").is_none());
    assert!(
        embed.get("description").is_none(),
        "empty descriptions are refused"
    );
    assert!(embed.get("fields").is_none());
    assert_eq!(embed["color"], 0x9E9EA6, "nothing known: grey");
}

#[test]
fn only_view_run_is_the_title_link() {
    let (_, body) = render_one(&Fixture::new(
        Kind::Discord,
        json!({"type": "x", "status": "waiting_for_approval",
               "approve_url": "https://ci.example/runs/42/approve"}),
    ));
    let embed = &body["embeds"][0];
    assert!(embed.get("url").is_none());
    assert!(embed["description"]
        .as_str()
        .unwrap()
        .ends_with("[Approve run](https://ci.example/runs/42/approve)"));
}

#[test]
fn link_parentheses_cannot_end_the_markdown_link() {
    let (_, body) = render_one(&Fixture::new(
        Kind::Discord,
        json!({"type": "x", "url": "https://ci.example/runs/(42)"}),
    ));
    let description = body["embeds"][0]["description"].as_str().unwrap();
    assert_eq!(description, "[View run](https://ci.example/runs/%2842%29)");
}

fn huge_event() -> Value {
    let mut facts = serde_json::Map::new();
    for i in 0..40 {
        facts.insert(
            format!("{i:02}-{}", "n".repeat(300)),
            json!("v".repeat(2_000)),
        );
    }
    json!({
        "type": "iac.run.failed",
        "title": "T".repeat(1_024),
        "summary": "é&<".repeat(4_000),
        "status": "failed",
        "url": format!("https://ci.example/{}", "p".repeat(1_000)),
        "facts": facts,
    })
}

fn assert_within_limits(body: &Value) {
    let count = |v: &Value| v.as_str().unwrap_or_default().chars().count();
    assert!(count(&body["content"]) <= CONTENT_MAX);
    let embeds = body["embeds"].as_array().unwrap();
    assert!(embeds.len() <= 10);
    let mut total = 0;
    for embed in embeds {
        assert!(count(&embed["title"]) <= TITLE_MAX);
        assert!(count(&embed["description"]) <= DESCRIPTION_MAX);
        assert!(count(&embed["footer"]["text"]) <= FOOTER_MAX);
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        assert!(fields.len() <= FIELDS_MAX);
        for field in fields {
            assert!(count(&field["name"]) <= FIELD_NAME_MAX);
            assert!(count(&field["value"]) <= FIELD_VALUE_MAX);
            assert!(!field["value"].as_str().unwrap().trim().is_empty());
            total += count(&field["name"]) + count(&field["value"]);
        }
        total += count(&embed["title"]) + count(&embed["description"]);
        total += count(&embed["footer"]["text"]);
    }
    assert!(total <= EMBED_TOTAL_MAX, "embed total {total}");
}

#[test]
fn a_huge_event_stays_within_every_limit_and_the_total() {
    let (_, body) = render_one(&Fixture::new(Kind::Discord, huge_event()));
    assert_within_limits(&body);
    let embed = &body["embeds"][0];
    let description = embed["description"].as_str().unwrap();
    // The summary gave way, the status and the link survived.
    assert!(description.starts_with(&format!("{}\n\n", md("Status: failed"))));
    assert!(description.ends_with(&format!(
        "[View run](https://ci.example/{})",
        "p".repeat(1_000)
    )));
    assert_eq!(description.chars().count(), DESCRIPTION_MAX);
    // Facts were dropped to fit the total, and the last field says so.
    let fields = embed["fields"].as_array().unwrap();
    assert!(fields.len() < 40);
    let last = fields.last().unwrap();
    assert_eq!(
        last["value"],
        format!("{} more facts not shown", 40 - (fields.len() - 1))
    );
    let fixture = Fixture::new(Kind::Discord, huge_event());
    let payload = super::render::payload(&fixture.ctx(), &Message::of(&fixture.event));
    assert!(payload.embeds[0].total_chars() <= EMBED_TOTAL_MAX);
}

#[test]
fn more_than_25_short_facts_show_24_and_a_count() {
    let facts: serde_json::Map<String, Value> =
        (0..30).map(|i| (format!("f{i:02}"), json!(i))).collect();
    let (_, body) = render_one(&Fixture::new(
        Kind::Discord,
        json!({"type": "x", "facts": facts}),
    ));
    let fields = body["embeds"][0]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), FIELDS_MAX);
    assert_eq!(fields[23]["name"], "f23");
    assert_eq!(fields[24]["value"], "6 more facts not shown");
    assert_within_limits(&body);
}

#[test]
fn config_validation_names_the_key_and_keeps_the_token_out() {
    let cases = [
        json!({}),
        json!({"webhook_url": 5}),
        json!({"webhook_url": "not a url"}),
        json!({"webhook_url": format!("ftp://discord.com/api/webhooks/1/{TOKEN}")}),
        json!({"webhook_url": format!("https://u:p@discord.com/api/webhooks/1/{TOKEN}")}),
        json!({"webhook_url": format!("https://discord.com/api/hooks/1/{TOKEN}")}),
        json!({"webhook_url": format!("https://discord.com/api/webhooks/abc/{TOKEN}")}),
        json!({"webhook_url": "https://discord.com/api/webhooks/123"}),
        json!({"webhook_url": format!("https://discord.com/api/webhooks/1/{TOKEN}/slack")}),
    ];
    for config in cases {
        let error = DiscordProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, "webhook_url", "{config}");
        assert!(!error.to_string().contains(TOKEN), "{error}");
        assert_eq!(
            Redactor::from_config(&config).scrub(&error.to_string()),
            error.to_string()
        );
    }
    let unknown = json!({"webhook_url": "https://discord.com/api/webhooks/1/t", "username": "x"});
    assert_eq!(
        DiscordProvider.validate(&unknown).unwrap_err().field,
        "username"
    );
    for good in [
        "https://discord.com/api/webhooks/1/t",
        "https://discord.com/api/v10/webhooks/1/t/",
        "https://canary.discord.com/api/webhooks/1/t?thread_id=77",
        "http://127.0.0.1:4000/webhooks/1/t",
    ] {
        assert!(
            DiscordProvider
                .validate(&json!({"webhook_url": good}))
                .is_ok(),
            "{good}"
        );
    }
}

#[test]
fn urls_keep_other_query_parameters_and_own_wait() {
    let config = DiscordConfig::parse(
        &json!({"webhook_url": "https://discord.com/api/webhooks/1/t/?thread_id=77&wait=false"}),
    )
    .unwrap();
    assert_eq!(
        config.execute_url().as_str(),
        "https://discord.com/api/webhooks/1/t?thread_id=77&wait=true"
    );
    assert_eq!(
        config.message_url("99").as_str(),
        "https://discord.com/api/webhooks/1/t/messages/99?thread_id=77"
    );
    assert_eq!(
        config.webhook_url().as_str(),
        "https://discord.com/api/webhooks/1/t"
    );
}

#[test]
fn destination_is_the_webhook_id_never_the_token() {
    let destination = DiscordProvider.destination(&config());
    assert_eq!(destination.key, "discord:123456789");
    assert_eq!(destination.rate, Some(Rate::new(2.5, 5)));
}

fn post() -> Outbound {
    OutboundRequest::post_json(
        "https://discord.com/api/webhooks/1/t?wait=true"
            .parse()
            .unwrap(),
        vec![],
    )
    .into()
}

#[test]
fn classification_follows_discords_signals() {
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        DiscordProvider.classify(&post(), &response(status, headers, body))
    };
    assert_eq!(
        classify(200, &[], r#"{"id": "1122334455", "channel_id": "9"}"#),
        Outcome::Delivered {
            external_id: Some("1122334455".into())
        }
    );
    assert_eq!(
        classify(204, &[], ""),
        Outcome::Delivered { external_id: None }
    );
    assert_eq!(
        classify(
            429,
            &[("retry-after", "65"), ("x-ratelimit-scope", "user")],
            r#"{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}"#
        ),
        Outcome::Retry {
            after: Some(Duration::from_secs_f64(64.57)),
            reason: "Discord HTTP 429: rate limited (user limit)".into()
        }
    );
    assert!(matches!(
        classify(429, &[("retry-after", "3")], ""),
        Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
    ));
    for status in [500, 502, 503, 504] {
        assert!(
            matches!(classify(status, &[], ""), Outcome::Retry { .. }),
            "{status}"
        );
    }
    let failed = |status, body| match classify(status, &[], body) {
        Outcome::Failed { reason } => reason,
        other => panic!("{status}: {other:?}"),
    };
    assert_eq!(
        failed(404, r#"{"message": "Unknown Webhook", "code": 10015}"#),
        "Discord HTTP 404: Unknown Webhook (code 10015): the webhook was deleted; set a new webhook_url"
    );
    assert_eq!(
        failed(
            400,
            r#"{"code": 50035, "message": "Invalid Form Body", "errors": {}}"#
        ),
        "Discord HTTP 400: Invalid Form Body (code 50035)"
    );
    assert!(failed(
        401,
        r#"{"message": "Invalid Webhook Token", "code": 50027}"#
    )
    .contains("50027"));
    assert_eq!(failed(403, ""), "Discord HTTP 403");
    assert!(failed(405, r#"{"message": "405: Method Not Allowed", "code": 0}"#).contains("405"));
    assert!(failed(
        413,
        r#"{"message": "Request entity too large", "code": 40005}"#
    )
    .contains("40005"));
}

#[test]
fn the_connection_tests_webhook_object_is_not_a_message_id() {
    let get: Outbound = OutboundRequest::new(
        Method::Get,
        "https://discord.com/api/webhooks/1/t".parse().unwrap(),
    )
    .into();
    assert_eq!(
        DiscordProvider.classify(
            &get,
            &response(200, &[], r#"{"id": "1", "type": 1, "token": "t"}"#)
        ),
        Outcome::Delivered { external_id: None }
    );
}

#[tokio::test]
async fn delivers_to_the_fake_with_wait_and_its_own_user_agent() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body(r#"{"id": "1300000000000000001", "channel_id": "42"}"#)]);
    let config =
        json!({"webhook_url": fake.url(&format!("/api/webhooks/123/{TOKEN}?thread_id=77"))});
    let fixture = Fixture::new(Kind::Discord, waiting_event());
    let result = exchange(
        &loopback_sender(),
        &DiscordProvider,
        &fixture.ctx(),
        &config,
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("1300000000000000001".into())
        }
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/api/webhooks/123/{TOKEN}?thread_id=77&wait=true")
    );
    // Ours, not the sender's default `Herald/x.y.z`; and only one.
    assert_eq!(request.header("user-agent"), Some(USER_AGENT));
    assert_eq!(request.headers.get_all("user-agent").iter().count(), 1);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request.header("authorization").is_none());
    let body = request.json();
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(body["embeds"][0]["url"], "https://ci.example/runs/42");
}

#[tokio::test]
async fn the_connection_test_reads_the_webhook_and_posts_nothing() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body(r#"{"id": "123", "type": 1, "name": "ops"}"#)]);
    let config =
        json!({"webhook_url": fake.url(&format!("/api/webhooks/123/{TOKEN}?thread_id=77"))});
    let fixture = Fixture::new(Kind::Discord, json!({"type": "herald.test"})).for_test();
    let result = exchange(
        &loopback_sender(),
        &DiscordProvider,
        &fixture.ctx(),
        &config,
    )
    .await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].path, format!("/api/webhooks/123/{TOKEN}"));
    assert_eq!(received[0].header("user-agent"), Some(USER_AGENT));

    fake.script([Reply::status(404).body(r#"{"message": "Unknown Webhook", "code": 10015}"#)]);
    let dead = exchange(
        &loopback_sender(),
        &DiscordProvider,
        &fixture.ctx(),
        &config,
    )
    .await;
    let Outcome::Failed { reason } = dead.outcome else {
        panic!("{:?}", dead.outcome)
    };
    assert!(
        reason.contains("10015") && !reason.contains(TOKEN),
        "{reason}"
    );
}

#[tokio::test]
async fn a_run_is_one_message_edited_and_reposted_while_it_needs_a_person() {
    let fake = Receiver::start().await;
    let config = config_at(&fake.url(""));
    let sender = loopback_sender();
    let path = format!("/api/webhooks/123456789/{TOKEN}");

    // Started: a new message, whose id becomes the prior.
    fake.script([Reply::status(200).body(r#"{"id": "1001"}"#)]);
    let started = Fixture::new(
        Kind::Discord,
        json!({"type": "iac.run.started", "status": "running", "correlation_key": "run-42"}),
    );
    let first = exchange(&sender, &DiscordProvider, &started.ctx(), &config).await;
    assert_eq!(
        first.outcome,
        Outcome::Delivered {
            external_id: Some("1001".into())
        }
    );

    // Waiting for approval: the first message is edited, and a new one asks for attention.
    fake.script([
        Reply::status(200).body(r#"{"id": "1001"}"#),
        Reply::status(200).body(r#"{"id": "1002"}"#),
    ]);
    let waiting = Fixture::new(Kind::Discord, waiting_event()).with_prior("1001");
    let second = exchange(&sender, &DiscordProvider, &waiting.ctx(), &config).await;
    assert_eq!(
        second.outcome,
        Outcome::Delivered {
            external_id: Some("1001".into())
        }
    );

    // Applied: only the edit.
    fake.script([Reply::status(200).body(r#"{"id": "1001"}"#)]);
    let applied = Fixture::new(
        Kind::Discord,
        json!({"type": "iac.run.applied", "status": "applied", "correlation_key": "run-42"}),
    )
    .with_prior("1001");
    let third = exchange(&sender, &DiscordProvider, &applied.ctx(), &config).await;
    assert_eq!(
        third.outcome,
        Outcome::Delivered {
            external_id: Some("1001".into())
        }
    );

    let seen: Vec<(String, String)> = fake
        .received()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), format!("{path}?wait=true")),
            ("PATCH".to_owned(), format!("{path}/messages/1001")),
            ("POST".to_owned(), format!("{path}?wait=true")),
            ("PATCH".to_owned(), format!("{path}/messages/1001")),
        ]
    );
    let edit = &fake.received()[3];
    assert_eq!(edit.header("user-agent"), Some(USER_AGENT));
    assert_eq!(edit.json()["embeds"][0]["color"], 0x2EB67D);
    assert_eq!(edit.json()["allowed_mentions"], json!({"parse": []}));
}

#[test]
fn a_prior_that_is_not_a_message_id_starts_fresh() {
    let fixture = Fixture::new(Kind::Discord, waiting_event()).with_prior("../../x");
    let (request, _) = render_one(&fixture);
    assert_eq!(request.method, Method::Post);
}
