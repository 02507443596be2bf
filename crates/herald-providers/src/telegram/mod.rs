//! `telegram`: a Bot API `sendMessage` to a chat (providers.md §6), in HTML parse mode. The
//! first event of a correlation key posts a message; later ones reply to it.

mod classify;
mod config;
mod html;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::{Destination, Outbound, Outcome, Provider, Rate, RenderContext, RenderError, Response};

pub use config::{ChatId, TelegramConfig};

/// Telegram's FAQ: about one message a second to one chat.
const CHAT_RATE: Rate = Rate::new(1.0, 1);

pub struct TelegramProvider;

impl Provider for TelegramProvider {
    fn kind(&self) -> Kind {
        Kind::Telegram
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string("bot_token", "Bot token", "From @BotFather: 123456:ABC-….")
            .required()
            .secret();
        s.field(
            "chat_id",
            serde_json::json!(["integer", "string"]),
            "Chat id",
            "A numeric chat id, or @channelusername.",
        )
        .required();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        TelegramConfig::parse(config).map(|_| ())
    }

    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = TelegramConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        if ctx.is_test() {
            return Ok(render::connection_test(ctx, &config));
        }
        Ok(vec![render::send_message(ctx, &config)])
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify::classify(request, response)
    }

    /// One bucket per chat; the chat id is not a secret.
    fn destination(&self, config: &Value) -> Destination {
        match TelegramConfig::parse(config) {
            Ok(config) => {
                Destination::new(Kind::Telegram, &config.chat_id.to_string(), Some(CHAT_RATE))
            }
            Err(_) => Destination::new(Kind::Telegram, "", None),
        }
    }
}
