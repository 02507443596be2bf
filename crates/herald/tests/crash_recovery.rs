//! The real `herald` binary, killed with SIGKILL twice: once with accepted events not yet sent,
//! once in the middle of retrying. After the last restart every accepted event is delivered.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use herald_testkit::{Receiver, Reply};
use serde_json::{json, Value};

const TOKEN: &str = "crash-test-owner-token-0123456789";

struct Herald {
    child: Child,
    base: String,
}

impl Herald {
    /// Starts `herald serve` on an ephemeral port and waits until it listens.
    fn start(env: &[(&str, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("serve")
            .env_clear()
            .env("HERALD_LISTEN", "127.0.0.1:0")
            .env("HERALD_LOG_FORMAT", "json")
            .env("HERALD_BOOTSTRAP_TOKEN", TOKEN)
            .env("HERALD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")
            .env("HERALD_RETRY_SCHEDULE", vec!["200ms"; 30].join(","))
            .env("HERALD_DELIVERY_LEASE", "2s")
            .env("HERALD_REQUEST_TIMEOUT", "1s")
            .env("HERALD_POLL_INTERVAL", "100ms")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("herald starts");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (found, address) = mpsc::channel();
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                    if entry["fields"]["message"] == "herald is listening" {
                        let _ = found.send(
                            entry["fields"]["address"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        );
                    }
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .expect("herald reports its address");
        Self {
            child,
            base: format!("http://{address}"),
        }
    }

    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Emits through the CLI, as a platform's shell script would.
    fn emit_with_cli(&self, event_type: &str) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["emit", "--type", event_type, "--fact", "phase=cli"])
            .env("HERALD_URL", &self.base)
            .env("HERALD_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn survives_kill_9(env: Vec<(&str, String)>) {
    let receiver = Receiver::start().await;
    receiver.set_fallback(Reply::status(503));
    let with_workers = |workers: &str| {
        let mut env = env.clone();
        env.push(("HERALD_WORKERS", workers.to_owned()));
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
