use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use super::signature::SigningSecret;
use crate::parse_config;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    webhook_url: String,
    hmac_secret: Option<String>,
}

/// A parsed webhook config. The URL is http(s) with a host and no credentials in it.
#[derive(Debug)]
pub struct WebhookConfig {
    pub url: url::Url,
    pub secret: Option<SigningSecret>,
}

impl WebhookConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let url =
            parse_http_url(&raw.webhook_url).map_err(|m| FieldError::new("webhook_url", m))?;
        let secret = raw
            .hmac_secret
            .map(|s| SigningSecret::parse(&s).map_err(|m| FieldError::new("hmac_secret", m)))
            .transpose()?;
        Ok(Self { url, secret })
    }
}

/// An absolute http(s) URL with a host. Userinfo is refused: credentials belong in config keys
/// that are known to be secret, not in a URL that may be shown.
pub fn parse_http_url(raw: &str) -> Result<url::Url, String> {
    crate::urls::http_url(raw, None)
}
