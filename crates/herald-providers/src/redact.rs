//! Scrubs credentials out of text that will be stored or logged, in every form a destination
//! may echo them: as sent, base64 (standard and URL-safe, with and without padding, at any
//! offset inside a longer base64 text) and percent-encoded.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
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
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        self.secrets.push(secret.to_owned());
        for form in derived_forms(secret) {
            if form.len() >= MIN_SECRET_LEN && form != secret {
                self.secrets.push(form);
            }
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

/// Unreserved characters (RFC 3986) stay as they are; everything else is `%XX`.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The encodings of `secret` a destination might echo back.
fn derived_forms(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    let mut forms = Vec::new();
    for engine in [&STANDARD, &URL_SAFE] {
        forms.push(engine.encode(bytes));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes));
        // Inside a longer base64 text (the base64 of "Basic …" or of a whole header block)
        // the secret starts at one of three offsets within a 3-byte group; the characters
        // made only of its own bits are the same whatever surrounds it.
        for offset in 1..3 {
            forms.push(base64_core(engine, bytes, offset));
        }
    }
    let upper = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let component = utf8_percent_encode(secret, COMPONENT).to_string();
    let form_encoded: String = url::form_urlencoded::byte_serialize(bytes).collect();
    for encoded in [upper, component, form_encoded] {
        forms.push(lower_hex_escapes(&encoded));
        forms.push(encoded);
    }
    forms.sort();
    forms.dedup();
    forms
}

/// The base64 characters that encode only `bytes`' own bits when they follow `offset` other
/// bytes: character `i` covers bits `6i..6i+6` of the stream.
fn base64_core(engine: &impl Engine, bytes: &[u8], offset: usize) -> String {
    let mut shifted = vec![0u8; offset];
    shifted.extend_from_slice(bytes);
    let encoded = engine.encode(&shifted);
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + bytes.len())) / 6;
    encoded.get(first..end).unwrap_or_default().to_owned()
}

/// `%2F` as `%2f`: some echo lower-case escapes.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
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
    fn scrubs_base64_and_percent_encoded_forms_of_secrets_and_sent_headers() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let token = "xoxb-1234-5678-SECRET+/TOKEN?VALUE";
        let redactor = Redactor::from_config(&json!({"bot_token": token}))
            .with_sent(&[format!("Bearer {token}")]);
        let echoes = [
            STANDARD.encode(token),
            URL_SAFE_NO_PAD.encode(token),
            // A debug echo of the whole header, and of the whole header block.
            STANDARD.encode(format!("Bearer {token}")),
            URL_SAFE_NO_PAD.encode(format!("authorization: Bearer {token}\r\naccept: */*")),
            STANDARD.encode(format!("x{token}")),
            STANDARD.encode(format!("xy{token}")),
            utf8_percent_encode(token, NON_ALPHANUMERIC).to_string(),
            lower_hex_escapes(&utf8_percent_encode(token, NON_ALPHANUMERIC).to_string()),
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect(),
        ];
        for echo in echoes {
            let scrubbed = redactor.scrub(&format!("error: you sent {echo} (bad)"));
            assert!(scrubbed.contains("[redacted]"), "{echo}: {scrubbed}");
            // What is left cannot give the token back: no run of its encoding survives.
            let core = base64_core(&STANDARD_NO_PAD, token.as_bytes(), 0);
            assert!(!scrubbed.contains(&core[..12]), "{scrubbed}");
            assert!(!scrubbed.contains("SECRET"), "{scrubbed}");
        }
    }

    #[test]
    fn a_basic_headers_value_and_its_base64_are_scrubbed() {
        use base64::engine::general_purpose::STANDARD;
        let config = json!({"email": "ops@example.com", "api_token": "ATATT3xFfGF0-secret"});
        let basic = STANDARD.encode("ops@example.com:ATATT3xFfGF0-secret");
        let redactor = Redactor::from_config(&config).with_sent(&[format!("Basic {basic}")]);
        let echo = STANDARD.encode(format!("Authorization: Basic {basic}"));
        let scrubbed = redactor.scrub(&format!("{basic} and {echo}"));
        assert!(!scrubbed.contains(&basic), "{scrubbed}");
        assert!(!scrubbed.contains(&echo[8..30]), "{scrubbed}");
    }

    #[test]
    fn leaves_short_values_alone() {
        let redactor = Redactor::from_config(&json!({"region": "eu"}));
        assert_eq!(redactor.scrub("reuse"), "reuse");
    }
}
