use std::time::Duration;

use herald_domain::Kind;
use herald_testkit::{Received, Receiver, Reply};
use serde_json::{json, Value};

use super::markdown::MAX_BODY_CHARS;
use super::GithubProvider;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, Method, Outbound, OutboundRequest, Outcome, Provider, Rate, Redactor};

const TOKEN: &str = "github_pat_11ABCDEFG0123456789_secret";

fn config() -> Value {
    json!({"repo": "acme/ops-alerts", "token": TOKEN})
}

fn incident() -> Value {
    json!({
        "type": "health.incident.opened",
        "title": "Disk 95% on db-1",
        "summary": "Host db-1 crossed **95%**.",
        "severity": "high",
        "status": "failed",
        "correlation_key": "incident-42",
        "url": "https://ci.example/run/1",
        "facts": {"workspace": "net", "note": "a|b\nc"},
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

fn render(fixture: &Fixture, config: &Value) -> Vec<OutboundRequest> {
    GithubProvider
        .render(&fixture.ctx(), config)
        .unwrap()
        .into_iter()
        .map(|o| o.http().unwrap().clone())
        .collect()
}

fn json_body(request: &OutboundRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// The method, path and every header GitHub requires.
fn assert_github_request(received: &Received, method: &str, path: &str) {
    assert_eq!(received.method, method, "{path}");
    assert_eq!(received.path, path);
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        received.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(received.header("x-github-api-version"), Some("2022-11-28"));
    let agent = received.header("user-agent").unwrap_or_default();
    assert!(agent.starts_with("Herald/"), "{agent}");
    if !received.body.is_empty() {
        assert_eq!(received.header("content-type"), Some("application/json"));
    }
}

#[test]
fn the_first_event_opens_an_issue_with_a_markdown_body() {
    let fixture = Fixture::new(Kind::Github, incident());
    let requests = render(&fixture, &config());
    let [request] = requests.as_slice() else {
        panic!("{requests:?}")
    };
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.url.as_str(),
        "https://api.github.com/repos/acme/ops-alerts/issues"
    );
    let body = json_body(request);
    assert_eq!(body["title"], "[HIGH] Disk 95% on db-1");
    assert_eq!(body["labels"], json!(["herald"]));
    // The event's own `**95%**` is shown as typed, not as bold.
    assert_eq!(
        body["body"],
        "**Status\\: failed · Severity\\: high**\n\n\
         Host db\\-1 crossed \\*\\*95\\%\\*\\*\\.\n\n\
         | Fact | Value |\n| --- | --- |\n| Workspace | net |\n| note | a\\|b c |\n\n\
         [View run](<https://ci.example/run/1>)"
    );
}

#[test]
fn enterprise_server_uses_its_api_url() {
    let mut config = config();
    config["api_url"] = json!("https://github.example.com/api/v3");
    let requests = render(&Fixture::new(Kind::Github, incident()), &config);
    assert_eq!(
        requests[0].url.as_str(),
        "https://github.example.com/api/v3/repos/acme/ops-alerts/issues"
    );
}

#[test]
fn follow_ups_comment_and_a_resolution_also_closes() {
    let update = Fixture::new(Kind::Github, incident()).with_prior("17");
    let requests = render(&update, &config());
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].url.path(),
        "/repos/acme/ops-alerts/issues/17/comments"
    );
    let comment = json_body(&requests[0])["body"].as_str().unwrap().to_owned();
    assert!(
        comment.starts_with("### \\[HIGH\\] Disk 95\\% on db\\-1\n\n**Status\\: failed"),
        "{comment}"
    );

    let resolve = Fixture::new(Kind::Github, resolved()).with_prior("17");
    let requests = render(&resolve, &config());
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, Method::Patch);
    assert_eq!(requests[1].url.path(), "/repos/acme/ops-alerts/issues/17");
    assert_eq!(
        json_body(&requests[1]),
        json!({"state": "closed", "state_reason": "completed"})
    );

    let bad = Fixture::new(Kind::Github, incident()).with_prior("17/../../x");
    assert!(GithubProvider.render(&bad.ctx(), &config()).is_err());
}

#[test]
fn limits_hold_for_huge_titles_texts_and_facts() {
    let facts: serde_json::Map<String, Value> = (0..300)
        .map(|i| {
            (
                format!("fact {i} {}", "n".repeat(500)),
                json!("|".repeat(5_000)),
            )
        })
        .collect();
    let fixture = Fixture::new(
        Kind::Github,
        json!({
            "type": "x",
            "title": format!("first\nsecond {}", "é".repeat(500)),
            "summary": "s".repeat(16_000),
            "severity": "low",
            "url": "https://ci.example/run/1",
            "facts": facts,
        }),
    );
    let body = json_body(&render(&fixture, &config())[0]);
    let title = body["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 256);
    assert!(title.starts_with("[LOW] first second é"), "{title}");
    let text = body["body"].as_str().unwrap();
    assert!(text.chars().count() <= MAX_BODY_CHARS);
    assert!(text.contains(&"s".repeat(16_000)), "the text is kept whole");
    assert!(text.contains("more facts_"), "dropped facts are counted");
    assert!(text.ends_with("[View run](<https://ci.example/run/1>)"));

    let comment = Fixture::new(
        Kind::Github,
        json!({"type": "x", "summary": "s".repeat(16_000), "facts": facts}),
    )
    .with_prior("3");
    let body = json_body(&render(&comment, &config())[0]);
    assert!(body["body"].as_str().unwrap().chars().count() <= MAX_BODY_CHARS);
}

#[tokio::test]
async fn create_comment_and_close_reuse_the_issue_number() {
    let fake = Receiver::start().await;
    let fixture = |event: Value| Fixture::new(Kind::Github, event).at(&fake.url(""));
    let sender = loopback_sender();

    fake.script([Reply::status(201).body(
        r#"{"id": 1, "number": 42, "html_url": "https://github.com/acme/ops-alerts/issues/42", "state": "open"}"#,
    )]);
    let opened = fixture(incident());
    let first = exchange(&sender, &GithubProvider, &opened.ctx(), &config()).await;
    assert_eq!(
        first.outcome,
        Outcome::Delivered {
            external_id: Some("42".into())
        }
    );
    let number = first.external_id.unwrap();

    fake.script([Reply::status(201).body(r#"{"id": 9001}"#)]);
    let update = fixture(incident()).with_prior(&number);
    let second = exchange(&sender, &GithubProvider, &update.ctx(), &config()).await;
    assert_eq!(
        second.outcome,
        Outcome::Delivered {
            external_id: Some("42".into())
        }
    );

    fake.script([
        Reply::status(201).body(r#"{"id": 9002}"#),
        Reply::status(200).body(r#"{"number": 42, "state": "closed"}"#),
    ]);
    let resolve = fixture(resolved()).with_prior(&number);
    let third = exchange(&sender, &GithubProvider, &resolve.ctx(), &config()).await;
    assert_eq!(
        third.outcome,
        Outcome::Delivered {
            external_id: Some("42".into())
        }
    );
    assert_eq!(third.steps(), 2);

    let received = fake.received();
    assert_eq!(received.len(), 4);
    assert_github_request(&received[0], "POST", "/repos/acme/ops-alerts/issues");
    let issue = received[0].json();
    assert_eq!(issue["title"], "[HIGH] Disk 95% on db-1");
    assert!(issue["body"].as_str().unwrap().contains("Host db\\-1"));
    assert_eq!(issue["labels"], json!(["herald"]));
    assert_github_request(
        &received[1],
        "POST",
        "/repos/acme/ops-alerts/issues/42/comments",
    );
    assert!(received[1].json()["body"]
        .as_str()
        .unwrap()
        .contains("Status\\: failed"));
    assert_github_request(
        &received[2],
        "POST",
        "/repos/acme/ops-alerts/issues/42/comments",
    );
    assert!(received[2].json()["body"]
        .as_str()
        .unwrap()
        .contains("Status\\: resolved"));
    assert_github_request(&received[3], "PATCH", "/repos/acme/ops-alerts/issues/42");
    assert_eq!(
        received[3].json(),
        json!({"state": "closed", "state_reason": "completed"})
    );
}

#[tokio::test]
async fn a_first_event_that_is_already_resolved_opens_and_closes_its_issue() {
    let fake = Receiver::start().await;
    fake.script([
        Reply::status(201).body(r#"{"number": 7}"#),
        Reply::status(200).body(r#"{"number": 7}"#),
    ]);
    let fixture = Fixture::new(Kind::Github, resolved()).at(&fake.url(""));
    let result = exchange(
        &loopback_sender(),
        &GithubProvider,
        &fixture.ctx(),
        &config(),
    )
    .await;
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some("7".into())
        }
    );
    let received = fake.received();
    assert_github_request(&received[0], "POST", "/repos/acme/ops-alerts/issues");
    assert_github_request(&received[1], "PATCH", "/repos/acme/ops-alerts/issues/7");
}

#[tokio::test]
async fn the_connection_test_reads_the_repository_and_its_permissions() {
    let fake = Receiver::start().await;
    let fixture = Fixture::new(
        Kind::Github,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test()
    .at(&fake.url(""));
    let (sender, config, ctx) = (loopback_sender(), config(), fixture.ctx());
    let test = || exchange(&sender, &GithubProvider, &ctx, &config);

    fake.script([Reply::status(200).body(
        r#"{"full_name": "acme/ops-alerts", "has_issues": true, "permissions": {"admin": false, "push": true, "pull": true}}"#,
    )]);
    assert!(matches!(
        test().await.outcome,
        Outcome::Delivered { external_id: None }
    ));
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_github_request(&received[0], "GET", "/repos/acme/ops-alerts");

    fake.script([Reply::status(200).body(
        r#"{"full_name": "acme/ops-alerts", "permissions": {"push": false, "pull": true}}"#,
    )]);
    assert_eq!(
        test().await.outcome,
        Outcome::Failed {
            reason: "the token cannot write to acme/ops-alerts".into()
        }
    );

    // An installation token's answer has no permissions object: access is the proof.
    fake.script([Reply::status(200).body(r#"{"full_name": "acme/ops-alerts"}"#)]);
    assert!(matches!(test().await.outcome, Outcome::Delivered { .. }));

    fake.script([Reply::status(200).body(
        r#"{"full_name": "acme/ops-alerts", "has_issues": false, "permissions": {"push": true}}"#,
    )]);
    assert!(
        matches!(test().await.outcome, Outcome::Failed { reason } if reason.contains("issues are disabled"))
    );

    for status in [401, 404] {
        fake.script([Reply::status(status).body(r#"{"message": "Bad credentials"}"#)]);
        assert!(
            matches!(test().await.outcome, Outcome::Failed { reason } if reason.starts_with(&format!("GitHub {status}"))),
            "{status}"
        );
    }
}

fn create() -> Outbound {
    OutboundRequest::post_json(
        "https://api.github.com/repos/acme/ops-alerts/issues"
            .parse()
            .unwrap(),
        vec![],
    )
    .into()
}

fn comment() -> Outbound {
    OutboundRequest::post_json(
        "https://api.github.com/repos/acme/ops-alerts/issues/4/comments"
            .parse()
            .unwrap(),
        vec![],
    )
    .into()
}

#[test]
fn rate_limits_are_retried_when_they_are_signalled() {
    let retry = |status, headers: &[(&str, &str)], body: &str| match GithubProvider
        .classify(&comment(), &response(status, headers, body))
    {
        Outcome::Retry { after, reason } => (after, reason),
        other => panic!("{status} {headers:?}: {other:?}"),
    };
    // The fixture's responses arrive at 1_750_000_000.
    let primary = [
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "1750000120"),
    ];
    for status in [403, 429] {
        let (after, reason) = retry(
            status,
            &primary,
            r#"{"message": "API rate limit exceeded for user ID 1."}"#,
        );
        assert_eq!(after, Some(Duration::from_secs(120)), "{status}");
        assert!(reason.contains("API rate limit exceeded"), "{reason}");
    }
    let (after, _) = retry(
        403,
        &[("retry-after", "30"), ("x-ratelimit-remaining", "0")],
        "",
    );
    assert_eq!(
        after,
        Some(Duration::from_secs(30)),
        "retry-after comes first"
    );
    let (after, _) = retry(
        403,
        &[("x-ratelimit-remaining", "4000")],
        r#"{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
    );
    assert_eq!(after, Some(Duration::from_secs(60)));
    let (after, _) = retry(429, &[], "");
    assert_eq!(after, Some(Duration::from_secs(60)));
    // A reset already past means: now.
    let (after, _) = retry(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1749999000"),
        ],
        "",
    );
    assert_eq!(after, Some(Duration::ZERO));
    for status in [500, 502, 503] {
        retry(status, &[], "");
    }
}

#[test]
fn classification_follows_githubs_signals() {
    let provider = GithubProvider;
    assert_eq!(
        provider.classify(&create(), &response(201, &[], r#"{"id": 1, "number": 42}"#)),
        Outcome::Delivered {
            external_id: Some("42".into())
        }
    );
    assert_eq!(
        provider.classify(&comment(), &response(201, &[], r#"{"id": 99}"#)),
        Outcome::Delivered { external_id: None },
        "a comment's id is not the issue's"
    );
    let failed = |status, headers: &[(&str, &str)], body: &str| match provider
        .classify(&create(), &response(status, headers, body))
    {
        Outcome::Failed { reason } => reason,
        other => panic!("{status}: {other:?}"),
    };
    assert_eq!(
        failed(401, &[], r#"{"message": "Bad credentials"}"#),
        "GitHub 401: Bad credentials"
    );
    assert_eq!(
        failed(
            403,
            &[("x-ratelimit-remaining", "4999")],
            r#"{"message": "Resource not accessible by personal access token"}"#
        ),
        "GitHub 403: Resource not accessible by personal access token"
    );
    assert!(failed(404, &[], r#"{"message": "Not Found"}"#).contains("cannot see it"));
    assert_eq!(
        failed(
            410,
            &[],
            r#"{"message": "Issues are disabled for this repo"}"#
        ),
        "GitHub 410: Issues are disabled for this repo"
    );
    assert_eq!(
        failed(
            422,
            &[],
            r#"{"message": "Validation Failed", "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}]}"#
        ),
        "GitHub 422: Validation Failed (Issue.title: missing_field)"
    );
    assert!(failed(301, &[], "").contains("moved"));
}

#[test]
fn config_validation_names_the_key() {
    let with = |key: &str, value: Value| {
        let mut config = config();
        config[key] = value;
        config
    };
    let cases = [
        (json!({"token": TOKEN}), "repo"),
        (with("repo", json!("acme")), "repo"),
        (with("repo", json!("acme/")), "repo"),
        (with("repo", json!("/ops")), "repo"),
        (with("repo", json!("acme/ops/extra")), "repo"),
        (with("repo", json!("-acme/ops")), "repo"),
        (with("repo", json!("ac_me/ops")), "repo"),
        (
            with("repo", json!(format!("{}/ops", "a".repeat(40)))),
            "repo",
        ),
        (with("repo", json!("acme/o ps")), "repo"),
        (with("repo", json!("acme/..")), "repo"),
        (
            with("repo", json!(format!("acme/{}", "r".repeat(101)))),
            "repo",
        ),
        (json!({"repo": "acme/ops"}), "token"),
        (with("token", json!("")), "token"),
        (with("token", json!("ghp_abc\n")), "token"),
        (with("token", json!(123456789)), "token"),
        (
            with("api_url", json!("ftp://github.example.com")),
            "api_url",
        ),
        (with("api_url", json!("https://github.com")), "api_url"),
        (
            with("api_url", json!("https://u:p@github.example.com/api/v3")),
            "api_url",
        ),
        (with("api_url", json!("not a url")), "api_url"),
        (with("labels", json!(["x"])), "labels"),
    ];
    for (config, field) in cases {
        assert_eq!(
            GithubProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    for ok in [
        config(),
        with("repo", json!("Octo-Cat/hello_world.rs")),
        with("repo", json!("a/.github")),
        with("api_url", json!("https://github.example.com/api/v3")),
        with("api_url", json!("http://127.0.0.1:8080")),
    ] {
        assert!(GithubProvider.validate(&ok).is_ok(), "{ok}");
    }
}

#[test]
fn errors_never_echo_the_token() {
    let mut bad = config();
    bad["token"] = json!(format!("{TOKEN} x"));
    let error = GithubProvider.validate(&bad).unwrap_err().to_string();
    assert!(!error.contains("secret"), "{error}");
    bad["token"] = json!(987654321);
    let error = GithubProvider.validate(&bad).unwrap_err().to_string();
    assert!(!error.contains("987654321"), "{error}");
    let parsed = super::GithubConfig::parse(&config()).unwrap();
    assert!(!format!("{parsed:?}").contains("secret"));
    assert_eq!(Redactor::from_config(&bad).scrub(&error), error);
}

#[test]
fn the_destination_is_the_repository_at_githubs_creation_pace() {
    let mut config = config();
    config["repo"] = json!("Acme/Ops-Alerts");
    let destination = GithubProvider.destination(&config);
    assert_eq!(destination.key, "github:acme/ops-alerts");
    assert_eq!(destination.rate, Some(Rate::new(80.0 / 60.0, 5)));
}

#[test]
fn event_text_shows_as_typed_and_mentions_no_one() {
    use pulldown_cmark::{Event, Options, Parser};
    let fixture = Fixture::new(
        Kind::Github,
        json!({"type": "security.scan.finding_new", "title": "XSS",
            "summary": "# heading\nping @alice and @org/team <script>alert(1)</script>",
            "facts": {"file": "src/<login>.rs"}}),
    );
    let body = json_body(&render(&fixture, &config())[0])["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut shown = String::new();
    let mut headings = 0;
    for event in Parser::new_ext(&body, Options::ENABLE_TABLES) {
        match event {
            Event::Text(text) => shown.push_str(&text),
            Event::SoftBreak => shown.push('\n'),
            Event::Start(pulldown_cmark::Tag::Heading { .. }) => headings += 1,
            Event::Html(html) | Event::InlineHtml(html) => panic!("HTML {html} in {body}"),
            _ => {}
        }
    }
    assert_eq!(headings, 0, "{body}");
    assert!(shown.contains("src/<login>.rs"), "{shown}");
    assert!(shown.contains("<script>alert(1)</script>"), "{shown}");
    // GitHub finds mentions in the rendered text: a word joiner keeps these from being one.
    assert!(
        !shown.contains("@alice") && !shown.contains("@org/team"),
        "{shown}"
    );
    assert!(shown
        .replace('\u{2060}', "")
        .contains("ping @alice and @org/team"));
}
