use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;

use crate::parse_config;

/// A parsed Webex config: a bot (or integration) access token and the room the bot is a
/// member of.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebexConfig {
    pub bot_token: String,
    pub room_id: String,
}

impl std::fmt::Debug for WebexConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebexConfig")
            .field("bot_token", &"[redacted]")
            .field("room_id", &self.room_id)
            .finish()
    }
}

impl WebexConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let config: WebexConfig = parse_config(config)?;
        // The token goes into a header and the room id into a path; both are ASCII ids.
        check_token("bot_token", &config.bot_token)?;
        check_token("room_id", &config.room_id)?;
        if config.room_id.len() > 512 {
            return Err(FieldError::new("room_id", "must be at most 512 characters"));
        }
        Ok(config)
    }
}

fn check_token(field: &str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(FieldError::new(
            field,
            "must be printable ASCII without spaces",
        ));
    }
    Ok(())
}
