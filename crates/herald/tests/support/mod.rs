//! Runs the real `herald` binary as a child process, with its log (and output) captured.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod postgres;

pub const TOKEN: &str = "crash-test-owner-token-0123456789";

pub struct Herald {
    child: Child,
    base: String,
    pub log: Arc<Mutex<Vec<String>>>,
    /// What it printed on stdout (the one-time token, if it generated one).
    pub out: Arc<Mutex<Vec<String>>>,
}

/// How to start it, beyond the environment.
#[derive(Clone)]
pub struct Launch {
    /// Set `HERALD_BOOTSTRAP_TOKEN` to [`TOKEN`].
    pub bootstrap: bool,
    /// `HERALD_LOG_FORMAT=json` (else plain text).
    pub json_logs: bool,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            bootstrap: true,
            json_logs: true,
        }
    }
}

/// A started process that may not have come up (a failed start).
pub struct Started {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
    pub out: Arc<Mutex<Vec<String>>>,
    address: mpsc::Receiver<String>,
}

impl Started {
    /// Waits for it to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, limit)
    }

    /// Waits until it listens.
    pub fn ready(self) -> Herald {
        let address = self
            .address
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "herald did not report its address; log:\n{}",
                    self.log.lock().unwrap().join("\n")
                )
            });
        Herald {
            child: self.child,
            base: format!("http://{address}"),
            log: self.log,
            out: self.out,
        }
    }
}

/// `herald serve` with the tests' defaults, `env` on top.
pub fn spawn(env: &[(&str, String)], launch: Launch) -> Started {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .arg("serve")
        .env_clear()
        .env("HERALD_LISTEN", "127.0.0.1:0")
        .env("HERALD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")
        .env("HERALD_RETRY_SCHEDULE", vec!["200ms"; 30].join(","))
        .env("HERALD_DELIVERY_LEASE", "2s")
        .env("HERALD_REQUEST_TIMEOUT", "1s")
        .env("HERALD_POLL_INTERVAL", "100ms");
    if launch.json_logs {
        command.env("HERALD_LOG_FORMAT", "json");
    }
    if launch.bootstrap {
        command.env("HERALD_BOOTSTRAP_TOKEN", TOKEN);
    }
    let mut child = command
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("herald starts");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (found, address) = mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::new(Mutex::new(Vec::new()));
    let lines = log.clone();
    // Keep draining both pipes so the child never blocks on a full one.
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line.clone());
            if let Some(address) = listening_address(&line) {
                let _ = found.send(address);
            }
        }
    });
    let printed = out.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            printed.lock().unwrap().push(line);
        }
    });
    Started {
        child,
        log,
        out,
        address,
    }
}

/// The address of a "herald is listening" line, in JSON or plain text.
fn listening_address(line: &str) -> Option<String> {
    if let Ok(entry) = serde_json::from_str::<Value>(line) {
        return (entry["fields"]["message"] == "herald is listening")
            .then(|| entry["fields"]["address"].as_str().map(str::to_owned))
            .flatten();
    }
    if !line.contains("herald is listening") {
        return None;
    }
    line.split_whitespace()
        .find_map(|part| part.strip_prefix("address="))
        .map(str::to_owned)
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Herald {
    /// Starts `herald serve` on an ephemeral port and waits until it listens.
    pub fn start(env: &[(&str, String)]) -> Self {
        spawn(env, Launch::default()).ready()
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and returns at once.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for it to exit (after a signal).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, limit)
    }

    /// The JSON log lines whose message is `message`.
    pub fn log_entries(&self, message: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["fields"]["message"] == message)
            .collect()
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

    /// Creates a webhook integration to `url` (signed with `secret`, if any); returns its id.
    pub async fn webhook(&self, name: &str, url: &str, secret: Option<&str>) -> String {
        let mut config = serde_json::json!({"webhook_url": url});
        if let Some(secret) = secret {
            config["hmac_secret"] = secret.into();
        }
        let created = self
            .call(
                reqwest::Method::POST,
                "/v1/integrations",
                Some(serde_json::json!({"kind": "webhook", "name": name, "config": config})),
            )
            .await;
        created["id"].as_str().unwrap().to_owned()
    }

    /// Posts an event and returns its id.
    pub async fn emit(&self, event: Value) -> String {
        let accepted = self
            .call(reqwest::Method::POST, "/v1/events", Some(event))
            .await;
        accepted["id"].as_str().unwrap().to_owned()
    }

    /// Emits through the CLI, as a platform's shell script would.
    pub fn emit_with_cli(&self, event_type: &str) -> String {
        let (ok, out, err) = herald_cli(
            &self.base,
            &["emit", "--type", event_type, "--fact", "phase=cli"],
        );
        assert!(ok, "{err}");
        out.trim().to_owned()
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer to a raw request, with how long it took.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
    pub took: Duration,
}

/// Posts an event to `base`, whatever the answer (`None` if the connection failed).
pub async fn post_event(client: &reqwest::Client, base: &str, event: &Value) -> Option<Answer> {
    post_event_as(client, base, TOKEN, event).await
}

/// [`post_event`] with another organisation's token.
pub async fn post_event_as(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    event: &Value,
) -> Option<Answer> {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/v1/events"))
        .bearer_auth(token)
        .json(event)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    Some(Answer {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    })
}

/// `GET /readyz`'s status (its body is printed, for a failing test's output).
pub async fn readyz(client: &reqwest::Client, base: &str) -> u16 {
    let Ok(response) = client.get(format!("{base}/readyz")).send().await else {
        return 0;
    };
    let status = response.status().as_u16();
    println!(
        "/readyz {status}: {}",
        response.text().await.unwrap_or_default()
    );
    status
}

/// Runs the `herald` CLI against `base` as the owner token: (succeeded, stdout, stderr).
pub fn herald_cli(base: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env("HERALD_URL", base)
        .env("HERALD_TOKEN", TOKEN)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
