use std::str::FromStr;

use herald_domain::FieldError;
use lettre::message::Mailbox;
use lettre::Address;
use serde::Deserialize;
use serde_json::Value;

use crate::{parse_config, SmtpSecurity, SmtpServer};

/// More recipients than this belong on a mailing list, not in one integration.
pub const MAX_RECIPIENTS: usize = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    smtp_url: String,
    from: String,
    to: Vec<String>,
}

/// A parsed e-mail config.
///
/// `smtp_url` forms:
/// - `smtps://user:pass@smtp.example.com[:465]`: TLS from the first byte (RFC 8314).
/// - `smtp://user:pass@smtp.example.com[:587]`: STARTTLS, required; a server that does not
///   offer it is refused, never spoken to in cleartext.
/// - `smtp://relay.internal[:25]?tls=none`: cleartext, for a local relay only. Credentials are
///   refused in this form, since they would cross the wire readable.
///
/// The userinfo, percent-decoded, is the SMTP AUTH login (PLAIN or LOGIN).
pub struct EmailConfig {
    pub server: SmtpServer,
    pub from: Mailbox,
    pub to: Vec<Address>,
}

impl EmailConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let server = parse_smtp_url(&raw.smtp_url).map_err(|m| FieldError::new("smtp_url", m))?;
        let from = parse_from(&raw.from).map_err(|m| FieldError::new("from", m))?;
        if raw.to.is_empty() || raw.to.len() > MAX_RECIPIENTS {
            return Err(FieldError::new(
                "to",
                format!("must list 1 to {MAX_RECIPIENTS} addresses"),
            ));
        }
        let to = raw
            .to
            .iter()
            .enumerate()
            .map(|(i, raw)| parse_address(raw).map_err(|m| FieldError::new(format!("to[{i}]"), m)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { server, from, to })
    }
}

/// Parses an `smtp://` or `smtps://` URL. Messages never repeat the URL: it holds a password.
pub fn parse_smtp_url(raw: &str) -> Result<SmtpServer, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
    let implicit = match url.scheme() {
        "smtps" => true,
        "smtp" => false,
        other => {
            return Err(format!(
                "must be an smtp:// or smtps:// URL, not {other}://"
            ))
        }
    };
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
        None => return Err("must have a host".into()),
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    {
        return Err("must have a plain host name or IP address".into());
    }
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err("must not have a path or fragment".into());
    }
    let mut cleartext = false;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("tls", "none") if !implicit => cleartext = true,
            ("tls", "starttls") if !implicit => cleartext = false,
            ("tls", _) if implicit => {
                return Err("smtps:// always uses TLS; drop the `tls` parameter".into())
            }
            ("tls", _) => return Err("`tls` must be `starttls` (the default) or `none`".into()),
            _ => return Err("accepts only the query parameter `tls`".into()),
        }
    }
    let security = match (implicit, cleartext) {
        (true, _) => SmtpSecurity::ImplicitTls,
        (false, false) => SmtpSecurity::StartTls,
        (false, true) => SmtpSecurity::None,
    };
    let port = url.port().unwrap_or(match security {
        SmtpSecurity::ImplicitTls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::None => 25,
    });
    if port == 0 {
        return Err("must not use port 0".into());
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "has a user name or password that is not UTF-8 once decoded".to_owned())
    };
    let username = decode(url.username())?;
    let password = url.password().map(decode).transpose()?;
    let (username, password) = match (username.is_empty(), password) {
        (true, None) => (None, None),
        (false, Some(password)) if !password.is_empty() => (Some(username), Some(password)),
        (true, Some(_)) => return Err("has a password but no user name".into()),
        (false, _) => return Err("has a user name but no password".into()),
    };
    if username.is_some() && security == SmtpSecurity::None {
        return Err(
            "must not carry credentials without TLS: they would cross the network readable".into(),
        );
    }
    Ok(SmtpServer {
        host,
        port,
        security,
        username,
        password,
    })
}

/// `alerts@example.com` or `Herald <alerts@example.com>`.
fn parse_from(raw: &str) -> Result<Mailbox, String> {
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let mailbox = Mailbox::from_str(raw.trim())
        .map_err(|_| "must be an address such as alerts@example.com".to_owned())?;
    if !mailbox.email.to_string().is_ascii() {
        return Err(
            "must be an ASCII address (internationalised addresses are not supported)".into(),
        );
    }
    Ok(mailbox)
}

fn parse_address(raw: &str) -> Result<Address, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if !raw.is_ascii() || raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err("must be a plain ASCII address such as ops@example.com".into());
    }
    Address::from_str(raw).map_err(|_| "must be an address such as ops@example.com".to_owned())
}
