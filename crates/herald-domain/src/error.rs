use std::fmt;

/// A rejected input, naming the field (a dotted path such as `config.webhook_url`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, with its field nested under `parent` (`webhook_url` → `config.webhook_url`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// An error followed by its causes (`a: b: c`), for logs and messages.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Turns a serde error at `path` into a FieldError that names the offending field.
/// serde reports unknown and missing fields at their parent, so the name is read from the message.
pub fn from_serde(path: &str, message: &str) -> FieldError {
    let quoted = |marker: &str| {
        let rest = message.split(marker).nth(1)?;
        let name = rest.strip_prefix('`')?.split('`').next()?;
        Some(name.to_owned())
    };
    let parent = if path == "." { "" } else { path };
    // serde_path_to_error already ends the path with an unknown field's name.
    let join = |name: String| match parent {
        "" => name,
        p if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        p => format!("{p}.{name}"),
    };
    let (field, reason) = if let Some(name) = quoted("unknown field ") {
        (join(name), "is not a known field".to_owned())
    } else if let Some(name) = quoted("missing field ") {
        (join(name), "is required".to_owned())
    } else {
        let reason = message
            .split(" at line ")
            .next()
            .unwrap_or(message)
            .to_owned();
        (
            if parent.is_empty() {
                "body".to_owned()
            } else {
                parent.to_owned()
            },
            reason,
        )
    };
    FieldError::new(field, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_named_fields() {
        let e = from_serde(
            ".",
            "unknown field `colour`, expected one of `type`, `url` at line 1 column 9",
        );
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("colour", "is not a known field")
        );
        let e = from_serde("colour", "unknown field `colour`, expected `type`");
        assert_eq!(e.field, "colour");
        let e = from_serde("config", "missing field `webhook_url`");
        assert_eq!(e.field, "config.webhook_url");
        let e = from_serde(
            "enabled",
            "invalid type: string \"yes\", expected a boolean at line 1 column 14",
        );
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            (
                "enabled",
                "invalid type: string \"yes\", expected a boolean"
            )
        );
    }
}
