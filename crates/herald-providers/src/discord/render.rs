//! The execute body: `content` with the headline (what notifications and previews show) and
//! one rich embed with the whole message, within every embed limit of providers.md §4.

use serde::Serialize;
use url::Url;

use crate::markup::{backslash_punctuation, Format, Markup};
use crate::present::{truncate_chars, Link, Message};
use crate::{Method, Outbound, OutboundRequest, RenderContext};

use super::DiscordConfig;

pub const CONTENT_MAX: usize = 2_000;
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4_096;
pub const FIELDS_MAX: usize = 25;
pub const FIELD_NAME_MAX: usize = 256;
pub const FIELD_VALUE_MAX: usize = 1_024;
pub const FOOTER_MAX: usize = 2_048;
/// Title, description, field names and values, footer and author of all embeds together.
pub const EMBED_TOTAL_MAX: usize = 6_000;

/// Values up to this long sit side by side (Discord shows up to three inline fields a row).
const INLINE_MAX: usize = 40;

/// Discord wants `DiscordBot ($url, $versionNumber)`; other agents can be stopped by its
/// Cloudflare front (40333). The sender's own default agent is replaced by this header.
/// The URL is a placeholder until Herald has a public home.
pub const USER_AGENT: &str = concat!(
    "DiscordBot (https://herald.example.com, ",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Discord's Markdown (content, embed titles, descriptions and field names and values).
pub struct DiscordMarkdown;

impl Format for DiscordMarkdown {
    /// Every ASCII punctuation character behind a backslash, which Discord reads as that
    /// character: no emphasis, spoiler, heading, quote, masked link (`[text](url)`), `<@id>`
    /// mention, `<t:…>` timestamp or auto-link (`https\://`) comes from the text. Pings are
    /// also off for the whole message (`allowed_mentions`).
    fn escape(text: &str, out: &mut String) {
        for c in text.chars() {
            if !backslash_punctuation(c, out) {
                out.push(c);
            }
        }
    }

    /// `[label](url)` with parentheses encoded so they cannot end the destination early.
    fn link(label: &str, url: &Url, out: &mut String) {
        out.push('[');
        out.push_str(label);
        out.push_str("](");
        out.push_str(&link_url(url));
        out.push(')');
    }
}

pub type Md = Markup<DiscordMarkdown>;

#[derive(Debug, Serialize)]
pub struct Payload {
    pub content: Md,
    /// Event text is not trusted to ping: `@everyone`, `@here` and `<@id>` stay plain text.
    pub allowed_mentions: AllowedMentions,
    pub embeds: Vec<Embed>,
}

#[derive(Debug, Serialize)]
pub struct AllowedMentions {
    pub parse: [&'static str; 0],
}

#[derive(Debug, Serialize)]
pub struct Embed {
    pub title: Md,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Discord refuses an empty description, so it is left out instead.
    #[serde(skip_serializing_if = "Md::is_empty")]
    pub description: Md,
    pub color: u32,
    pub timestamp: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    pub footer: Footer,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: Md,
    pub value: Md,
    pub inline: bool,
}

#[derive(Debug, Serialize)]
pub struct Footer {
    pub text: String,
}

impl Embed {
    /// What counts towards the 6,000-character total.
    pub fn total_chars(&self) -> usize {
        self.title.chars()
            + self.description.chars()
            + fields_chars(&self.fields)
            + chars(&self.footer.text)
    }
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn fields_chars(fields: &[Field]) -> usize {
    fields
        .iter()
        .map(|f| f.name.chars() + f.value.chars())
        .sum()
}

/// The requests for a delivery:
/// - first of a correlation key: POST a new message (`wait=true`, so its id comes back);
/// - a follow-up: PATCH the first message to the current state, so one run is one message
///   showing where it stands. Edits raise no unread badge, so while the run needs a person
///   (waiting for approval, failed) a new message is posted after the edit as well.
pub(super) fn requests(ctx: &RenderContext<'_>, config: &DiscordConfig) -> Vec<Outbound> {
    let message = Message::for_delivery(ctx);
    let body = serde_json::to_vec(&payload(ctx, &message)).expect("the payload serialises");
    let post = || {
        OutboundRequest::post_json(config.execute_url(), body.clone())
            .header("user-agent", USER_AGENT)
            .into()
    };
    // Message ids are snowflakes; anything else is not ours to put in a path.
    let prior = ctx
        .prior
        .map(|p| p.0.as_str())
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    let Some(prior) = prior else {
        return vec![post()];
    };
    let edit = OutboundRequest::new(Method::Patch, config.message_url(prior))
        .json_body(body.clone())
        .header("user-agent", USER_AGENT)
        .into();
    if message.phase.needs_a_person() {
        vec![edit, post()]
    } else {
        vec![edit]
    }
}

/// The connection test: reading the webhook proves the URL and token without posting.
pub(super) fn connection_test(config: &DiscordConfig) -> Outbound {
    OutboundRequest::new(Method::Get, config.webhook_url())
        .header("user-agent", USER_AGENT)
        .into()
}

pub fn payload(ctx: &RenderContext<'_>, message: &Message) -> Payload {
    let title = Md::text_within(&message.title, TITLE_MAX, chars);
    let footer = truncate_chars(&format!("Herald · {}", ctx.event.event_type), FOOTER_MAX);
    let fixed = title.chars() + chars(&footer);
    let mut description = description(message, DESCRIPTION_MAX);
    // Facts give way first, then the description, so the total stays within 6,000.
    let fields = fit_fields(
        &message.facts,
        EMBED_TOTAL_MAX.saturating_sub(fixed + description.chars()),
    );
    let left = EMBED_TOTAL_MAX.saturating_sub(fixed + fields_chars(&fields));
    if description.chars() > left {
        description = self::description(message, left);
    }
    let embed = Embed {
        title,
        url: message
            .links
            .iter()
            .find(|l| l.id == "view_run")
            .map(|l| l.url.to_string()),
        description,
        color: message.colour().int(),
        timestamp: ctx.event.timestamp.clone(),
        fields,
        footer: Footer { text: footer },
    };
    debug_assert!(embed.total_chars() <= EMBED_TOTAL_MAX);
    Payload {
        content: Md::text_within(&message.headline(), CONTENT_MAX, chars),
        allowed_mentions: AllowedMentions { parse: [] },
        embeds: vec![embed],
    }
}

/// Status line, summary, then the links as Markdown. Webhooks not owned by an application
/// cannot send link buttons, so the links live here (and View run is also the title's link).
/// The summary is cut first so the status and the links survive.
fn description(message: &Message, max: usize) -> Md {
    let status = Md::text(&message.status_line());
    let links = links_line(&message.links);
    let frame: Vec<&Md> = [&status, &links]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let frame_chars: usize = frame.iter().map(|s| s.chars()).sum::<usize>() + 2 * frame.len();
    let mut parts: Vec<Md> = Vec::new();
    if !status.is_empty() {
        parts.push(status.clone());
    }
    if !message.text.is_empty() && max > frame_chars {
        let text = Md::text_within(&message.text, max - frame_chars, chars);
        if !text.is_empty() {
            parts.push(text);
        }
    }
    if !links.is_empty() {
        parts.push(links.clone());
    }
    let whole = Md::join(parts, "\n\n");
    if whole.chars() <= max {
        return whole;
    }
    // Only when the links alone are too long (two 2 KiB URLs): the status alone, cut.
    Md::text_within(&message.status_line(), max, chars)
}

fn links_line(links: &[Link]) -> Md {
    Md::join(links.iter().map(|l| Md::link(l.label, &l.url)), " · ")
}

/// The URL with parentheses encoded so it cannot end the Markdown link early.
fn link_url(url: &Url) -> String {
    url.as_str().replace('(', "%28").replace(')', "%29")
}

/// Facts as fields: at most 25, each within its limits, and together within `budget`
/// characters. Facts that do not fit are dropped from the end and counted in a last field.
fn fit_fields(facts: &[(String, String)], budget: usize) -> Vec<Field> {
    let all: Vec<Field> = facts.iter().map(|(n, v)| field(n, v)).collect();
    for shown in (0..=all.len().min(FIELDS_MAX)).rev() {
        let hidden = all.len() - shown;
        if hidden > 0 && shown == FIELDS_MAX {
            continue; // no room left for the "more" field
        }
        let mut fields = all[..shown].to_vec();
        if hidden > 0 {
            let noun = if hidden == 1 { "fact" } else { "facts" };
            fields.push(field("…", &format!("{hidden} more {noun} not shown")));
        }
        if fields_chars(&fields) <= budget {
            return fields;
        }
    }
    Vec::new()
}

fn field(name: &str, value: &str) -> Field {
    // Discord refuses blank names and values.
    let fill = |s: &str, max| {
        if s.trim().is_empty() {
            Md::raw("—")
        } else {
            Md::text_within(s, max, chars)
        }
    };
    let value = fill(value, FIELD_VALUE_MAX);
    Field {
        name: fill(name, FIELD_NAME_MAX),
        inline: value.chars() <= INLINE_MAX && !value.as_str().contains('\n'),
        value,
    }
}
