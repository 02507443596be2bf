//! Scrubs credentials out of text that will be stored or logged.

use serde_json::Value;

const REDACTED: &str = "[redacted]";
/// Shorter values (a port, `true`) would scrub ordinary words; no credential is this short.
const MIN_SECRET_LEN: usize = 6;

/// Knows an integration's secret strings and removes them from any text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Every string in a config is treated as secret, and for URLs their secret parts too
    /// (userinfo, path, query), since webhook URLs carry tokens in their path.
    pub fn from_config(config: &Value) -> Self {
        let mut redactor = Self::default();
        redactor.collect(config);
        // Longest first, so a URL is scrubbed whole before its path is.
        redactor.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        redactor.secrets.dedup();
        redactor
    }

    fn collect(&mut self, value: &Value) {
        match value {
            Value::String(s) => {
                self.add(s);
                if let Ok(url) = url::Url::parse(s) {
                    self.add(url.password().unwrap_or_default());
                    self.add(url.path());
                    self.add(url.query().unwrap_or_default());
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect(v)),
            Value::Object(map) => map.values().for_each(|v| self.collect(v)),
            _ => {}
        }
    }

    fn add(&mut self, secret: &str) {
        if secret.len() >= MIN_SECRET_LEN {
            self.secrets.push(secret.to_owned());
        }
    }

    /// Also scrubs credentials a provider derived from the config and sent (a Basic header,
    /// a token in a URL path), since an answer may echo them.
    pub fn with_sent(mut self, credentials: &[String]) -> Self {
        for credential in credentials {
            self.add(credential);
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
        self
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubs_values_and_secret_url_parts() {
        let redactor = Redactor::from_config(&json!({
            "webhook_url": "https://hooks.example.com/services/T000/B000/XXXXSECRET",
            "hmac_secret": "whsec_abcdefgh",
        }));
        let text = "POST https://hooks.example.com/services/T000/B000/XXXXSECRET failed; \
                    path /services/T000/B000/XXXXSECRET; key whsec_abcdefgh";
        let scrubbed = redactor.scrub(text);
        assert!(!scrubbed.contains("XXXXSECRET"), "{scrubbed}");
        assert!(!scrubbed.contains("whsec_abcdefgh"), "{scrubbed}");
        assert!(scrubbed.contains("[redacted]"));
    }

    #[test]
    fn leaves_short_values_alone() {
        let redactor = Redactor::from_config(&json!({"region": "eu"}));
        assert_eq!(redactor.scrub("reuse"), "reuse");
    }
}
