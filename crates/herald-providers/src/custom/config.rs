use std::fmt;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::parse_config;

pub const DEFAULT_KEY_HEADER: &str = "X-API-Key";
const MAX_KEY_LEN: usize = 4096;
const MAX_HEADER_NAME_LEN: usize = 64;
/// Headers the API key may not be sent as: hop-by-hop and framing headers the client owns,
/// and the ones this provider sets itself.
const RESERVED_HEADERS: &[&str] = &[
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "expect",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "webhook-id",
    "webhook-signature",
    "webhook-timestamp",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    api_url: String,
    api_key: String,
    api_key_header: Option<String>,
}

/// A parsed Custom config. Debug never shows the key.
pub struct CustomConfig {
    pub url: Url,
    pub api_key: String,
    pub key_header: String,
}

impl fmt::Debug for CustomConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomConfig")
            .field("url", &self.url.host_str())
            .field("api_key", &"[redacted]")
            .field("key_header", &self.key_header)
            .finish()
    }
}

impl CustomConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let url = http_url(&raw.api_url).map_err(|m| FieldError::new("api_url", m))?;
        check_key(&raw.api_key).map_err(|m| FieldError::new("api_key", m))?;
        let key_header = match raw.api_key_header {
            Some(name) => {
                check_header_name(&name).map_err(|m| FieldError::new("api_key_header", m))?;
                name
            }
            None => DEFAULT_KEY_HEADER.to_owned(),
        };
        Ok(Self {
            url,
            api_key: raw.api_key,
            key_header,
        })
    }
}

/// An absolute http(s) URL with a host and no credentials in it: the key has its own field,
/// which is known to be secret.
fn http_url(raw: &str) -> Result<Url, String> {
    crate::urls::http_url(raw, Some("api_key"))
}

/// A header value: visible ASCII and inner spaces (so `Bearer abc` works), nothing that could
/// end the header early.
fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("must not be empty".into());
    }
    if key.len() > MAX_KEY_LEN
        || key.trim() != key
        || !key.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
    {
        return Err(
            "must be at most 4096 visible ASCII characters, without surrounding spaces".into(),
        );
    }
    Ok(())
}

/// An HTTP field name (RFC 9110 token characters) that is not reserved.
fn check_header_name(name: &str) -> Result<(), String> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN || !name.bytes().all(tchar) {
        return Err("must be a header name of 1 to 64 letters, digits or !#$%&'*+-.^_`|~".into());
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Err("names a header Herald or the HTTP client sets; choose another".into());
    }
    Ok(())
}
