//! The shared conformance test every provider kind passes: hostile text in every field of an
//! event never becomes markup, a link or a mention at the destination.
//!
//! Each kind's requests are parsed in the destination's own terms: Markdown with a CommonMark
//! parser (GitHub with its tables), HTML by its tags and entities, Slack by its block and text
//! types and control sequences, Adaptive Cards by element type, ADF by node and mark. The
//! check is the same everywhere: the hostile text is shown exactly as typed (so none of its
//! `*`, `_`, `[…](…)`, `<b>` or `<!channel>` was taken as syntax), no formatting, link or
//! mention other than Herald's own exists, and every link goes where Herald put it.

use herald_domain::Kind;
use pulldown_cmark::{Event as Md, Options, Parser, Tag, TagEnd};
use serde_json::{json, Value};

use crate::email::tests::Parsed;
use crate::examples::example_config;
use crate::markup::WORD_JOINER;
use crate::testing::Fixture;
use crate::{Outbound, Registry, RegistryOptions};

/// The issue's hostile text: HTML, emphasis, a masked link, mentions, a Slack broadcast, an
/// entity, a table pipe and a backtick.
pub(crate) const HOSTILE: &str =
    "<b>x</b> *y* _z_ [l](https://e.example) @here @alice <!channel> &amp; | `";
/// Line-start syntax for the summary: a heading, a quote, lists and an indented code block.
const HOSTILE_LINES: &[&str] = &["# heading", "> quote", "- item", "1. one", "    code"];
/// The only place links may go.
const HERALD_LINK: &str = "https://ci.example/runs/1";

/// An event whose every text field holds the hostile text.
pub(crate) fn hostile_event() -> Value {
    let summary = format!("{HOSTILE}\n{}", HOSTILE_LINES.join("\n"));
    json!({
        "type": "iac.run.waiting_for_approval",
        "title": HOSTILE,
        "summary": summary,
        "status": HOSTILE,
        "target_id": HOSTILE,
        "environment": HOSTILE,
        "namespace": HOSTILE,
        "stack": HOSTILE,
        "correlation_key": "run-1",
        "url": HERALD_LINK,
        "approve_url": format!("{HERALD_LINK}/approve"),
        "facts": {HOSTILE: HOSTILE, "commit": HOSTILE},
        "data": {"shown": HOSTILE},
    })
}

/// A sample prior per kind, so follow-ups (edits, comments, replies) are checked too.
fn prior(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Slack => Some("C0123456789:1503435956.000247"),
        Kind::Discord => Some("123456789012345678"),
        Kind::Telegram => Some("-1001234567890:42"),
        Kind::Webex | Kind::GoogleChat => Some("MSG-1"),
        Kind::Jira => Some("OPS-7"),
        Kind::Github => Some("7"),
        Kind::Email => Some("<first.run@example.com>"),
        _ => None,
    }
}

#[test]
fn hostile_text_never_becomes_markup_a_link_or_a_mention_in_any_kind() {
    let registry = Registry::builtin(RegistryOptions {
        enable_script: true,
    });
    assert_eq!(registry.kinds(), Kind::ALL, "every kind is checked");
    for kind in Kind::ALL {
        let provider = registry.get(kind).unwrap();
        let config = example_config(kind);
        let first = Fixture::new(kind, hostile_event());
        let mut fixtures = vec![first];
        if let Some(prior) = prior(kind) {
            fixtures.push(
                Fixture::new(kind, hostile_event())
                    .with_prior(prior)
                    .after(&[hostile_event()]),
            );
        }
        for fixture in &fixtures {
            let requests = provider
                .render(&fixture.ctx(), &config)
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert!(!requests.is_empty(), "{kind:?}");
            let mut shown = String::new();
            for request in &requests {
                shown.push_str(&check(kind, request));
            }
            assert!(
                shown.contains(HOSTILE),
                "{kind:?}: the hostile text is shown as typed somewhere; shown:\n{shown}"
            );
        }
    }
}

/// Checks one request in its kind's format and returns the text it shows (for the caller's
/// "shown as typed" check).
fn check(kind: Kind, request: &Outbound) -> String {
    match (kind, request) {
        (Kind::Email, Outbound::Mail(mail)) => check_email(&mail.message),
        (Kind::Script, Outbound::Exec(exec)) => check_machine(&json_of(&exec.stdin)),
        (_, Outbound::Http(http)) => {
            let body = json_of(&http.body);
            assert_links_are_heralds(kind, &body);
            match kind {
                Kind::Slack => check_slack(&body),
                Kind::Discord => check_discord(&body),
                Kind::Teams => check_card(&body["attachments"][0]["content"]),
                Kind::Webex => {
                    let markdown = body["markdown"].as_str().unwrap();
                    let mut shown = check_markdown_with(markdown, false, true);
                    shown.push_str(&check_card(&body["attachments"][0]["content"]));
                    shown
                }
                Kind::GoogleChat => check_google_chat(&body),
                Kind::Telegram => check_html(body["text"].as_str().unwrap(), &["b", "a"], true),
                Kind::Github => check_github(&body),
                Kind::Jira => check_jira(&body),
                Kind::Pagerduty | Kind::Opsgenie => plain_strings(&body),
                Kind::Splunk => check_machine(&body["event"]),
                Kind::Webhook | Kind::Custom => check_machine(&body),
                Kind::Email | Kind::Script => unreachable!(),
            }
        }
        (kind, other) => panic!("{kind:?}: unexpected request {other:?}"),
    }
}

fn json_of(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).expect("a JSON body")
}

/// Every `url` and `href` in a body is one Herald put there.
fn assert_links_are_heralds(kind: Kind, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                if matches!(key.as_str(), "url" | "href") {
                    if let Some(url) = value.as_str() {
                        assert!(url.starts_with(HERALD_LINK), "{kind:?}: {key} = {url}");
                    }
                }
                assert_links_are_heralds(kind, value);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_links_are_heralds(kind, v)),
        _ => {}
    }
}

/// Machine payloads carry the event unchanged, as data.
fn check_machine(envelope: &Value) -> String {
    assert_eq!(envelope["title"], HOSTILE);
    assert_eq!(envelope["data"]["shown"], HOSTILE);
    plain_strings(envelope)
}

/// Every string of a JSON value that a destination shows as plain text, joined.
fn plain_strings(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s}\n"),
        Value::Array(items) => items.iter().map(plain_strings).collect(),
        Value::Object(map) => map.values().map(plain_strings).collect(),
        _ => String::new(),
    }
}

// ---- Slack ----

fn check_slack(body: &Value) -> String {
    // auth.test has no body.
    if body.is_null() {
        return String::new();
    }
    let mut shown = String::new();
    // `text` and `fallback` are read for control sequences: all of `<`, `>` and `&` must be
    // escaped, and with mrkdwn off nothing formats.
    assert_eq!(body["mrkdwn"], false, "{body}");
    let mut texts = vec![&body["text"]];
    for attachment in body["attachments"].as_array().into_iter().flatten() {
        texts.push(&attachment["fallback"]);
        texts.push(&attachment["text"]);
    }
    for text in texts.into_iter().filter_map(Value::as_str) {
        shown.push_str(&slack_text(text));
        shown.push('\n');
    }
    for block in body["blocks"].as_array().into_iter().flatten() {
        shown.push_str(&slack_block(block));
    }
    shown
}

/// Decodes Slack's three entities after checking nothing else is a control sequence.
fn slack_text(text: &str) -> String {
    assert!(
        !text.contains('<') && !text.contains('>'),
        "a raw < or > starts a Slack control sequence: {text}"
    );
    for (i, _) in text.match_indices('&') {
        let rest = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "a raw & in Slack text: {text}"
        );
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn slack_block(block: &Value) -> String {
    let mut shown = String::new();
    match block["type"].as_str().unwrap() {
        "header" => {
            assert_eq!(block["text"]["type"], "plain_text");
            shown.push_str(block["text"]["text"].as_str().unwrap());
        }
        "rich_text" => {
            for section in block["elements"].as_array().unwrap() {
                for element in section["elements"].as_array().unwrap() {
                    // No link, user, channel, broadcast or emoji element: text only.
                    assert_eq!(element["type"], "text", "{element}");
                    let text = element["text"].as_str().unwrap();
                    if !element["style"].is_null() {
                        assert!(
                            is_label(text),
                            "only Herald's labels are styled, not {text:?}"
                        );
                    }
                    shown.push_str(text);
                }
            }
        }
        "context" => {
            for element in block["elements"].as_array().unwrap() {
                assert_eq!(element["type"], "plain_text");
            }
        }
        "actions" => {
            for button in block["elements"].as_array().unwrap() {
                assert_eq!(button["type"], "button");
                assert!(matches!(
                    button["text"]["text"].as_str(),
                    Some("View run" | "Approve run")
                ));
            }
        }
        other => panic!("unexpected Slack block {other}"),
    }
    assert!(
        !block.to_string().contains("\"mrkdwn\""),
        "no mrkdwn text object carries event text: {block}"
    );
    shown
}

/// A bold label Herald writes: a status line or a fact's name.
fn is_label(text: &str) -> bool {
    text.starts_with("Status: ") || text.ends_with(": ")
}

// ---- Markdown (Discord, Webex, GitHub) ----

fn check_discord(body: &Value) -> String {
    // Pings are off for the whole message, whatever the text says.
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    let mut shown = check_markdown(body["content"].as_str().unwrap(), false);
    for embed in body["embeds"].as_array().unwrap() {
        for part in [&embed["title"], &embed["description"]] {
            if let Some(text) = part.as_str() {
                shown.push_str(&check_markdown(text, false));
            }
        }
        for field in embed["fields"].as_array().into_iter().flatten() {
            shown.push_str(&check_markdown(field["name"].as_str().unwrap(), false));
            shown.push_str(&check_markdown(field["value"].as_str().unwrap(), false));
        }
    }
    shown
}

fn check_github(body: &Value) -> String {
    let Some(text) = body["body"].as_str() else {
        // Closing an issue carries no text.
        return String::new();
    };
    let shown = check_markdown(text, true);
    // GitHub finds mentions and references in the rendered text: none may be left.
    for mention in ["@alice", "@here"] {
        assert!(!shown.contains(mention), "{mention} would notify: {shown}");
    }
    let mut plain = shown.replace(WORD_JOINER, "");
    plain.push_str(&plain_strings(&body["title"]));
    plain
}

/// Parses CommonMark (with GitHub's tables when `tables`) and returns the text shown. Fails on
/// any HTML, code, list, quote or event-made heading, and on a link that is not Herald's.
fn check_markdown(text: &str, tables: bool) -> String {
    check_markdown_with(text, tables, false)
}

/// As [`check_markdown`]; with `herald_lists`, lists are allowed (Webex shows the facts as
/// one), and the event's own `- item` is caught by its characters surviving instead.
fn check_markdown_with(text: &str, tables: bool, herald_lists: bool) -> String {
    let mut options = Options::empty();
    if tables {
        options.insert(Options::ENABLE_TABLES);
    }
    options.insert(Options::ENABLE_STRIKETHROUGH);
    // Herald's own bold (a status line, a fact's name) may hold event text; what shows that no
    // emphasis came from the event is that its `*y*` and `_z_` are still in the text shown.
    let mut shown = String::new();
    for event in Parser::new_ext(text, options) {
        match event {
            Md::Text(t) => shown.push_str(&t),
            Md::SoftBreak | Md::HardBreak => shown.push('\n'),
            Md::Start(Tag::Strikethrough) => panic!("strikethrough in {text}"),
            Md::Start(Tag::Link { dest_url, .. }) => assert!(
                dest_url.starts_with(HERALD_LINK),
                "a link to {dest_url} in {text}"
            ),
            Md::Start(Tag::Heading { level, .. }) => assert_eq!(
                level,
                pulldown_cmark::HeadingLevel::H3,
                "only Herald's comment heading: {text}"
            ),
            Md::Html(h) | Md::InlineHtml(h) => panic!("HTML {h:?} in {text}"),
            Md::Code(c) => panic!("code {c:?} in {text}"),
            Md::Start(Tag::List(_)) if herald_lists => {}
            Md::Start(
                Tag::List(_) | Tag::BlockQuote(_) | Tag::CodeBlock(_) | Tag::Image { .. },
            ) => panic!("block syntax from event text in {text}"),
            Md::End(TagEnd::TableCell) => shown.push('|'),
            _ => {}
        }
    }
    for line in HOSTILE_LINES {
        if text.contains(&line[line.len() - 4..]) {
            let plain = shown.replace(WORD_JOINER, "");
            assert!(plain.contains(line.trim_start()), "{line:?} lost in {text}");
        }
    }
    shown
}

// ---- Adaptive Cards (Teams, Webex) ----

/// Event text only in TextRuns (plain by the schema), never in a Markdown TextBlock or Fact;
/// actions open Herald's links.
fn check_card(card: &Value) -> String {
    let mut shown = String::new();
    for element in card["body"].as_array().unwrap() {
        assert_eq!(element["type"], "RichTextBlock", "{element}");
        for run in element["inlines"].as_array().unwrap() {
            assert_eq!(run["type"], "TextRun");
            shown.push_str(run["text"].as_str().unwrap());
        }
        shown.push('\n');
    }
    for action in card["actions"].as_array().into_iter().flatten() {
        assert_eq!(action["type"], "Action.OpenUrl");
    }
    shown
}

// ---- HTML (Telegram, Google Chat, e-mail) ----

/// Tags must be in `allowed` (and links Herald's); entities are decoded into the text shown.
/// With `mentions`, `@name` must not be left for the service to detect.
fn check_html(html: &str, allowed: &[&str], mentions: bool) -> String {
    let mut shown = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        shown.push_str(&decode_entities(&rest[..start]));
        let end = rest[start..].find('>').expect("a closed tag") + start;
        let tag = &rest[start + 1..end];
        let name = tag
            .trim_start_matches('/')
            .split([' ', '/'])
            .next()
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains(&name.as_str()), "tag <{tag}> in {html}");
        if let Some(href) = tag.split("href=\"").nth(1) {
            assert!(href.starts_with(HERALD_LINK), "link {href} in {html}");
        }
        rest = &rest[end + 1..];
    }
    shown.push_str(&decode_entities(rest));
    if mentions {
        for mention in ["@alice", "@here"] {
            assert!(!shown.contains(mention), "{mention} would mention: {shown}");
        }
    }
    shown.replace(WORD_JOINER, "")
}

fn decode_entities(text: &str) -> String {
    for (i, _) in text.match_indices('&') {
        let rest = &text[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "a raw & in HTML text: {text}"
        );
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn check_google_chat(body: &Value) -> String {
    let mut shown = plain_strings(&body["fallbackText"]);
    let card = &body["cardsV2"][0]["card"];
    shown.push_str(&plain_strings(&card["header"]));
    for section in card["sections"].as_array().unwrap() {
        for widget in section["widgets"].as_array().unwrap() {
            let texts = [
                &widget["textParagraph"]["text"],
                &widget["decoratedText"]["text"],
                &widget["decoratedText"]["topLabel"],
            ];
            for text in texts.into_iter().filter_map(Value::as_str) {
                shown.push_str(&check_html(text, &["font", "b"], false));
                shown.push('\n');
            }
        }
    }
    assert!(body.get("text").is_none(), "Chat formats the message text");
    shown
}

fn check_email(message: &[u8]) -> String {
    let parsed = Parsed::of(message);
    let allowed = [
        "!doctype", "html", "head", "meta", "body", "div", "h2", "p", "br", "table", "tr", "th",
        "td", "span", "a",
    ];
    let mut shown = check_html(&parsed.part("text/html"), &allowed, false);
    shown.push_str(&parsed.part("text/plain"));
    shown
}

// ---- Jira (ADF) ----

/// Text nodes only (no mention, emoji or card nodes), marks only Herald's (bold labels, the
/// italic note, links to Herald's URLs).
fn check_jira(body: &Value) -> String {
    let document = if body["fields"]["description"].is_object() {
        &body["fields"]["description"]
    } else if body["body"].is_object() {
        &body["body"]
    } else {
        return String::new();
    };
    let mut shown = plain_strings(&body["fields"]["summary"]);
    walk_adf(document, &mut shown);
    shown
}

fn walk_adf(node: &Value, shown: &mut String) {
    let kind = node["type"].as_str().unwrap();
    assert!(
        matches!(
            kind,
            "doc" | "paragraph" | "text" | "hardBreak" | "bulletList" | "listItem"
        ),
        "ADF node {kind}"
    );
    if kind == "text" {
        for mark in node["marks"].as_array().into_iter().flatten() {
            match mark["type"].as_str().unwrap() {
                "strong" | "em" => {}
                "link" => assert!(mark["attrs"]["href"]
                    .as_str()
                    .unwrap()
                    .starts_with(HERALD_LINK)),
                other => panic!("ADF mark {other}"),
            }
        }
        shown.push_str(node["text"].as_str().unwrap());
    }
    if kind == "hardBreak" {
        shown.push('\n');
    }
    for child in node["content"].as_array().into_iter().flatten() {
        walk_adf(child, shown);
    }
    if kind == "paragraph" {
        shown.push('\n');
    }
}

#[test]
fn every_kind_publishes_a_config_schema_its_example_config_satisfies() {
    let registry = Registry::builtin(RegistryOptions {
        enable_script: true,
    });
    for kind in Kind::ALL {
        let provider = registry.get(kind).unwrap();
        let schema = provider.config_schema();
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{kind:?}: the schema is not JSON Schema: {e}"));
        let example = example_config(kind);
        assert!(
            validator.is_valid(&example),
            "{kind:?}: the example config breaks the schema"
        );
        provider.validate(&example).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for required in schema["required"].as_array().unwrap() {
            let required = required.as_str().unwrap();
            assert!(properties.contains_key(required), "{kind:?}: {required}");
            // The provider itself refuses a config without a required field.
            let mut without = example.clone();
            if without.as_object_mut().unwrap().remove(required).is_some() {
                assert!(
                    provider.validate(&without).is_err(),
                    "{kind:?}: validate accepts a config without {required}"
                );
            }
        }
        for (name, property) in properties {
            assert!(property["title"].is_string(), "{kind:?}.{name} has a title");
            assert!(property["description"].is_string(), "{kind:?}.{name}");
        }
    }
}

#[test]
fn credentials_are_marked_secret_in_every_schema() {
    let registry = Registry::builtin(RegistryOptions {
        enable_script: true,
    });
    let credential = ["token", "secret", "key", "password", "smtp_url"];
    for kind in Kind::ALL {
        let schema = registry.get(kind).unwrap().config_schema();
        let secrets = crate::config_schema::secret_fields(&schema);
        for name in schema["properties"].as_object().unwrap().keys() {
            let looks_secret = credential.iter().any(|c| name.contains(c))
                && !["api_key_header", "project_key"].contains(&name.as_str());
            if looks_secret {
                assert!(secrets.contains(name), "{kind:?}.{name} must be secret");
            }
        }
    }
}
