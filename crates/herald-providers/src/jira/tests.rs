use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use herald_domain::Kind;
use herald_testkit::{Received, Receiver, Reply};
use serde_json::{json, Value};

use super::adf::{utf16_len, MAX_FIELD_CHARS};
use super::JiraProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const TOKEN: &str = "ATATT3xFfGF0-very-secret-token";

fn config(base: &str) -> Value {
    json!({
        "base_url": base,
        "email": "ops@example.com",
        "api_token": TOKEN,
        "project_key": "OPS",
    })
}

fn resolving_config(base: &str) -> Value {
    let mut config = config(base);
    config["resolve_transition"] = json!("done");
    config
}

fn incident() -> Value {
    json!({
        "type": "health.incident.opened",
        "title": "Disk 95% on db-1",
        "summary": "Host db-1 crossed 95%.\nIt keeps growing.\n\nSecond paragraph.",
        "severity": "critical",
        "status": "failed",
        "correlation_key": "incident-42",
        "url": "https://ci.example/run/1",
        "facts": {"workspace": "net", "host": "db-1"},
    })
}

fn resolved() -> Value {
    json!({
        "type": "health.incident.resolved",
        "title": "Disk 95% on db-1",
        "status": "resolved",
        "correlation_key": "incident-42",
    })
}

fn render_one(fixture: &Fixture, config: &Value) -> (OutboundRequest, Value) {
    let requests = JiraProvider.render(&fixture.ctx(), config).unwrap();
    let [Outbound::Http(request)] = requests.as_slice() else {
        panic!("one HTTP request, got {requests:?}")
    };
    let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    (request.clone(), body)
}

/// The method, path, Jira headers and (decoded) Basic credentials every request carries.
fn assert_jira_request(received: &Received, method: &str, path: &str) {
    assert_eq!(received.method, method, "{path}");
    assert_eq!(received.path, path);
    assert_eq!(received.header("accept"), Some("application/json"));
    let auth = received
        .header("authorization")
        .expect("an authorization header");
    let encoded = auth.strip_prefix("Basic ").expect("Basic auth");
    let decoded = String::from_utf8(B64.decode(encoded).unwrap()).unwrap();
    assert_eq!(decoded, format!("ops@example.com:{TOKEN}"));
    if !received.body.is_empty() {
        assert_eq!(received.header("content-type"), Some("application/json"));
    }
}

fn assert_adf(doc: &Value) {
    assert_eq!(doc["type"], "doc");
    assert_eq!(doc["version"], 1);
    assert!(!doc["content"].as_array().unwrap().is_empty(), "{doc}");
    // No text node may be empty or hold a line break.
    fn walk(node: &Value) {
        if node["type"] == "text" {
            let text = node["text"].as_str().unwrap();
            assert!(!text.is_empty() && !text.contains('\n'), "{node}");
        }
        for child in node["content"].as_array().into_iter().flatten() {
            walk(child);
        }
    }
    walk(doc);
}

fn texts(node: &Value) -> String {
    let mut out = String::new();
    if let Some(text) = node["text"].as_str() {
        out.push_str(text);
    }
    for child in node["content"].as_array().into_iter().flatten() {
        out.push_str(&texts(child));
        out.push('|');
    }
    out
}

#[test]
fn the_first_event_renders_an_issue_with_an_adf_description() {
    let fixture = Fixture::new(Kind::Jira, incident());
    let (request, body) = render_one(&fixture, &config("https://acme.atlassian.net"));
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        "https://acme.atlassian.net/rest/api/3/issue"
    );
    let fields = &body["fields"];
    assert_eq!(fields["project"], json!({"key": "OPS"}));
    assert_eq!(fields["issuetype"], json!({"name": "Task"}));
    assert_eq!(fields["summary"], "[CRITICAL] Disk 95% on db-1");
    assert_eq!(fields["labels"], json!(["herald", "sev-critical"]));
    let doc = &fields["description"];
    assert_adf(doc);
    let content = doc["content"].as_array().unwrap();
    assert_eq!(
        content[0],
        json!({"type": "paragraph", "content": [{"type": "text",
            "text": "Status: failed · Severity: critical", "marks": [{"type": "strong"}]}]})
    );
    // One line break inside a paragraph, a blank line between paragraphs.
    assert_eq!(
        content[1]["content"],
        json!([{"type": "text", "text": "Host db-1 crossed 95%."}, {"type": "hardBreak"},
            {"type": "text", "text": "It keeps growing."}])
    );
    assert_eq!(content[2]["content"][0]["text"], "Second paragraph.");
    assert_eq!(content[3]["type"], "bulletList");
    assert_eq!(
        content[3]["content"][0],
        json!({"type": "listItem", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "Workspace:", "marks": [{"type": "strong"}]},
            {"type": "text", "text": " net"}]}]})
    );
    assert_eq!(
        content[4]["content"][0],
        json!({"type": "text", "text": "View run",
            "marks": [{"type": "link", "attrs": {"href": "https://ci.example/run/1"}}]})
    );
}

#[test]
fn issue_type_is_configurable_and_a_context_path_is_kept() {
    let fixture = Fixture::new(Kind::Jira, json!({"type": "scan_done"}));
    let mut config = config("https://jira.example.com/jira/");
    config["issue_type"] = json!("Bug");
    let (request, body) = render_one(&fixture, &config);
    assert_eq!(
        request.url.as_str(),
        "https://jira.example.com/jira/rest/api/3/issue"
    );
    assert_eq!(body["fields"]["issuetype"], json!({"name": "Bug"}));
    assert_eq!(body["fields"]["summary"], "scan_done");
    assert_eq!(
        body["fields"]["labels"],
        json!(["herald"]),
        "no severity label without a severity"
    );
    assert_adf(&body["fields"]["description"]);
}

#[test]
fn a_follow_up_comments_on_the_prior_issue_with_an_encoded_key() {
    let fixture = Fixture::new(Kind::Jira, incident()).with_prior("OPS-24");
    let (request, body) = render_one(&fixture, &config("https://acme.atlassian.net"));
    assert_eq!(
        request.url.as_str(),
        "https://acme.atlassian.net/rest/api/3/issue/OPS-24/comment"
    );
    assert_adf(&body["body"]);
    assert_eq!(
        body["body"]["content"][0]["content"][0]["text"], "[CRITICAL] Disk 95% on db-1",
        "a comment says what happened first"
    );
    // A stored id cannot reach another path.
    let odd = Fixture::new(Kind::Jira, incident()).with_prior("../../myself?x=1");
    let (request, _) = render_one(&odd, &config("https://acme.atlassian.net"));
    assert_eq!(
        request.url.path(),
        "/rest/api/3/issue/..%2F..%2Fmyself%3Fx=1/comment"
    );
    assert_eq!(request.url.query(), None);
}

#[test]
fn limits_hold_for_huge_titles_texts_and_facts() {
    let mut facts = serde_json::Map::new();
    for i in 0..500 {
        facts.insert(
            format!("fact-{i}-{}", "n".repeat(200)),
            json!("v\"".repeat(2_000)),
        );
    }
    let fixture = Fixture::new(
        Kind::Jira,
        json!({
            "type": "x",
            "title": format!("line one\nline two {}", "😀".repeat(200)),
            "summary": "\"\n".repeat(8_000),
            "severity": "high",
            "facts": facts,
        }),
    );
    let (_, body) = render_one(&fixture, &config("https://acme.atlassian.net"));
    let summary = body["fields"]["summary"].as_str().unwrap();
    assert!(utf16_len(summary) <= 255, "{}", utf16_len(summary));
    assert!(summary.starts_with("[HIGH] line one line two"), "{summary}");
    assert!(summary.ends_with('…'));
    let description = &body["fields"]["description"];
    assert_adf(description);
    assert!(utf16_len(&description.to_string()) <= MAX_FIELD_CHARS);
    assert!(
        texts(description).contains("more facts"),
        "dropped facts are counted"
    );

    let comment = Fixture::new(Kind::Jira, fixture_input_with(facts_input())).with_prior("OPS-1");
    let (_, body) = render_one(&comment, &config("https://acme.atlassian.net"));
    assert!(utf16_len(&body["body"].to_string()) <= MAX_FIELD_CHARS);
    assert_adf(&body["body"]);
}

fn facts_input() -> serde_json::Map<String, Value> {
    (0..40)
        .map(|i| (format!("f{i}"), json!("x".repeat(5_000))))
        .collect()
}

fn fixture_input_with(facts: serde_json::Map<String, Value>) -> Value {
    json!({"type": "x", "summary": "s".repeat(16_000), "facts": facts})
}

#[tokio::test]
async fn create_comment_and_resolve_reuse_the_issue_key() {
    let fake = Receiver::start().await;
    let config = resolving_config(&fake.url(""));
    let sender = loopback_sender();

    fake.script([Reply::status(201)
        .body(r#"{"id": "10000", "key": "OPS-24", "self": "https://x/rest/api/3/issue/10000"}"#)]);
    let opened = Fixture::new(Kind::Jira, incident());
    let first = exchange(&sender, &JiraProvider, &opened.ctx(), &config).await;
    assert_eq!(
        first.outcome,
        Outcome::Delivered {
            external_id: Some("OPS-24".into())
        }
    );
    let key = first.external_id.unwrap();

    fake.script([Reply::status(201).body(r#"{"id": "10100"}"#)]);
    let update = Fixture::new(Kind::Jira, incident()).with_prior(&key);
    let second = exchange(&sender, &JiraProvider, &update.ctx(), &config).await;
    assert_eq!(
        second.outcome,
        Outcome::Delivered {
            external_id: Some("OPS-24".into())
        },
        "a follow-up keeps the prior key"
    );
    assert_eq!(
        second.steps(),
        1,
        "no transition before the matter is resolved"
    );

    fake.script([
        Reply::status(201).body(r#"{"id": "10101"}"#),
        Reply::status(200).body(
            r#"{"transitions": [
                {"id": "11", "name": "In Progress", "to": {"name": "In Progress"}},
                {"id": "31", "name": "Done", "to": {"name": "Done", "statusCategory": {"key": "done"}}}
            ]}"#,
        ),
        Reply::status(204),
    ]);
    let resolve = Fixture::new(Kind::Jira, resolved()).with_prior(&key);
    let third = exchange(&sender, &JiraProvider, &resolve.ctx(), &config).await;
    assert_eq!(
        third.outcome,
        Outcome::Delivered {
            external_id: Some("OPS-24".into())
        }
    );
    assert_eq!(third.steps(), 3);

    let received = fake.received();
    assert_eq!(received.len(), 5);
    assert_jira_request(&received[0], "POST", "/rest/api/3/issue");
    let fields = &received[0].json()["fields"];
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["summary"], "[CRITICAL] Disk 95% on db-1");
    assert_adf(&fields["description"]);
    assert_jira_request(&received[1], "POST", "/rest/api/3/issue/OPS-24/comment");
    assert_adf(&received[1].json()["body"]);
    assert_jira_request(&received[2], "POST", "/rest/api/3/issue/OPS-24/comment");
    assert!(texts(&received[2].json()["body"]).contains("Status: resolved"));
    assert_jira_request(&received[3], "GET", "/rest/api/3/issue/OPS-24/transitions");
    assert!(received[3].body.is_empty());
    assert_jira_request(&received[4], "POST", "/rest/api/3/issue/OPS-24/transitions");
    assert_eq!(received[4].json(), json!({"transition": {"id": "31"}}));
}

#[tokio::test]
async fn resolving_without_a_transition_configured_only_comments() {
    let fake = Receiver::start().await;
    fake.script([Reply::status(201).body(r#"{"id": "1"}"#)]);
    let fixture = Fixture::new(Kind::Jira, resolved()).with_prior("OPS-24");
    let result = exchange(
        &loopback_sender(),
        &JiraProvider,
        &fixture.ctx(),
        &config(&fake.url("")),
    )
    .await;
    assert!(matches!(result.outcome, Outcome::Delivered { .. }));
    let paths: Vec<_> = fake.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/rest/api/3/issue/OPS-24/comment"]);
}

#[tokio::test]
async fn a_missing_transition_fails_naming_the_available_ones() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(201).body(r#"{"id": "1"}"#),
        Reply::status(200).body(
            r#"{"transitions": [{"id": "4", "name": "Reopen", "to": {"name": "Open"}},
                {"id": "5", "name": "Won't fix", "to": {"name": "Closed"}}]}"#,
        ),
    ]);
    let fixture = Fixture::new(Kind::Jira, resolved()).with_prior("OPS-24");
    let result = exchange(
        &loopback_sender(),
        &JiraProvider,
        &fixture.ctx(),
        &resolving_config(&fake.url("")),
    )
    .await;
    let Outcome::Failed { reason } = result.outcome else {
        panic!("{result:?}")
    };
    assert!(reason.contains("“done”"), "{reason}");
    assert!(reason.contains("“Reopen”, “Won't fix”"), "{reason}");
    assert_eq!(fake.received().len(), 2, "nothing posted after the lookup");
}

#[tokio::test]
async fn a_transition_may_be_named_by_its_target_status() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(201).body(r#"{"id": "1"}"#),
        Reply::status(200).body(
            r#"{"transitions": [{"id": 71, "name": "Close issue", "to": {"name": "Done"}}]}"#,
        ),
        Reply::status(204),
    ]);
    let fixture = Fixture::new(Kind::Jira, resolved()).with_prior("OPS-24");
    let result = exchange(
        &loopback_sender(),
        &JiraProvider,
        &fixture.ctx(),
        &resolving_config(&fake.url("")),
    )
    .await;
    assert!(
        matches!(result.outcome, Outcome::Delivered { .. }),
        "{result:?}"
    );
    assert_eq!(
        fake.received()[2].json(),
        json!({"transition": {"id": "71"}})
    );
}

#[tokio::test]
async fn a_first_event_that_is_already_resolved_opens_and_closes_its_issue() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(201).body(r#"{"id": "10002", "key": "OPS-25"}"#),
        Reply::status(200).body(r#"{"transitions": [{"id": "31", "name": "Done"}]}"#),
        Reply::status(204),
    ]);
    let fixture = Fixture::new(Kind::Jira, resolved());
    let result = exchange(
        &loopback_sender(),
        &JiraProvider,
        &fixture.ctx(),
        &resolving_config(&fake.url("")),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("OPS-25".into())
        }
    );
    let received = fake.received();
    assert_jira_request(&received[0], "POST", "/rest/api/3/issue");
    assert_jira_request(&received[1], "GET", "/rest/api/3/issue/OPS-25/transitions");
    assert_jira_request(&received[2], "POST", "/rest/api/3/issue/OPS-25/transitions");
}

#[tokio::test]
async fn the_connection_test_creates_then_deletes_an_issue() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(201).body(r#"{"id": "10009", "key": "OPS-99"}"#),
        Reply::status(204),
    ]);
    let fixture = Fixture::new(
        Kind::Jira,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let config = config(&fake.url(""));
    let result = exchange(&loopback_sender(), &JiraProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(result.outcome, Outcome::Delivered { .. }),
        "{result:?}"
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_jira_request(&received[0], "POST", "/rest/api/3/issue");
    let fields = &received[0].json()["fields"];
    assert_eq!(fields["summary"], "Herald connection test");
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["issuetype"]["name"], "Task");
    assert_adf(&fields["description"]);
    assert!(texts(&fields["description"]).contains("deletes it straight away"));
    assert_jira_request(&received[1], "DELETE", "/rest/api/3/issue/OPS-99");

    // Many accounts may create issues but not delete them: the test still passes.
    fake.script([
        Reply::status(201).body(r#"{"id": "10010", "key": "OPS-100"}"#),
        Reply::status(403).body(r#"{"errorMessages": ["You do not have permission to delete issues in this project."]}"#),
    ]);
    let result = exchange(&loopback_sender(), &JiraProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(result.outcome, Outcome::Delivered { .. }),
        "{result:?}"
    );
    assert_eq!(
        result.last_response.unwrap().status,
        403,
        "the answer is shown"
    );

    // A refused create fails the test and deletes nothing.
    fake.script([Reply::status(401)]);
    let result = exchange(&loopback_sender(), &JiraProvider, &fixture.ctx(), &config).await;
    assert!(
        matches!(&result.outcome, Outcome::Failed { reason } if reason.contains("401")),
        "{result:?}"
    );
    assert_eq!(fake.received().len(), 5);
}

fn post_to(path: &str) -> Outbound {
    OutboundRequest::post_json(
        format!("https://acme.atlassian.net{path}").parse().unwrap(),
        vec![],
    )
    .into()
}

#[test]
fn classification_follows_jiras_signals() {
    let create = post_to("/rest/api/3/issue");
    let comment = post_to("/rest/api/3/issue/OPS-1/comment");
    let provider = JiraProvider;
    assert_eq!(
        provider.classify(
            &create,
            &response(201, &[], r#"{"id": "10000", "key": "OPS-24"}"#)
        ),
        Outcome::Delivered {
            external_id: Some("OPS-24".into())
        }
    );
    assert_eq!(
        provider.classify(&comment, &response(201, &[], r#"{"id": "10000"}"#)),
        Outcome::Delivered { external_id: None },
        "a comment's id is not the issue's"
    );
    for status in [200, 204] {
        assert!(matches!(
            provider.classify(&comment, &response(status, &[], "")),
            Outcome::Delivered { external_id: None }
        ));
    }
    let retry = |status, headers: &[(&str, &str)]| match provider
        .classify(&comment, &response(status, headers, ""))
    {
        Outcome::Retry { after, .. } => after,
        other => panic!("{status}: {other:?}"),
    };
    assert_eq!(
        retry(
            429,
            &[
                ("Retry-After", "12"),
                ("RateLimit-Reason", "jira-burst-based")
            ]
        ),
        Some(Duration::from_secs(12))
    );
    // The fixture answers at 2025-06-15T15:06:40Z; the reset is 3 min 20 s later.
    assert_eq!(
        retry(429, &[("X-RateLimit-Reset", "2025-06-15T15:10Z")]),
        Some(Duration::from_secs(200))
    );
    assert_eq!(
        retry(503, &[("Retry-After", "30")]),
        Some(Duration::from_secs(30))
    );
    assert_eq!(retry(503, &[]), None);
    assert_eq!(retry(500, &[]), None);
    assert_eq!(retry(502, &[]), None);

    let failed = |status, body: &str| match provider.classify(&create, &response(status, &[], body))
    {
        Outcome::Failed { reason } => reason,
        other => panic!("{status}: {other:?}"),
    };
    assert_eq!(
        failed(
            400,
            r#"{"errorMessages": [], "errors": {"summary": "Summary must be less than 255 characters."}}"#
        ),
        "Jira 400: summary: Summary must be less than 255 characters."
    );
    assert_eq!(
        failed(
            400,
            r#"{"errorMessages": ["Field 'labels' cannot be set."], "errors": {}}"#
        ),
        "Jira 400: Field 'labels' cannot be set."
    );
    assert!(failed(401, "").contains("e-mail or API token"));
    assert!(failed(403, "").starts_with("Jira 403"));
    assert!(failed(
        404,
        r#"{"errorMessages": ["Issue does not exist or you do not have permission to see it."]}"#
    )
    .contains("Issue does not exist"));
}

#[test]
fn config_validation_names_the_key() {
    let base = config("https://acme.atlassian.net");
    let with = |key: &str, value: Value| {
        let mut config = base.clone();
        config[key] = value;
        config
    };
    let without = |key: &str| {
        let mut config = base.clone();
        config.as_object_mut().unwrap().remove(key);
        config
    };
    let cases = [
        (without("base_url"), "base_url"),
        (
            with("base_url", json!("ftp://acme.atlassian.net")),
            "base_url",
        ),
        (with("base_url", json!("acme.atlassian.net")), "base_url"),
        (
            with("base_url", json!("https://u:p@acme.atlassian.net")),
            "base_url",
        ),
        (
            with("base_url", json!("https://acme.atlassian.net/rest/api/3")),
            "base_url",
        ),
        (
            with("base_url", json!("https://acme.atlassian.net/browse/OPS-1")),
            "base_url",
        ),
        (
            with(
                "base_url",
                json!("https://acme.atlassian.net/jira/software/projects/OPS"),
            ),
            "base_url",
        ),
        (
            with("base_url", json!("https://acme.atlassian.net/?x=1")),
            "base_url",
        ),
        (without("email"), "email"),
        (with("email", json!("")), "email"),
        (with("email", json!("ops")), "email"),
        (with("email", json!("o:ps@example.com")), "email"),
        (without("api_token"), "api_token"),
        (with("api_token", json!("")), "api_token"),
        (with("api_token", json!("abc def")), "api_token"),
        (with("api_token", json!(12345678)), "api_token"),
        (without("project_key"), "project_key"),
        (with("project_key", json!("ops")), "project_key"),
        (with("project_key", json!("O")), "project_key"),
        (with("project_key", json!("1OPS")), "project_key"),
        (with("project_key", json!("OPS-1")), "project_key"),
        (with("issue_type", json!("")), "issue_type"),
        (with("issue_type", json!("Bug\nTask")), "issue_type"),
        (with("resolve_transition", json!(" ")), "resolve_transition"),
        (with("resolve_transition", json!(5)), "resolve_transition"),
        (with("priority", json!("High")), "priority"),
    ];
    for (config, field) in cases {
        assert_eq!(
            JiraProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    assert_eq!(
        JiraProvider
            .validate(&json!("https://x"))
            .unwrap_err()
            .field,
        "config"
    );
    for ok in [
        base.clone(),
        with("base_url", json!("https://acme.atlassian.net/")),
        with("base_url", json!("http://127.0.0.1:8080")),
        with("base_url", json!("https://jira.example.com/jira")),
        with("issue_type", json!("Incident")),
        with("resolve_transition", json!("Done")),
        with("project_key", json!("OPS_2")),
    ] {
        assert!(JiraProvider.validate(&ok).is_ok(), "{ok}");
    }
}

#[test]
fn errors_never_echo_the_token() {
    let mut bad = config("https://acme.atlassian.net");
    bad["api_token"] = json!(format!("{TOKEN} with space"));
    let error = JiraProvider.validate(&bad).unwrap_err().to_string();
    assert!(!error.contains("very-secret"), "{error}");
    bad["api_token"] = json!(987654321);
    let error = JiraProvider.validate(&bad).unwrap_err().to_string();
    assert!(!error.contains("987654321"), "{error}");
    let parsed = super::JiraConfig::parse(&config("https://acme.atlassian.net")).unwrap();
    assert!(!format!("{parsed:?}").contains("very-secret"));
    assert_eq!(Redactor::from_config(&bad).scrub(&error), error);
}

#[test]
fn the_destination_is_the_site_without_a_pace() {
    let destination = JiraProvider.destination(&config("https://acme.atlassian.net/"));
    assert_eq!(destination.key, "jira:acme.atlassian.net");
    assert_eq!(destination.rate, None::<Rate>);
}
