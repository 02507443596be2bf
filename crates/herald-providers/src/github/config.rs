use herald_crypto::SecretString;
use herald_domain::FieldError;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use url::Url;

use crate::parse_config;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    repo: String,
    #[serde(deserialize_with = "secret")]
    token: SecretString,
    api_url: Option<String>,
}

/// Reads a secret without serde's "invalid type: integer `…`" message, which would echo it.
fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(value) => Ok(SecretString::new(value)),
        _ => Err(serde::de::Error::custom("must be a string")),
    }
}

/// A parsed GitHub Issues config.
#[derive(Debug)]
pub struct GithubConfig {
    pub owner: String,
    pub name: String,
    pub token: SecretString,
    /// GitHub Enterprise Server's API (`https://HOST/api/v3`); `None`: the `github` endpoint.
    pub api_url: Option<Url>,
}

impl GithubConfig {
    pub fn parse(config: &Value) -> Result<Self, FieldError> {
        let raw: RawConfig = parse_config(config)?;
        let (owner, name) = parse_repo(&raw.repo).map_err(|m| FieldError::new("repo", m))?;
        check_token(raw.token.expose()).map_err(|m| FieldError::new("token", m))?;
        let api_url = raw
            .api_url
            .map(|raw| parse_api_url(&raw).map_err(|m| FieldError::new("api_url", m)))
            .transpose()?;
        Ok(Self {
            owner,
            name,
            token: raw.token,
            api_url,
        })
    }

    /// `owner/name`, as written in the config.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// `owner/name` with GitHub's characters: an owner of letters, digits and hyphens, up to 39
/// (new accounts also may not end in or double a hyphen, but some old ones do); a name of
/// letters, digits, `.`, `-` and `_`, up to 100, not `.` or `..`.
fn parse_repo(raw: &str) -> Result<(String, String), String> {
    const SHAPE: &str = "must be owner/name, e.g. octocat/hello-world";
    let (owner, name) = raw.split_once('/').ok_or(SHAPE)?;
    if owner.is_empty() || name.is_empty() || name.contains('/') {
        return Err(SHAPE.into());
    }
    let owner_ok = owner.len() <= 39
        && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !owner.starts_with('-');
    if !owner_ok {
        return Err(
            "has an owner GitHub would not allow: letters, digits and hyphens, not starting \
             with a hyphen, at most 39"
                .into(),
        );
    }
    let name_ok = name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && name != "."
        && name != "..";
    if !name_ok {
        return Err(
            "has a repository name GitHub would not allow: letters, digits, '.', '-' and '_', \
             at most 100"
                .into(),
        );
    }
    Ok((owner.to_owned(), name.to_owned()))
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

/// An http(s) API base, e.g. `https://github.example.com/api/v3`.
fn parse_api_url(raw: &str) -> Result<Url, String> {
    let url = crate::urls::base_url(raw, None)?;
    // The web address answers API calls with HTML; the API lives elsewhere.
    if url.host_str() == Some("github.com") || url.host_str() == Some("www.github.com") {
        return Err(
            "must be an API address: omit it for github.com, or use https://HOST/api/v3 for \
             GitHub Enterprise Server"
                .into(),
        );
    }
    Ok(url)
}
