//! The issue body and comments in GitHub-flavoured Markdown, built from [`Message`] and kept
//! within GitHub's body limit.

use url::Url;

use crate::markup::{backslash_punctuation, Format, Markup, WORD_JOINER};
use crate::present::{fit_text_and_facts, truncate_chars, Message};

/// GitHub-flavoured Markdown, with GitHub's own references disarmed.
pub struct GithubMarkdown;

impl Format for GithubMarkdown {
    /// Every ASCII punctuation character behind a backslash, so no emphasis, heading, list,
    /// table cell end, link or HTML tag (`src/<login>.rs` shows as typed, not stripped) comes
    /// from the text. GitHub finds `@user`, `@org/team` and `#12` in the rendered text, after
    /// the escapes are gone, so a word joiner after `@` and `#` keeps them from mentioning or
    /// cross-referencing anyone. Leading spaces become no-break spaces (four would start a code
    /// block).
    fn escape(text: &str, out: &mut String) {
        let mut line_start = true;
        for c in text.chars() {
            match c {
                ' ' | '\t' if line_start => out.push('\u{a0}'),
                '@' | '#' => {
                    out.push('\\');
                    out.push(c);
                    out.push(WORD_JOINER);
                }
                c => {
                    if !backslash_punctuation(c, out) {
                        out.push(c);
                    }
                }
            }
            line_start = c == '\n' || (line_start && matches!(c, ' ' | '\t'));
        }
    }

    /// `[label](<url>)`: the pointy-bracket destination takes any URL without `<`, `>` or a
    /// line break, which a normalised URL never has.
    fn link(label: &str, url: &Url, out: &mut String) {
        out.push('[');
        out.push_str(label);
        out.push_str("](<");
        out.push_str(url.as_str());
        out.push_str(">)");
    }
}

type Md = Markup<GithubMarkdown>;

/// GitHub's limit for an issue or comment body, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;
/// Bounds on one fact, so one huge value cannot crowd out the rest.
const MAX_FACT_NAME: usize = 80;
const MAX_FACT_VALUE: usize = 300;
const MAX_FACTS: usize = 40;

/// An optional heading (comments say what happened; an issue's title already does), the
/// status line in bold, the event's text shown as typed, the facts as a table and the links,
/// within [`MAX_BODY_CHARS`]: the text is shortened until it fits, then facts that do not fit
/// after it are dropped from the end (and counted).
pub fn body(message: &Message, heading: Option<&str>) -> String {
    let facts: Vec<(Md, Md)> = message
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
        |body: &Md| body.chars() <= MAX_BODY_CHARS,
    );
    // Only a pathological heading or links could still be too long; cut in the markup, an
    // escape cut in half at the very end shows a stray backslash at worst.
    truncate_chars(body.as_str(), MAX_BODY_CHARS)
}

fn build(
    message: &Message,
    heading: Option<&str>,
    facts: &[(Md, Md)],
    shown: usize,
    text_max: usize,
) -> Md {
    let mut sections: Vec<Md> = Vec::new();
    if let Some(heading) = heading.map(one_line).filter(|h| !h.is_empty()) {
        let mut line = Md::raw("### ");
        line.push_text(&truncate_chars(&heading, 1_000));
        sections.push(line);
    }
    let status = message.status_line();
    if !status.is_empty() {
        sections.push(Md::wrapped("**", &Md::text(&status), "**"));
    }
    let text = truncate_chars(message.text.trim(), text_max);
    if !text.is_empty() {
        sections.push(Md::text(&text));
    }
    if shown > 0 {
        let mut table = Md::raw("| Fact | Value |\n| --- | --- |");
        for (name, value) in &facts[..shown] {
            table
                .push_raw("\n| ")
                .push(name)
                .push_raw(" | ")
                .push(value)
                .push_raw(" |");
        }
        sections.push(table);
    }
    let hidden = facts.len() - shown;
    if hidden > 0 {
        let plural = if hidden == 1 { "" } else { "s" };
        let note = Md::text(&format!("…and {hidden} more fact{plural}"));
        sections.push(Md::wrapped("_", &note, "_"));
    }
    let links = message
        .links
        .iter()
        .map(|link| Md::link(link.label, &link.url));
    let links = Md::join(links, " · ");
    if !links.is_empty() {
        sections.push(links);
    }
    Md::join(sections, "\n\n")
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

/// A table cell: one line, escaped (so `|` does not end the cell), never empty.
fn cell(value: &str) -> Md {
    let value = one_line(value);
    if value.is_empty() {
        Md::raw(" ")
    } else {
        Md::text(&value)
    }
}
