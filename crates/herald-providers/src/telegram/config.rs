use std::fmt;

use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use crate::parse_config;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    bot_token: String,
    chat_id: Value,
}

/// A parsed Telegram config: a bot token as BotFather issues it and the chat to post in.
#[derive(Debug)]
pub struct TelegramConfig {
    pub bot_token: BotToken,
    pub chat_id: ChatId,
}

impl TelegramConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let bot_token = BotToken::parse(&raw.bot_token)
            .ok_or_else(|| FieldError::new("bot_token", BotToken::SHAPE))?;
        let chat_id = ChatId::parse(&raw.chat_id).map_err(|m| FieldError::new("chat_id", m))?;
        Ok(Self { bot_token, chat_id })
    }
}

/// `<bot id>:<secret>`. It goes in the URL path, so it never appears in Debug output.
pub struct BotToken(String);

impl BotToken {
    /// Never quotes the value.
    const SHAPE: &'static str =
        "must be the token BotFather gives: the bot's numeric id, `:`, then about 35 letters, digits, `_` or `-`";

    fn parse(raw: &str) -> Option<Self> {
        let (id, secret) = raw.split_once(':')?;
        let id_ok = (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
        let secret_ok = (30..=64).contains(&secret.len())
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        (id_ok && secret_ok).then(|| Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A chat: its numeric id (`-1001234567890` for a supergroup or channel), or a public
/// channel's `@username`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatId {
    Id(i64),
    Username(String),
}

impl ChatId {
    /// Accepts the id as a JSON number or a string, since ids this long are often quoted.
    fn parse(raw: &Value) -> Result<Self, String> {
        let id = match raw {
            Value::Number(n) => n.as_i64().ok_or("must be a whole number")?,
            Value::String(s) if s.starts_with('@') => {
                let name = &s[1..];
                let valid = (5..=32).contains(&name.len())
                    && name.starts_with(|c: char| c.is_ascii_alphabetic())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !valid {
                    return Err("must be @ and a username of 5 to 32 letters, digits or `_`".into());
                }
                return Ok(Self::Username(s.clone()));
            }
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| "must be a numeric chat id or an @channelusername")?,
            _ => return Err("must be a numeric chat id or an @channelusername".into()),
        };
        if id == 0 {
            return Err("must not be 0".into());
        }
        Ok(Self::Id(id))
    }

    /// The value of `chat_id` in a request: a number or the `@username` string.
    pub fn json(&self) -> Value {
        match self {
            Self::Id(id) => Value::from(*id),
            Self::Username(name) => Value::from(name.as_str()),
        }
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Username(name) => f.write_str(name),
        }
    }
}
