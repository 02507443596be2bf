//! The RFC 5322 message: plain text and HTML alternatives of the same [`Message`], threaded
//! under the first message of a run by `In-Reply-To` and `References`.

use std::time::SystemTime;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{MultiPart, SinglePart};

use super::EmailConfig;
use crate::present::{truncate_chars, Message};
use crate::{MailRequest, RenderContext, RenderError};

/// Subjects longer than this are cut: clients show far less, and a short subject folds cleanly.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// The message for a delivery; the same Message-ID on every attempt, so a retry after a lost
/// reply is recognisably the same mail.
pub(super) fn mail(
    ctx: &RenderContext<'_>,
    config: &EmailConfig,
) -> Result<MailRequest, RenderError> {
    let message = Message::of(ctx.event);
    let message_id = message_id(ctx, config);
    let now: SystemTime = ctx.now.into();
    let mut builder = lettre::Message::builder()
        .from(config.from.clone())
        .subject(subject(&message))
        .date(now)
        .message_id(Some(message_id));
    for to in &config.to {
        builder = builder.to(lettre::message::Mailbox::new(None, to.clone()));
    }
    if let Some(prior) = ctx.prior.map(|p| p.0.as_str()).filter(|p| is_message_id(p)) {
        builder = builder
            .in_reply_to(prior.to_owned())
            .references(prior.to_owned());
    }
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(message.plain_text()))
        .singlepart(SinglePart::html(html(&message)));
    let mut built = builder
        .multipart(body)
        .map_err(|e| RenderError::Unrenderable(format!("could not build the e-mail: {e}")))?;
    // RFC 3834: tells vacation responders and ticket systems not to answer.
    built.headers_mut().insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-generated".to_owned(),
    ));
    Ok(MailRequest {
        server: config.server.clone(),
        from: config.from.email.to_string(),
        to: config.to.iter().map(ToString::to_string).collect(),
        message: built.formatted(),
    })
}

/// `<{event id}.{integration id}@{sender domain}>`: unique per event and destination, and
/// stable across retries. The sender's own domain is what mail clients expect to see there.
fn message_id(ctx: &RenderContext<'_>, config: &EmailConfig) -> String {
    let local: String = format!("{}.{}", ctx.event.id, ctx.target.integration_id)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    format!("<{local}@{}>", config.from.email.domain())
}

/// A Message-ID we could have produced: `<...@...>` with no spaces or controls, so a stored
/// prior can never smuggle anything into a header.
fn is_message_id(value: &str) -> bool {
    value.len() <= 250
        && value.starts_with('<')
        && value.ends_with('>')
        && value.contains('@')
        && value[1..value.len() - 1]
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>'))
}

/// The headline on one line. Line breaks would be encoded rather than injected anyway; they
/// are collapsed so the subject reads as one line.
fn subject(message: &Message) -> String {
    let one_line = message
        .headline()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let visible: String = one_line.chars().filter(|c| !c.is_control()).collect();
    truncate_chars(&visible, MAX_SUBJECT_CHARS)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escaped text with its line breaks kept.
fn paragraph(text: &str) -> String {
    escape(text).replace("\r\n", "\n").replace('\n', "<br>\n")
}

/// A plain layout that mail clients render alike: a bar in the event's colour, the headline,
/// the status line, the text, a facts table and link buttons. Inline styles only, since many
/// clients drop `<style>`.
fn html(message: &Message) -> String {
    let colour = message.colour().hex();
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n");
    out.push_str("<body style=\"font-family:Arial,Helvetica,sans-serif;color:#1d1c1d;\">\n");
    out.push_str(&format!(
        "<div style=\"border-left:4px solid {colour};padding:4px 12px;\">\n"
    ));
    out.push_str(&format!(
        "<h2 style=\"margin:0 0 4px 0;font-size:18px;\">{}</h2>\n",
        escape(&message.headline())
    ));
    let status = message.status_line();
    if !status.is_empty() {
        out.push_str(&format!(
            "<p style=\"margin:0 0 8px 0;color:#616061;\">{}</p>\n",
            escape(&status)
        ));
    }
    if !message.text.is_empty() {
        out.push_str(&format!(
            "<p style=\"margin:8px 0;\">{}</p>\n",
            paragraph(&message.text)
        ));
    }
    if !message.facts.is_empty() {
        out.push_str("<table style=\"border-collapse:collapse;margin:8px 0;\">\n");
        for (name, value) in &message.facts {
            out.push_str(&format!(
                "<tr><th style=\"text-align:left;padding:2px 12px 2px 0;vertical-align:top;\">{}</th><td style=\"padding:2px 0;\">{}</td></tr>\n",
                escape(name),
                paragraph(value)
            ));
        }
        out.push_str("</table>\n");
    }
    let links: Vec<_> = message
        .links
        .iter()
        .filter(|l| l.url.starts_with("https://") || l.url.starts_with("http://"))
        .collect();
    if !links.is_empty() {
        out.push_str("<p style=\"margin:12px 0 4px 0;\">\n");
        for link in links {
            out.push_str(&format!(
                "<a href=\"{}\" style=\"display:inline-block;padding:6px 14px;margin-right:8px;background:#1264A3;color:#ffffff;text-decoration:none;border-radius:4px;\">{}</a>\n",
                escape(&link.url),
                escape(link.label)
            ));
        }
        out.push_str("</p>\n");
    }
    out.push_str("</div>\n</body></html>\n");
    out
}
