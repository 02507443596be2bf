//! Integration forms generated from a kind's config schema: one input per property, secret
//! ones write-only. A new kind needs no new page, only its schema.

use serde::Serialize;
use serde_json::{Map, Value};

/// One input of a generated form.
#[derive(Debug, Serialize, PartialEq)]
pub struct FormField {
    /// The input's name: `config.<property>`.
    pub name: String,
    pub property: String,
    pub label: String,
    pub description: String,
    /// `text`, `url`, `email`, `number`, `lines` (a textarea, one item per line) or `select`.
    pub input: &'static str,
    pub required: bool,
    pub secret: bool,
    /// A secret that is stored: shown as "set", replaced only by typing a new value.
    pub is_set: bool,
    /// The current value, for non-secret fields only.
    pub value: String,
    pub options: Vec<String>,
    pub error: Option<String>,
}

/// The fields of `schema`, filled from `current` (non-secret values) and `set_keys` (which
/// config keys are stored at all).
pub fn fields(schema: &Value, current: &Map<String, Value>, set_keys: &[String]) -> Vec<FormField> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(property, spec)| {
            let secret =
                spec["x-secret"] == Value::Bool(true) || spec["writeOnly"] == Value::Bool(true);
            let options: Vec<String> = spec["enum"]
                .as_array()
                .map(|values| {
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let input = input_kind(spec, !options.is_empty());
            let value = match (secret, current.get(property)) {
                (true, _) | (false, None) => String::new(),
                (false, Some(Value::Array(items))) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| item.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                (false, Some(Value::String(s))) => s.clone(),
                (false, Some(other)) => other.to_string(),
            };
            FormField {
                name: format!("config.{property}"),
                property: property.clone(),
                label: spec["title"].as_str().unwrap_or(property).to_owned(),
                description: spec["description"].as_str().unwrap_or_default().to_owned(),
                input,
                required: required.contains(&property.as_str()),
                secret,
                is_set: set_keys.iter().any(|k| k == property),
                value,
                options,
                error: None,
            }
        })
        .collect()
}

fn input_kind(spec: &Value, has_options: bool) -> &'static str {
    if has_options {
        return "select";
    }
    match (spec["type"].as_str(), spec["format"].as_str()) {
        (Some("array"), _) => "lines",
        (Some("integer"), _) => "number",
        (_, Some("uri")) => "url",
        (_, Some("email")) => "email",
        _ => "text",
    }
}

/// The config a form submits, as JSON, for a create (`editing == false`) or a merge patch
/// (`editing == true`). Empty secret inputs keep the stored value (they are omitted); an
/// emptied non-secret field is removed (`null`) when editing. Returns the field and reason of
/// a value that is not of its type.
pub fn config_from_form(
    schema: &Value,
    form: &[(String, String)],
    editing: bool,
) -> Result<Map<String, Value>, (String, String)> {
    let mut config = Map::new();
    let Some(properties) = schema["properties"].as_object() else {
        return Ok(config);
    };
    for (property, spec) in properties {
        let name = format!("config.{property}");
        let Some(raw) = form.iter().find(|(k, _)| *k == name).map(|(_, v)| v.trim()) else {
            continue;
        };
        let secret = spec["x-secret"] == Value::Bool(true);
        if raw.is_empty() {
            if editing && !secret {
                config.insert(property.clone(), Value::Null);
            }
            continue;
        }
        let types: Vec<&str> = match &spec["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec!["string"],
        };
        let value = if types.contains(&"array") {
            Value::Array(
                raw.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_owned()))
                    .collect(),
            )
        } else if types.contains(&"integer") {
            match raw.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) if types.contains(&"string") => Value::String(raw.to_owned()),
                Err(_) => return Err((property.clone(), "must be a whole number".into())),
            }
        } else {
            Value::String(raw.to_owned())
        };
        config.insert(property.clone(), value);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "format": "uri", "title": "URL", "description": "d"},
                "key": {"type": "string", "title": "Key", "description": "d", "writeOnly": true, "x-secret": true},
                "to": {"type": "array", "items": {"type": "string"}, "title": "To", "description": "d"},
                "chat": {"type": ["integer", "string"], "title": "Chat", "description": "d"},
                "region": {"type": "string", "enum": ["us", "eu"], "title": "Region", "description": "d"}
            }
        })
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn a_secret_field_shows_whether_it_is_set_never_its_value() {
        let current = json!({"url": "https://a.example", "key": "s3cret"});
        let fields = fields(
            &schema(),
            current.as_object().unwrap(),
            &["url".into(), "key".into()],
        );
        let key = fields.iter().find(|f| f.property == "key").unwrap();
        assert!(key.secret && key.is_set);
        assert_eq!(key.value, "");
        let url = fields.iter().find(|f| f.property == "url").unwrap();
        assert_eq!(
            (url.input, url.required, url.value.as_str()),
            ("url", true, "https://a.example")
        );
        let inputs: Vec<_> = fields.iter().map(|f| f.input).collect();
        assert_eq!(inputs, ["url", "text", "lines", "text", "select"]);
    }

    #[test]
    fn form_values_become_typed_config() {
        let submitted = form(&[
            ("config.url", " https://a.example "),
            ("config.key", ""),
            ("config.to", "a@x.example\n\n b@x.example "),
            ("config.chat", "-100123"),
            ("config.region", "eu"),
        ]);
        let created = config_from_form(&schema(), &submitted, false).unwrap();
        assert_eq!(
            Value::Object(created),
            json!({"url": "https://a.example", "to": ["a@x.example", "b@x.example"], "chat": -100123, "region": "eu"})
        );
        let chat = config_from_form(&schema(), &form(&[("config.chat", "@ops")]), false).unwrap();
        assert_eq!(chat["chat"], "@ops");
    }

    #[test]
    fn editing_keeps_an_empty_secret_and_clears_an_emptied_field() {
        let patch = config_from_form(
            &schema(),
            &form(&[("config.key", ""), ("config.region", "")]),
            true,
        )
        .unwrap();
        assert_eq!(Value::Object(patch), json!({"region": null}));
    }
}
