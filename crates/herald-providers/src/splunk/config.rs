use std::fmt;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::{join, parse_config};

/// Longer than any HEC token (a GUID); a bound against pasted garbage.
const MAX_TOKEN_LEN: usize = 128;
const MAX_NAME_LEN: usize = 255;
/// Endpoint paths a user may paste whole; each is cut back to the collector's base.
const COLLECTOR_SUFFIXES: &[&str] = &[
    "/services/collector/event/1.0",
    "/services/collector/event",
    "/services/collector",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    hec_url: String,
    token: String,
    index: Option<String>,
    sourcetype: Option<String>,
}

/// A parsed Splunk HEC config. Debug never shows the token.
pub struct SplunkConfig {
    /// The collector's base, e.g. `https://splunk.example.com:8088` (or a proxy prefix).
    pub base: Url,
    pub token: String,
    pub index: Option<String>,
    pub sourcetype: Option<String>,
}

impl fmt::Debug for SplunkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplunkConfig")
            .field("base", &self.base.as_str())
            .field("token", &"[redacted]")
            .field("index", &self.index)
            .field("sourcetype", &self.sourcetype)
            .finish()
    }
}

impl SplunkConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let base = collector_base(&raw.hec_url).map_err(|m| FieldError::new("hec_url", m))?;
        if raw.token.is_empty() {
            return Err(FieldError::new("token", "must not be empty"));
        }
        // It goes into a header after `Splunk `: visible ASCII only, no spaces.
        if raw.token.len() > MAX_TOKEN_LEN || !raw.token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(
                "token",
                "must be an HEC token (at most 128 visible ASCII characters, no spaces)",
            ));
        }
        let index = name("index", raw.index)?;
        let sourcetype = name("sourcetype", raw.sourcetype)?;
        Ok(Self {
            base,
            token: raw.token,
            index,
            sourcetype,
        })
    }

    /// `POST` target for JSON events.
    pub fn event_url(&self) -> Url {
        join(&self.base, "/services/collector/event")
    }

    /// `GET` reachability check.
    pub fn health_url(&self) -> Url {
        join(&self.base, "/services/collector/health")
    }
}

/// Accepts the collector's base (`https://host:8088`, or under a proxy prefix) or a full
/// event endpoint URL, and returns the base. Other collector endpoints (`/raw`, `/ack`) are
/// refused: they take a different body.
fn collector_base(raw: &str) -> Result<Url, String> {
    let mut url = crate::urls::base_url(raw, Some("token"))?;
    let path = url.path().trim_end_matches('/');
    let base = COLLECTOR_SUFFIXES
        .iter()
        .find_map(|suffix| path.strip_suffix(suffix))
        .unwrap_or(path)
        .to_owned();
    if base.contains("/services/collector") {
        return Err(
            "must be the collector's base URL (https://host:8088) or end in \
             /services/collector/event"
                .into(),
        );
    }
    url.set_path(&base);
    Ok(url)
}

/// An index or sourcetype name: optional, but not empty, not padded, no control characters.
fn name(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if v.is_empty() => Err(FieldError::new(field, "must not be empty; omit it")),
        Some(v) if v.chars().count() > MAX_NAME_LEN => {
            Err(FieldError::new(field, "must be at most 255 characters"))
        }
        Some(v) if v.trim() != v || v.chars().any(char::is_control) => Err(FieldError::new(
            field,
            "must not have surrounding spaces or control characters",
        )),
        other => Ok(other),
    }
}
