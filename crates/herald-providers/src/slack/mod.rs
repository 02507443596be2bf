//! `slack`: a Block Kit message through the Web API (a bot token and a channel) or an incoming
//! webhook.
//!
//! With the Web API, the events of one run or incident share one message: the first posts it
//! (its `channel:ts` is the external id), later ones edit it in place with chat.update (showing
//! what the run has accumulated), and a follow-up that people should hear about (applied,
//! failed, cancelled, resolved, waiting for approval) also posts a thread reply, since an edit
//! notifies no one. A webhook returns no id, so each event
//! is a new message.

pub mod actions;
mod classify;
mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::{Message, Phase};
use crate::{
    Destination, Outbound, Outcome, Provider, Purpose, Rate, RenderContext, RenderError, Response,
};

pub use config::{AppInstall, BotToken, RefreshToken, SlackConfig};
use render::Placement;

/// Whether a follow-up also gets a thread reply: an edit notifies no one, so every stage that
/// people should hear of (an outcome, a problem, a person needed) gets one; progress does not.
fn says_something_new(phase: Phase) -> bool {
    !matches!(phase, Phase::InProgress | Phase::Planned | Phase::Notice)
}

/// chat.postMessage allows about one message per second per channel, with short bursts;
/// incoming webhooks the same.
const PACE: Rate = Rate::new(1.0, 1);

pub struct SlackProvider;

impl Provider for SlackProvider {
    fn kind(&self) -> Kind {
        Kind::Slack
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string("webhook_url", "Incoming webhook URL", "A Slack incoming webhook (https://hooks.slack.com/services/…). Give this or a bot token.").format("uri").secret();
        s.string(
            "bot_token",
            "Bot token",
            "A bot token (xoxb-…) with chat:write; lets follow-ups update the first message.",
        )
        .secret();
        s.string(
            "default_channel",
            "Default channel",
            "Channel id or #name the bot posts to.",
        );
        s.one_of_required(&["webhook_url", "bot_token"]);
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        SlackConfig::parse(config).map(|_| ())
    }

    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        let config = SlackConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        let requests = match (&config, ctx.purpose) {
            // An app webhook is bound to one channel: it cannot honour a workspace's channel.
            (SlackConfig::Webhook { .. }, _) if ctx.destination.is_some() => {
                return Err(RenderError::Unrenderable(
                    "a workspace channel needs a bot token; an incoming webhook posts to its own channel only".into(),
                ))
            }
            // Webhooks have no side-effect-free check: the test is a visible message.
            (SlackConfig::Webhook { url }, _) => vec![render::webhook_message(ctx, url)],
            // auth.test proves the token; a test message to the default channel proves the bot
            // may post there (conversations.info would need read scopes the bot may lack, and
            // membership alone does not prove posting). A channel the bot is not in fails with
            // Slack's code and what to do (invite the app). An app install without a default
            // channel posts where it is subscribed, so only its token is proven.
            (SlackConfig::Bot { token, channel }, Purpose::ConnectionTest) => vec![
                render::auth_test(ctx, token),
                render::web_api_message(ctx, token, Placement::Post { channel }, false),
            ],
            (SlackConfig::App { token, channel, .. }, Purpose::ConnectionTest) => {
                let mut requests = vec![render::auth_test(ctx, token)];
                if let Some(channel) = channel.as_deref() {
                    requests.push(render::web_api_message(
                        ctx,
                        token,
                        Placement::Post { channel },
                        false,
                    ));
                }
                requests
            }
            (SlackConfig::Bot { token, channel }, Purpose::Delivery) => {
                // A workspace attachment's channel, when one was resolved, wins.
                let channel = ctx.destination.unwrap_or(channel);
                web_api_delivery(ctx, token, channel, false)
            }
            (SlackConfig::App { token, channel, .. }, Purpose::Delivery) => {
                // A subscribed channel or a resolved destination wins over the default.
                let Some(channel) = ctx.destination.or(channel.as_deref()) else {
                    return Err(RenderError::Unrenderable(
                        "no channel to post to: subscribe one with `/herald subscribe` or set default_channel".into(),
                    ));
                };
                web_api_delivery(ctx, token, channel, true)
            }
        };
        Ok(requests.into_iter().map(Outbound::from).collect())
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        let Some(request) = request.http() else {
            return Outcome::Failed {
                reason: "slack: not an HTTP request".into(),
            };
        };
        // Only Web API calls carry the token; a webhook's credential is its URL.
        if request.header_value("authorization").is_some() {
            classify::web_api(request, response)
        } else {
            classify::webhook(response)
        }
    }

    /// A bot posts per channel; a webhook is bound to one channel, and its URL is the secret.
    fn destination(&self, config: &Value) -> Destination {
        match SlackConfig::parse(config) {
            Ok(SlackConfig::Bot { channel, .. }) => {
                Destination::new(Kind::Slack, &channel, Some(PACE))
            }
            Ok(SlackConfig::App { channel, .. }) => Destination::new(
                Kind::Slack,
                channel.as_deref().unwrap_or_default(),
                Some(PACE),
            ),
            Ok(SlackConfig::Webhook { url }) => {
                Destination::hashed(Kind::Slack, url.as_str(), Some(PACE))
            }
            Err(_) => Destination::new(Kind::Slack, "", None),
        }
    }
}

/// A post to `channel`, or, with a prior `channel:ts`, an edit of that message (and a thread
/// reply when people should hear of it). `interactive`: an app install's message about a run
/// waiting for approval carries Approve and Reject buttons.
fn web_api_delivery(
    ctx: &RenderContext<'_>,
    token: &config::BotToken,
    channel: &str,
    interactive: bool,
) -> Vec<crate::OutboundRequest> {
    // A prior that is not `channel:ts` did not come from this mode: start afresh.
    match ctx.prior.and_then(|p| render::parse_external_id(&p.0)) {
        None => vec![render::web_api_message(
            ctx,
            token,
            Placement::Post { channel },
            interactive,
        )],
        Some((channel, ts)) => {
            let mut requests = vec![render::web_api_message(
                ctx,
                token,
                Placement::Update { channel, ts },
                interactive,
            )];
            if says_something_new(Message::for_delivery(ctx).phase) {
                requests.push(render::thread_reply(ctx, token, channel, ts));
            }
            requests
        }
    }
}
