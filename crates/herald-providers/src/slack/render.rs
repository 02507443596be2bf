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
/// `section.text`.
const SECTION_TEXT_MAX: usize = 3_000;
/// `section.fields`: items, and characters per item.
const FIELDS_MAX: usize = 10;
const FIELD_MAX: usize = 2_000;
/// Our own budget for all fields together, so the whole message stays well under the ~12-13k
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
    let message = Message::of(ctx.event);
    let mut text = format!("{}: {}", phase_label(message.phase), title(ctx, &message));
    let status = message.status_line();
    if !status.is_empty() {
        text.push('\n');
        text.push_str(&status);
    }
    let body = json!({
        "channel": channel,
        "thread_ts": ts,
        "text": fit(&text, TEXT_MAX, true),
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
pub(super) fn message_body(ctx: &RenderContext<'_>) -> Map<String, Value> {
    let message = Message::of(ctx.event);
    let headline = headline(ctx, &message);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit(&headline, HEADER_MAX, false)},
    })];
    if let Some(section) = summary_section(&message) {
        blocks.push(section);
    }
    blocks.extend(fact_blocks(&message.facts));
    let buttons: Vec<Value> = message.links.iter().filter_map(button).collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    let mut body = Map::new();
    body.insert("text".into(), fit(&headline, TEXT_MAX, true).into());
    body.insert("blocks".into(), blocks.into());
    // A legacy attachment is the only way to get a colour bar beside Block Kit content.
    body.insert(
        "attachments".into(),
        json!([{
            "color": message.colour().hex(),
            "fallback": fit(&headline, TEXT_MAX, false),
            "text": phase_label(message.phase),
        }]),
    );
    body
}

/// The headline, or "Resolved: title" once it is over (a stale severity would mislead).
fn headline(ctx: &RenderContext<'_>, message: &Message) -> String {
    match message.phase {
        Phase::Resolved => format!("Resolved: {}", title(ctx, message)),
        _ if message.title.trim().is_empty() => ctx.event.event_type.clone(),
        _ => message.headline(),
    }
}

/// Slack refuses a blank header, so a blank title falls back to the event type.
fn title(ctx: &RenderContext<'_>, message: &Message) -> String {
    if message.title.trim().is_empty() {
        ctx.event.event_type.clone()
    } else {
        message.title.clone()
    }
}

fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Resolved => "Resolved",
        Phase::AwaitingApproval => "Waiting for approval",
        Phase::Failed => "Failed",
        Phase::Active => "Open",
    }
}

/// The status line in bold, then the text. `None` when there is neither (Slack refuses an
/// empty section).
fn summary_section(message: &Message) -> Option<Value> {
    let status = message.status_line();
    let status = if status.is_empty() {
        String::new()
    } else {
        format!("*{}*", fit(&status, 200, true))
    };
    let text = match (status.is_empty(), message.text.trim().is_empty()) {
        (true, true) => return None,
        (false, true) => status,
        (true, false) => fit(&message.text, SECTION_TEXT_MAX, true),
        (false, false) => {
            let room = SECTION_TEXT_MAX - units(&status) - 1;
            format!("{status}\n{}", fit(&message.text, room, true))
        }
    };
    Some(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}))
}

/// Up to ten facts as section fields, sharing one budget; a note for any left out.
fn fact_blocks(facts: &[(String, String)]) -> Vec<Value> {
    if facts.is_empty() {
        return Vec::new();
    }
    let shown = &facts[..facts.len().min(FIELDS_MAX)];
    let per_field = (FIELDS_TOTAL / shown.len()).min(FIELD_MAX);
    let fields: Vec<Value> = shown
        .iter()
        .map(|(name, value)| {
            let name = format!("*{}*", fit(name, FACT_NAME_MAX.min(per_field / 2), true));
            let room = per_field.saturating_sub(units(&name) + 1);
            let text = format!("{name}\n{}", fit(value, room, true));
            json!({"type": "mrkdwn", "text": text})
        })
        .collect();
    let mut blocks = vec![json!({"type": "section", "fields": fields})];
    let hidden = facts.len() - shown.len();
    if hidden > 0 {
        let note = match hidden {
            1 => "1 more fact not shown".to_owned(),
            n => format!("{n} more facts not shown"),
        };
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}));
    }
    blocks
}

/// A link button; a URL too long for Slack is left out rather than cut into a broken link.
fn button(link: &Link) -> Option<Value> {
    if units(&link.url) > BUTTON_URL_MAX {
        return None;
    }
    let mut button = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": fit(link.label, BUTTON_TEXT_MAX, false)},
        "url": link.url,
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

/// `text` cut to at most `max` UTF-16 units, ending with `…` when cut. With `escape`, `&`, `<`
/// and `>` become the entities mrkdwn requires (so no one is pinged and no link is forged),
/// counted after escaping and never split.
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
