//! Atlassian Document Format: the rich text Jira Cloud's v3 API wants for descriptions and
//! comments. Built from [`Message`] and kept within Jira's text-field limit.

use serde_json::{json, Value};

use crate::present::{fit_text_and_facts, truncate_chars, Message};

/// Jira's default limit for a rich-text field (`jira.text.field.character.limit`). We hold the
/// serialised ADF to it, which is stricter than counting only the visible text.
pub const MAX_FIELD_CHARS: usize = 32_767;
/// Bounds on one fact, so one huge value cannot crowd out the rest.
const MAX_FACT_NAME: usize = 80;
const MAX_FACT_VALUE: usize = 300;
const MAX_FACTS: usize = 40;

/// The event as an ADF document: an optional bold heading (comments name what happened; an
/// issue's summary already does), the status line, the text, the facts as a bullet list and
/// the links, within [`MAX_FIELD_CHARS`]: the text is shortened until it fits, then facts
/// that do not fit after it are dropped from the end (and counted).
pub fn document(message: &Message, heading: Option<&str>) -> Value {
    let facts: Vec<(String, String)> = message
        .facts
        .iter()
        .map(|(name, value)| {
            (
                truncate_chars(&clean(name), MAX_FACT_NAME),
                truncate_chars(&clean(value), MAX_FACT_VALUE),
            )
        })
        .collect();
    fit_text_and_facts(
        message.text.chars().count(),
        facts.len().min(MAX_FACTS),
        |text_max, shown| build(message, heading, &facts, shown, text_max),
        |doc: &Value| utf16_len(&doc.to_string()) <= MAX_FIELD_CHARS,
    )
}

fn build(
    message: &Message,
    heading: Option<&str>,
    facts: &[(String, String)],
    shown: usize,
    text_max: usize,
) -> Value {
    let mut content = Vec::new();
    if let Some(heading) = heading.map(clean).filter(|h| !h.trim().is_empty()) {
        content.push(paragraph(vec![strong(&truncate_chars(&heading, 1_000))]));
    }
    let status = message.status_line();
    if !status.is_empty() {
        content.push(paragraph(vec![strong(&status)]));
    }
    content.extend(paragraphs(&truncate_chars(&message.text, text_max)));
    if shown > 0 {
        let items = facts[..shown]
            .iter()
            .map(|(name, value)| {
                let mut line = vec![strong(&format!("{name}:"))];
                if !value.is_empty() {
                    line.push(text(&format!(" {value}")));
                }
                json!({"type": "listItem", "content": [paragraph(line)]})
            })
            .collect::<Vec<_>>();
        content.push(json!({"type": "bulletList", "content": items}));
    }
    let hidden = facts.len() - shown;
    if hidden > 0 {
        let note = format!(
            "…and {hidden} more fact{}",
            if hidden == 1 { "" } else { "s" }
        );
        content.push(paragraph(vec![json!({
            "type": "text", "text": note, "marks": [{"type": "em"}]
        })]));
    }
    let mut links = Vec::new();
    for link in &message.links {
        let href = &link.url;
        if !links.is_empty() {
            links.push(text(" · "));
        }
        links.push(json!({
            "type": "text",
            "text": link.label,
            "marks": [{"type": "link", "attrs": {"href": href.as_str()}}]
        }));
    }
    if !links.is_empty() {
        content.push(paragraph(links));
    }
    if content.is_empty() {
        // A document needs a block; an empty paragraph is valid ADF.
        content.push(json!({"type": "paragraph", "content": []}));
    }
    json!({"type": "doc", "version": 1, "content": content})
}

/// Blank lines separate paragraphs; single line breaks become `hardBreak`s (ADF text nodes
/// hold no line breaks, and must not be empty).
fn paragraphs(raw: &str) -> Vec<Value> {
    let normalised = raw.replace("\r\n", "\n");
    normalised
        .split("\n\n")
        .map(|block| block.trim_matches('\n'))
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut nodes = Vec::new();
            for (i, line) in block.split('\n').enumerate() {
                if i > 0 {
                    nodes.push(json!({"type": "hardBreak"}));
                }
                let line = clean(line);
                if !line.is_empty() {
                    nodes.push(text(&line));
                }
            }
            paragraph(nodes)
        })
        .collect()
}

fn paragraph(content: Vec<Value>) -> Value {
    json!({"type": "paragraph", "content": content})
}

fn text(value: &str) -> Value {
    json!({"type": "text", "text": value})
}

fn strong(value: &str) -> Value {
    json!({"type": "text", "text": value, "marks": [{"type": "strong"}]})
}

/// Control characters (line breaks included) as spaces: a text node is one line.
pub fn clean(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Jira measures strings as Java does, in UTF-16 code units.
pub fn utf16_len(value: &str) -> usize {
    value.encode_utf16().count()
}

/// `value` cut to at most `max` UTF-16 code units, ending with `…` when cut.
pub fn truncate_utf16(value: &str, max: usize) -> String {
    if utf16_len(value) <= max {
        return value.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in value.chars() {
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}
