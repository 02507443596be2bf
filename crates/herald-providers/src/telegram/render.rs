//! `sendMessage` in HTML parse mode (providers.md §6), and the connection test's two reads.

use serde_json::{json, Value};

use super::html::{visible_len, Html};
use super::{ChatId, TelegramConfig};
use crate::present::Message;
use crate::{join, Method, Outbound, OutboundRequest, RenderContext};

/// `text` may hold 1 to 4,096 characters after entity parsing.
pub const TEXT_MAX: usize = 4_096;

const LINK_SEPARATOR: &str = " · ";

/// `{endpoints.telegram}/bot<TOKEN>/<method>`. The URL holds the token: never put it in a
/// message.
fn method_url(ctx: &RenderContext<'_>, config: &TelegramConfig, method: &str) -> url::Url {
    join(
        &ctx.endpoints.telegram,
        &format!("/bot{}/{method}", config.bot_token.expose()),
    )
}

pub(super) fn send_message(ctx: &RenderContext<'_>, config: &TelegramConfig) -> Outbound {
    let mut body = json!({
        "chat_id": config.chat_id.json(),
        "text": text(&Message::for_delivery(ctx), &ctx.event.event_type),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
    });
    if let Some(message_id) = ctx.prior.and_then(|p| reply_to(&p.0, &config.chat_id)) {
        // A reply ties the follow-up to the run's first message; if that was deleted, the
        // follow-up is still sent rather than refused.
        body["reply_parameters"] =
            json!({"message_id": message_id, "allow_sending_without_reply": true});
    }
    let body = serde_json::to_vec(&body).expect("the body serialises");
    OutboundRequest::post_json(method_url(ctx, config, "sendMessage"), body).into()
}

/// `getMe` proves the token, `getChat` that the bot can see the chat. Nothing is posted.
pub(super) fn connection_test(ctx: &RenderContext<'_>, config: &TelegramConfig) -> Vec<Outbound> {
    let get_me = OutboundRequest::new(Method::Get, method_url(ctx, config, "getMe"));
    let body = serde_json::to_vec(&json!({"chat_id": config.chat_id.json()}))
        .expect("the body serialises");
    let get_chat = OutboundRequest::post_json(method_url(ctx, config, "getChat"), body);
    vec![get_me.into(), get_chat.into()]
}

/// The message id to reply to, from a prior `<chat_id>:<message_id>`, if it is in the chat
/// this config posts to (a changed chat_id starts afresh).
fn reply_to(prior: &str, chat: &ChatId) -> Option<i64> {
    let (prior_chat, message_id) = prior.rsplit_once(':')?;
    let message_id: i64 = message_id.parse().ok()?;
    match chat {
        ChatId::Id(id) if prior_chat.parse::<i64>().ok()? != *id => None,
        _ => Some(message_id),
    }
}

/// Headline in bold, the status line, the summary, the facts, then the links. The links are
/// kept whole; the rest is cut where the visible budget ends.
pub fn text(message: &Message, event_type: &str) -> String {
    let links: Vec<_> = message.links.iter().collect();
    let links_visible: usize = links.iter().map(|l| visible_len(l.label)).sum::<usize>()
        + visible_len(LINK_SEPARATOR) * links.len().saturating_sub(1);
    let reserve = if links.is_empty() {
        0
    } else {
        links_visible + 2
    };
    let mut body = Html::with_budget(TEXT_MAX - reserve);
    let headline = message.headline();
    // Telegram refuses a text that is empty once trimmed.
    body.bold(if headline.trim().is_empty() {
        event_type
    } else {
        &headline
    });
    let status = message.status_line();
    if !status.is_empty() {
        body.text(&format!("\n{status}"));
    }
    if !message.text.is_empty() {
        body.text(&format!("\n\n{}", message.text));
    }
    if !message.facts.is_empty() {
        body.text("\n");
        for (name, value) in &message.facts {
            body.text("\n")
                .bold(&format!("{name}:"))
                .text(&format!(" {value}"));
        }
    }
    let mut out = body.finish();
    if !links.is_empty() {
        let mut tail = Html::with_budget(reserve);
        tail.text("\n\n");
        for (i, link) in links.iter().enumerate() {
            if i > 0 {
                tail.text(LINK_SEPARATOR);
            }
            tail.link(link.label, &link.url);
        }
        out.push_str(&tail.finish());
    }
    out
}

/// Whether a request is a follow-up reply, whose answer's id is not the run's first message.
pub(super) fn is_reply(request: &OutboundRequest) -> bool {
    serde_json::from_slice::<Value>(&request.body)
        .ok()
        .is_some_and(|b| b.get("reply_parameters").is_some())
}
