//! The RFC 5322 message: plain text and HTML alternatives of the same [`Message`], threaded
//! under the first message of a run by `In-Reply-To` and `References`.

use std::time::SystemTime;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{MultiPart, SinglePart};

use super::EmailConfig;
use crate::markup::{self, Markup};
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
    let message = Message::for_delivery(ctx);
    let message_id = message_id(ctx, config);
    let now: SystemTime = ctx.now.into();
    let mut builder = lettre::Message::builder()
        .from(config.from.clone())
        .subject(subject(ctx, &message))
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

/// The headline on one line. A follow-up keeps the thread's subject, the first event's
/// headline, after `Re: `, so mail clients that thread by subject (Gmail among them) keep the
/// run in one conversation; the current status is in the body. Line breaks would be encoded
/// rather than injected anyway; they are collapsed so the subject reads as one line.
fn subject(ctx: &RenderContext<'_>, message: &Message) -> String {
    let is_follow_up = ctx.prior.is_some_and(|p| is_message_id(&p.0));
    if !is_follow_up {
        return one_line_subject(&message.headline());
    }
    let thread = match ctx.earlier.first() {
        Some(first) => Message::of(first).headline(),
        None => message.headline(),
    };
    format!("Re: {}", one_line_subject(&thread))
}

fn one_line_subject(headline: &str) -> String {
    let one_line = headline.split_whitespace().collect::<Vec<_>>().join(" ");
    let visible: String = one_line.chars().filter(|c| !c.is_control()).collect();
    truncate_chars(&visible, MAX_SUBJECT_CHARS)
}

type Html = Markup<markup::Html>;

/// Escaped text with its line breaks kept.
fn paragraph(text: &str) -> Html {
    let normalised = text.replace("\r\n", "\n");
    let lines = normalised.split('\n').map(Html::text);
    Html::join(lines, "<br>\n")
}

/// A plain layout that mail clients render alike: a bar in the event's colour, the headline,
/// the status line, the text, a facts table and link buttons. Inline styles only, since many
/// clients drop `<style>`.
fn html(message: &Message) -> String {
    let mut out = Html::raw("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n");
    out.push_raw("<body style=\"font-family:Arial,Helvetica,sans-serif;color:#1d1c1d;\">\n");
    out.push_raw("<div style=\"border-left:4px solid ")
        .push_text(&message.colour().hex())
        .push_raw(";padding:4px 12px;\">\n");
    out.push_raw("<h2 style=\"margin:0 0 4px 0;font-size:18px;\">")
        .push_text(&message.headline())
        .push_raw("</h2>\n");
    let status = message.status_line();
    if !status.is_empty() {
        out.push_raw("<p style=\"margin:0 0 8px 0;color:#616061;\">")
            .push_text(&status)
            .push_raw("</p>\n");
    }
    if !message.text.is_empty() {
        out.push_raw("<p style=\"margin:8px 0;\">")
            .push(&paragraph(&message.text))
            .push_raw("</p>\n");
    }
    if !message.facts.is_empty() {
        out.push_raw("<table style=\"border-collapse:collapse;margin:8px 0;\">\n");
        for (name, value) in &message.facts {
            out.push_raw(
                "<tr><th style=\"text-align:left;padding:2px 12px 2px 0;vertical-align:top;\">",
            )
            .push_text(name)
            .push_raw("</th><td style=\"padding:2px 0;\">")
            .push(&paragraph(value))
            .push_raw("</td></tr>\n");
        }
        out.push_raw("</table>\n");
    }
    if !message.links.is_empty() {
        out.push_raw("<p style=\"margin:12px 0 4px 0;\">\n");
        for link in &message.links {
            // A button: the link in an outlined box (a link keeps its own colour in most clients).
            out.push_raw("<span style=\"display:inline-block;padding:6px 14px;margin-right:8px;border:1px solid #1264A3;border-radius:4px;\">")
                .push(&Html::link(link.label, &link.url))
                .push_raw("</span>\n");
        }
        out.push_raw("</p>\n");
    }
    out.push_raw("</div>\n</body></html>\n");
    out.into_string()
}
