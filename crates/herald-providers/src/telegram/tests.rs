use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

use super::html::{cut, visible_len, visible_text, TelegramHtml};
use super::render::TEXT_MAX;
use super::TelegramProvider;
use crate::markup::Markup;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

fn config() -> Value {
    json!({"bot_token": TOKEN, "chat_id": -1001234567890_i64})
}

fn waiting_event() -> Value {
    json!({
        "type": "iac.run.waiting_for_approval",
        "title": "Apply <net> & co",
        "summary": "Plan: 3 to add, 1 to change.",
        "status": "waiting_for_approval",
        "severity": "high",
        "correlation_key": "run-42",
        "url": "https://ci.example/runs/42?a=1&b=\"2\"",
        "approve_url": "https://ci.example/runs/42/approve",
        "facts": {"workspace": "net", "cost": "<$5 & >$1"}
    })
}

fn render_one(fixture: &Fixture, config: &Value) -> (OutboundRequest, Value) {
    let requests = TelegramProvider.render(&fixture.ctx(), config).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("one HTTP request, got {} requests", requests.len())
    };
    let body = serde_json::from_slice(&request.body).unwrap();
    (request.clone(), body)
}

#[test]
fn renders_send_message_in_escaped_html() {
    let (request, body) = render_one(&Fixture::new(Kind::Telegram, waiting_event()), &config());
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        format!("https://api.telegram.org/bot{TOKEN}/sendMessage")
    );
    assert_eq!(body["chat_id"], -1001234567890_i64);
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["link_preview_options"], json!({"is_disabled": true}));
    assert!(body.get("reply_parameters").is_none());
    assert_eq!(
        body["text"],
        "<b>[HIGH] Apply &lt;net&gt; &amp; co</b>\n\
         Status: waiting for approval · Severity: high\n\n\
         Plan: 3 to add, 1 to change.\n\n\
         <b>Workspace:</b> net\n\
         <b>cost:</b> &lt;$5 &amp; &gt;$1\n\n\
         <a href=\"https://ci.example/runs/42?a=1&amp;b=%222%22\">View run</a> · \
         <a href=\"https://ci.example/runs/42/approve\">Approve run</a>"
    );
}

#[test]
fn escaping_does_ampersands_first_and_disarms_mentions() {
    let escape = |t: &str| Markup::<TelegramHtml>::text(t).into_string();
    assert_eq!(escape("a & <b> &lt;"), "a &amp; &lt;b&gt; &amp;lt;");
    assert_eq!(escape("x\"y&z<"), "x&quot;y&amp;z&lt;");
    assert_eq!(escape("ask @alice"), "ask @\u{2060}alice");
}

#[test]
fn cut_counts_utf16_and_never_splits_a_character() {
    assert_eq!(cut("héllo", 10), "héllo");
    assert_eq!(cut("héllo", 3), "hé…");
    // An emoji is two UTF-16 units: it goes whole or not at all.
    assert_eq!(cut("ab😀cd", 4), "ab…");
    assert_eq!(cut("ab😀cd", 5), "ab😀…");
    assert_eq!(visible_len("😀"), 2);
}

fn huge_event(filler: &str) -> Value {
    let facts: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("k{i}<&>"), json!(filler.repeat(100))))
        .collect();
    json!({
        "type": "iac.run.waiting_for_approval",
        "title": "&<>".repeat(300),
        "summary": filler.repeat(16_000 / filler.len()),
        "status": "waiting_for_approval",
        "url": "https://ci.example/runs/1?x=<&>",
        "approve_url": "https://ci.example/runs/1/approve",
        "facts": facts,
    })
}

/// Every tag opens and closes properly and every `&` starts one of the allowed entities.
fn assert_well_formed(html: &str) {
    let mut rest = html;
    while let Some(i) = rest.find('&') {
        rest = &rest[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "a cut entity at {:?}",
            &rest[..rest.len().min(10)]
        );
        rest = &rest[1..];
    }
    let opened = html.matches("<b>").count() + html.matches("<a href=").count();
    let closed = html.matches("</b>").count() + html.matches("</a>").count();
    assert_eq!(opened, closed, "a cut tag");
    assert_eq!(html.matches('<').count(), 2 * opened);
    assert_eq!(html.matches('>').count(), 2 * opened);
}

#[test]
fn a_huge_event_full_of_markup_characters_stays_within_4096_visible() {
    for filler in ["&<>", "a&b<c>d", "😀&", "x"] {
        let (_, body) = render_one(&Fixture::new(Kind::Telegram, huge_event(filler)), &config());
        let html = body["text"].as_str().unwrap();
        assert_well_formed(html);
        let visible = visible_text(html);
        assert!(
            visible_len(&visible) <= TEXT_MAX,
            "{filler}: {}",
            visible_len(&visible)
        );
        assert!(
            visible_len(&visible) >= TEXT_MAX - 2,
            "the budget is used: {filler}"
        );
        // The links survive the cut, whole.
        assert!(html.ends_with(
            "\n\n<a href=\"https://ci.example/runs/1?x=%3C&amp;%3E\">View run</a> · \
             <a href=\"https://ci.example/runs/1/approve\">Approve run</a>"
        ));
        assert!(visible.contains('…'));
    }
}

#[test]
fn follow_ups_reply_to_the_first_message() {
    let fixture = Fixture::new(Kind::Telegram, waiting_event()).with_prior("-1001234567890:1234");
    let (_, body) = render_one(&fixture, &config());
    assert_eq!(
        body["reply_parameters"],
        json!({"message_id": 1234, "allow_sending_without_reply": true})
    );
    // A prior from another chat (the config changed) or of another shape starts afresh.
    for prior in ["-100999:1234", "garbage", "-1001234567890:x"] {
        let fixture = Fixture::new(Kind::Telegram, waiting_event()).with_prior(prior);
        let (_, body) = render_one(&fixture, &config());
        assert!(body.get("reply_parameters").is_none(), "{prior}");
    }
    let by_name = json!({"bot_token": TOKEN, "chat_id": "@herald_ops"});
    let fixture = Fixture::new(Kind::Telegram, waiting_event()).with_prior("-100777:55");
    let (_, body) = render_one(&fixture, &by_name);
    assert_eq!(body["chat_id"], "@herald_ops");
    assert_eq!(body["reply_parameters"]["message_id"], 55);
}

#[test]
fn config_validation_names_the_key_and_never_echoes_the_token() {
    let bad_tokens = [
        json!(""),
        json!("123456789"),
        json!("abc:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        json!("123456789:short"),
        json!("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDs w"),
        json!("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/x"),
        json!(123),
    ];
    for token in bad_tokens {
        let config = json!({"bot_token": token, "chat_id": 1});
        let error = TelegramProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, "bot_token", "{config}");
        if let Some(token) = token.as_str().filter(|t| !t.is_empty()) {
            assert!(!error.to_string().contains(token), "{error}");
        }
    }
    let bad_chats = [
        json!(null),
        json!(0),
        json!(1.5),
        json!("general"),
        json!("-100abc"),
        json!("@abc"),
        json!("@has space"),
        json!([1]),
    ];
    for chat in bad_chats {
        let config = json!({"bot_token": TOKEN, "chat_id": chat});
        assert_eq!(
            TelegramProvider.validate(&config).unwrap_err().field,
            "chat_id",
            "{chat}"
        );
    }
    assert_eq!(
        TelegramProvider
            .validate(&json!({"chat_id": 1}))
            .unwrap_err()
            .field,
        "bot_token"
    );
    assert_eq!(
        TelegramProvider
            .validate(&json!({"bot_token": TOKEN}))
            .unwrap_err()
            .field,
        "chat_id"
    );
    assert_eq!(
        TelegramProvider
            .validate(&json!({"bot_token": TOKEN, "chat_id": 1, "thread": 2}))
            .unwrap_err()
            .field,
        "thread"
    );
    for chat in [
        json!(-1001234567890_i64),
        json!("-1001234567890"),
        json!(42),
        json!("@herald_ops"),
    ] {
        assert!(
            TelegramProvider
                .validate(&json!({"bot_token": TOKEN, "chat_id": chat}))
                .is_ok(),
            "{chat}"
        );
    }
}

#[test]
fn a_quoted_chat_id_is_sent_as_a_number() {
    let config = json!({"bot_token": TOKEN, "chat_id": "-1001234567890"});
    let (_, body) = render_one(&Fixture::new(Kind::Telegram, waiting_event()), &config);
    assert_eq!(body["chat_id"], -1001234567890_i64);
}

#[test]
fn destination_is_the_chat() {
    let destination = TelegramProvider.destination(&config());
    assert_eq!(destination.key, "telegram:-1001234567890");
    assert_eq!(destination.rate, Some(Rate::new(1.0, 1)));
    assert!(!destination.key.contains("AAH"));
}

fn send() -> Outbound {
    let url = format!("https://api.telegram.org/bot{TOKEN}/sendMessage");
    OutboundRequest::post_json(url.parse().unwrap(), br#"{"chat_id": 1}"#.to_vec()).into()
}

#[test]
fn classification_follows_telegrams_envelope() {
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        TelegramProvider.classify(&send(), &response(status, headers, body))
    };
    assert_eq!(
        classify(
            200,
            &[],
            r#"{"ok": true, "result": {"message_id": 1234, "chat": {"id": -1001234567890}, "date": 1}}"#
        ),
        Outcome::Delivered {
            external_id: Some("-1001234567890:1234".into())
        }
    );
    assert_eq!(
        classify(
            429,
            &[("retry-after", "99")],
            r#"{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 35", "parameters": {"retry_after": 35}}"#
        ),
        Outcome::Retry {
            after: Some(Duration::from_secs(35)),
            reason: "Telegram sendMessage 429: Too Many Requests: retry after 35".into()
        }
    );
    assert!(matches!(
        classify(429, &[("retry-after", "7")], ""),
        Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
    ));
    for status in [500, 502, 503] {
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
        failed(
            400,
            r#"{"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -1009876543210}}"#
        ),
        "Telegram sendMessage 400: the group was upgraded to a supergroup; set chat_id to -1009876543210"
    );
    assert_eq!(
        failed(
            400,
            r#"{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}"#
        ),
        "Telegram sendMessage 400: Bad Request: chat not found"
    );
    assert_eq!(
        failed(
            401,
            r#"{"ok": false, "error_code": 401, "description": "Unauthorized"}"#
        ),
        "Telegram sendMessage 401: Unauthorized (check bot_token)"
    );
    assert_eq!(
        failed(
            403,
            r#"{"ok": false, "error_code": 403, "description": "Forbidden: bot was kicked from the supergroup chat"}"#
        ),
        "Telegram sendMessage 403: Forbidden: bot was kicked from the supergroup chat"
    );
    assert_eq!(
        failed(404, ""),
        "Telegram sendMessage 404: no description (check bot_token)"
    );
    assert_eq!(
        failed(200, r#"{"ok": false, "description": "odd"}"#),
        "Telegram sendMessage 200: odd"
    );
}

#[test]
fn no_reason_contains_the_token() {
    for status in [200, 400, 401, 403, 404, 429, 500] {
        let outcome = TelegramProvider.classify(
            &send(),
            &response(status, &[], r#"{"ok": false, "description": "x"}"#),
        );
        let reason = match outcome {
            Outcome::Failed { reason } | Outcome::Retry { reason, .. } => reason,
            Outcome::Delivered { .. } => continue,
        };
        assert!(
            !reason.contains(TOKEN) && !reason.contains("AAH"),
            "{reason}"
        );
        assert_eq!(Redactor::from_config(&config()).scrub(&reason), reason);
    }
}

#[test]
fn a_replys_own_id_is_not_kept() {
    let url = format!("https://api.telegram.org/bot{TOKEN}/sendMessage");
    let reply: Outbound = OutboundRequest::post_json(
        url.parse().unwrap(),
        br#"{"chat_id": 1, "reply_parameters": {"message_id": 7}}"#.to_vec(),
    )
    .into();
    let answer = response(
        200,
        &[],
        r#"{"ok": true, "result": {"message_id": 8, "chat": {"id": 1}}}"#,
    );
    assert_eq!(
        TelegramProvider.classify(&reply, &answer),
        Outcome::Delivered { external_id: None }
    );
}

#[tokio::test]
async fn delivers_to_the_fake_bot_api() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body(
        r#"{"ok": true, "result": {"message_id": 1234, "chat": {"id": -1001234567890}, "date": 1, "text": "x"}}"#,
    )]);
    let fixture = Fixture::new(Kind::Telegram, waiting_event()).at(&fake.url(""));
    let result = exchange(
        &loopback_sender(),
        &TelegramProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("-1001234567890:1234".into())
        }
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(received[0].header("content-type"), Some("application/json"));
    let body = received[0].json();
    assert_eq!(body["chat_id"], -1001234567890_i64);
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["link_preview_options"]["is_disabled"], true);
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("<b>[HIGH] Apply"));
}

#[tokio::test]
async fn a_run_starts_a_message_and_follow_ups_reply_to_it() {
    let fake = Receiver::start().await;
    let sender = loopback_sender();
    let answer = |id: i64| {
        Reply::status(200).body(&format!(
            r#"{{"ok": true, "result": {{"message_id": {id}, "chat": {{"id": -1001234567890}}}}}}"#
        ))
    };
    fake.script([answer(100), answer(101), answer(102)]);
    let started = Fixture::new(
        Kind::Telegram,
        json!({"type": "iac.run.started", "status": "running", "correlation_key": "run-42"}),
    )
    .at(&fake.url(""));
    let first = exchange(&sender, &TelegramProvider, &started.ctx(), &config()).await;
    let prior = first.external_id.clone().unwrap();
    assert_eq!(prior, "-1001234567890:100");

    for event in [
        waiting_event(),
        json!({"type": "iac.run.applied", "status": "applied", "correlation_key": "run-42"}),
    ] {
        let fixture = Fixture::new(Kind::Telegram, event)
            .with_prior(&prior)
            .at(&fake.url(""));
        let result = exchange(&sender, &TelegramProvider, &fixture.ctx(), &config()).await;
        // The engine keeps the prior: every follow-up replies to the first message.
        assert_eq!(
            result.outcome,
            Outcome::Delivered {
                external_id: Some(prior.clone())
            }
        );
    }
    let received = fake.received();
    assert_eq!(received.len(), 3);
    assert!(received[0].json().get("reply_parameters").is_none());
    for follow_up in &received[1..] {
        assert_eq!(follow_up.path, format!("/bot{TOKEN}/sendMessage"));
        assert_eq!(follow_up.json()["reply_parameters"]["message_id"], 100);
    }
}

#[tokio::test]
async fn the_connection_test_reads_the_bot_and_the_chat() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(200)
            .body(r#"{"ok": true, "result": {"id": 123456789, "is_bot": true, "username": "herald_bot"}}"#),
        Reply::status(200)
            .body(r#"{"ok": true, "result": {"id": -1001234567890, "type": "supergroup"}}"#),
    ]);
    let fixture = Fixture::new(Kind::Telegram, json!({"type": "herald.test"}))
        .for_test()
        .at(&fake.url(""));
    let result = exchange(
        &loopback_sender(),
        &TelegramProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].method, "GET");
    assert_eq!(received[0].path, format!("/bot{TOKEN}/getMe"));
    assert_eq!(received[1].method, "POST");
    assert_eq!(received[1].path, format!("/bot{TOKEN}/getChat"));
    assert_eq!(received[1].json(), json!({"chat_id": -1001234567890_i64}));

    // The token works but the chat is out of reach: the second step decides.
    fake.script([
        Reply::status(200).body(r#"{"ok": true, "result": {"id": 1, "is_bot": true}}"#),
        Reply::status(400).body(
            r#"{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}"#,
        ),
    ]);
    let result = exchange(
        &loopback_sender(),
        &TelegramProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            reason: "Telegram getChat 400: Bad Request: chat not found".into()
        }
    );

    // A bad token stops at getMe.
    fake.script([Reply::status(401)
        .body(r#"{"ok": false, "error_code": 401, "description": "Unauthorized"}"#)]);
    let before = fake.received().len();
    let result = exchange(
        &loopback_sender(),
        &TelegramProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            reason: "Telegram getMe 401: Unauthorized (check bot_token)".into()
        }
    );
    assert_eq!(fake.received().len(), before + 1);
}
