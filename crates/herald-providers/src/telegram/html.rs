//! Telegram's HTML parse mode: escaping, and building a text whose visible part (what is left
//! after tags and entities are parsed, which is what the 4,096 limit counts) fits a budget.
//! Cuts happen in the visible text before escaping, so never inside a tag or an entity.

use crate::markup::{Format, Markup, WORD_JOINER};

/// Telegram's HTML parse mode.
pub struct TelegramHtml;

impl Format for TelegramHtml {
    /// `&`, `<` and `>` as entities (`&` first, so no entity of the text survives), and a word
    /// joiner after `@`: Telegram finds `@username` in the visible text and makes it a mention.
    fn escape(text: &str, out: &mut String) {
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '@' => {
                    out.push('@');
                    out.push(WORD_JOINER);
                }
                c => out.push(c),
            }
        }
    }

    fn link(label: &str, url: &url::Url, out: &mut String) {
        out.push_str("<a href=\"");
        Self::escape(url.as_str(), out);
        out.push_str("\">");
        out.push_str(label);
        out.push_str("</a>");
    }
}

type Tg = Markup<TelegramHtml>;

/// Visible length as Telegram's entity offsets count it, in UTF-16 code units. Never less
/// than the count of characters, so it is safe whichever of the two the limit means.
pub fn visible_len(text: &str) -> usize {
    text.chars().map(shown_units).sum()
}

/// What one character of event text takes once shown (`@` gains its word joiner).
fn shown_units(c: char) -> usize {
    c.len_utf16() + usize::from(c == '@')
}

/// `text` cut to at most `max` shown UTF-16 units, ending with `…` when cut; never splits a
/// character.
pub fn cut(text: &str, max: usize) -> String {
    if visible_len(text) <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + shown_units(c) > max - 1 {
            break;
        }
        used += shown_units(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// HTML built piece by piece within a visible budget. Once a piece had to be cut, the rest is
/// dropped, so the reader sees where the message ends.
pub struct Html {
    out: Tg,
    left: usize,
    full: bool,
}

impl Html {
    pub fn with_budget(visible: usize) -> Self {
        Self {
            out: Tg::new(),
            left: visible,
            full: false,
        }
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        if let Some(fitted) = self.fit(text) {
            self.out.push_text(&fitted);
        }
        self
    }

    pub fn bold(&mut self, text: &str) -> &mut Self {
        if let Some(fitted) = self.fit(text) {
            self.out
                .push(&Tg::wrapped("<b>", &Tg::text(&fitted), "</b>"));
        }
        self
    }

    /// A link, whole or not at all: its label is short and a cut URL would mislead.
    pub fn link(&mut self, label: &str, href: &url::Url) -> &mut Self {
        if !self.full && visible_len(label) <= self.left {
            self.left -= visible_len(label);
            self.out.push(&Tg::link(label, href));
        }
        self
    }

    pub fn finish(self) -> String {
        self.out.into_string()
    }

    fn fit(&mut self, text: &str) -> Option<String> {
        if self.full || text.is_empty() {
            return None;
        }
        let len = visible_len(text);
        if len <= self.left {
            self.left -= len;
            return Some(text.to_owned());
        }
        self.full = true;
        let fitted = cut(text, self.left);
        self.left = 0;
        (!fitted.is_empty()).then_some(fitted)
    }
}

/// The visible text of HTML this module produced: tags dropped, entities decoded. For tests.
#[cfg(test)]
pub fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').expect("a closed tag") + start;
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.replace(WORD_JOINER, "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
