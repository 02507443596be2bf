use std::fmt;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use crate::parse_config;

/// Longer than any token Slack issues (rotating ones are the longest), short enough to refuse
/// a pasted document.
const MAX_TOKEN_LEN: usize = 512;
/// Channel names are at most 80 characters and ids far shorter.
const MAX_CHANNEL_LEN: usize = 100;

/// Every key of both modes; which combination is set decides the mode.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    webhook_url: Option<String>,
    bot_token: Option<String>,
    default_channel: Option<String>,
}

/// A parsed Slack config: an incoming webhook, or a bot token and the channel it posts to.
#[derive(Debug)]
pub enum SlackConfig {
    Webhook { url: url::Url },
    Bot { token: BotToken, channel: String },
}

/// A bot (or user) token. Debug never shows it.
#[derive(Clone)]
pub struct BotToken(String);

impl BotToken {
    /// Bot and user tokens, plain or rotating (`xoxe.` + the same). A refresh token (`xoxe-`)
    /// cannot call chat.postMessage, and Herald does not rotate tokens, so it is refused.
    fn parse(raw: &str) -> Result<Self, String> {
        if raw.starts_with("xoxe-") {
            return Err("is a refresh token; give the bot token (xoxb-…) instead".into());
        }
        let bare = raw.strip_prefix("xoxe.").unwrap_or(raw);
        if !(bare.starts_with("xoxb-") || bare.starts_with("xoxp-")) {
            return Err("must be a Slack bot token (xoxb-…) or user token (xoxp-…)".into());
        }
        if raw.len() > MAX_TOKEN_LEN {
            return Err(format!("must be at most {MAX_TOKEN_LEN} characters"));
        }
        // It goes into a header: visible ASCII only, which also catches pasted whitespace.
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must not contain spaces or other invisible characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken([redacted])")
    }
}

impl SlackConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        match (raw.webhook_url, raw.bot_token, raw.default_channel) {
            (Some(url), None, None) => Ok(SlackConfig::Webhook {
                url: parse_webhook_url(&url).map_err(|m| FieldError::new("webhook_url", m))?,
            }),
            (Some(_), Some(_), _) => Err(FieldError::new(
                "bot_token",
                "cannot be combined with webhook_url; use one mode",
            )),
            (Some(_), None, Some(_)) => Err(FieldError::new(
                "default_channel",
                "cannot be combined with webhook_url (a webhook posts to its own channel)",
            )),
            (None, Some(token), Some(channel)) => Ok(SlackConfig::Bot {
                token: BotToken::parse(&token).map_err(|m| FieldError::new("bot_token", m))?,
                channel: parse_channel(&channel)
                    .map_err(|m| FieldError::new("default_channel", m))?,
            }),
            (None, Some(_), None) => Err(FieldError::new(
                "default_channel",
                "is required with bot_token",
            )),
            (None, None, Some(_)) => Err(FieldError::new(
                "bot_token",
                "is required with default_channel",
            )),
            (None, None, None) => Err(FieldError::new(
                "webhook_url",
                "is required, unless bot_token and default_channel are given",
            )),
        }
    }
}

/// An absolute http(s) URL with a host and no userinfo. Any host is accepted, not only
/// hooks.slack.com, so a proxy or a test fake can stand in; the sender's address guard applies.
fn parse_webhook_url(raw: &str) -> Result<url::Url, String> {
    // The URL is the credential: the parse error text may quote it, so it is not passed on.
    let url = url::Url::parse(raw).map_err(|_| "is not a valid URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if url.host().is_none() {
        return Err("must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    Ok(url)
}

/// A conversation id (`C…`, `G…`, `D…`, preferred) or a channel name.
fn parse_channel(raw: &str) -> Result<String, String> {
    let channel = raw.trim();
    if channel.is_empty() {
        return Err("must not be empty".into());
    }
    if channel.chars().count() > MAX_CHANNEL_LEN {
        return Err(format!("must be at most {MAX_CHANNEL_LEN} characters"));
    }
    if channel
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ':')
    {
        return Err("must be a channel id such as C0123456789 or a channel name".into());
    }
    Ok(channel.to_owned())
}
