//! The base URLs of services with a fixed address. An operator can point them elsewhere
//! (`HERALD_PROVIDER_ENDPOINTS`), for a regional deployment, a corporate proxy or a test fake.

use url::Url;

/// One base URL per fixed-address service, without a trailing slash in the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Slack's Web API, e.g. `https://slack.com/api` (methods are appended: `/chat.postMessage`).
    pub slack: Url,
    /// Telegram's Bot API: `https://api.telegram.org` (`/bot<token>/<method>` is appended).
    pub telegram: Url,
    /// Webex: `https://webexapis.com/v1`.
    pub webex: Url,
    /// PagerDuty Events API v2: `https://events.pagerduty.com` (`/v2/enqueue` is appended).
    pub pagerduty: Url,
    /// Opsgenie, US region: `https://api.opsgenie.com`.
    pub opsgenie_us: Url,
    /// Opsgenie, EU region: `https://api.eu.opsgenie.com`.
    pub opsgenie_eu: Url,
    /// GitHub's REST API: `https://api.github.com`.
    pub github: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).expect("the built-in endpoints are valid URLs");
        Self {
            slack: url("https://slack.com/api"),
            telegram: url("https://api.telegram.org"),
            webex: url("https://webexapis.com/v1"),
            pagerduty: url("https://events.pagerduty.com"),
            opsgenie_us: url("https://api.opsgenie.com"),
            opsgenie_eu: url("https://api.eu.opsgenie.com"),
            github: url("https://api.github.com"),
        }
    }
}

impl Endpoints {
    /// Every service pointed at one base URL: what a test fake serving them all needs.
    pub fn all_at(base: &str) -> Self {
        let url = Url::parse(base).expect("a valid base URL");
        Self {
            slack: url.clone(),
            telegram: url.clone(),
            webex: url.clone(),
            pagerduty: url.clone(),
            opsgenie_us: url.clone(),
            opsgenie_eu: url.clone(),
            github: url,
        }
    }

    /// Applies `name=url,name=url` overrides; names are the field names above.
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, raw) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not name=url"))?;
            let url =
                Url::parse(raw.trim()).map_err(|e| format!("`{}`: not a URL: {e}", name.trim()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("`{}`: must be an http or https URL", name.trim()));
            }
            let slot = match name.trim() {
                "slack" => &mut self.slack,
                "telegram" => &mut self.telegram,
                "webex" => &mut self.webex,
                "pagerduty" => &mut self.pagerduty,
                "opsgenie_us" => &mut self.opsgenie_us,
                "opsgenie_eu" => &mut self.opsgenie_eu,
                "github" => &mut self.github,
                other => return Err(format!("`{other}` is not a known endpoint")),
            };
            *slot = url;
        }
        Ok(self)
    }
}

/// `base` with `path` appended to its path (`https://x/api` + `/chat.update`).
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_named_endpoints_only() {
        let endpoints = Endpoints::default()
            .with_overrides("slack=http://127.0.0.1:9000/api, github=http://127.0.0.1:9001")
            .unwrap();
        assert_eq!(endpoints.slack.as_str(), "http://127.0.0.1:9000/api");
        assert_eq!(endpoints.github.as_str(), "http://127.0.0.1:9001/");
        assert_eq!(endpoints.webex.as_str(), "https://webexapis.com/v1");
        assert!(Endpoints::default()
            .with_overrides("nope=http://x")
            .is_err());
        assert!(Endpoints::default().with_overrides("slack").is_err());
        assert!(Endpoints::default()
            .with_overrides("slack=ftp://x")
            .is_err());
    }

    #[test]
    fn join_appends_to_the_base_path() {
        let base = Url::parse("https://slack.com/api").unwrap();
        assert_eq!(
            join(&base, "/chat.postMessage").as_str(),
            "https://slack.com/api/chat.postMessage"
        );
        let root = Url::parse("http://127.0.0.1:9/").unwrap();
        assert_eq!(
            join(&root, "v2/enqueue").as_str(),
            "http://127.0.0.1:9/v2/enqueue"
        );
    }
}
