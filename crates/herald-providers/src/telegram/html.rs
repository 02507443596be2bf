//! Telegram's HTML parse mode: escaping, and building a text whose visible part (what is left
//! after tags and entities are parsed, which is what the 4,096 limit counts) fits a budget.
//! Cuts happen in the visible text before escaping, so never inside a tag or an entity.

/// Text outside tags: `&` first, so the entities added next stay intact.
pub fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An attribute value in double quotes.
pub fn escape_attr(text: &str) -> String {
    escape_text(text).replace('"', "&quot;")
}

/// Visible length as Telegram's entity offsets count it, in UTF-16 code units. Never less
/// than the count of characters, so it is safe whichever of the two the limit means.
pub fn visible_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut to at most `max` UTF-16 units, ending with `…` when cut; never splits a
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
        if used + c.len_utf16() > max - 1 {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// HTML built piece by piece within a visible budget. Once a piece had to be cut, the rest is
/// dropped, so the reader sees where the message ends.
pub struct Html {
    out: String,
    left: usize,
    full: bool,
}

impl Html {
    pub fn with_budget(visible: usize) -> Self {
        Self {
            out: String::new(),
            left: visible,
            full: false,
        }
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        if let Some(fitted) = self.fit(text) {
            self.out.push_str(&escape_text(&fitted));
        }
        self
    }

    pub fn bold(&mut self, text: &str) -> &mut Self {
        if let Some(fitted) = self.fit(text) {
            self.out.push_str("<b>");
            self.out.push_str(&escape_text(&fitted));
            self.out.push_str("</b>");
        }
        self
    }

    /// A link, whole or not at all: its label is short and a cut URL would mislead.
    pub fn link(&mut self, label: &str, href: &str) -> &mut Self {
        if !self.full && visible_len(label) <= self.left {
            self.left -= visible_len(label);
            self.out.push_str(&format!(
                "<a href=\"{}\">{}</a>",
                escape_attr(href),
                escape_text(label)
            ));
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
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
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
