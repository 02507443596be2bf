//! Markup as a type. Event text is untrusted: it enters a renderer as `&str` and becomes
//! markup of a destination's format only through that format's one escaping function,
//! [`Format::escape`]. Herald's own markup is either a `&'static str` literal, which event text
//! cannot be, or a link built from a parsed URL by [`Format::link`]. So a renderer that puts
//! event text into markup without escaping it does not type-check: there is no other way to
//! make a [`Markup`].

use std::fmt;
use std::marker::PhantomData;

use url::Url;

/// A destination's markup language and its one escaping function.
pub trait Format {
    /// Appends `text` to `out` so that the destination shows it exactly as typed: no
    /// formatting, link, mention or tag of its own survives.
    fn escape(text: &str, out: &mut String);

    /// Appends a link Herald built: `label` is already markup of this format, `url` a parsed
    /// http(s) URL. Formats without links show the label alone.
    fn link(label: &str, _url: &Url, out: &mut String) {
        out.push_str(label);
    }
}

/// Markup of format `F` that is safe to send.
pub struct Markup<F: Format> {
    raw: String,
    format: PhantomData<fn() -> F>,
}

impl<F: Format> Markup<F> {
    pub fn new() -> Self {
        Self {
            raw: String::new(),
            format: PhantomData,
        }
    }

    /// Text shown as typed.
    pub fn text(text: &str) -> Self {
        let mut markup = Self::new();
        markup.push_text(text);
        markup
    }

    /// Herald's own markup. Only a literal: event text is never `'static`.
    pub fn raw(markup: &'static str) -> Self {
        let mut out = Self::new();
        out.push_raw(markup);
        out
    }

    /// A link labelled `label` (shown as typed) to `url`.
    pub fn link(label: &str, url: &Url) -> Self {
        let label = Self::text(label);
        let mut out = Self::new();
        F::link(&label.raw, url, &mut out.raw);
        out
    }

    pub fn push_text(&mut self, text: &str) -> &mut Self {
        F::escape(text, &mut self.raw);
        self
    }

    pub fn push_raw(&mut self, markup: &'static str) -> &mut Self {
        self.raw.push_str(markup);
        self
    }

    pub fn push(&mut self, markup: &Markup<F>) -> &mut Self {
        self.raw.push_str(&markup.raw);
        self
    }

    /// `markup` wrapped in Herald's own `open` and `close`, e.g. `**` and `**`.
    pub fn wrapped(open: &'static str, markup: &Markup<F>, close: &'static str) -> Self {
        let mut out = Self::raw(open);
        out.push(markup).push_raw(close);
        out
    }

    /// The parts joined by a literal separator.
    pub fn join(parts: impl IntoIterator<Item = Markup<F>>, separator: &'static str) -> Self {
        let mut out = Self::new();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out.push_raw(separator);
            }
            out.push(&part);
        }
        out
    }

    /// The longest start of `text` (cut with `…`) whose markup `measure`s at most `max`.
    /// Cutting happens in the text, before escaping, so never inside an escape.
    pub fn text_within(text: &str, max: usize, measure: impl Fn(&str) -> usize) -> Self {
        let whole = Self::text(text);
        if measure(&whole.raw) <= max {
            return whole;
        }
        // Binary search over the number of characters kept.
        let (mut low, mut high) = (0usize, text.chars().count());
        let cut = |n: usize| Self::text(&crate::present::truncate_chars(text, n));
        while low < high {
            let mid = (low + high).div_ceil(2);
            if measure(&cut(mid).raw) <= max {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        // One character is only the ellipsis: it says nothing.
        if low <= 1 {
            return Self::new();
        }
        cut(low)
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn into_string(self) -> String {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn chars(&self) -> usize {
        self.raw.chars().count()
    }
}

impl<F: Format> Default for Markup<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Format> Clone for Markup<F> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
            format: PhantomData,
        }
    }
}

impl<F: Format> fmt::Debug for Markup<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Markup({:?})", self.raw)
    }
}

impl<F: Format> PartialEq for Markup<F> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<F: Format> serde::Serialize for Markup<F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<F: Format> From<Markup<F>> for serde_json::Value {
    fn from(markup: Markup<F>) -> Self {
        serde_json::Value::String(markup.raw)
    }
}

/// Backslash before every ASCII punctuation character: CommonMark (and Discord's parser,
/// which follows it here) reads `\` + punctuation as that character, literally.
pub(crate) fn backslash_punctuation(c: char, out: &mut String) -> bool {
    if c.is_ascii_punctuation() {
        out.push('\\');
        out.push(c);
        true
    } else {
        false
    }
}

/// U+2060 WORD JOINER: invisible, and it keeps `@name` or `#12` from being read as a mention
/// or a reference by services that detect them in plain text after parsing the markup.
pub(crate) const WORD_JOINER: char = '\u{2060}';

/// HTML text and double-quoted attribute values: `&`, `<`, `>`, `"` and `'` as entities.
pub struct Html;

impl Format for Html {
    fn escape(text: &str, out: &mut String) {
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
    }

    fn link(label: &str, url: &Url, out: &mut String) {
        out.push_str("<a href=\"");
        Html::escape(url.as_str(), out);
        out.push_str("\">");
        out.push_str(label);
        out.push_str("</a>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_literals_are_not() {
        let mut markup = Markup::<Html>::raw("<b>");
        markup.push_text("<i>&").push_raw("</b>");
        assert_eq!(markup.as_str(), "<b>&lt;i&gt;&amp;</b>");
    }

    #[test]
    fn links_escape_their_label_and_url() {
        let url = Url::parse("https://ci.example/a?b=1&c=\"2\"").unwrap();
        let link = Markup::<Html>::link("<View>", &url);
        assert_eq!(
            link.as_str(),
            "<a href=\"https://ci.example/a?b=1&amp;c=%222%22\">&lt;View&gt;</a>"
        );
    }

    #[test]
    fn text_within_cuts_before_escaping() {
        let measure = |s: &str| s.chars().count();
        let fitted = Markup::<Html>::text_within("<<<<<<", 13, measure);
        // "&lt;&lt;…" is 9, "&lt;&lt;&lt;…" would be 13.
        assert_eq!(fitted.as_str(), "&lt;&lt;&lt;…");
        assert!(Markup::<Html>::text_within("<<<", 2, measure).is_empty());
        assert_eq!(Markup::<Html>::text_within("ab", 2, measure).as_str(), "ab");
    }
}
