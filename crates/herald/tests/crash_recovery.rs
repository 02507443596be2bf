//! The real `herald` binary, killed with SIGKILL twice: once with accepted events not yet sent,
//! once in the middle of retrying. After the last restart every accepted event is delivered.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use herald_testkit::{Receiver, Reply};
use serde_json::json;
use support::{Herald, TOKEN};

async fn survives_kill_9(env: Vec<(&str, String)>) {
    let receiver = Receiver::start().await;
    receiver.set_fallback(Reply::status(503));
    let with_workers = |workers: &str| {
        let mut env = env.clone();
        env.push(("HERALD_WORKERS", workers.to_owned()));
        // Twelve failures in a row to one endpoint are the point here, not a reason to open
        // its circuit.
        env.push(("HERALD_BREAKER_THRESHOLD", "0".to_owned()));
        env
    };

    // 1. Accepted, never attempted: the API acknowledged, then the process died.
    let herald = Herald::start(&with_workers("0"));
    herald
        .call(
            reqwest::Method::POST,
            "/v1/integrations",
            Some(json!({"kind": "webhook", "name": "sink", "config": {"webhook_url": receiver.url("/sink")}})),
        )
        .await;
    let mut accepted: Vec<String> = (0..3).map(|_| herald.emit_with_cli("scan_done")).collect();
    herald.kill_9();
    assert!(receiver.received().is_empty());

    // 2. Killed mid-retry, with attempts in flight.
    let herald = Herald::start(&with_workers("4"));
    for _ in 0..3 {
        let id = herald
            .call(
                reqwest::Method::POST,
                "/v1/events",
                Some(json!({"type": "scan_failed"})),
            )
            .await;
        accepted.push(id["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_for(12, Duration::from_secs(30)).await;
    herald.kill_9();

    // 3. The receiver recovers; a fresh process delivers everything.
    receiver.set_fallback(Reply::status(200));
    let herald = Herald::start(&with_workers("4"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = herald
            .call(reqwest::Method::GET, "/v1/deliveries?status=success", None)
            .await;
        let delivered: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["event_id"].as_str().unwrap().to_owned())
            .collect();
        if accepted.iter().all(|id| delivered.contains(id)) {
            assert_eq!(delivered.len(), accepted.len(), "one delivery per event");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "delivered {delivered:?} of {accepted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        accepted.iter().all(|id| ids.contains(id)),
        "the receiver saw every event"
    );
    herald.kill_9();
}

#[tokio::test]
async fn sqlite_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    survives_kill_9(vec![("HERALD_DATA_DIR", dir.path().display().to_string())]).await;
}

#[tokio::test]
async fn postgres_survives_kill_9() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let key = herald_crypto::MasterKey::generate().to_base64();
    survives_kill_9(vec![
        ("HERALD_DATABASE_URL", url),
        ("HERALD_MASTER_KEY", key),
    ])
    .await;
}

#[test]
fn emit_reports_bad_input_and_exits_non_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["emit", "--summary", "no type"])
        .env("HERALD_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("an event needs a type"));
}
