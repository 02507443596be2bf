//! `email`: one SMTP submission per event, plain text and HTML alternatives, follow-ups of a
//! run threaded under its first message.

mod config;
mod render;
#[cfg(test)]
pub(crate) mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::truncate_chars;
use crate::{
    Destination, MailRequest, Outbound, Outcome, Provider, RenderContext, RenderError, Response,
};

pub use config::{parse_smtp_url, EmailConfig, MAX_RECIPIENTS};
pub use render::MAX_SUBJECT_CHARS;

pub struct EmailProvider;

impl Provider for EmailProvider {
    fn kind(&self) -> Kind {
        Kind::Email
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "smtp_url",
            "SMTP URL",
            "smtps://user:password@host:465 or smtp://…?tls=starttls; holds the password.",
        )
        .required()
        .secret();
        s.string(
            "from",
            "From",
            "The sender mailbox, e.g. Herald <herald@example.com>.",
        )
        .required();
        s.strings("to", "To", "Recipient addresses, one per line.")
            .required();
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        EmailConfig::parse(config).map(|_| ())
    }

    /// A delivery is one complete message. A connection test is a [`MailRequest`] with an empty
    /// message: connect, EHLO, STARTTLS, AUTH and QUIT, sending no mail.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = EmailConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        if ctx.is_test() {
            return Ok(vec![Outbound::Mail(MailRequest {
                server: config.server,
                from: config.from.email.to_string(),
                to: config.to.iter().map(ToString::to_string).collect(),
                message: Vec::new(),
            })]);
        }
        Ok(vec![Outbound::Mail(render::mail(ctx, &config)?)])
    }

    /// The status is the SMTP reply code of the last command (RFC 5321 §4.2).
    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        let mail = match request {
            Outbound::Mail(mail) => Some(mail),
            _ => None,
        };
        let code = response.status;
        let reply = reply_text(mail, response);
        match code {
            200..=299 => Outcome::Delivered {
                external_id: mail.and_then(new_thread_id),
            },
            400..=499 => Outcome::Retry {
                after: None,
                reason: format!("SMTP {code}: {reply}"),
            },
            530 => Outcome::Failed {
                reason: format!(
                    "SMTP 530: authentication required; put the login in smtp_url ({reply})"
                ),
            },
            534 | 535 => Outcome::Failed {
                reason: format!(
                    "SMTP {code}: authentication failed; check the user name and password in smtp_url ({reply})"
                ),
            },
            500..=599 => Outcome::Failed {
                reason: format!("SMTP {code}: {reply}"),
            },
            // Not a final reply; the session ended somewhere it should not have.
            _ => Outcome::Retry {
                after: None,
                reason: format!("unexpected SMTP reply {code}: {reply}"),
            },
        }
    }

    /// One bucket per SMTP server; providers' sending limits are per account and unpublished,
    /// so no pace of our own, while a 4xx still backs the delivery off.
    fn destination(&self, config: &Value) -> Destination {
        match EmailConfig::parse(config) {
            Ok(config) => Destination::new(
                Kind::Email,
                &format!("{}:{}", config.server.host, config.server.port),
                None,
            ),
            Err(_) => Destination::new(Kind::Email, "", None),
        }
    }
}

/// The reply's text on one short line, with the login scrubbed in case a server echoes it.
fn reply_text(mail: Option<&MailRequest>, response: &Response) -> String {
    let mut text = String::from_utf8_lossy(&response.body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(server) = mail.map(|m| &m.server) {
        for secret in [&server.password, &server.username].into_iter().flatten() {
            if secret.len() >= 3 {
                text = text.replace(secret.as_str(), "[redacted]");
            }
        }
    }
    if text.is_empty() {
        return "no reply text".into();
    }
    truncate_chars(&text, 300)
}

/// The Message-ID of a message that starts a thread. A follow-up (one with `In-Reply-To`)
/// gives none, so the run stays anchored on its first message.
fn new_thread_id(mail: &MailRequest) -> Option<String> {
    let headers = header_section(&mail.message);
    if header(&headers, "in-reply-to").is_some() {
        return None;
    }
    header(&headers, "message-id")
}

/// The header section, unfolded: one `name: value` per entry.
fn header_section(message: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(message);
    let mut headers: Vec<String> = Vec::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            break;
        }
        match headers.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => headers.push(line.to_owned()),
        }
    }
    headers
}

fn header(headers: &[String], name: &str) -> Option<String> {
    headers.iter().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}
