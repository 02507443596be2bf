use serde_json::{json, Value};
use url::Url;

use super::WebexConfig;
use crate::markup::{backslash_punctuation, Format, Markup};
use crate::present::{truncate_bytes, Message};
use crate::teams::card::{fitted_card, json_len, CONTENT_TYPE};
use crate::teams::fit::{fit, status_label};
use crate::{join, Method, OutboundRequest, RenderContext, RenderError};

/// Webex's limit on each of `text`, `markdown` and `html`.
pub(crate) const MAX_TEXT_BYTES: usize = 7_439;
/// Webex renders Adaptive Card 1.3 properties.
pub(crate) const CARD_VERSION: &str = "1.3";
/// Webex publishes no size limit for a card attachment; this keeps the card, and with the two
/// texts the whole body (~31 KB), modest. An assumption, not a documented limit.
pub(crate) const MAX_CARD_BYTES: usize = 16_000;

/// `POST /messages`: markdown and plain text for clients without cards, and the card. With a
/// prior (the first message of the correlation key), a reply in its thread.
pub(super) fn message(
    ctx: &RenderContext<'_>,
    config: &WebexConfig,
) -> Result<OutboundRequest, RenderError> {
    let message = Message::for_delivery(ctx);
    let markdown = within_limit(markdown(&fit(&message, MAX_TEXT_BYTES, |m| {
        markdown(m).len()
    })));
    let text = within_limit(fit(&message, MAX_TEXT_BYTES, |m| m.plain_text().len()).plain_text());
    let card = fitted_card(&message, CARD_VERSION, MAX_CARD_BYTES, json_len);
    let mut body = json!({
        "roomId": config.room_id,
        "markdown": markdown,
        "text": text,
        "attachments": [{"contentType": CONTENT_TYPE, "content": card}],
    });
    if let Some(prior) = ctx.prior.filter(|_| !ctx.is_test()) {
        body["parentId"] = Value::String(prior.0.clone());
    }
    let url = join(&ctx.endpoints.webex, "/messages");
    Ok(
        OutboundRequest::post_json(url, body.to_string().into_bytes())
            .header("authorization", format!("Bearer {}", config.bot_token)),
    )
}

/// `GET /rooms/{roomId}`: answers 200 only with a valid token for a room the bot is in. It
/// proves membership, not the right to post (a moderated space may still refuse the bot).
pub(super) fn room_check(
    ctx: &RenderContext<'_>,
    config: &WebexConfig,
) -> Result<OutboundRequest, RenderError> {
    let mut url = join(&ctx.endpoints.webex, "/rooms");
    url.path_segments_mut()
        .map_err(|()| RenderError::Unrenderable("the webex endpoint cannot take a path".into()))?
        .push(&config.room_id);
    Ok(OutboundRequest::new(Method::Get, url)
        .header("authorization", format!("Bearer {}", config.bot_token)))
}

/// Webex's Markdown (the `markdown` field).
pub struct WebexMarkdown;

impl Format for WebexMarkdown {
    /// `&`, `<` and `>` as entities, so no HTML tag (`<script>`, `<bob>`) and no `<@…>`
    /// mention comes from the text; every other ASCII punctuation character behind a
    /// backslash, so no emphasis, heading, list or link does either.
    /// Leading spaces become no-break spaces (four would start a code block).
    fn escape(text: &str, out: &mut String) {
        let mut line_start = true;
        for c in text.chars() {
            let at_start = line_start;
            line_start = c == '\n' || (line_start && matches!(c, ' ' | '\t'));
            match c {
                ' ' | '\t' if at_start => out.push('\u{a0}'),
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                c => {
                    if !backslash_punctuation(c, out) {
                        out.push(c);
                    }
                }
            }
        }
    }

    /// `[label](url)`, parentheses encoded so they cannot end the destination early.
    fn link(label: &str, url: &Url, out: &mut String) {
        out.push('[');
        out.push_str(label);
        out.push_str("](");
        out.push_str(&url.as_str().replace('(', "%28").replace(')', "%29"));
        out.push(')');
    }
}

type Md = Markup<WebexMarkdown>;

fn markdown(message: &Message) -> String {
    let mut out = Md::wrapped("**", &Md::text(&message.headline()), "**");
    let status = status_label(message);
    if !status.is_empty() {
        out.push_raw("\n").push_text(&status);
    }
    if !message.text.is_empty() {
        out.push_raw("\n\n").push_text(&message.text);
    }
    if !message.facts.is_empty() {
        out.push_raw("\n");
        for (name, value) in &message.facts {
            out.push_raw("\n- **")
                .push_text(&format!("{name}:"))
                .push_raw("** ")
                .push_text(value);
        }
    }
    if !message.links.is_empty() {
        let links = message.links.iter().map(|l| Md::link(l.label, &l.url));
        out.push_raw("\n\n").push(&Md::join(links, " · "));
    }
    out.into_string()
}

/// A last guard: `fit` always gets there for budgets this large, but the limit is a hard one.
fn within_limit(text: String) -> String {
    truncate_bytes(&text, MAX_TEXT_BYTES)
}
