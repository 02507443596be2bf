//! Operating the real binary: replay and recovery from the command line, and `/metrics`
//! behind its optional token, read by the reference Prometheus parser.

mod support;

use std::time::Duration;

use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};
use support::{herald_cli, Herald, TOKEN};

async fn deliveries_of(herald: &Herald, event_id: &str) -> Vec<Value> {
    let page = herald
        .call(
            reqwest::Method::GET,
            &format!("/v1/deliveries?event_id={event_id}"),
            None,
        )
        .await;
    page["data"].as_array().cloned().unwrap_or_default()
}

async fn wait_for(herald: &Herald, event_id: &str, status: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let found: Vec<Value> = deliveries_of(herald, event_id)
            .await
            .into_iter()
            .filter(|d| d["status"] == status)
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{event_id}: fewer than {count} deliveries became {status}");
}

// The CLI runs as a blocking child process; the receiver needs another thread meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_now_pause_resume_replay_and_resend_from_the_command_line() {
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(503), Reply::status(400)]);
    let data = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[
        ("HERALD_WORKERS", "2".into()),
        ("HERALD_DATA_DIR", data.path().display().to_string()),
        // Long enough that only "retry now" sends the retry within the test.
        ("HERALD_RETRY_SCHEDULE", "1h".into()),
    ]);
    let base = herald.base().to_owned();
    herald
        .webhook("cli hook", &receiver.url("/hook"), None)
        .await;

    // Retry now.
    let first = herald
        .emit(json!({"type": "scan_done", "title": "first"}))
        .await;
    let waiting = wait_for(&herald, &first, "retrying", 1).await;
    let id = waiting[0]["id"].as_str().unwrap();
    let (ok, out, err) = herald_cli(&base, &["deliveries", "retry-now", id]);
    assert!(ok, "{err}");
    assert!(out.contains(id), "{out}");
    // The scripted 400 answers this one: it fails for good.
    wait_for(&herald, &first, "failed", 1).await;
    let (ok, _, err) = herald_cli(&base, &["deliveries", "retry-now", id]);
    assert!(!ok, "a failed delivery is not waiting");
    assert!(err.contains("failed"), "{err}");

    // Re-send the failed ones of the last hour.
    let (ok, out, err) = herald_cli(
        &base,
        &["deliveries", "resend-failed", "cli hook", "--since", "1h"],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("1 failed deliveries queued again"), "{out}");
    wait_for(&herald, &first, "success", 1).await;

    // Pause: the next event waits; resume: it goes.
    let (ok, out, err) = herald_cli(&base, &["integrations", "pause", "cli hook"]);
    assert!(ok, "{err}");
    assert!(out.contains("is paused"), "{out}");
    let before = receiver.received().len();
    let second = herald
        .emit(json!({"type": "scan_done", "title": "second"}))
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        receiver.received().len(),
        before,
        "nothing is sent while paused"
    );
    assert_eq!(
        deliveries_of(&herald, &second).await[0]["status"],
        "pending"
    );
    let (ok, out, err) = herald_cli(&base, &["integrations", "resume", "cli hook"]);
    assert!(ok, "{err}");
    assert!(out.contains("is running"), "{out}");
    wait_for(&herald, &second, "success", 1).await;

    // Replay: a new delivery with a new id.
    let (ok, out, err) = herald_cli(&base, &["deliveries", "replay", &second]);
    assert!(ok, "{err}");
    assert!(out.contains("to cli hook"), "{out}");
    let delivered = wait_for(&herald, &second, "success", 2).await;
    assert_ne!(delivered[0]["id"], delivered[1]["id"]);
    assert!(delivered.iter().any(|d| d["replay"] == true));
}

#[tokio::test]
async fn metrics_ask_for_their_token_when_one_is_set() {
    let data = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[
        ("HERALD_DATA_DIR", data.path().display().to_string()),
        ("HERALD_METRICS_TOKEN", "scrape-token-0123456789".into()),
    ]);
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", herald.base());
    let refused = client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(
        wrong.status(),
        401,
        "the API token is not the metrics token"
    );

    let answered = client
        .get(&url)
        .bearer_auth("scrape-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    // The scheme in any case, as for the API (RFC 9110 §11.1).
    let lower_case = client
        .get(&url)
        .header("authorization", "bearer scrape-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(lower_case.status(), 200);
    let families = herald_testkit::prometheus_families(&answered.text().await.unwrap());
    for name in [
        "herald_events_accepted",
        "herald_deliveries",
        "herald_attempt_duration_seconds",
        "herald_ingest_batch_size",
        "herald_queue_deliveries",
        "herald_queue_oldest_due_age_seconds",
        "herald_circuits_open",
        "herald_integrations_paused",
        "herald_db_pool_connections",
    ] {
        assert!(families.iter().any(|f| f == name), "{name} in {families:?}");
    }
}
