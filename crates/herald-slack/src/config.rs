//! The Slack app's static configuration, as seed 003 names it: `SLACK_APP_CLIENT_ID`,
//! `SLACK_APP_CLIENT_SECRET` and `SLACK_SECRET` (each also as `HERALD_SLACK_CLIENT_ID`,
//! `HERALD_SLACK_CLIENT_SECRET`, `HERALD_SLACK_SIGNING_SECRET`), and `HERALD_PUBLIC_URL`.

use std::time::Duration;

use herald_crypto::SecretString;
use url::Url;

/// What a deployment's Slack app needs. Without it, the Slack routes are not served (404).
#[derive(Debug, Clone)]
pub struct SlackAppConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// Signs every request Slack sends us.
    pub signing_secret: SecretString,
    /// The public base URL Slack reaches, e.g. `https://herald.example.com`.
    pub public_url: Url,
    /// How long a command or a click may run before its answer goes through `response_url`
    /// instead: Slack shows an error if it waits more than 3 seconds.
    pub ack_budget: Duration,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is set but {1} is not: the Slack app needs all of SLACK_APP_CLIENT_ID, SLACK_APP_CLIENT_SECRET, SLACK_SECRET and HERALD_PUBLIC_URL")]
    Incomplete(&'static str, &'static str),
    #[error("HERALD_PUBLIC_URL must be an absolute http(s) URL without a query: {0}")]
    PublicUrl(String),
}

/// (primary name, alias)
const CLIENT_ID: (&str, &str) = ("SLACK_APP_CLIENT_ID", "HERALD_SLACK_CLIENT_ID");
const CLIENT_SECRET: (&str, &str) = ("SLACK_APP_CLIENT_SECRET", "HERALD_SLACK_CLIENT_SECRET");
const SIGNING_SECRET: (&str, &str) = ("SLACK_SECRET", "HERALD_SLACK_SIGNING_SECRET");
const PUBLIC_URL: &str = "HERALD_PUBLIC_URL";

impl SlackAppConfig {
    /// The default answer budget: well inside Slack's 3 seconds, network included.
    pub const ACK_BUDGET: Duration = Duration::from_millis(2_000);

    /// Reads the environment. `Ok(None)` when none of the Slack variables is set (the app is
    /// off); an error when only some are.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// As [`SlackAppConfig::from_env`], over any lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let either = |(primary, alias): (&'static str, &'static str)| {
            get(primary).or_else(|| get(alias)).map(|v| (primary, v))
        };
        let found = [
            either(CLIENT_ID),
            either(CLIENT_SECRET),
            either(SIGNING_SECRET),
            get(PUBLIC_URL).map(|v| (PUBLIC_URL, v)),
        ];
        let names = [CLIENT_ID.0, CLIENT_SECRET.0, SIGNING_SECRET.0, PUBLIC_URL];
        let Some(set) = found.iter().flatten().next() else {
            return Ok(None);
        };
        if let Some(missing) = found.iter().zip(names).find(|(v, _)| v.is_none()) {
            return Err(ConfigError::Incomplete(set.0, missing.1));
        }
        let [Some((_, client_id)), Some((_, secret)), Some((_, signing)), Some((_, url))] = found
        else {
            unreachable!("every value was checked above");
        };
        Ok(Some(Self {
            client_id: client_id.trim().to_owned(),
            client_secret: SecretString::new(secret.trim()),
            signing_secret: SecretString::new(signing.trim()),
            public_url: parse_public_url(&url)?,
            ack_budget: Self::ACK_BUDGET,
        }))
    }

    /// An address on this deployment's public URL, e.g. `/webhooks/slack`.
    pub fn public(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

/// An absolute http(s) URL with a host and no query or fragment; a path prefix is kept.
pub fn parse_public_url(raw: &str) -> Result<Url, ConfigError> {
    let bad = || ConfigError::PublicUrl(raw.to_owned());
    let url = Url::parse(raw.trim()).map_err(|_| bad())?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then_some(url).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> Result<Option<SlackAppConfig>, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SlackAppConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn seed_names_and_herald_aliases_both_work() {
        assert!(lookup(&[]).unwrap().is_none());
        let seed = lookup(&[
            ("SLACK_APP_CLIENT_ID", "123.456"),
            ("SLACK_APP_CLIENT_SECRET", "shh"),
            ("SLACK_SECRET", "sign"),
            ("HERALD_PUBLIC_URL", "https://herald.example.com/"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(seed.client_id, "123.456");
        assert_eq!(
            seed.public("/slack_oauth"),
            "https://herald.example.com/slack_oauth"
        );
        let aliases = lookup(&[
            ("HERALD_SLACK_CLIENT_ID", "1.2"),
            ("HERALD_SLACK_CLIENT_SECRET", "shh"),
            ("HERALD_SLACK_SIGNING_SECRET", "sign"),
            ("HERALD_PUBLIC_URL", "https://example.com/herald"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(aliases.signing_secret.expose(), "sign");
        assert_eq!(
            aliases.public("/webhooks/slack"),
            "https://example.com/herald/webhooks/slack"
        );
        assert!(!format!("{aliases:?}").contains("shh"));
    }

    #[test]
    fn a_partial_or_bad_configuration_is_an_error() {
        assert_eq!(
            lookup(&[("SLACK_SECRET", "sign")]).unwrap_err(),
            ConfigError::Incomplete("SLACK_SECRET", "SLACK_APP_CLIENT_ID")
        );
        let bad = lookup(&[
            ("SLACK_APP_CLIENT_ID", "1"),
            ("SLACK_APP_CLIENT_SECRET", "2"),
            ("SLACK_SECRET", "3"),
            ("HERALD_PUBLIC_URL", "herald.example.com"),
        ]);
        assert!(matches!(bad, Err(ConfigError::PublicUrl(_))));
    }
}
