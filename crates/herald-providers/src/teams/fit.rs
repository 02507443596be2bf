//! Shrinking a [`Message`] until its rendered form fits a byte budget. The card services (Teams,
//! Webex, Google Chat) limit the whole serialised body, not single fields, so the only honest
//! measure is the rendered bytes themselves: cut, render, measure, repeat.

use crate::present::{truncate_bytes, truncate_chars, Message};

/// Caps applied before any budget: a chat card shows no more than this usefully.
const MAX_FACTS: usize = 40;
const MAX_FACT_NAME_CHARS: usize = 100;
const MAX_FACT_VALUE_CHARS: usize = 500;
const MAX_TITLE_CHARS: usize = 300;
/// The title is cut below this only when nothing else is left to cut.
const MIN_TITLE_BYTES: usize = 64;
/// Text cut shorter than this is dropped: a few characters and an ellipsis say nothing.
const MIN_TEXT_BYTES: usize = 16;

/// `message` with its facts, text and (last) title and links cut until `size` of it is at most
/// `max_bytes`. Dropped facts are announced by a last fact, "More facts: N not shown".
/// `size` must grow with the message's strings (any serialisation does).
pub(crate) fn fit(
    message: &Message,
    max_bytes: usize,
    size: impl Fn(&Message) -> usize,
) -> Message {
    let mut base = message.clone();
    base.title = truncate_chars(&base.title, MAX_TITLE_CHARS);
    let mut hidden = base.facts.len().saturating_sub(MAX_FACTS);
    base.facts.truncate(MAX_FACTS);
    for (name, value) in &mut base.facts {
        *name = truncate_chars(name, MAX_FACT_NAME_CHARS);
        *value = truncate_chars(value, MAX_FACT_VALUE_CHARS);
    }
    loop {
        let candidate = with_hidden_count(&base, hidden);
        let over = size(&candidate).saturating_sub(max_bytes);
        if over == 0 {
            return candidate;
        }
        let fact_bytes: usize = base.facts.iter().map(|(n, v)| n.len() + v.len()).sum();
        // Whichever of facts and text is larger gives way first, so neither vanishes while
        // the other is long.
        if !base.facts.is_empty() && fact_bytes >= base.text.len() {
            base.facts.pop();
            hidden += 1;
        } else if !base.text.is_empty() {
            // Every raw byte cut removes at least one serialised byte. Not below the facts'
            // share, so that the next round takes from the facts again.
            let keep = base.text.len().saturating_sub(over).max(fact_bytes);
            base.text = if keep < MIN_TEXT_BYTES {
                String::new()
            } else {
                truncate_bytes(&base.text, keep)
            };
        } else if base.title.len() > MIN_TITLE_BYTES {
            let keep = base.title.len().saturating_sub(over).max(MIN_TITLE_BYTES);
            base.title = truncate_bytes(&base.title, keep);
        } else if base.links.pop().is_none() {
            // Nothing left to cut: the budget is below a minimal message.
            return candidate;
        }
    }
}

fn with_hidden_count(message: &Message, hidden: usize) -> Message {
    let mut out = message.clone();
    if hidden > 0 {
        out.facts
            .push(("More facts".to_owned(), format!("{hidden} not shown")));
    }
    out
}

/// The status line: the stage Herald read from the status or the type (a `*.failed` type
/// alone still says "failed"), and the severity.
pub(crate) fn status_label(message: &Message) -> String {
    message.status_line()
}

#[cfg(test)]
mod tests {
    use herald_domain::Kind;
    use serde_json::json;

    use super::*;
    use crate::testing::Fixture;

    fn message(input: serde_json::Value) -> Message {
        Message::of(&Fixture::new(Kind::Teams, input).event)
    }

    fn size(m: &Message) -> usize {
        serde_json::to_vec(&json!({"t": m.title, "x": m.text, "f": m.facts, "l": m.links.iter().map(|l| l.url.as_str()).collect::<Vec<_>>()}))
            .map(|v| v.len())
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn a_small_message_is_left_alone() {
        let m = message(json!({"type": "x", "title": "t", "summary": "s", "facts": {"a": 1}}));
        assert_eq!(fit(&m, 10_000, size), m);
    }

    #[test]
    fn facts_and_text_give_way_and_dropped_facts_are_counted() {
        let facts: serde_json::Map<_, _> = (0..100)
            .map(|i| (format!("fact{i:03}"), json!("v".repeat(400))))
            .collect();
        let m = message(
            json!({"type": "x", "title": "t", "summary": "\"q\" ".repeat(4000), "facts": facts}),
        );
        let fitted = fit(&m, 5_000, size);
        assert!(size(&fitted) <= 5_000, "{}", size(&fitted));
        let (name, value) = fitted.facts.last().unwrap();
        assert_eq!(name, "More facts");
        let shown = fitted.facts.len() - 1;
        assert_eq!(value, &format!("{} not shown", 100 - shown));
        assert!(fitted.text.ends_with('…'), "the text was cut, not dropped");
        assert_eq!(fitted.title, "t");
    }

    #[test]
    fn the_title_is_cut_last_and_links_after_it() {
        let m = message(
            json!({"type": "x", "title": "T".repeat(1000), "summary": "s".repeat(500),
            "url": format!("https://ci.example/{}", "p".repeat(1000))}),
        );
        let fitted = fit(&m, 600, size);
        assert!(size(&fitted) <= 600);
        assert!(fitted.text.is_empty());
        assert!(fitted.title.len() < 1000 && fitted.title.len() >= MIN_TITLE_BYTES);
        assert!(fitted.links.is_empty());
    }

    #[test]
    fn the_status_label_comes_from_the_stage() {
        assert_eq!(
            status_label(&message(json!({"type": "iac.run.failed"}))),
            "Status: failed"
        );
        assert_eq!(
            status_label(&message(json!({"type": "scan_done"}))),
            "Status: scan done"
        );
        assert_eq!(status_label(&message(json!({"type": "acme.x"}))), "");
        assert_eq!(
            status_label(&message(
                json!({"type": "x", "status": "ok", "severity": "low"})
            )),
            "Status: healthy · Severity: low"
        );
    }
}
