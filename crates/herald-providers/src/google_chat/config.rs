use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::parse_config;
use crate::teams::config::secret_webhook_url;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    webhook_url: String,
}

/// A parsed Google Chat config: the webhook URL exactly as Chat gave it,
/// `https://chat.googleapis.com/v1/spaces/{space}/messages?key=…&token=…`. The key and token
/// in its query are the credential, so it must be https (http only to a loopback host).
#[derive(Debug)]
pub struct GoogleChatConfig {
    pub url: Url,
    /// The space id from the path: not a secret, and the unit of Chat's write quota.
    pub space: String,
}

impl GoogleChatConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let invalid = |message: &str| FieldError::new("webhook_url", message);
        let url = secret_webhook_url(&raw.webhook_url).map_err(|m| invalid(&m))?;
        let space = space_of(&url).ok_or_else(|| {
            invalid("must be a Google Chat webhook URL, …/v1/spaces/{space}/messages?key=…&token=…")
        })?;
        let has = |name: &str| url.query_pairs().any(|(k, v)| k == name && !v.is_empty());
        if !has("key") || !has("token") {
            return Err(invalid(
                "must keep the key and token query parameters Google Chat gave",
            ));
        }
        Ok(Self { url, space })
    }
}

/// `{space}` of a path ending in `/spaces/{space}/messages` (a proxy may add a prefix).
fn space_of(url: &Url) -> Option<String> {
    let segments: Vec<&str> = url.path_segments()?.collect();
    match segments.as_slice() {
        [.., "spaces", space, "messages"] if !space.is_empty() => Some((*space).to_owned()),
        _ => None,
    }
}
