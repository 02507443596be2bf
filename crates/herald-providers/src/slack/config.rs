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
    // Written by Add to Slack (the Slack app's OAuth install), never typed by a person.
    team_id: Option<String>,
    team_name: Option<String>,
    bot_user_id: Option<String>,
    app_id: Option<String>,
    refresh_token: Option<String>,
    token_expires_at: Option<i64>,
}

/// A parsed Slack config: an incoming webhook, a bot token and the channel it posts to, or a
/// workspace connected with Add to Slack.
#[derive(Debug)]
pub enum SlackConfig {
    Webhook {
        url: url::Url,
    },
    Bot {
        token: BotToken,
        channel: String,
    },
    /// Installed through the Slack app: channels come from subscriptions (`/herald subscribe`)
    /// or destinations, a default channel is optional, and messages about runs waiting for
    /// approval carry Approve and Reject buttons.
    App {
        token: BotToken,
        channel: Option<String>,
        install: AppInstall,
    },
}

/// What Add to Slack stored beside the bot token.
#[derive(Debug, Clone)]
pub struct AppInstall {
    pub team_id: String,
    pub team_name: Option<String>,
    pub bot_user_id: String,
    pub app_id: Option<String>,
    /// With token rotation: the refresh token and when the bot token expires (unix seconds).
    pub refresh_token: Option<RefreshToken>,
    pub token_expires_at: Option<i64>,
}

/// A rotation refresh token (`xoxe-…`). Debug never shows it.
#[derive(Clone)]
pub struct RefreshToken(String);

impl RefreshToken {
    fn parse(raw: &str) -> Result<Self, String> {
        if !raw.starts_with("xoxe-") || raw.len() > MAX_TOKEN_LEN {
            return Err("must be a Slack refresh token (xoxe-…)".into());
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must not contain spaces or other invisible characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
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

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken([redacted])")
    }
}

impl SlackConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let mut raw: RawConfig = parse_config(config)?;
        if let Some(team_id) = raw.team_id.take() {
            return parse_app(team_id, raw);
        }
        for (key, set) in [
            ("team_name", raw.team_name.is_some()),
            ("bot_user_id", raw.bot_user_id.is_some()),
            ("app_id", raw.app_id.is_some()),
            ("refresh_token", raw.refresh_token.is_some()),
            ("token_expires_at", raw.token_expires_at.is_some()),
        ] {
            if set {
                return Err(FieldError::new(
                    key,
                    "belongs to a workspace connected with Add to Slack (with team_id)",
                ));
            }
        }
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

/// A workspace connected with Add to Slack: a bot token, the team and the bot user.
fn parse_app(team_id: String, raw: RawConfig) -> Result<SlackConfig, FieldError> {
    if raw.webhook_url.is_some() {
        return Err(FieldError::new(
            "webhook_url",
            "cannot be combined with an Add to Slack installation (team_id)",
        ));
    }
    let id = |key: &str, value: &str| {
        let ok = !value.is_empty()
            && value.len() <= 32
            && value.bytes().all(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(value.to_owned())
        } else {
            Err(FieldError::new(key, "must be a Slack id such as T0123ABCD"))
        }
    };
    let token = raw
        .bot_token
        .ok_or_else(|| FieldError::new("bot_token", "is required with team_id"))?;
    let bot_user_id = raw
        .bot_user_id
        .ok_or_else(|| FieldError::new("bot_user_id", "is required with team_id"))?;
    Ok(SlackConfig::App {
        token: BotToken::parse(&token).map_err(|m| FieldError::new("bot_token", m))?,
        channel: raw
            .default_channel
            .map(|c| parse_channel(&c).map_err(|m| FieldError::new("default_channel", m)))
            .transpose()?,
        install: AppInstall {
            team_id: id("team_id", &team_id)?,
            team_name: raw.team_name,
            bot_user_id: id("bot_user_id", &bot_user_id)?,
            app_id: raw.app_id.map(|a| id("app_id", &a)).transpose()?,
            refresh_token: raw
                .refresh_token
                .map(|t| RefreshToken::parse(&t).map_err(|m| FieldError::new("refresh_token", m)))
                .transpose()?,
            token_expires_at: raw.token_expires_at,
        },
    })
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
