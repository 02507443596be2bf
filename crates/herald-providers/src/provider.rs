use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::{Event, FieldError, Kind};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The contract every destination implements. Rendering and classifying are pure.
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;

    /// Checks a config object. Errors name the key, relative to `config`.
    fn validate(&self, config: &Value) -> Result<(), FieldError>;

    /// The request(s) that deliver `ctx.event`. They are sent in order; the first that is not
    /// delivered decides the outcome.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<OutboundRequest>, RenderError>;

    /// Classifies the destination's answer. The default is the shared status table.
    fn classify(&self, response: &Response) -> Outcome {
        crate::classify_status(response)
    }
}

/// Everything a provider may use to render, passed in so rendering stays pure.
pub struct RenderContext<'a> {
    pub event: &'a Event,
    pub target: &'a Target,
    /// The external id an earlier delivery with the same correlation key produced.
    pub prior: Option<&'a ExternalRef>,
    /// The time of this attempt (signatures are per attempt).
    pub now: DateTime<Utc>,
}

/// The integration and delivery being rendered for.
#[derive(Debug, Clone)]
pub struct Target {
    pub delivery_id: String,
    pub integration_id: String,
    pub integration_name: String,
    pub kind: Kind,
}

/// An id the destination gave us (a Slack ts, a Jira key), kept for follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// A request to send. Its URL and headers may hold credentials: never log it whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

impl OutboundRequest {
    pub fn post_json(url: url::Url, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            url,
            headers: vec![Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.to_owned(),
            value: value.into(),
        });
        self
    }
}

/// A destination's answer, with its body cut to the sender's limit.
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
