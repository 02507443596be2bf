//! `herald render` previews the exact request without sending it.

use std::process::Command;

fn render(args: &[&str], event: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, event).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("render")
        .args(args)
        .arg("--event")
        .arg(&path)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

const WAITING: &str = r#"{"type": "iac.run.waiting_for_approval", "title": "Plan ready", "status": "waiting for approval",
    "url": "https://ci.example/runs/1", "approve_url": "https://ci.example/runs/1/approve"}"#;

#[test]
fn prints_the_request_a_provider_would_send() {
    let (ok, stdout, stderr) = render(&["--kind", "slack"], WAITING);
    assert!(ok, "{stderr}");
    let (head, body) = stdout.split_once("\n\n").unwrap();
    assert!(
        head.starts_with("POST https://slack.com/api/chat.postMessage\n"),
        "{head}"
    );
    assert!(head.contains("authorization: Bearer xoxb-"), "{head}");
    let body: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    let buttons = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        buttons,
        [
            "https://ci.example/runs/1",
            "https://ci.example/runs/1/approve"
        ]
    );
}

#[test]
fn a_follow_up_and_a_template_can_be_previewed() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("template.json");
    std::fs::write(&template, r#"{"title": "Run {{ status }}"}"#).unwrap();
    let (ok, stdout, stderr) = render(
        &[
            "--kind",
            "slack",
            "--prior",
            "C1:1.5",
            "--template",
            template.to_str().unwrap(),
        ],
        WAITING,
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("POST https://slack.com/api/chat.update\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Run waiting for approval"), "{stdout}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let (ok, _, stderr) = render(&["--kind", "carrier_pigeon"], WAITING);
    assert!(!ok);
    assert!(stderr.contains("unknown kind"), "{stderr}");
    let (ok, _, stderr) = render(
        &["--kind", "slack"],
        r#"{"type": "x", "url": "ftp://nope"}"#,
    );
    assert!(!ok);
    assert!(stderr.contains("url"), "{stderr}");
}

fn render_with(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("render")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// The transition is looked up from Jira's answer, then made: both steps are previewed.
#[test]
fn a_jira_resolution_shows_its_transition_steps() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("jira.json");
    std::fs::write(
        &config,
        r#"{"base_url": "https://example.atlassian.net", "email": "herald@example.com",
            "api_token": "example-api-token", "project_key": "OPS", "resolve_transition": "Done"}"#,
    )
    .unwrap();
    let (ok, stdout, stderr) = render(
        &[
            "--kind",
            "jira",
            "--config",
            config.to_str().unwrap(),
            "--prior",
            "OPS-7",
        ],
        r#"{"type": "incident.resolved", "title": "Disk full", "status": "resolved"}"#,
    );
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("POST ") || l.starts_with("GET "))
        .collect();
    assert_eq!(
        lines,
        [
            "POST https://example.atlassian.net/rest/api/3/issue/OPS-7/comment",
            "GET https://example.atlassian.net/rest/api/3/issue/OPS-7/transitions",
            "POST https://example.atlassian.net/rest/api/3/issue/OPS-7/transitions",
        ],
        "{stdout}"
    );
    assert!(stdout.contains(r#""id": "31""#), "{stdout}");
}

#[test]
fn the_connection_test_needs_no_event() {
    let (ok, stdout, stderr) = render_with(&["--kind", "slack", "--test"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("POST https://slack.com/api/auth.test"),
        "{stdout}"
    );
    let (ok, _, stderr) = render_with(&["--kind", "slack"]);
    assert!(!ok);
    assert!(stderr.contains("--event"), "{stderr}");
}

/// A Telegram group's id is negative: it must not be read as a flag.
#[test]
fn a_negative_prior_is_a_value() {
    let (ok, stdout, stderr) = render(
        &["--kind", "telegram", "--prior", "-1001234567890:42"],
        r#"{"type": "iac.run.applied", "title": "Run applied"}"#,
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("reply_to_message_id") || stdout.contains("reply_parameters"),
        "{stdout}"
    );
}
