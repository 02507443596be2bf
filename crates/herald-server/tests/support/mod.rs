//! `spawn_app`: the real server on an ephemeral port with a fresh database, and a worker the
//! test steps by hand under a clock it moves by hand.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use herald_domain::RetrySchedule;
use herald_engine::Engine;
use herald_server::ServeConfig;
use herald_testkit::TestClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-owner-token-0123456789abcdef";

/// Runs a test body once against SQLite and once against PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                ($body)(support::spawn_app(support::Db::Sqlite).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                ($body)(support::spawn_app(support::Db::Postgres).await).await;
            }
        }
    };
}

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub engine: Engine,
    pub clock: TestClock,
    pub db: Db,
    _dir: tempfile::TempDir,
}

pub fn test_config(dir: &std::path::Path, database_url: String) -> ServeConfig {
    ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.to_path_buf(),
        database_url: Some(database_url),
        retry_schedule: RetrySchedule::parse("5s,5m,30m,2h").unwrap(),
        bootstrap_token: Some(TOKEN.into()),
        master_key: Some(herald_crypto::MasterKey::generate().to_base64()),
        outbound_allow_cidrs: "127.0.0.0/8".into(),
        provider_endpoints: String::new(),
        enable_script_provider: false,
        workers: 0,
        delivery_lease: Duration::from_secs(60),
        poll_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
        credential_cache_ttl: Duration::from_secs(15 * 60),
        ..herald_server::ServeConfig::default()
    }
}

/// The server's log goes to the test's captured output, so a failure shows its cause.
fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,herald_server=info",
        ))
        .with_test_writer()
        .try_init();
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// Like [`spawn_app`], with the config adjusted first (provider endpoints, say).
pub async fn spawn_app_with(db: Db, adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    spawn_app_mounted(db, adjust, Vec::new()).await
}

/// Like [`spawn_app_with`], with other surfaces (the Slack app) mounted beside the API.
pub async fn spawn_app_mounted(
    db: Db,
    adjust: impl FnOnce(&mut ServeConfig),
    mounts: Vec<herald_server::Mount>,
) -> TestApp {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let url = match db {
        Db::Sqlite => herald_store::testing::sqlite_url(dir.path()),
        Db::Postgres => herald_store::testing::fresh_postgres_url().await,
    };
    let mut config = test_config(dir.path(), url);
    adjust(&mut config);
    let clock = TestClock::starting_now();
    let engine = herald_server::build_engine(&config)
        .await
        .unwrap()
        .with_clock(clock.source());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = herald_server::router_with(engine.clone(), mounts);
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestApp {
        base,
        client: reqwest::Client::new(),
        engine,
        clock,
        db,
        _dir: dir,
    }
}

impl TestApp {
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    /// A request made with another token.
    pub async fn request_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a principal of `kind` with these organisation roles and a token for it.
    pub async fn principal(&self, kind: &str, name: &str, roles: &[&str]) -> (String, String) {
        let (status, principal) = self
            .post("/v1/principals", json!({"kind": kind, "name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{principal}");
        let id = principal["id"].as_str().unwrap().to_owned();
        for role in roles {
            self.grant(&id, role, None).await;
        }
        let (status, token) = self
            .post("/v1/tokens", json!({"name": name, "principal_id": id}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        (id, token["token"].as_str().unwrap().to_owned())
    }

    /// Grants `role` to a principal, on the organisation or on one integration.
    pub async fn grant(&self, principal: &str, role: &str, integration: Option<&str>) -> String {
        let mut body = json!({"principal_id": principal, "role": role});
        if let Some(integration) = integration {
            body["integration_id"] = json!(integration);
        }
        let (status, assignment) = self.post("/v1/role-assignments", body).await;
        assert_eq!(status, StatusCode::CREATED, "{assignment}");
        assignment["id"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.request(reqwest::Method::DELETE, path, None).await.0
    }

    /// Posts raw bytes as JSON, for malformed bodies.
    pub async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Creates a webhook integration; `extra` adds or overrides fields of the body.
    pub async fn create_webhook(&self, name: &str, url: &str, extra: Value) -> String {
        let mut body = json!({"kind": "webhook", "name": name, "config": {"webhook_url": url}});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, created) = self.post("/v1/integrations", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    pub async fn emit(&self, event: Value) -> String {
        let (status, body) = self.post("/v1/events", event).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Emits an event and returns how many deliveries it got.
    pub async fn emit_and_count(&self, event: Value) -> usize {
        let id = self.emit(event).await;
        self.deliveries(&format!("event_id={id}")).await.len()
    }

    pub async fn deliveries(&self, query: &str) -> Vec<Value> {
        let (status, page) = self.get(&format!("/v1/deliveries?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["data"].as_array().unwrap().clone()
    }

    pub async fn delivery(&self, id: &str) -> Value {
        let (status, delivery) = self.get(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{delivery}");
        delivery
    }

    /// Runs the worker once over what is due at the test clock's time.
    pub async fn step(&self) -> usize {
        self.engine.run_once().await.unwrap()
    }

    /// Steps until nothing more is due at the test clock's time (the test engine sends one
    /// delivery per step); returns how many attempts and deferrals were recorded.
    pub async fn step_all(&self) -> usize {
        let mut total = 0;
        for _ in 0..100 {
            match self.step().await {
                0 => return total,
                n => total += n,
            }
        }
        panic!("work kept coming due");
    }

    /// Moves the clock past the next retry (the schedule's delay plus its 10% jitter) and steps.
    pub async fn step_after(&self, delay: Duration) -> usize {
        self.clock.advance(delay.mul_f64(1.11));
        self.step().await
    }
}
