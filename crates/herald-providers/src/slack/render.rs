//! The Block Kit message and the requests that carry it.
//!
//! Lengths are counted in UTF-16 code units, which is never fewer than characters, so a text
//! within a limit stays within it however Slack counts.

use serde_json::{json, Map, Value};

use super::config::BotToken;
use crate::present::{Link, Message, Phase};
use crate::{join, Method, OutboundRequest, RenderContext};

/// `header.text`.
const HEADER_MAX: usize = 150;
/// The status and summary: `section.text`'s limit, which we keep to for rich text too.
const SECTION_TEXT_MAX: usize = 3_000;
/// Facts shown, and characters per fact (the former `section.fields` limits).
const FIELDS_MAX: usize = 10;
const FIELD_MAX: usize = 2_000;
/// Our own budget for all facts together, so the whole message stays well under the ~12-13k
/// characters at which Slack answers `msg_blocks_too_long`.
const FIELDS_TOTAL: usize = 3_000;
/// A fact's name inside its field.
const FACT_NAME_MAX: usize = 100;
/// Button `text` and `url`.
const BUTTON_TEXT_MAX: usize = 75;
const BUTTON_URL_MAX: usize = 3_000;
/// Top-level `text`: Slack truncates at 40,000; 4,000 is the guidance we keep to.
const TEXT_MAX: usize = 4_000;

/// Where a message goes in the Web API: a new post, or an edit of an earlier one.
pub(super) enum Placement<'a> {
    Post { channel: &'a str },
    Update { channel: &'a str, ts: &'a str },
}

/// The first message's `channel:ts`, as returned from classify.
pub(super) fn external_id(channel: &str, ts: &str) -> String {
    format!("{channel}:{ts}")
}

/// Splits a prior `channel:ts`; anything else is not ours to update.
pub(super) fn parse_external_id(id: &str) -> Option<(&str, &str)> {
    let (channel, ts) = id.split_once(':')?;
    let valid = !channel.is_empty()
        && !ts.is_empty()
        && !ts.contains(':')
        && ts.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    valid.then_some((channel, ts))
}

/// chat.postMessage or chat.update with the whole message.
pub(super) fn web_api_message(
    ctx: &RenderContext<'_>,
    token: &BotToken,
    placement: Placement<'_>,
    interactive: bool,
) -> OutboundRequest {
    let mut body = message_body(ctx);
    if interactive {
        super::actions::add_decision_buttons(ctx, &mut body);
    }
    let method = match placement {
        Placement::Post { channel } => {
            body.insert("channel".into(), channel.into());
            body.insert("unfurl_links".into(), false.into());
            "chat.postMessage"
        }
        // chat.update takes no unfurl options; the edit keeps the original's.
        Placement::Update { channel, ts } => {
            body.insert("channel".into(), channel.into());
            body.insert("ts".into(), ts.into());
            "chat.update"
        }
    };
    web_api(ctx, token, method, Some(Value::Object(body)))
}

/// A thread reply under the first message, so a follow-up that matters notifies people:
/// an edit alone does not.
pub(super) fn thread_reply(
    ctx: &RenderContext<'_>,
    token: &BotToken,
    channel: &str,
    ts: &str,
) -> OutboundRequest {
    let message = Message::for_delivery(ctx);
    let title = title(ctx, &message);
    let label = message.phase_label();
    let mut text = if label.is_empty() {
        title
    } else {
        format!("{label}: {title}")
    };
    if let Some(severity) = message.severity.filter(|_| !message.phase.is_over()) {
        text.push_str(&format!("\nSeverity: {}", severity.as_str()));
    }
    let body = json!({
        "channel": channel,
        "thread_ts": ts,
        "text": fit(&text, TEXT_MAX, true),
        "mrkdwn": false,
        "unfurl_links": false,
    });
    web_api(ctx, token, "chat.postMessage", Some(body))
}

/// auth.test: proves the token without posting anything.
pub(super) fn auth_test(ctx: &RenderContext<'_>, token: &BotToken) -> OutboundRequest {
    web_api(ctx, token, "auth.test", None)
}

/// The incoming-webhook post: the same message, its channel fixed by the webhook.
pub(super) fn webhook_message(ctx: &RenderContext<'_>, url: &url::Url) -> OutboundRequest {
    let mut body = message_body(ctx);
    body.insert("unfurl_links".into(), false.into());
    with_json(
        OutboundRequest::new(Method::Post, url.clone()),
        &Value::Object(body),
    )
}

pub(super) fn web_api(
    ctx: &RenderContext<'_>,
    token: &BotToken,
    method: &str,
    body: Option<Value>,
) -> OutboundRequest {
    let request = OutboundRequest::new(Method::Post, join(&ctx.endpoints.slack, method))
        .header("authorization", token.bearer());
    match body {
        Some(body) => with_json(request, &body),
        None => request,
    }
}

/// A JSON body with the `charset=utf-8` content type Slack asks for (a bare
/// `application/json` may draw a warning).
pub(super) fn with_json(request: OutboundRequest, body: &Value) -> OutboundRequest {
    let mut request = request.header("content-type", "application/json; charset=utf-8");
    request.body = serde_json::to_vec(body).expect("a JSON value serialises");
    request
}

/// `text`, `blocks` and `attachments`: what a post, an edit and a webhook share.
///
/// Event text is never mrkdwn here. The header is `plain_text`; the status, summary and facts
/// are `rich_text`, whose `text` elements Slack shows as given, styled only as Herald says (a
/// bold label); buttons carry Herald's labels and parsed URLs. The top-level `text` and the
/// attachment's `fallback` (what notifications show) are escaped for Slack's control
/// sequences (`<!here>`, `<url|label>`, `<@U…>`), with mrkdwn parsing off.
pub(super) fn message_body(ctx: &RenderContext<'_>) -> Map<String, Value> {
    let message = Message::for_delivery(ctx);
    let headline = headline(ctx, &message);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit(&headline, HEADER_MAX, false)},
    })];
    if let Some(block) = summary_block(&message) {
        blocks.push(block);
    }
    blocks.extend(fact_blocks(&message.facts));
    let buttons: Vec<Value> = message.links.iter().filter_map(button).collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    let mut body = Map::new();
    body.insert("text".into(), fit(&headline, TEXT_MAX, true).into());
    body.insert("mrkdwn".into(), false.into());
    body.insert("blocks".into(), blocks.into());
    // A legacy attachment is the only way to get a colour bar beside Block Kit content.
    let mut bar = json!({
        "color": message.colour().hex(),
        "fallback": fit(&headline, TEXT_MAX, true),
    });
    let label = message.phase_label();
    if !label.is_empty() {
        bar["text"] = fit(&label, 200, true).into();
    }
    body.insert("attachments".into(), json!([bar]));
    body
}

/// The title, prefixed once a problem is resolved ("Resolved: db-1 down") and without the
/// severity once the matter is over (a stale severity would mislead).
fn headline(ctx: &RenderContext<'_>, message: &Message) -> String {
    if message.phase == Phase::Resolved {
        return format!("{}: {}", message.phase_label(), title(ctx, message));
    }
    if message.phase.is_over() || message.title.trim().is_empty() {
        return title(ctx, message);
    }
    message.headline()
}

/// Slack refuses a blank header, so a blank title falls back to the event type.
fn title(ctx: &RenderContext<'_>, message: &Message) -> String {
    if message.title.trim().is_empty() {
        ctx.event.event_type.clone()
    } else {
        message.title.clone()
    }
}

/// A `text` element of a rich-text section: shown as given, never parsed.
fn text_element(text: &str, bold: bool) -> Value {
    let mut element = json!({"type": "text", "text": text});
    if bold {
        element["style"] = json!({"bold": true});
    }
    element
}

fn rich_text(elements: Vec<Value>) -> Value {
    json!({"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]})
}

/// The status line in bold, then the text. `None` when there is neither (Slack refuses an
/// empty section).
fn summary_block(message: &Message) -> Option<Value> {
    let status = message.status_line();
    let mut elements = Vec::new();
    let mut used = 0;
    if !status.is_empty() {
        let status = fit(&status, 200, false);
        used += units(&status) + 1;
        elements.push(text_element(&status, true));
    }
    if !message.text.trim().is_empty() {
        if !elements.is_empty() {
            elements.push(text_element("\n", false));
        }
        elements.push(text_element(
            &fit(&message.text, SECTION_TEXT_MAX - used, false),
            false,
        ));
    }
    (!elements.is_empty()).then(|| rich_text(elements))
}

/// Up to ten facts, a bold name and its value on each line, sharing one budget; a note for
/// any left out.
fn fact_blocks(facts: &[(String, String)]) -> Vec<Value> {
    if facts.is_empty() {
        return Vec::new();
    }
    let shown = &facts[..facts.len().min(FIELDS_MAX)];
    let per_field = (FIELDS_TOTAL / shown.len()).min(FIELD_MAX);
    let mut elements = Vec::new();
    for (i, (name, value)) in shown.iter().enumerate() {
        let name = format!("{}: ", fit(name, FACT_NAME_MAX.min(per_field / 2), false));
        let room = per_field.saturating_sub(units(&name)).max(1);
        if i > 0 {
            elements.push(text_element("\n", false));
        }
        elements.push(text_element(&name, true));
        let value = if value.is_empty() {
            " "
        } else {
            value.as_str()
        };
        elements.push(text_element(&fit(value, room, false), false));
    }
    let mut blocks = vec![rich_text(elements)];
    let hidden = facts.len() - shown.len();
    if hidden > 0 {
        let note = match hidden {
            1 => "1 more fact not shown".to_owned(),
            n => format!("{n} more facts not shown"),
        };
        blocks.push(json!({"type": "context", "elements": [{"type": "plain_text", "text": note}]}));
    }
    blocks
}

/// A link button; a URL too long for Slack is left out rather than cut into a broken link.
fn button(link: &Link) -> Option<Value> {
    if units(link.url.as_str()) > BUTTON_URL_MAX {
        return None;
    }
    let mut button = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": fit(link.label, BUTTON_TEXT_MAX, false)},
        "url": link.url.as_str(),
        "action_id": link.id,
    });
    if link.id == "approve_run" {
        button["style"] = "primary".into();
    }
    Some(button)
}

/// UTF-16 code units: Slack's limits are in characters, and this never counts fewer.
pub(super) fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut to at most `max` UTF-16 units, ending with `…` when cut. With `escape`, the
/// result is for Slack's text fields, where `&`, `<` and `>` start control sequences: they
/// become the entities Slack asks for (so no one is pinged and no link is forged), counted
/// after escaping and never split. This is Slack's one escaping function for event text.
pub(super) fn fit(text: &str, max: usize, escape: bool) -> String {
    let width = |c: char| match c {
        '&' if escape => 5,
        '<' | '>' if escape => 4,
        c => c.len_utf16(),
    };
    let push = |out: &mut String, c: char| match c {
        '&' if escape => out.push_str("&amp;"),
        '<' if escape => out.push_str("&lt;"),
        '>' if escape => out.push_str("&gt;"),
        c => out.push(c),
    };
    let total: usize = text.chars().map(width).sum();
    let budget = if total <= max {
        max
    } else if max == 0 {
        return String::new();
    } else {
        max - 1 // room for the ellipsis
    };
    let mut out = String::with_capacity(text.len().min(budget * 4));
    let mut used = 0;
    for c in text.chars() {
        let w = width(c);
        if used + w > budget {
            out.push('…');
            return out;
        }
        push(&mut out, c);
        used += w;
    }
    out
}
