//! The real server with the Slack app mounted, a fake Slack (Web API, `oauth.v2.access` and
//! `response_url`s) that records every request, and requests signed exactly as Slack signs
//! them.

#![allow(dead_code)]

#[path = "../../../herald-server/tests/support/mod.rs"]
mod server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use herald_crypto::SecretString;
use herald_slack::{SlackApp, SlackAppConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
pub use server::*;
use tokio::sync::Notify;

pub const TEAM: &str = "T0TEAM1";
pub const CHANNEL: &str = "C0CHAN1";
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const CLIENT_ID: &str = "1234.5678";
pub const CLIENT_SECRET: &str = "client-secret-0123";
pub const BOT_TOKEN: &str = "xoxb-1-installed-token";
pub const GOOD_CODE: &str = "good-code";

/// One request the fake saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct FakeState {
    seen: Vec<Seen>,
    /// Bearer tokens auth.test and chat.* accept.
    valid_tokens: Vec<String>,
    /// With token rotation: what the install grants, and the refresh token accepted now.
    rotation: bool,
    refresh_token: Option<String>,
    refreshes: usize,
}

/// Slack's Web API as far as Herald uses it, asserting what matters of each request.
#[derive(Clone)]
pub struct FakeSlack {
    pub base: String,
    state: Arc<Mutex<FakeState>>,
    arrived: Arc<Notify>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let arrived = Arc::new(Notify::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (handler_state, handler_arrived) = (state.clone(), arrived.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (state, arrived) = (handler_state.clone(), handler_arrived.clone());
            async move {
                let seen = Seen {
                    path: uri.path().to_owned(),
                    headers,
                    body: body.to_vec(),
                };
                let answer = answer(&mut state.lock().unwrap(), &seen);
                state.lock().unwrap().seen.push(seen);
                arrived.notify_waiters();
                answer
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base,
            state,
            arrived,
        }
    }

    pub fn with_rotation(&self) {
        self.state.lock().unwrap().rotation = true;
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub fn response_url(&self, n: usize) -> String {
        format!("{}/response/{n}", self.base)
    }

    /// Waits until `path` has been called `count` times (a background task calls it).
    pub async fn wait_for(&self, path: &str, count: usize) -> Vec<Seen> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.arrived.notified();
            let seen = self.seen(path);
            if seen.len() >= count {
                return seen;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} calls to {path}, got {}",
                    self.seen(path).len()
                );
            }
        }
    }
}

fn ok(body: Value) -> (AxumStatus, String) {
    (AxumStatus::OK, body.to_string())
}

fn answer(state: &mut FakeState, seen: &Seen) -> (AxumStatus, String) {
    let bearer = seen
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let authorised = bearer
        .as_ref()
        .is_some_and(|t| state.valid_tokens.contains(t));
    match seen.path.as_str() {
        "/oauth.v2.access" => {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
            if seen.header("authorization") != Some(&format!("Basic {basic}")) {
                return ok(json!({"ok": false, "error": "invalid_client_id"}));
            }
            let form = seen.form();
            if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
                if form.get("refresh_token") != state.refresh_token.as_ref() {
                    return ok(json!({"ok": false, "error": "invalid_refresh_token"}));
                }
                state.refreshes += 1;
                let token = format!("xoxe.xoxb-1-rotated-{}", state.refreshes);
                let refresh = format!("xoxe-1-refresh-{}", state.refreshes + 1);
                state.valid_tokens = vec![token.clone()];
                state.refresh_token = Some(refresh.clone());
                return ok(
                    json!({"ok": true, "access_token": token, "token_type": "bot",
                    "refresh_token": refresh, "expires_in": 43200}),
                );
            }
            if form.get("code").map(String::as_str) != Some(GOOD_CODE)
                || form.get("redirect_uri").map(String::as_str)
                    != Some("https://herald.example.com/slack_oauth")
            {
                return ok(json!({"ok": false, "error": "invalid_code"}));
            }
            let mut grant = json!({"ok": true, "access_token": BOT_TOKEN, "token_type": "bot",
                "scope": "chat:write,commands", "bot_user_id": "U0BOT1", "app_id": "A0APP1",
                "team": {"id": TEAM, "name": "Acme"}, "enterprise": null,
                "authed_user": {"id": "U0ADMIN"}});
            if state.rotation {
                grant["access_token"] = "xoxe.xoxb-1-rotating-0".into();
                grant["refresh_token"] = "xoxe-1-refresh-1".into();
                grant["expires_in"] = 43200.into();
                state.refresh_token = Some("xoxe-1-refresh-1".into());
                state.valid_tokens = vec!["xoxe.xoxb-1-rotating-0".into()];
            } else {
                state.valid_tokens = vec![BOT_TOKEN.into()];
            }
            ok(grant)
        }
        "/auth.test" | "/chat.postMessage" | "/chat.update" if !authorised => {
            ok(json!({"ok": false, "error": "invalid_auth"}))
        }
        "/auth.test" => ok(json!({"ok": true, "team_id": TEAM, "user_id": "U0BOT1"})),
        "/chat.postMessage" => {
            let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            ok(json!({"ok": true, "channel": body["channel"], "ts": "1700000000.000100"}))
        }
        "/chat.update" => {
            let body: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            ok(json!({"ok": true, "channel": body["channel"], "ts": body["ts"]}))
        }
        path if path.starts_with("/response/") => (AxumStatus::OK, "ok".into()),
        _ => (AxumStatus::NOT_FOUND, "unknown method".into()),
    }
}

pub fn slack_config() -> SlackAppConfig {
    SlackAppConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::new(CLIENT_SECRET),
        signing_secret: SecretString::new(SIGNING_SECRET),
        public_url: url::Url::parse("https://herald.example.com").unwrap(),
        ack_budget: SlackAppConfig::ACK_BUDGET,
    }
}

/// The server with the Slack app, and the fake Slack it talks to.
pub struct SlackTest {
    pub app: TestApp,
    pub slack: Arc<SlackApp>,
    pub fake: FakeSlack,
}

pub async fn spawn_app(db: Db) -> SlackTest {
    spawn_slack(db, slack_config()).await
}

pub async fn spawn_slack(db: Db, config: SlackAppConfig) -> SlackTest {
    let fake = FakeSlack::start().await;
    let slot: Arc<Mutex<Option<Arc<SlackApp>>>> = Arc::default();
    let mount_slot = slot.clone();
    let mount: herald_server::Mount = Box::new(move |state| {
        let app = SlackApp::new(config, state);
        *mount_slot.lock().unwrap() = Some(app.clone());
        app.surface()
    });
    let base = fake.base.clone();
    // The console beside it: the link page knows people signed in there.
    let console: herald_server::Mount =
        Box::new(|state| herald_console::Console::new(state, None).surface());
    let app = spawn_app_mounted(
        db,
        |c| c.provider_endpoints = format!("slack={base}"),
        vec![mount, console],
    )
    .await;
    let slack = slot.lock().unwrap().take().expect("mounted");
    SlackTest { app, slack, fake }
}

impl SlackTest {
    /// Posts to `/webhooks/slack` with the headers given, exactly these bytes.
    pub async fn post_raw(
        &self,
        body: &str,
        content_type: &str,
        headers: &[(&str, String)],
    ) -> (StatusCode, String) {
        let mut request = self
            .app
            .client
            .post(format!("{}/webhooks/slack", self.app.base))
            .header("content-type", content_type)
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The headers Slack would send for `body` at the server's current time.
    pub fn signed_headers(&self, body: &str) -> Vec<(&'static str, String)> {
        let ts = self.app.clock.now().timestamp().to_string();
        let signature = herald_slack::signature::sign(SIGNING_SECRET, &ts, body.as_bytes());
        vec![
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", signature),
        ]
    }

    pub async fn post_signed(&self, body: &str, content_type: &str) -> (StatusCode, String) {
        let headers = self.signed_headers(body);
        self.post_raw(body, content_type, &headers).await
    }

    pub async fn event(&self, envelope: &Value) -> (StatusCode, String) {
        self.post_signed(&envelope.to_string(), "application/json")
            .await
    }

    /// `/herald <text>` typed by `user` in the test channel; the answer's JSON.
    pub async fn command(&self, user: &str, text: &str) -> Value {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "legacy-verification-token")
            .append_pair("team_id", TEAM)
            .append_pair("team_domain", "acme")
            .append_pair("channel_id", CHANNEL)
            .append_pair("channel_name", "deploys")
            .append_pair("user_id", user)
            .append_pair("user_name", &user.to_lowercase())
            .append_pair("command", "/herald")
            .append_pair("text", text)
            .append_pair("response_url", &self.fake.response_url(1))
            .append_pair("trigger_id", "1.2.3")
            .finish();
        let (status, answer) = self
            .post_signed(&body, "application/x-www-form-urlencoded")
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        serde_json::from_str(&answer).unwrap()
    }

    /// A button click on a message, as Slack posts it.
    pub async fn click(
        &self,
        user: &str,
        action_id: &str,
        value: &str,
        blocks: &Value,
    ) -> StatusCode {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.to_lowercase(), "team_id": TEAM},
            "api_app_id": "A0APP1",
            "team": {"id": TEAM, "domain": "acme"},
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL, "is_ephemeral": false},
            "channel": {"id": CHANNEL, "name": "deploys"},
            "message": {"type": "message", "ts": "1700000000.000100", "blocks": blocks},
            "response_url": self.fake.response_url(2),
            "trigger_id": "1.2.3",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "herald_decision",
                         "value": value, "action_ts": "1700000001.000200"}],
        });
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        self.post_signed(&body, "application/x-www-form-urlencoded")
            .await
            .0
    }

    /// Starts Add to Slack for an integration (or a new one) and returns the state.
    pub async fn start_install(&self, integration: Option<&str>) -> String {
        let path = match integration {
            Some(id) => format!("/v1/integrations/{id}/slack/install"),
            None => "/v1/slack/install".into(),
        };
        let (status, body) = self.app.post(&path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let url = url::Url::parse(body["url"].as_str().unwrap()).unwrap();
        assert_eq!(url.host_str(), Some("slack.com"));
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], CLIENT_ID);
        assert_eq!(
            query["redirect_uri"],
            "https://herald.example.com/slack_oauth"
        );
        assert!(query["scope"].contains("chat:write") && query["scope"].contains("commands"));
        query["state"].clone()
    }

    /// Slack's redirect back to Herald.
    pub async fn callback(&self, code: &str, state: &str) -> (StatusCode, String) {
        let response = self
            .app
            .client
            .get(format!("{}/slack_oauth", self.app.base))
            .query(&[("code", code), ("state", state)])
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// A whole Add to Slack for a new integration; its id.
    pub async fn install(&self) -> String {
        let state = self.start_install(None).await;
        let (status, page) = self.callback(GOOD_CODE, &state).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let (_, list) = self.app.get("/v1/integrations?name=Slack%20Acme").await;
        list["data"][0]["id"]
            .as_str()
            .expect("the integration exists")
            .to_owned()
    }

    /// An admin links a Slack user to a principal.
    pub async fn link(&self, slack_user: &str, principal: &str) {
        let (status, body) = self
            .app
            .post(
                "/v1/slack/links",
                json!({"team_id": TEAM, "slack_user_id": slack_user, "principal_id": principal}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// The principal of the bootstrap owner token.
    pub async fn owner(&self) -> String {
        let (_, me) = self.app.get("/v1/me").await;
        me["principal_id"].as_str().unwrap().to_owned()
    }
}
