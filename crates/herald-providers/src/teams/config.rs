use herald_domain::FieldError;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::parse_config;

/// The exchange sends at most 8 requests; one integration posts to at most that many channels.
pub(crate) const MAX_URLS: usize = 8;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    webhook_url: Option<String>,
    webhook_urls: Option<Vec<String>>,
}

/// A parsed Teams config: either `{"webhook_url": "…"}` or `{"webhook_urls": ["…", …]}`
/// (1 to 8 distinct URLs, posted to in order). The URLs are secrets: each one alone lets
/// anybody post into its channel.
#[derive(Debug)]
pub struct TeamsConfig {
    pub urls: Vec<Url>,
}

impl TeamsConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let urls = match (raw.webhook_url, raw.webhook_urls) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "webhook_urls",
                    "give either webhook_url or webhook_urls, not both",
                ))
            }
            (None, None) => return Err(FieldError::new("webhook_url", "is required")),
            (Some(one), None) => {
                vec![secret_webhook_url(&one).map_err(|m| FieldError::new("webhook_url", m))?]
            }
            (None, Some(many)) => parse_list(&many)?,
        };
        Ok(Self { urls })
    }
}

fn parse_list(raw: &[String]) -> Result<Vec<Url>, FieldError> {
    if raw.is_empty() {
        return Err(FieldError::new(
            "webhook_urls",
            "must hold at least one URL",
        ));
    }
    if raw.len() > MAX_URLS {
        return Err(FieldError::new(
            "webhook_urls",
            format!("may hold at most {MAX_URLS} URLs"),
        ));
    }
    let mut urls: Vec<Url> = Vec::with_capacity(raw.len());
    for (index, item) in raw.iter().enumerate() {
        let field = format!("webhook_urls[{index}]");
        let url = secret_webhook_url(item).map_err(|m| FieldError::new(field.as_str(), m))?;
        if let Some(first) = urls.iter().position(|u| *u == url) {
            return Err(FieldError::new(
                field,
                format!("repeats webhook_urls[{first}]"),
            ));
        }
        urls.push(url);
    }
    Ok(urls)
}

/// An https URL with a host and no userinfo. The URL itself is the credential, so cleartext
/// http is refused, except to a loopback host (a local relay or a test fake). Messages never
/// quote the URL.
pub(crate) fn secret_webhook_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err("must be an https URL (it carries the webhook's secret)".into());
        }
        other => return Err(format!("must be an https URL, not {other}")),
    }
    if url.host().is_none() {
        return Err("must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
