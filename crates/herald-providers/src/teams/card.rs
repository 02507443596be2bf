//! The Adaptive Card Herald posts to Teams (1.4) and Webex (1.3): a bold title, a status line
//! coloured by status and severity, the text, the facts and one Action.OpenUrl per link.
//!
//! Event text goes only into `TextRun`s of `RichTextBlock`s (schema 1.2), which the schema
//! defines as plain text: unlike a `TextBlock` or a `FactSet`, whose text is Markdown, nothing
//! in a `TextRun` becomes emphasis, a list or a link. So event text cannot format the card.

use serde_json::{json, Value};

use super::fit::{fit, status_label};
use crate::present::Message;

pub(crate) const SCHEMA: &str = "http://adaptivecards.io/schemas/adaptive-card.json";
/// The attachment content type both Teams and Webex expect for a card.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// One run of plain text, with Herald's own styling.
fn run(text: &str, style: &[(&str, &str)]) -> Value {
    let mut run = json!({"type": "TextRun", "text": text});
    for (name, value) in style {
        run[*name] = json!(value);
    }
    run
}

fn rich(inlines: Vec<Value>) -> Value {
    json!({"type": "RichTextBlock", "inlines": inlines})
}

/// The card for `message`, declared as schema `version`.
pub(crate) fn adaptive_card(message: &Message, version: &str) -> Value {
    let mut body = vec![rich(vec![run(
        &message.title,
        &[("weight", "Bolder"), ("size", "Medium")],
    )])];
    let status = status_label(message);
    if !status.is_empty() {
        let mut line = rich(vec![run(
            &status,
            &[("color", message.tone().adaptive()), ("weight", "Bolder")],
        )]);
        line["spacing"] = json!("None");
        body.push(line);
    }
    if !message.text.is_empty() {
        body.push(rich(vec![run(&message.text, &[])]));
    }
    for (i, (name, value)) in message.facts.iter().enumerate() {
        let mut fact = rich(vec![
            run(&format!("{name}: "), &[("weight", "Bolder")]),
            run(value, &[]),
        ]);
        if i > 0 {
            fact["spacing"] = json!("None");
        }
        body.push(fact);
    }
    let mut card = json!({
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": version,
        "body": body,
    });
    if !message.links.is_empty() {
        card["actions"] = message
            .links
            .iter()
            .map(|link| {
                json!({"type": "Action.OpenUrl", "title": link.label, "url": link.url.as_str()})
            })
            .collect();
    }
    card
}

/// The text of a card element as shown: a RichTextBlock's runs joined. For tests.
#[cfg(test)]
pub(crate) fn shown_text(element: &Value) -> String {
    element["inlines"]
        .as_array()
        .map(|runs| runs.iter().filter_map(|r| r["text"].as_str()).collect())
        .unwrap_or_default()
}

/// The colour of a card element's first run. For tests.
#[cfg(test)]
pub(crate) fn shown_colour(element: &Value) -> Value {
    element["inlines"][0]["color"].clone()
}

/// The card for `message`, its text and facts cut until `size` of the card (the caller adds
/// whatever envelope the service limits) is at most `max_bytes`.
pub(crate) fn fitted_card(
    message: &Message,
    version: &str,
    max_bytes: usize,
    size: impl Fn(&Value) -> usize,
) -> Value {
    let fitted = fit(message, max_bytes, |m| size(&adaptive_card(m, version)));
    adaptive_card(&fitted, version)
}

/// Serialised length of a JSON value: what the services limit.
pub(crate) fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use herald_domain::Kind;

    use super::*;
    use crate::testing::Fixture;

    fn message(input: Value) -> Message {
        Message::of(&Fixture::new(Kind::Teams, input).event)
    }

    use super::shown_text as text_of;

    #[test]
    fn the_card_has_the_required_fields_and_every_part() {
        let m = message(
            json!({"type": "iac.run", "title": "Plan ready", "summary": "2 to add",
            "status": "waiting_for_approval", "severity": "high",
            "facts": {"workspace": "net"}, "url": "https://ci.example/r/1",
            "approve_url": "https://ci.example/r/1/approve"}),
        );
        let card = adaptive_card(&m, "1.4");
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["$schema"], SCHEMA);
        let body = card["body"].as_array().unwrap();
        assert!(body.iter().all(|b| b["type"] == "RichTextBlock"));
        assert_eq!(text_of(&body[0]), "Plan ready");
        assert_eq!(body[0]["inlines"][0]["weight"], "Bolder");
        assert_eq!(
            text_of(&body[1]),
            "Status: waiting for approval · Severity: high"
        );
        assert_eq!(body[1]["inlines"][0]["color"], "Attention");
        assert_eq!(text_of(&body[2]), "2 to add");
        assert_eq!(text_of(&body[3]), "Workspace: net");
        assert_eq!(body[3]["inlines"][0]["weight"], "Bolder");
        let actions = card["actions"].as_array().unwrap();
        assert_eq!(
            actions[1],
            json!({"type": "Action.OpenUrl", "title": "Approve run", "url": "https://ci.example/r/1/approve"})
        );
        assert!(body.iter().all(|element| element["type"].is_string()));
    }

    #[test]
    fn empty_parts_are_left_out_and_resolved_is_good() {
        let card = adaptive_card(&message(json!({"type": "x", "status": "resolved"})), "1.3");
        let body = card["body"].as_array().unwrap();
        assert_eq!(body.len(), 2);
        assert_eq!(body[1]["inlines"][0]["color"], "Good");
        assert!(card.get("actions").is_none());
    }

    #[test]
    fn a_fitted_card_respects_its_budget() {
        let title = "\"<é>\"".repeat(150);
        let summary = "\"<é>\"".repeat(2_500);
        let m = message(json!({"type": "x", "title": title, "summary": summary}));
        let card = fitted_card(&m, "1.4", 4_000, json_len);
        assert!(json_len(&card) <= 4_000, "{}", json_len(&card));
        assert_eq!(card["version"], "1.4");
    }
}
