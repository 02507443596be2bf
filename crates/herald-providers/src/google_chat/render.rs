use serde_json::{json, Value};
use url::Url;

use super::GoogleChatConfig;
use crate::markup::{Format, Markup};
use crate::present::{truncate_chars, Message};
use crate::teams::card::json_len;
use crate::teams::fit::{fit, status_label};
use crate::{Method, OutboundRequest, RenderContext};

/// Google Chat's limit on a whole message, text and cards together.
pub(crate) const MAX_BODY_BYTES: usize = 32_000;
/// The plain `text` limit (the reference marks it unconfirmed; we keep to it anyway).
pub(crate) const MAX_TEXT_CHARS: usize = 4_096;
/// Replies into the thread of the key when there is one, else starts that thread.
pub(crate) const REPLY_OPTION: &str = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

pub(super) fn request(ctx: &RenderContext<'_>, config: &GoogleChatConfig) -> OutboundRequest {
    let thread_key = ctx.event.correlation_key.as_deref();
    let message = Message::for_delivery(ctx);
    let build = |m: &Message| body(m, ctx, thread_key);
    let fitted = fit(&message, MAX_BODY_BYTES, |m| json_len(&build(m)));
    let body = build(&fitted).to_string().into_bytes();
    let url = match thread_key {
        Some(_) => with_reply_option(&config.url),
        None => config.url.clone(),
    };
    let mut request = OutboundRequest::new(Method::Post, url)
        .header("content-type", "application/json; charset=UTF-8");
    request.body = body;
    request
}

/// The webhook URL with `messageReplyOption` set, keeping `key` and `token` (and anything else
/// Chat put there) in place. A `threadKey` query parameter is deprecated and would compete
/// with the body's, so it goes.
fn with_reply_option(url: &Url) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != "messageReplyOption" && name != "threadKey")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("messageReplyOption", REPLY_OPTION);
    out
}

/// The HTML subset of card widget text (`textParagraph`, `decoratedText.text`).
pub struct ChatCardText;

impl Format for ChatCardText {
    /// `&`, `<` and `>` as entities: no tag (`<b>`, `<a>`, `<font>`) comes from the text.
    fn escape(text: &str, out: &mut String) {
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => out.push(c),
            }
        }
    }
}

type Card = Markup<ChatCardText>;

/// The card: the title in the header (plain text), the status in bold in the event's colour,
/// the text, the facts and the link buttons. The message's `fallbackText` (plain text, for
/// notifications) carries the headline: the message `text` field would read the event's
/// `*bold*`, `<url|links>` and `<users/…>` mentions.
fn body(message: &Message, ctx: &RenderContext<'_>, thread_key: Option<&str>) -> Value {
    let header = json!({"title": message.title});
    let mut sections = Vec::new();
    let status = status_label(message);
    if !status.is_empty() {
        let mut line = Card::raw("<font color=\"");
        line.push_text(&message.colour().hex())
            .push_raw("\"><b>")
            .push_text(&status)
            .push_raw("</b></font>");
        sections.push(json!({"widgets": [{"textParagraph": {"text": line}}]}));
    }
    if !message.text.is_empty() {
        let text = Card::text(&message.text);
        sections.push(json!({"widgets": [{"textParagraph": {"text": text}}]}));
    }
    if !message.facts.is_empty() {
        let widgets: Vec<Value> = message
            .facts
            .iter()
            .map(|(name, value)| {
                json!({"decoratedText": {"topLabel": Card::text(name), "text": Card::text(value), "wrapText": true}})
            })
            .collect();
        sections.push(json!({"widgets": widgets}));
    }
    if !message.links.is_empty() {
        let buttons: Vec<Value> = message
            .links
            .iter()
            .map(|link| json!({"text": link.label, "onClick": {"openLink": {"url": link.url.as_str()}}}))
            .collect();
        sections.push(json!({"widgets": [{"buttonList": {"buttons": buttons}}]}));
    }
    if sections.is_empty() {
        // A card needs a section; the event type is the one thing every event has.
        let text = Card::text(&ctx.event.event_type);
        sections.push(json!({"widgets": [{"textParagraph": {"text": text}}]}));
    }
    let mut body = json!({
        "fallbackText": truncate_chars(&message.headline(), MAX_TEXT_CHARS),
        "cardsV2": [{
            "cardId": format!("herald-{}", ctx.event.id),
            "card": {"header": header, "sections": sections},
        }],
    });
    if let Some(key) = thread_key {
        body["thread"] = json!({"threadKey": key});
    }
    body
}
