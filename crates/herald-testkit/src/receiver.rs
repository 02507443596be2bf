//! A local HTTP endpoint standing in for a customer's webhook receiver: it records every request
//! exactly as it arrived and answers from a script.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Appends everything the request carried (path, header values, body) to the body, as a
    /// careless service quoting a bad request back would.
    pub echo: bool,
    /// Answers only after this long, as a slow service would; see [`Reply::hang`].
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
            echo: false,
            delay: None,
        }
    }

    /// Accepts the request and never answers (within any test's lifetime), as a hung service.
    pub fn hang() -> Self {
        Self::status(200).after(Duration::from_secs(3600))
    }

    /// Answers after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn echoing(mut self) -> Self {
        self.echo = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }
}

/// A request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    fallback: Option<Reply>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    /// Starts on an ephemeral loopback port; answers 200 unless scripted otherwise.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let arrived = Arc::new(Notify::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let (handler_state, handler_arrived) = (state.clone(), arrived.clone());
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (state, arrived) = (handler_state.clone(), handler_arrived.clone());
                async move {
                    let reply = {
                        let mut state = state.lock().unwrap();
                        state.received.push(Received {
                            method: method.to_string(),
                            path: uri
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            headers,
                            body: body.to_vec(),
                            at: std::time::Instant::now(),
                        });
                        state
                            .script
                            .pop_front()
                            .or_else(|| state.fallback.clone())
                            .unwrap_or_else(|| Reply::status(200))
                    };
                    arrived.notify_waiters();
                    if let Some(delay) = reply.delay {
                        tokio::time::sleep(delay).await;
                    }
                    let mut reply = reply;
                    if reply.echo {
                        let state = state.lock().unwrap();
                        let request = state.received.last().expect("just recorded");
                        reply
                            .body
                            .push_str(&format!(" {} {}", request.method, request.path));
                        for (name, value) in &request.headers {
                            reply.body.push_str(&format!(
                                " {name}: {}",
                                value.to_str().unwrap_or_default()
                            ));
                        }
                        reply.body.push(' ');
                        reply.body.push_str(&String::from_utf8_lossy(&request.body));
                    }
                    render(reply)
                }
            },
        );
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the receiver serves")
        });
        Self {
            addr,
            state,
            arrived,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers these replies in order, then the fallback.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// What to answer once the script is used up (200 by default).
    pub fn set_fallback(&self, reply: Reply) {
        self.state.lock().unwrap().fallback = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `count` requests have arrived, failing the test after `limit`.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} requests within {limit:?}, got {}",
                    self.received().len()
                );
            }
        }
    }
}

fn render(reply: Reply) -> Response {
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}
