use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Received, Receiver, Reply};
use serde_json::{json, Value};

use super::render::{fit, units};
use super::SlackProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const TOKEN: &str = "xoxb-1234-5678-SECRETTOKENVALUE";
const POSTED: &str = r#"{"ok": true, "channel": "C0123456789", "ts": "1503435956.000247",
    "message": {"type": "message", "ts": "1503435956.000247"}}"#;

fn bot() -> Value {
    json!({"bot_token": TOKEN, "default_channel": "#deploys"})
}

fn running() -> Value {
    json!({"type": "iac.run.started", "title": "Apply net-prod", "status": "running",
        "severity": "high", "correlation_key": "run-42", "url": "https://ci.example/runs/42",
        "summary": "Plan: 3 to add, 1 to change",
        "facts": {"commit": "abc123", "workspace": "net-prod", "job": "apply"}})
}

fn waiting() -> Value {
    json!({"type": "iac.run.waiting_for_approval", "title": "Apply net-prod",
        "status": "waiting_for_approval", "correlation_key": "run-42",
        "url": "https://ci.example/runs/42", "approve_url": "https://ci.example/runs/42/approve"})
}

fn applied() -> Value {
    json!({"type": "iac.run.applied", "title": "Apply net-prod", "status": "applied",
        "severity": "high", "correlation_key": "run-42", "url": "https://ci.example/runs/42",
        "approve_url": "https://ci.example/runs/42/approve"})
}

/// The one HTTP request a render produced.
fn render_one(fixture: &Fixture, config: &Value) -> OutboundRequest {
    let requests = SlackProvider.render(&fixture.ctx(), config).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("expected one HTTP request, got {requests:?}")
    };
    request.clone()
}

fn body(request: &OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// A rich-text block as shown: its text elements joined, bold ones between `*`.
fn shown(block: &Value) -> String {
    assert_eq!(block["type"], "rich_text", "{block}");
    let mut out = String::new();
    for section in block["elements"].as_array().unwrap() {
        for element in section["elements"].as_array().unwrap() {
            assert_eq!(element["type"], "text", "event text only in text elements");
            let text = element["text"].as_str().unwrap();
            if element["style"]["bold"] == true {
                out.push_str(&format!("*{text}*"));
            } else {
                out.push_str(text);
            }
        }
    }
    out
}

fn blocks_of<'a>(body: &'a Value, kind: &str) -> Vec<&'a Value> {
    body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == kind)
        .collect()
}

fn api_request(method: &str, body: Value) -> Outbound {
    let url = format!("https://slack.com/api/{method}").parse().unwrap();
    let mut request =
        OutboundRequest::new(Method::Post, url).header("authorization", format!("Bearer {TOKEN}"));
    request.body = serde_json::to_vec(&body).unwrap();
    request.into()
}

fn webhook_request() -> Outbound {
    OutboundRequest::new(
        Method::Post,
        "https://hooks.slack.com/services/T0/B0/XXX"
            .parse()
            .unwrap(),
    )
    .into()
}

fn assert_web_api_call(received: &Received, path: &str) {
    assert_eq!(received.method, "POST");
    assert_eq!(received.path, path);
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

// ---- validation ----

#[test]
fn config_validation_names_the_key() {
    let token = TOKEN;
    let cases = [
        (json!({}), "webhook_url"),
        (
            json!({"webhook_url": "ftp://hooks.example/x"}),
            "webhook_url",
        ),
        (json!({"webhook_url": "not a url"}), "webhook_url"),
        (
            json!({"webhook_url": "https://u:p@hooks.slack.com/x"}),
            "webhook_url",
        ),
        (json!({"webhook_url": 5}), "webhook_url"),
        (
            json!({"webhook_url": "https://hooks.slack.com/services/T/B/X", "bot_token": token}),
            "bot_token",
        ),
        (
            json!({"webhook_url": "https://hooks.slack.com/services/T/B/X", "default_channel": "C1"}),
            "default_channel",
        ),
        (json!({"bot_token": token}), "default_channel"),
        (json!({"default_channel": "C1"}), "bot_token"),
        (
            json!({"bot_token": "abc", "default_channel": "C1"}),
            "bot_token",
        ),
        (
            json!({"bot_token": "xoxa-2-abc", "default_channel": "C1"}),
            "bot_token",
        ),
        (
            json!({"bot_token": "xoxe-1-refresh", "default_channel": "C1"}),
            "bot_token",
        ),
        (
            json!({"bot_token": "xoxb-12 34", "default_channel": "C1"}),
            "bot_token",
        ),
        (
            json!({"bot_token": token, "default_channel": "  "}),
            "default_channel",
        ),
        (
            json!({"bot_token": token, "default_channel": "my channel"}),
            "default_channel",
        ),
        (
            json!({"bot_token": token, "default_channel": 7}),
            "default_channel",
        ),
        (
            json!({"bot_token": token, "default_channel": "C1", "colour": "red"}),
            "colour",
        ),
    ];
    for (config, field) in cases {
        let error = SlackProvider.validate(&config).unwrap_err();
        assert_eq!(error.field, field, "{config}: {error}");
    }
    for good in [
        bot(),
        json!({"bot_token": "xoxp-1-2-3-abc", "default_channel": "C0123456789"}),
        json!({"bot_token": "xoxe.xoxb-1-abcDEF", "default_channel": "G0123"}),
        json!({"webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"}),
    ] {
        assert!(SlackProvider.validate(&good).is_ok(), "{good}");
    }
    assert!(SlackProvider.validate(&json!("xoxb-1")).is_err());
}

#[test]
fn validation_errors_never_echo_secrets() {
    let configs = [
        json!({"bot_token": "xoxa-TOPSECRETVALUE", "default_channel": "C1"}),
        json!({"bot_token": "xoxb-TOPSECRET VALUE", "default_channel": "C1"}),
        json!({"webhook_url": "hooks.slack.com/services/TOPSECRETVALUE"}),
        json!({"webhook_url": "https://hooks.slack.com/TOPSECRETVALUE", "bot_token": "xoxb-TOPSECRETVALUE"}),
    ];
    for config in configs {
        let error = SlackProvider.validate(&config).unwrap_err().to_string();
        assert!(!error.contains("TOPSECRET"), "{error}");
        assert_eq!(Redactor::from_config(&config).scrub(&error), error);
    }
}

// ---- rendering ----

#[test]
fn a_bot_post_is_block_kit_with_fallback_text_and_colour() {
    let fixture = Fixture::new(Kind::Slack, running());
    let request = render_one(&fixture, &bot());
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        "https://slack.com/api/chat.postMessage"
    );
    assert_eq!(
        request.header_value("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.header_value("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = body(&request);
    assert_eq!(body["channel"], "#deploys");
    assert_eq!(body["text"], "[HIGH] Apply net-prod");
    assert_eq!(body["unfurl_links"], false);
    assert_eq!(
        body["blocks"][0],
        json!({"type": "header", "text": {"type": "plain_text", "text": "[HIGH] Apply net-prod"}})
    );
    assert_eq!(
        body["mrkdwn"], false,
        "the fallback text is not parsed for formatting"
    );
    assert_eq!(
        shown(&body["blocks"][1]),
        "*Status: running · Severity: high*\nPlan: 3 to add, 1 to change"
    );
    assert_eq!(
        shown(&body["blocks"][2]),
        "*Workspace: *net-prod\n*Job: *apply\n*Commit: *abc123"
    );
    assert_eq!(
        blocks_of(&body, "actions")[0]["elements"],
        json!([{"type": "button", "text": {"type": "plain_text", "text": "View run"},
            "url": "https://ci.example/runs/42", "action_id": "view_run"}])
    );
    assert_eq!(body["attachments"][0]["color"], "#E01E5A");
    assert_eq!(body["attachments"][0]["fallback"], "[HIGH] Apply net-prod");
}

#[test]
fn approve_button_only_while_waiting_and_resolved_turns_green() {
    let request = render_one(&Fixture::new(Kind::Slack, waiting()), &bot());
    let body = body(&request);
    let ids: Vec<&str> = blocks_of(&body, "actions")[0]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["view_run", "approve_run"]);
    assert_eq!(
        blocks_of(&body, "actions")[0]["elements"][1]["url"],
        "https://ci.example/runs/42/approve"
    );
    assert_eq!(body["attachments"][0]["color"], "#ECB22E");

    let resolved = body_of_render(applied());
    assert_eq!(
        blocks_of(&resolved, "actions")[0]["elements"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(resolved["attachments"][0]["color"], "#2EB67D");
    assert_eq!(resolved["attachments"][0]["text"], "Applied");
    // A run applied is not an incident resolved, and its stale severity is dropped.
    assert_eq!(resolved["blocks"][0]["text"]["text"], "Apply net-prod");
    assert_eq!(resolved["text"], "Apply net-prod");
}

fn body_of_render(event: Value) -> Value {
    body(&render_one(&Fixture::new(Kind::Slack, event), &bot()))
}

#[test]
fn event_text_cannot_ping_format_or_forge_links() {
    let body = body_of_render(json!({"type": "x", "title": "<!channel> A & B",
        "summary": "<!here> see <https://evil.example|docs> & *more*",
        "facts": {"owner": "<@U123>"}}));
    // Rich text shows text elements as given; only Herald's labels are styled.
    assert_eq!(
        shown(&body["blocks"][1]),
        "<!here> see <https://evil.example|docs> & *more*"
    );
    assert_eq!(shown(&body["blocks"][2]), "*owner: *<@U123>");
    // The fallback text is escaped for Slack's control sequences.
    assert_eq!(body["text"], "&lt;!channel&gt; A &amp; B");
    assert_eq!(
        body["attachments"][0]["fallback"],
        "&lt;!channel&gt; A &amp; B"
    );
    // The header is plain_text, which Slack never parses: it stays as written.
    assert_eq!(body["blocks"][0]["text"]["text"], "<!channel> A & B");
}

#[test]
fn fitting_counts_escapes_and_never_splits_them() {
    assert_eq!(fit("a&b", 10, true), "a&amp;b");
    assert_eq!(fit("a&b", 10, false), "a&b");
    // "a" + "&amp;" would be 6 units; with the ellipsis only "a" fits in 5.
    assert_eq!(fit("a&bcdef", 5, true), "a…");
    assert_eq!(fit("abcdef", 4, false), "abc…");
    assert_eq!(fit("😀😀😀", 4, false), "😀…");
    assert_eq!(fit("😀😀", 4, false), "😀😀");
    assert_eq!(fit("abc", 0, false), "");
}

/// Collects every string inside `value`, as Slack counts block text.
fn text_units(value: &Value) -> usize {
    match value {
        Value::String(s) => units(s),
        Value::Array(items) => items.iter().map(text_units).sum(),
        Value::Object(map) => map.values().map(text_units).sum(),
        _ => 0,
    }
}

#[test]
fn huge_events_stay_within_block_kit_limits() {
    let mut facts = serde_json::Map::new();
    for i in 0..50 {
        facts.insert(
            format!("fact_{i}_{}", "n".repeat(300)),
            json!("v&<😀".repeat(1_000)),
        );
    }
    let long_url = format!("https://ci.example/{}", "p".repeat(2_000));
    let event = json!({"type": "iac.run.waiting_for_approval", "status": "waiting_for_approval",
        "title": "T<😀".repeat(170), "summary": "S&<>😀".repeat(2_000), "severity": "critical",
        "url": long_url, "approve_url": long_url, "facts": facts});
    for prior in [None, Some("C0123:1503435956.000247")] {
        let mut fixture = Fixture::new(Kind::Slack, event.clone());
        if let Some(prior) = prior {
            fixture = fixture.with_prior(prior);
        }
        let requests = SlackProvider.render(&fixture.ctx(), &bot()).unwrap();
        let body = body(requests[0].http().unwrap());
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        assert!(units(body["text"].as_str().unwrap()) <= 4_000);
        assert!(
            text_units(&body["blocks"]) < 12_000,
            "{}",
            text_units(&body["blocks"])
        );
        for block in blocks {
            match block["type"].as_str().unwrap() {
                "header" => {
                    assert_eq!(block["text"]["type"], "plain_text");
                    assert!(units(block["text"]["text"].as_str().unwrap()) <= 150);
                }
                "rich_text" => {
                    assert!(text_units(block) <= 3_200, "{}", text_units(block));
                }
                "actions" => {
                    let elements = block["elements"].as_array().unwrap();
                    assert!(!elements.is_empty() && elements.len() <= 25);
                    for button in elements {
                        assert!(units(button["text"]["text"].as_str().unwrap()) <= 75);
                        assert!(units(button["url"].as_str().unwrap()) <= 3_000);
                        assert!(button["action_id"].as_str().unwrap().len() <= 255);
                    }
                }
                "context" => {
                    assert_eq!(block["elements"][0]["text"], "40 more facts not shown");
                }
                other => panic!("unexpected block {other}"),
            }
        }
        // Something of each part survives the cuts.
        assert!(shown(&blocks[1]).contains("S&<>"));
        assert_eq!(shown(&blocks[2]).matches(": *").count(), 10);
    }
}

#[test]
fn follow_ups_edit_the_first_message_and_reply_in_its_thread_when_it_matters() {
    let prior = "C0123456789:1503435956.000247";
    let active = Fixture::new(Kind::Slack, running()).with_prior(prior);
    let requests = SlackProvider.render(&active.ctx(), &bot()).unwrap();
    assert_eq!(requests.len(), 1, "an active follow-up only edits");
    let update = requests[0].http().unwrap();
    assert_eq!(update.url.path(), "/api/chat.update");
    let body = body(update);
    assert_eq!(
        (body["channel"].as_str(), body["ts"].as_str()),
        (Some("C0123456789"), Some("1503435956.000247"))
    );
    assert!(body.get("unfurl_links").is_none());

    let resolved = Fixture::new(Kind::Slack, applied()).with_prior(prior);
    let requests = SlackProvider.render(&resolved.ctx(), &bot()).unwrap();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r.http().unwrap().url.path())
        .collect();
    assert_eq!(paths, ["/api/chat.update", "/api/chat.postMessage"]);
    let reply = self::body(requests[1].http().unwrap());
    assert_eq!(reply["channel"], "C0123456789");
    assert_eq!(reply["thread_ts"], "1503435956.000247");
    assert_eq!(reply["text"], "Applied: Apply net-prod");
    assert_eq!(reply["mrkdwn"], false);

    // Not a `channel:ts`: start a new message rather than edit something unknown.
    let odd = Fixture::new(Kind::Slack, running()).with_prior("ABC-7");
    let request = render_one(&odd, &bot());
    assert_eq!(request.url.path(), "/api/chat.postMessage");
    assert_eq!(self::body(&request)["channel"], "#deploys");
}

#[test]
fn a_webhook_gets_the_same_message_without_a_channel_and_ignores_priors() {
    let config = json!({"webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"});
    let fixture = Fixture::new(Kind::Slack, running()).with_prior("C0123:1503435956.000247");
    let request = render_one(&fixture, &config);
    assert_eq!(
        request.url.as_str(),
        "https://hooks.slack.com/services/T0/B0/XXXX"
    );
    assert_eq!(request.header_value("authorization"), None);
    let body = body(&request);
    assert!(body.get("channel").is_none() && body.get("ts").is_none());
    assert_eq!(body["text"], "[HIGH] Apply net-prod");
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["unfurl_links"], false);
}

// ---- classification ----

#[test]
fn web_api_answers_are_classified_on_the_body() {
    let post = api_request("chat.postMessage", json!({"channel": "C1", "text": "x"}));
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        SlackProvider.classify(&post, &response(status, headers, body))
    };
    assert_eq!(
        classify(200, &[], POSTED),
        Outcome::Delivered {
            external_id: Some("C0123456789:1503435956.000247".into())
        }
    );
    for code in [
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "org_login_required",
        "message_limit_exceeded",
        "update_failed",
    ] {
        let outcome = classify(200, &[], &format!(r#"{{"ok": false, "error": "{code}"}}"#));
        assert_eq!(
            outcome,
            Outcome::Retry {
                after: None,
                reason: format!("slack: {code}")
            }
        );
    }
    for code in [
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "no_permission",
        "not_allowed_token_type",
        "ekm_access_denied",
        "access_denied",
        "accesslimited",
        "app_access_restricted",
        "enterprise_is_restricted",
        "two_factor_setup_required",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "restricted_action_thread_locked",
        "cannot_reply_to_message",
        "team_not_found",
        "messages_tab_disabled",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_blocks_too_long",
        "msg_too_long",
        "too_many_attachments",
        "attachment_payload_limit_exceeded",
        "markdown_text_conflict",
        "invalid_arguments",
        "invalid_charset",
        "as_user_not_supported",
        "block_mismatch",
        "some_new_code",
    ] {
        let outcome = classify(200, &[], &format!(r#"{{"ok": false, "error": "{code}"}}"#));
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: format!("slack: {code}")
            },
            "{code}"
        );
    }
    let failed_with = |body: &str| match classify(200, &[], body) {
        Outcome::Failed { reason } => reason,
        other => panic!("{other:?}"),
    };
    assert!(
        failed_with(r#"{"ok": false, "error": "channel_not_found"}"#)
            .starts_with("slack: channel_not_found (")
    );
    assert!(
        failed_with(r#"{"ok": false, "error": "not_in_channel"}"#).contains("chat:write.public")
    );
    assert_eq!(
        failed_with(
            r#"{"ok": false, "error": "missing_scope", "needed": "chat:write", "provided": "users:read"}"#
        ),
        "slack: missing_scope (the token needs chat:write)"
    );
    assert!(failed_with(r#"{"ok": false, "error": "token_expired"}"#).contains("rotating"));
    assert_eq!(failed_with(r#"{"ok": false}"#), "slack: unknown_error");
    // A code that is not a code is not repeated into a stored reason.
    assert_eq!(
        failed_with(r#"{"ok": false, "error": "<script>x</script>"}"#),
        "slack: unknown_error"
    );
    assert_eq!(
        failed_with("<html>welcome</html>"),
        "slack: HTTP 200 without a Web API answer"
    );
    assert_eq!(
        failed_with(r#"{"hello": 1}"#),
        "slack: HTTP 200 without a Web API answer"
    );

    // Real statuses: 429 with Retry-After, 5xx, and other HTTP errors without a body.
    assert_eq!(
        classify(
            429,
            &[("Retry-After", "7")],
            r#"{"ok": false, "error": "ratelimited"}"#
        ),
        Outcome::Retry {
            after: Some(Duration::from_secs(7)),
            reason: "slack: ratelimited".into()
        }
    );
    assert_eq!(
        classify(429, &[("retry-after", "30")], ""),
        Outcome::Retry {
            after: Some(Duration::from_secs(30)),
            reason: "slack: ratelimited".into()
        }
    );
    assert_eq!(
        classify(503, &[], "<html>"),
        Outcome::Retry {
            after: None,
            reason: "slack: HTTP 503".into()
        }
    );
    assert!(matches!(
        classify(404, &[], "not found"),
        Outcome::Failed { reason } if reason == "slack: HTTP 404"
    ));
}

#[test]
fn only_top_level_messages_and_edits_produce_an_id() {
    let posted = response(200, &[], POSTED);
    let id = |request: &Outbound| match SlackProvider.classify(request, &posted) {
        Outcome::Delivered { external_id } => external_id,
        other => panic!("{other:?}"),
    };
    let expected = Some("C0123456789:1503435956.000247".to_owned());
    assert_eq!(
        id(&api_request("chat.postMessage", json!({"channel": "C1"}))),
        expected
    );
    assert_eq!(
        id(&api_request(
            "chat.update",
            json!({"channel": "C1", "ts": "1.2"})
        )),
        expected
    );
    assert_eq!(
        id(&api_request(
            "chat.postMessage",
            json!({"channel": "C1", "thread_ts": "1.2"})
        )),
        None
    );
    let auth = response(
        200,
        &[],
        r#"{"ok": true, "team_id": "T1", "user_id": "U1"}"#,
    );
    assert_eq!(
        SlackProvider.classify(&api_request("auth.test", json!({})), &auth),
        Outcome::Delivered { external_id: None }
    );
    // ok without channel/ts: delivered, but nothing to update later.
    assert_eq!(
        SlackProvider.classify(
            &api_request("chat.postMessage", json!({})),
            &response(200, &[], r#"{"ok": true}"#)
        ),
        Outcome::Delivered { external_id: None }
    );
}

#[test]
fn webhook_answers_follow_their_plain_text_table() {
    let classify = |status, headers: &[(&str, &str)], body: &str| {
        SlackProvider.classify(&webhook_request(), &response(status, headers, body))
    };
    assert_eq!(
        classify(200, &[], "ok"),
        Outcome::Delivered { external_id: None }
    );
    for (status, code) in [
        (400, "invalid_payload"),
        (400, "user_not_found"),
        (403, "action_prohibited"),
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
        (400, "no_text"),
        (400, "too_many_attachments"),
        (400, "posting_to_general_channel_denied"),
    ] {
        assert_eq!(
            classify(status, &[], code),
            Outcome::Failed {
                reason: format!("slack: {code}")
            }
        );
    }
    for code in [
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "invalid_token",
        "no_active_hooks",
    ] {
        for status in [200, 403, 404, 410, 500] {
            let Outcome::Failed { reason } = classify(status, &[], code) else {
                panic!("{status} {code}")
            };
            assert!(reason.starts_with(&format!("slack: {code} (")), "{reason}");
        }
    }
    assert_eq!(
        classify(500, &[], "rollup_error"),
        Outcome::Retry {
            after: None,
            reason: "slack: rollup_error".into()
        }
    );
    assert_eq!(
        classify(429, &[("Retry-After", "7")], ""),
        Outcome::Retry {
            after: Some(Duration::from_secs(7)),
            reason: "slack: HTTP 429".into()
        }
    );
    assert!(matches!(classify(502, &[], "<html>bad gateway</html>"),
        Outcome::Retry { reason, .. } if reason == "slack: HTTP 502"));
    assert!(matches!(classify(400, &[], "something_new"),
        Outcome::Failed { reason } if reason == "slack: something_new (HTTP 400)"));
}

#[test]
fn destinations_are_channels_or_hashed_webhooks_at_one_per_second() {
    let bot_destination = SlackProvider.destination(&bot());
    assert_eq!(bot_destination.key, "slack:#deploys");
    assert_eq!(bot_destination.rate, Some(Rate::new(1.0, 1)));
    let url = "https://hooks.slack.com/services/T0/B0/SECRETPART";
    let hook = SlackProvider.destination(&json!({"webhook_url": url}));
    assert!(hook.key.starts_with("slack:") && !hook.key.contains("SECRETPART"));
    assert_eq!(hook.rate, Some(Rate::new(1.0, 1)));
    let other = SlackProvider.destination(&json!({"webhook_url": format!("{url}2")}));
    assert_ne!(hook.key, other.key);
}

// ---- against a fake Slack ----

#[tokio::test]
async fn posts_to_the_web_api_with_the_bearer_token() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(200).body(POSTED)]);
    let fixture = Fixture::new(Kind::Slack, running()).at(&fake.url("/api"));
    let result = exchange(&loopback_sender(), &SlackProvider, &fixture.ctx(), &bot()).await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("C0123456789:1503435956.000247".into())
        }
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_web_api_call(&received[0], "/api/chat.postMessage");
    assert_eq!(
        received[0].header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = received[0].json();
    assert_eq!(body["channel"], "#deploys");
    assert_eq!(body["text"], "[HIGH] Apply net-prod");
    assert_eq!(body["blocks"][0]["type"], "header");
    assert!(body["blocks"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn a_run_shares_one_message_from_trigger_to_resolve() {
    let fake = Receiver::start().await;
    let sender = loopback_sender();
    let base = fake.url("/api");
    // Slack answers with the channel's id, not the name configured: the id is what to reuse.
    fake.script([Reply::status(200).body(POSTED)]);
    let first = Fixture::new(Kind::Slack, running()).at(&base);
    let posted = exchange(&sender, &SlackProvider, &first.ctx(), &bot()).await;
    let id = posted.external_id.expect("the post gives an id");
    assert_eq!(id, "C0123456789:1503435956.000247");

    // Waiting for approval: edit the message (now with the approve button), reply in thread.
    fake.script([
        Reply::status(200).body(
            r#"{"ok": true, "channel": "C0123456789", "ts": "1503435956.000247", "text": "x"}"#,
        ),
        Reply::status(200)
            .body(r#"{"ok": true, "channel": "C0123456789", "ts": "1503435999.000100"}"#),
    ]);
    let follow_up = Fixture::new(Kind::Slack, waiting())
        .at(&base)
        .with_prior(&id);
    let updated = exchange(&sender, &SlackProvider, &follow_up.ctx(), &bot()).await;
    assert_eq!(
        updated.outcome,
        Outcome::Delivered {
            external_id: Some(id.clone())
        },
        "the thread reply's ts must not replace the message's"
    );

    // Resolved: edit to the green resolved state, reply in thread.
    fake.script([
        Reply::status(200)
            .body(r#"{"ok": true, "channel": "C0123456789", "ts": "1503435956.000247"}"#),
        Reply::status(200)
            .body(r#"{"ok": true, "channel": "C0123456789", "ts": "1503436100.000200"}"#),
    ]);
    let resolve = Fixture::new(Kind::Slack, applied())
        .at(&base)
        .with_prior(&id);
    let resolved = exchange(&sender, &SlackProvider, &resolve.ctx(), &bot()).await;
    assert_eq!(
        resolved.outcome,
        Outcome::Delivered {
            external_id: Some(id.clone())
        }
    );

    let received = fake.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage",
            "/api/chat.update",
            "/api/chat.postMessage"
        ]
    );
    for request in &received {
        assert_web_api_call(request, &request.path);
    }
    for update in [&received[1], &received[3]] {
        let body = update.json();
        assert_eq!(body["channel"], "C0123456789");
        assert_eq!(body["ts"], "1503435956.000247");
        assert!(body["blocks"].is_array() && body["text"].is_string());
    }
    for reply in [&received[2], &received[4]] {
        let body = reply.json();
        assert_eq!(body["channel"], "C0123456789");
        assert_eq!(body["thread_ts"], "1503435956.000247");
    }
    let waiting = received[1].json();
    assert_eq!(
        blocks_of(&waiting, "actions")[0]["elements"][1]["action_id"],
        "approve_run"
    );
    assert_eq!(
        received[2].json()["text"],
        "Waiting for approval: Apply net-prod"
    );
    let applied = received[3].json();
    assert_eq!(applied["attachments"][0]["color"], "#2EB67D");
    assert_eq!(applied["attachments"][0]["text"], "Applied");
    assert_eq!(applied["blocks"][0]["text"]["text"], "Apply net-prod");
    assert_eq!(received[4].json()["text"], "Applied: Apply net-prod");
}

#[tokio::test]
async fn slack_errors_through_the_fake_fail_or_retry() {
    let fake = Receiver::start().await;
    let sender = loopback_sender();
    let fixture = Fixture::new(Kind::Slack, running()).at(&fake.url("/api"));
    let cases = [
        (
            Reply::status(200).body(r#"{"ok": false, "error": "channel_not_found"}"#),
            "channel_not_found",
        ),
        (
            Reply::status(200).body(r#"{"ok": false, "error": "invalid_auth"}"#),
            "invalid_auth",
        ),
    ];
    for (reply, code) in cases {
        fake.script([reply]);
        let result = exchange(&sender, &SlackProvider, &fixture.ctx(), &bot()).await;
        let Outcome::Failed { reason } = result.outcome else {
            panic!("{code}: {:?}", result.outcome)
        };
        assert!(reason.starts_with(&format!("slack: {code}")), "{reason}");
        assert!(!reason.contains("SECRETTOKEN"));
    }
    fake.script([Reply::status(429)
        .header("Retry-After", "7")
        .body(r#"{"ok": false, "error": "ratelimited"}"#)]);
    let limited = exchange(&sender, &SlackProvider, &fixture.ctx(), &bot()).await;
    assert_eq!(
        limited.outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(7)),
            reason: "slack: ratelimited".into()
        }
    );
    fake.script([Reply::status(200).body(r#"{"ok": false, "error": "ratelimited"}"#)]);
    let limited = exchange(&sender, &SlackProvider, &fixture.ctx(), &bot()).await;
    assert!(matches!(limited.outcome, Outcome::Retry { .. }));

    // A failed edit keeps the run's id, and the thread reply is not sent.
    fake.script([Reply::status(200).body(r#"{"ok": false, "error": "update_failed"}"#)]);
    let prior = "C0123456789:1503435956.000247";
    let resolve = Fixture::new(Kind::Slack, applied())
        .at(&fake.url("/api"))
        .with_prior(prior);
    let before = fake.received().len();
    let retry = exchange(&sender, &SlackProvider, &resolve.ctx(), &bot()).await;
    assert!(matches!(retry.outcome, Outcome::Retry { .. }));
    assert_eq!(fake.received().len(), before + 1);
}

#[tokio::test]
async fn the_bot_connection_test_proves_the_token_and_posting_to_the_channel() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(200).body(
            r#"{"ok": true, "url": "https://x.slack.com/", "team": "X", "user": "herald", "team_id": "T1", "user_id": "U1", "bot_id": "B1"}"#,
        ),
        Reply::status(200).body(POSTED),
    ]);
    let fixture = Fixture::new(
        Kind::Slack,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test()
    .at(&fake.url("/api"));
    let result = exchange(&loopback_sender(), &SlackProvider, &fixture.ctx(), &bot()).await;
    assert!(matches!(result.outcome, Outcome::Delivered { .. }));
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_web_api_call(&received[0], "/api/auth.test");
    assert_web_api_call(&received[1], "/api/chat.postMessage");
    assert_eq!(received[1].json()["channel"], "#deploys");
    assert_eq!(received[1].json()["text"], "Herald test event");

    // A channel the bot is not in: Slack's code, and what to do.
    fake.script([
        Reply::status(200).body(r#"{"ok": true, "user_id": "U1", "bot_id": "B1"}"#),
        Reply::status(200).body(r#"{"ok": false, "error": "not_in_channel"}"#),
    ]);
    let outside = exchange(&loopback_sender(), &SlackProvider, &fixture.ctx(), &bot()).await;
    let Outcome::Failed { reason } = outside.outcome else {
        panic!("{:?}", outside.outcome)
    };
    assert!(
        reason.contains("not_in_channel") && reason.contains("invite"),
        "{reason}"
    );

    fake.script([Reply::status(200).body(r#"{"ok": false, "error": "invalid_auth"}"#)]);
    let refused = exchange(&loopback_sender(), &SlackProvider, &fixture.ctx(), &bot()).await;
    assert_eq!(
        refused.outcome,
        Outcome::Failed {
            reason: "slack: invalid_auth".into()
        }
    );
}

#[tokio::test]
async fn a_webhook_posts_each_event_and_its_test_is_a_visible_message() {
    let fake = Receiver::start().await;
    fake.set_fallback(Reply::status(200).body("ok"));
    let config = json!({"webhook_url": fake.url("/services/T0/B0/XXXX")});
    let sender = loopback_sender();

    let test = Fixture::new(
        Kind::Slack,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let tested = exchange(&sender, &SlackProvider, &test.ctx(), &config).await;
    assert_eq!(tested.outcome, Outcome::Delivered { external_id: None });

    let follow_up = Fixture::new(Kind::Slack, applied()).with_prior("C0123:1503435956.000247");
    let sent = exchange(&sender, &SlackProvider, &follow_up.ctx(), &config).await;
    assert!(matches!(sent.outcome, Outcome::Delivered { .. }));

    let received = fake.received();
    assert_eq!(received.len(), 2, "one new message each, no edit or reply");
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/services/T0/B0/XXXX");
        assert_eq!(request.header("authorization"), None);
        assert!(request.json().get("channel").is_none());
    }
    assert_eq!(received[0].json()["text"], "Herald test event");
    assert_eq!(received[1].json()["text"], "Apply net-prod");

    fake.script([Reply::status(404).body("channel_not_found")]);
    let gone = exchange(&sender, &SlackProvider, &test.ctx(), &config).await;
    assert_eq!(
        gone.outcome,
        Outcome::Failed {
            reason: "slack: channel_not_found".into()
        }
    );
}
