use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::{Event, FieldError, Kind};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Endpoints;

/// The contract every destination implements. Rendering and classifying are pure: a provider
/// never sleeps, retries, reads the clock or touches the network itself.
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;

    /// The config object as JSON Schema: field names, types, descriptions, which are required,
    /// and which are secret (`"writeOnly": true`, `"x-secret": true`). Forms and `/openapi.json`
    /// are generated from it. Every key [`Provider::validate`] accepts appears in it.
    fn config_schema(&self) -> Value;

    /// Checks a config object. Errors name the key, relative to `config`, and never echo a
    /// secret value.
    fn validate(&self, config: &Value) -> Result<(), FieldError>;

    /// What rendering needs of `config`, parsed once. The engine keeps it beside the opened
    /// config, for as long as it keeps that, and passes it back in
    /// [`RenderContext::prepared`]; `render` must give the same requests with it as without.
    /// Parsing a webhook's config (its URL above all) on every attempt was about 2% of
    /// Herald's CPU under load. The default prepares nothing: `render` reads `config`.
    fn prepare(&self, _config: &Value) -> Option<Prepared> {
        None
    }

    /// The request(s) that deliver `ctx.event` or, when `ctx.purpose` is
    /// [`Purpose::ConnectionTest`], that prove auth and write access. They are sent in order;
    /// the first that is not delivered decides the outcome.
    fn render(&self, ctx: &RenderContext<'_>, config: &Value)
        -> Result<Vec<Outbound>, RenderError>;

    /// Requests that depend on an earlier answer of the same exchange (a Jira transition id
    /// looked up, the test issue to delete). Called after each delivered step with every step
    /// so far; what it returns is sent next. The default adds nothing.
    fn follow_on(
        &self,
        _ctx: &RenderContext<'_>,
        _config: &Value,
        _done: &[Step<'_>],
    ) -> Result<Vec<Outbound>, RenderError> {
        Ok(Vec::new())
    }

    /// Classifies the destination's answer to `request`. The default is the shared status table.
    fn classify(&self, _request: &Outbound, response: &Response) -> Outcome {
        crate::classify_status(response)
    }

    /// Where this config sends, for rate limiting and pausing: a channel, a host, a key. The
    /// key is an identifier, never a secret (hash one with [`Destination::hashed`]).
    fn destination(&self, config: &Value) -> Destination;
}

/// What [`Provider::prepare`] made of a config; only the provider that made it knows its type.
pub type Prepared = Arc<dyn Any + Send + Sync>;

/// Why a provider is rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A real delivery of a stored event.
    Delivery,
    /// `POST /v1/integrations/{id}/test`: prove auth and write access, posting as little as
    /// the service allows. `ctx.event` is a synthetic test event.
    ConnectionTest,
}

/// Everything a provider may use to render, passed in so rendering stays pure.
pub struct RenderContext<'a> {
    pub event: &'a Event,
    pub target: &'a Target,
    /// The external id an earlier delivery with the same correlation key produced (or this
    /// delivery's own, if an earlier attempt got that far). `None` means: start a new thread,
    /// message, alert or issue.
    pub prior: Option<&'a ExternalRef>,
    /// The earlier events of the same run or incident (same integration, destination and
    /// correlation key), oldest first; empty for the first. A follow-up shows what the run
    /// has accumulated from them.
    pub earlier: &'a [Event],
    /// The time of this attempt (signatures are per attempt).
    pub now: DateTime<Utc>,
    pub purpose: Purpose,
    /// The base URLs of fixed-address services (Slack's Web API, GitHub, ...).
    pub endpoints: &'a Endpoints,
    /// Where this delivery goes instead of the config's own destination, when a workspace
    /// attachment resolved one: a Slack channel, or the URL for Teams, webhook and custom.
    pub destination: Option<&'a str>,
    /// What this provider's [`Provider::prepare`] made of the very config being rendered, if
    /// the caller kept it.
    pub prepared: Option<&'a (dyn Any + Send + Sync)>,
}

impl RenderContext<'_> {
    pub fn is_test(&self) -> bool {
        self.purpose == Purpose::ConnectionTest
    }

    /// The prepared config, if the caller passed one of type `T`.
    pub fn prepared<T: 'static>(&self) -> Option<&T> {
        self.prepared
            .and_then(|prepared| prepared.downcast_ref::<T>())
    }

    /// Refuses a destination override, for kinds whose destination is fixed by their config.
    pub fn no_destination_override(&self) -> Result<(), RenderError> {
        match self.destination {
            Some(_) => Err(RenderError::Unrenderable(
                "this kind takes no per-workspace destination".into(),
            )),
            None => Ok(()),
        }
    }

    /// The override as a URL, for URL-addressed kinds.
    pub fn destination_url(&self) -> Result<Option<url::Url>, RenderError> {
        self.destination
            .map(|raw| {
                crate::urls::http_url(raw, None).map_err(|reason| {
                    RenderError::Unrenderable(format!("the destination URL {reason}"))
                })
            })
            .transpose()
    }
}

/// The integration and delivery being rendered for.
#[derive(Debug, Clone)]
pub struct Target {
    pub delivery_id: String,
    pub integration_id: String,
    pub integration_name: String,
    pub kind: Kind,
}

/// An id the destination gave us (a Slack `channel:ts`, a Jira key), kept for follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef(pub String);

/// One finished step of an exchange: what was sent and what came back.
pub struct Step<'a> {
    pub request: &'a Outbound,
    pub response: &'a Response,
    pub outcome: &'a Outcome,
}

/// A destination for rate limiting: requests with equal keys share one token bucket, and a
/// 429 pauses the whole key.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub key: String,
    /// The service's published pace for one destination; `None` for no limit of our own.
    pub rate: Option<Rate>,
}

impl Destination {
    pub fn new(kind: Kind, id: &str, rate: Option<Rate>) -> Self {
        Self {
            key: format!("{}:{id}", kind.as_str()),
            rate,
        }
    }

    /// For a destination whose identity is itself a secret (a routing key, a webhook URL's
    /// path): a short hash of it, so the key can sit in memory and logs.
    pub fn hashed(kind: Kind, secret: &str, rate: Option<Rate>) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        Self::new(kind, &hex_prefix(&digest, 16), rate)
    }

    /// For a URL destination: its host (and port), which identifies the receiving service.
    pub fn host_of(kind: Kind, url: &url::Url, rate: Option<Rate>) -> Self {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => Self::new(kind, &format!("{host}:{port}"), rate),
            None => Self::new(kind, host, rate),
        }
    }
}

fn hex_prefix(bytes: &[u8], chars: usize) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(chars)
        .collect()
}

/// A token bucket: `per_second` sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// What a provider asks the sender to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Http(OutboundRequest),
    Mail(MailRequest),
    Exec(ExecRequest),
}

impl From<OutboundRequest> for Outbound {
    fn from(request: OutboundRequest) -> Self {
        Outbound::Http(request)
    }
}

impl Outbound {
    /// The HTTP request, if this is one (most are).
    pub fn http(&self) -> Option<&OutboundRequest> {
        match self {
            Outbound::Http(request) => Some(request),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// An HTTP request to send. Its URL and headers may hold credentials, so its Debug form shows
/// only the method, the origin, the header names and the body's length.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|h| h.name.as_str()).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl OutboundRequest {
    pub fn new(method: Method, url: url::Url) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn post_json(url: url::Url, body: Vec<u8>) -> Self {
        Self::new(Method::Post, url).json_body(body)
    }

    /// Sets a JSON body and its content type.
    pub fn json_body(mut self, body: Vec<u8>) -> Self {
        self.headers
            .retain(|h| !h.name.eq_ignore_ascii_case("content-type"));
        self.headers.push(Header {
            name: "content-type".into(),
            value: "application/json".into(),
        });
        self.body = body;
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.to_owned(),
            value: value.into(),
        });
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// An e-mail to hand to an SMTP server (or, with `message` empty, a login check that sends
/// nothing: connect, EHLO, STARTTLS, AUTH, QUIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    pub server: SmtpServer,
    pub from: String,
    pub to: Vec<String>,
    /// The whole RFC 5322 message, headers and MIME body, CRLF line endings.
    pub message: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Never prints the password.
impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (`smtps://`, port 465).
    ImplicitTls,
    /// STARTTLS, required: never falls back to cleartext (`smtp://`, port 587).
    StartTls,
    /// Cleartext, only when the URL says so (`smtp://…?tls=none`), for a local relay.
    None,
}

/// A local program to run without a shell, the rendered event on its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
    pub timeout: Duration,
}

/// A destination's answer, with its body cut to the sender's limit. For e-mail the status is
/// the SMTP reply code; for a script it is the exit code and the body its output.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// What a response means for the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        external_id: Option<String>,
    },
    /// Worth trying again; `after` is the destination's own wish (Retry-After), if it said one.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Trying again cannot help.
    Failed {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid config: {0}")]
    InvalidConfig(FieldError),
    #[error("{0}")]
    Unrenderable(String),
}

/// Deserialises a config object, naming the key at fault.
pub fn parse_config<T: DeserializeOwned>(config: &Value) -> Result<T, FieldError> {
    if !config.is_object() {
        return Err(FieldError::new("config", "must be an object"));
    }
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        herald_domain::error::from_serde(&path, &e.inner().to_string())
    })
}
