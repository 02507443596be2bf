use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use herald_crypto::SecretString;
use herald_domain::FieldError;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use url::Url;

use crate::parse_config;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    base_url: String,
    email: String,
    #[serde(deserialize_with = "secret")]
    api_token: SecretString,
    project_key: String,
    issue_type: Option<String>,
    resolve_transition: Option<String>,
}

/// Reads a secret without serde's "invalid type: integer `…`" message, which would echo it.
fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(value) => Ok(SecretString::new(value)),
        _ => Err(serde::de::Error::custom("must be a string")),
    }
}

/// A parsed Jira Cloud config.
#[derive(Debug)]
pub struct JiraConfig {
    /// The site, e.g. `https://your-site.atlassian.net`, possibly with a context path.
    pub base_url: Url,
    pub email: String,
    pub api_token: SecretString,
    pub project_key: String,
    /// `Task` unless configured.
    pub issue_type: String,
    /// The transition to run when a run or incident is resolved; `None`: only comment.
    pub resolve_transition: Option<String>,
}

pub const DEFAULT_ISSUE_TYPE: &str = "Task";

impl JiraConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let base_url = parse_base_url(&raw.base_url).map_err(|m| FieldError::new("base_url", m))?;
        check_email(&raw.email).map_err(|m| FieldError::new("email", m))?;
        check_token(raw.api_token.expose()).map_err(|m| FieldError::new("api_token", m))?;
        check_project_key(&raw.project_key).map_err(|m| FieldError::new("project_key", m))?;
        let issue_type = match raw.issue_type {
            Some(name) => {
                check_name(&name).map_err(|m| FieldError::new("issue_type", m))?;
                name
            }
            None => DEFAULT_ISSUE_TYPE.to_owned(),
        };
        if let Some(name) = &raw.resolve_transition {
            check_name(name).map_err(|m| FieldError::new("resolve_transition", m))?;
        }
        Ok(Self {
            base_url,
            email: raw.email,
            api_token: raw.api_token,
            project_key: raw.project_key,
            issue_type,
            resolve_transition: raw.resolve_transition,
        })
    }

    /// `Basic base64(email:api_token)`, Jira Cloud's API-token scheme.
    pub fn authorization(&self) -> String {
        let pair = format!("{}:{}", self.email, self.api_token.expose());
        format!("Basic {}", B64.encode(pair))
    }

    /// `<base_url>/rest/api/3/<segments…>`, each segment percent-encoded.
    pub fn api(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        // Only URLs that cannot be a base refuse segments; parse_base_url admits none of those.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["rest", "api", "3"])
                .extend(segments);
        }
        url
    }
}

/// An http(s) site address, optionally with a context path (a Jira behind a proxy at
/// `/jira`), but not an API, issue or board URL pasted by mistake.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = crate::urls::base_url(raw, None)?;
    // A site address, not an API, issue or board page: `/rest/…`, `/browse/OPS-1`,
    // `/jira/software/projects/…` (a lone `/jira` is a context path).
    let segments: Vec<String> = url
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
        .collect();
    let pasted_page = segments.iter().any(|s| s == "rest" || s == "browse")
        || segments.windows(2).any(|pair| pair[0] == "jira");
    if pasted_page {
        return Err(
            "must be the site address, e.g. https://your-site.atlassian.net, without /rest/… \
             or /browse/…"
                .into(),
        );
    }
    Ok(url)
}

fn check_email(email: &str) -> Result<(), String> {
    if email.is_empty() {
        return Err("must not be empty".into());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) || email.contains(':') {
        return Err("must be an e-mail address without spaces or colons".into());
    }
    if !email.contains('@') {
        return Err("must be the Atlassian account's e-mail address".into());
    }
    Ok(())
}

fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("must not be empty".into());
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or line breaks".into());
    }
    Ok(())
}

/// Jira's key pattern: an upper-case letter, then upper-case letters, digits or `_`.
fn check_project_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !starts_well || !rest_ok || key.len() < 2 || key.len() > 255 {
        return Err(
            "must be a project key such as OPS: an upper-case letter, then upper-case letters, \
             digits or _"
                .into(),
        );
    }
    Ok(())
}

/// An issue type or transition name, as shown in Jira.
fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err("must be a name of at most 255 characters on one line".into());
    }
    Ok(())
}
