//! The commands people reach for, run as a shell would run them against a real server: list and
//! test integrations, follow a delivery, retry it, and emit with typed facts.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use serde_json::json;
use support::{herald_cli, Herald};

// The CLI runs as a blocking child process; the receiver needs another thread meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_and_deliveries_from_the_command_line() {
    let receiver = Receiver::start().await;
    let data = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[
        ("HERALD_WORKERS", "2".into()),
        ("HERALD_DATA_DIR", data.path().display().to_string()),
        ("HERALD_RETRY_SCHEDULE", "100ms".into()),
    ]);
    let base = herald.base().to_owned();
    herald
        .call(
            reqwest::Method::POST,
            "/v1/integrations",
            Some(json!({"kind": "webhook", "name": "local receiver",
                        "config": {"webhook_url": receiver.url("/hook")}})),
        )
        .await;

    let (ok, out, err) = herald_cli(&base, &["integrations", "list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ID"), "{out}");
    assert!(
        lines[1].contains("webhook") && lines[1].contains("local receiver"),
        "{out}"
    );

    let (ok, out, err) = herald_cli(&base, &["integrations", "test", "local receiver"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("ok: 200"), "{out}");
    let (ok, _, err) = herald_cli(&base, &["integrations", "test", "no such thing"]);
    assert!(!ok);
    assert!(
        err.contains("no integration named `no such thing`"),
        "{err}"
    );

    // A receiver that refuses: the delivery fails (one attempt in this schedule's budget is
    // not enough, so shorten it by failing permanently with 400).
    receiver.set_fallback(Reply::status(400));
    let (ok, event_id, err) = herald_cli(
        &base,
        &[
            "emit",
            "--type",
            "scan_done",
            "--fact",
            "findings=3",
            "--fact",
            "version=\"3\"",
        ],
    );
    assert!(ok, "{err}");
    let sent = receiver.wait_for(2, Duration::from_secs(20)).await;
    let facts = &sent.last().unwrap().json()["facts"];
    assert_eq!(facts, &json!({"findings": 3, "version": "3"}), "{facts}");

    let delivery = wait_for_status(&herald, event_id.trim(), "failed").await;
    let (ok, out, err) = herald_cli(
        &base,
        &["deliveries", "list", "--integration", "local receiver"],
    );
    assert!(ok, "{err}");
    assert!(out.contains(&delivery) && out.contains("failed"), "{out}");
    assert!(
        out.contains("scan_done"),
        "each delivery names its event's type: {out}"
    );
    let (ok, out, err) = herald_cli(
        &base,
        &[
            "events",
            "list",
            "--type",
            "scan_done",
            "--since",
            "2000-01-01T00:00:00Z",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains(event_id.trim()), "{out}");
    let (ok, out, err) = herald_cli(&base, &["events", "list", "--type", "finding_new"]);
    assert!(ok, "{err}");
    assert!(!out.contains(event_id.trim()), "{out}");
    let (ok, _, err) = herald_cli(&base, &["events", "list", "--since", "last week"]);
    assert!(!ok && err.contains("since"), "{err}");
    let (ok, out, err) = herald_cli(&base, &["deliveries", "show", &delivery]);
    assert!(ok, "{err}");
    assert!(out.contains("OUTCOME") && out.contains("400"), "{out}");

    receiver.set_fallback(Reply::status(204));
    let (ok, out, err) = herald_cli(&base, &["deliveries", "retry", &delivery]);
    assert!(ok, "{err}");
    assert!(out.contains(&delivery), "{out}");
    wait_for_status(&herald, event_id.trim(), "success").await;
}

async fn wait_for_status(herald: &Herald, event_id: &str, status: &str) -> String {
    for _ in 0..200 {
        let page = herald
            .call(
                reqwest::Method::GET,
                &format!("/v1/deliveries?event_id={event_id}"),
                None,
            )
            .await;
        if let Some(found) = page["data"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["status"] == status))
        {
            return found["id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no delivery of {event_id} became {status}");
}

#[test]
fn emit_refuses_what_its_help_refuses() {
    let (ok, _, err) = herald_cli(
        "http://127.0.0.1:9",
        &["emit", "--type", "scan_done", "--data", "[1,2]"],
    );
    assert!(!ok);
    assert!(err.contains("must be a JSON object"), "{err}");
    let (ok, _, err) = herald_cli(
        "http://127.0.0.1:9",
        &["emit", "--type", "x", "--fact", "=1"],
    );
    assert!(!ok);
    assert!(err.contains("no name"), "{err}");
}

#[test]
fn every_command_explains_itself() {
    let help = |args: &[&str]| herald_cli("http://127.0.0.1:9", args).1;
    let emit = help(&["emit", "--help"]);
    for option in [
        "--correlation-key",
        "--summary",
        "--url",
        "--environment",
        "--target-id",
    ] {
        let line = emit
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(option))
            .nth(1)
            .unwrap_or_default();
        assert!(
            !line.trim().is_empty() && !line.trim().starts_with("--"),
            "{option} undescribed:\n{emit}"
        );
    }
    let (apply, export) = (help(&["apply", "--help"]), help(&["export", "--help"]));
    assert!(!export.contains("changes are made"), "{export}");
    assert_ne!(apply.lines().nth(2), export.lines().nth(2));
    assert!(help(&["serve", "--help"]).contains("--log-format"));
}
