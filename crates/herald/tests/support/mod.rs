//! Runs the real `herald` binary as a child process, with its log captured.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub const TOKEN: &str = "crash-test-owner-token-0123456789";

pub struct Herald {
    child: Child,
    base: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Herald {
    /// Starts `herald serve` on an ephemeral port and waits until it listens.
    pub fn start(env: &[(&str, String)]) -> Self {
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
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        // Keep draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
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
            log,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.call_text(method, path, body).await.1
    }

    /// The answer's status and body, also as raw text.
    pub async fn call_text(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (String, Value) {
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
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (text, value)
    }

    /// Emits through the CLI, as a platform's shell script would.
    pub fn emit_with_cli(&self, event_type: &str) -> String {
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
