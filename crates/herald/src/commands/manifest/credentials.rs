//! Credentials in `herald.yaml` are references to environment variables, never values.
//!
//! A config string may hold `${NAME}` references anywhere (`https://hooks.slack.com/services/
//! ${SLACK_HOOK_PATH}`); `$${` stands for a literal `${`. A string without a reference is
//! refused unless its key is one known to hold no secret in any kind (a channel, a project
//! key, an address, a region…). Numbers and booleans are never secret. Errors name the file
//! path of the key and the variable, never a value.

use std::fmt;

use serde_json::{Map, Value};

/// Config keys that hold no secret in any kind, so they may be written literally.
pub const NON_SECRET_KEYS: &[&str] = &[
    "default_channel",
    "project_key",
    "email",
    "repo",
    "region",
    "from",
    "to",
    "issue_type",
    "resolve_transition",
    "index",
    "sourcetype",
    "room_id",
    "chat_id",
    "api_key_header",
    "base_url",
    "hec_url",
    "api_url",
    "command",
    "args",
    "timeout_s",
];

/// A config with its references replaced by the environment's values. Its Debug never shows
/// them.
#[derive(Clone, PartialEq)]
pub struct ResolvedConfig(pub Map<String, Value>);

impl fmt::Debug for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&String> = self.0.keys().collect();
        write!(f, "ResolvedConfig({keys:?}: [redacted])")
    }
}

/// Checks every value of an integration's config (at `path`, e.g. `integrations[0].config`)
/// and resolves its references with `env`.
pub fn resolve_config(
    path: &str,
    config: &Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedConfig, String> {
    let mut resolved = Map::new();
    for (key, value) in config {
        let at = format!("{path}.{key}");
        resolved.insert(key.clone(), resolve_value(&at, key, value, env)?);
    }
    Ok(ResolvedConfig(resolved))
}

fn resolve_value(
    path: &str,
    key: &str,
    value: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, String> {
    match value {
        Value::String(raw) => {
            let (text, references) = substitute(path, raw, env)?;
            if references == 0 && !raw.is_empty() && !NON_SECRET_KEYS.contains(&key) {
                return Err(format!(
                    "{path}: a literal value is refused: `{key}` may hold a credential, so write \
                     it as a reference such as ${{{}}} and set that environment variable",
                    suggested_variable("", key)
                ));
            }
            Ok(Value::String(text))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| resolve_value(&format!("{path}[{i}]"), key, item, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve_value(&format!("{path}.{k}"), k, v, env)?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// Replaces the `${NAME}` references of `raw`; returns the text and how many there were.
fn substitute(
    path: &str,
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, usize), String> {
    let mut out = String::with_capacity(raw.len());
    let mut references = 0;
    let mut rest = raw;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("{path}: `${{` without a closing `}}`"))?;
            let name = &after[..end];
            if !is_variable_name(name) {
                return Err(format!(
                    "{path}: `${{{name}}}` is not an environment variable name (letters, digits \
                     and _, not starting with a digit)"
                ));
            }
            match env(name) {
                Some(value) if !value.is_empty() => out.push_str(&value),
                _ => {
                    return Err(format!(
                        "{path}: the environment variable {name} is not set (or is empty)"
                    ))
                }
            }
            references += 1;
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok((out, references))
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable `herald export` names for an integration's config key: both upper-cased,
/// anything but letters and digits as `_`, e.g. `ops slack` + `bot_token` → `OPS_SLACK_BOT_TOKEN`.
pub fn suggested_variable(integration: &str, key: &str) -> String {
    let joined = if integration.is_empty() {
        key.to_owned()
    } else {
        format!("{integration}_{key}")
    };
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// The `${…}` placeholder `herald export` writes for a config key.
pub fn placeholder(integration: &str, key: &str) -> String {
    format!("${{{}}}", suggested_variable(integration, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOOK_PATH" => Some("T000/B000/secret".into()),
            "TOKEN" => Some("xoxb-secret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn resolve(config: Value) -> Result<Value, String> {
        let Value::Object(map) = config else {
            unreachable!()
        };
        resolve_config("integrations[0].config", &map, &env).map(|r| Value::Object(r.0))
    }

    #[test]
    fn references_are_replaced_whole_or_inside_a_string() {
        let resolved = resolve(json!({
            "webhook_url": "https://hooks.slack.com/services/${HOOK_PATH}",
            "bot_token": "${TOKEN}",
            "default_channel": "#ops",
            "timeout_s": 5,
            "to": ["a@example.com"],
            "hmac_secret": "a$${literal}${TOKEN}$",
        }))
        .unwrap();
        assert_eq!(
            resolved,
            json!({
                "webhook_url": "https://hooks.slack.com/services/T000/B000/secret",
                "bot_token": "xoxb-secret",
                "default_channel": "#ops",
                "timeout_s": 5,
                "to": ["a@example.com"],
                "hmac_secret": "a${literal}xoxb-secret$",
            })
        );
    }

    #[test]
    fn a_literal_credential_is_refused_naming_the_key_not_the_value() {
        let error = resolve(json!({"bot_token": "xoxb-literal-value"})).unwrap_err();
        assert!(
            error.starts_with("integrations[0].config.bot_token: "),
            "{error}"
        );
        assert!(error.contains("${BOT_TOKEN}"), "{error}");
        assert!(!error.contains("xoxb-literal-value"), "{error}");
        let error = resolve(json!({"webhook_urls": ["${TOKEN}", "https://x/y"]})).unwrap_err();
        assert!(
            error.starts_with("integrations[0].config.webhook_urls[1]: "),
            "{error}"
        );
    }

    #[test]
    fn a_missing_or_empty_variable_is_named() {
        let error = resolve(json!({"api_key": "${NOPE}"})).unwrap_err();
        assert_eq!(
            error,
            "integrations[0].config.api_key: the environment variable NOPE is not set (or is empty)"
        );
        assert!(resolve(json!({"api_key": "${EMPTY}"}))
            .unwrap_err()
            .contains("EMPTY"));
        assert!(resolve(json!({"api_key": "${1X}"}))
            .unwrap_err()
            .contains("not an environment variable name"));
        assert!(resolve(json!({"api_key": "${TOKEN"}))
            .unwrap_err()
            .contains("without a closing"));
    }

    #[test]
    fn debug_never_shows_a_resolved_value() {
        let Value::Object(map) = json!({"bot_token": "${TOKEN}"}) else {
            unreachable!()
        };
        let resolved = resolve_config("c", &map, &env).unwrap();
        let shown = format!("{resolved:?}");
        assert!(!shown.contains("xoxb-secret"), "{shown}");
        assert!(shown.contains("bot_token"), "{shown}");
    }

    #[test]
    fn placeholders_are_named_after_the_integration_and_key() {
        assert_eq!(
            placeholder("ops slack", "bot_token"),
            "${OPS_SLACK_BOT_TOKEN}"
        );
        assert_eq!(placeholder("9-lives", "api_key"), "${_9_LIVES_API_KEY}");
    }
}
