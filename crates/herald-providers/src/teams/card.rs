//! The Adaptive Card Herald posts to Teams (1.4) and Webex (1.3): a bold title, a status line
//! coloured by status and severity, the text, a FactSet and one Action.OpenUrl per link. Only
//! elements of schema 1.0 are used, so one builder serves every version a service renders.

use serde_json::{json, Value};

use super::fit::{fit, status_label};
use crate::present::Message;

pub(crate) const SCHEMA: &str = "http://adaptivecards.io/schemas/adaptive-card.json";
/// The attachment content type both Teams and Webex expect for a card.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// The card for `message`, declared as schema `version`.
pub(crate) fn adaptive_card(message: &Message, version: &str) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": message.title,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": true,
    })];
    let status = status_label(message);
    if !status.is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": status,
            "color": message.tone().adaptive(),
            "weight": "Bolder",
            "spacing": "None",
            "wrap": true,
        }));
    }
    if !message.text.is_empty() {
        body.push(json!({"type": "TextBlock", "text": message.text, "wrap": true}));
    }
    if !message.facts.is_empty() {
        let facts: Vec<Value> = message
            .facts
            .iter()
            .map(|(name, value)| json!({"title": name, "value": value}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
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
            .map(|link| json!({"type": "Action.OpenUrl", "title": link.label, "url": link.url}))
            .collect();
    }
    card
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
        assert_eq!(body[0]["text"], "Plan ready");
        assert_eq!(body[0]["weight"], "Bolder");
        assert_eq!(body[0]["wrap"], true);
        assert_eq!(
            body[1]["text"],
            "Status: waiting for approval · Severity: high"
        );
        assert_eq!(body[1]["color"], "Attention");
        assert_eq!(body[2]["text"], "2 to add");
        assert_eq!(body[3]["type"], "FactSet");
        assert_eq!(
            body[3]["facts"][0],
            json!({"title": "Workspace", "value": "net"})
        );
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
        assert_eq!(body[1]["color"], "Good");
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
