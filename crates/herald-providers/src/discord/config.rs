use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::parse_config;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    webhook_url: String,
}

/// A parsed Discord config: a webhook execute URL whose path ends in `/webhooks/{id}/{token}`.
///
/// The host is not checked: Discord answers on discord.com, ptb/canary.discord.com and
/// discordapp.com, and tests point the URL at a local fake. Query parameters (`thread_id`) are
/// kept; `wait` is Herald's to set.
#[derive(Debug)]
pub struct DiscordConfig {
    url: Url,
    webhook_id: String,
}

impl DiscordConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let (url, webhook_id) =
            parse_webhook_url(&raw.webhook_url).map_err(|m| FieldError::new("webhook_url", m))?;
        Ok(Self { url, webhook_id })
    }

    /// The webhook's id: not secret (the token is), so it can key the rate limiter.
    pub fn webhook_id(&self) -> &str {
        &self.webhook_id
    }

    /// Execute: the webhook URL with `wait=true`, so Discord answers with the message object.
    pub fn execute_url(&self) -> Url {
        let mut url = self.url.clone();
        set_query(&mut url, &[("wait", "true")]);
        url
    }

    /// The webhook itself, for the connection test: GET it, nothing is posted.
    pub fn webhook_url(&self) -> Url {
        let mut url = self.url.clone();
        url.set_query(None);
        url
    }

    /// One message this webhook sent, to edit it. `thread_id` stays: Discord needs it to find a
    /// message in a thread.
    pub fn message_url(&self, message_id: &str) -> Url {
        let mut url = self.url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("messages").push(message_id);
        }
        set_query(&mut url, &[]);
        url
    }
}

/// Keeps every query pair but `wait`, then appends `extra`.
fn set_query(url: &mut Url, extra: &[(&str, &str)]) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != "wait")
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if kept.is_empty() && extra.is_empty() {
        return;
    }
    let mut pairs = url.query_pairs_mut();
    for (name, value) in &kept {
        pairs.append_pair(name, value);
    }
    for (name, value) in extra {
        pairs.append_pair(name, value);
    }
}

/// Messages never quote the URL: its last segment is the webhook's token.
fn parse_webhook_url(raw: &str) -> Result<(Url, String), String> {
    let url = Url::parse(raw).map_err(|_| "is not a valid URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host().is_none() {
        return Err("must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    let shape = "must be a Discord webhook URL ending in /webhooks/{id}/{token}";
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    // A trailing slash leaves an empty last segment; tolerate it.
    let segments = match segments.split_last() {
        Some((&"", rest)) => rest,
        _ => &segments[..],
    };
    let [.., webhooks, id, token] = segments else {
        return Err(shape.into());
    };
    if *webhooks != "webhooks" || token.is_empty() {
        return Err(shape.into());
    }
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{shape}, where the id is a number"));
    }
    let id = (*id).to_owned();
    let mut url = url;
    // Normalise away the trailing slash so `/messages/{id}` appends cleanly.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
    }
    Ok((url, id))
}
