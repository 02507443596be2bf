//! The issue body and comments in GitHub-flavoured Markdown, built from [`Message`] and kept
//! within GitHub's body limit.

use crate::present::{fit_text_and_facts, truncate_chars, Message};

/// GitHub's limit for an issue or comment body, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;
/// Bounds on one fact, so one huge value cannot crowd out the rest.
const MAX_FACT_NAME: usize = 80;
const MAX_FACT_VALUE: usize = 300;
const MAX_FACTS: usize = 40;

/// An optional heading (comments say what happened; an issue's title already does), the
/// status line in bold, the event's text as written, the facts as a table and the links,
/// within [`MAX_BODY_CHARS`]: the text is shortened until it fits, then facts that do not fit
/// after it are dropped from the end (and counted).
pub fn body(message: &Message, heading: Option<&str>) -> String {
    let facts: Vec<(String, String)> = message
        .facts
        .iter()
        .map(|(name, value)| {
            (
                cell(&truncate_chars(name, MAX_FACT_NAME)),
                cell(&truncate_chars(value, MAX_FACT_VALUE)),
            )
        })
        .collect();
    let body = fit_text_and_facts(
        message.text.chars().count(),
        facts.len().min(MAX_FACTS),
        |text_max, shown| build(message, heading, &facts, shown, text_max),
        |body: &String| body.chars().count() <= MAX_BODY_CHARS,
    );
    // Only a pathological heading or links could still be too long.
    truncate_chars(&body, MAX_BODY_CHARS)
}

fn build(
    message: &Message,
    heading: Option<&str>,
    facts: &[(String, String)],
    shown: usize,
    text_max: usize,
) -> String {
    let mut sections: Vec<String> = Vec::new();
    if let Some(heading) = heading.map(one_line).filter(|h| !h.is_empty()) {
        sections.push(format!("### {}", truncate_chars(&heading, 1_000)));
    }
    let status = message.status_line();
    if !status.is_empty() {
        sections.push(format!("**{status}**"));
    }
    let text = truncate_chars(message.text.trim(), text_max);
    if !text.is_empty() {
        sections.push(text);
    }
    if shown > 0 {
        let mut table = String::from("| Fact | Value |\n| --- | --- |");
        for (name, value) in &facts[..shown] {
            table.push_str(&format!("\n| {name} | {value} |"));
        }
        sections.push(table);
    }
    let hidden = facts.len() - shown;
    if hidden > 0 {
        let plural = if hidden == 1 { "" } else { "s" };
        sections.push(format!("_…and {hidden} more fact{plural}_"));
    }
    let links: Vec<String> = message
        .links
        .iter()
        .filter_map(|link| {
            // The parsed form percent-encodes spaces and angle brackets.
            let url = url::Url::parse(&link.url).ok()?;
            Some(format!("[{}](<{}>)", link.label, url.as_str()))
        })
        .collect();
    if !links.is_empty() {
        sections.push(links.join(" · "));
    }
    sections.join("\n\n")
}

/// Control characters (line breaks included) as spaces, trimmed.
pub fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// A table cell: one line, `|` escaped so it does not end the cell.
fn cell(value: &str) -> String {
    let value = one_line(value).replace('|', "\\|");
    if value.is_empty() {
        " ".into()
    } else {
        value
    }
}
