//! Events as the platform sends them, and as Herald stores and forwards them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{EventId, FieldError, Severity};

const MAX_SHORT_TEXT: usize = 256;
const MAX_LONG_TEXT: usize = 16 * 1024;
const MAX_URL: usize = 2048;

/// An event type such as `scan_done` or `iac.run.plan_finished`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EventType(String);

impl EventType {
    /// The scanner seed's lifecycle events, accepted out of the box.
    pub const SCANNER_LIFECYCLE: [&'static str; 5] = [
        "scan_started",
        "scan_done",
        "scan_failed",
        "finding_new",
        "finding_changed",
    ];

    /// 1 to 128 characters of letters, digits, `_`, `.`, `-` and `:`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > 128 {
            return Err("must be 1 to 128 characters".into());
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
        {
            return Err("may hold only letters, digits, `_`, `.`, `-` and `:`".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an integration's severity_filter applies to this type (the scanner seed's rule).
    pub fn is_severity_gated(&self) -> bool {
        matches!(
            crate::catalogue::canonical(&self.0),
            "security.scan.finding_new" | "security.scan.finding_changed"
        )
    }
}

/// The body of `POST /v1/events`, exactly as received.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Event type, e.g. `scan_done` or `iac.run.plan_finished`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The target (module, workspace, scanned system) the event concerns.
    pub target_id: Option<String>,
    /// The module's namespace, if the platform knows it (a registered module's own wins).
    pub namespace: Option<String>,
    /// The module's stack, if the platform knows it (a registered namespace's own wins).
    pub stack: Option<String>,
    pub severity: Option<Severity>,
    pub environment: Option<String>,
    /// Events sharing a correlation key concern the same incident or run.
    pub correlation_key: Option<String>,
    /// Posting the same key again returns the first event's id and creates nothing.
    pub idempotency_key: Option<String>,
    /// RFC 3339, in the years 1970 to 9999; defaults to the time Herald received the event.
    #[serde(default, deserialize_with = "crate::time::optional_rfc3339")]
    pub occurred_at: Option<DateTime<Utc>>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub status: Option<String>,
    /// A link for people to follow, e.g. the run page. http or https.
    pub url: Option<String>,
    /// Where a person approves the run, shown as a button while the run waits for approval.
    pub approve_url: Option<String>,
    /// Ordered name → value pairs shown as facts (strings, numbers or booleans).
    #[schema(value_type = Option<Object>)]
    pub facts: Option<Map<String, Value>>,
    /// Arbitrary event-specific JSON.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// A validated event, not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: EventType,
    pub target_id: Option<String>,
    pub namespace: Option<String>,
    pub stack: Option<String>,
    pub severity: Option<Severity>,
    pub environment: Option<String>,
    pub correlation_key: Option<String>,
    pub idempotency_key: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub status: Option<String>,
    pub url: Option<String>,
    pub approve_url: Option<String>,
    pub facts: Option<Map<String, Value>>,
    pub data: Option<Value>,
}

impl EventInput {
    pub fn parse(self) -> Result<NewEvent, FieldError> {
        let event_type =
            EventType::parse(&self.event_type).map_err(|m| FieldError::new("type", m))?;
        let short = short_text;
        let url = link("url", self.url)?;
        let approve_url = link("approve_url", self.approve_url)?;
        if let Some(facts) = &self.facts {
            for (name, value) in facts {
                if !(value.is_string() || value.is_number() || value.is_boolean()) {
                    return Err(FieldError::new(
                        format!("facts.{name}"),
                        "must be a string, number or boolean",
                    ));
                }
            }
        }
        Ok(NewEvent {
            event_type,
            target_id: short("target_id", self.target_id)?,
            namespace: short("namespace", self.namespace)?,
            stack: short("stack", self.stack)?,
            severity: self.severity,
            environment: short("environment", self.environment)?,
            correlation_key: short("correlation_key", self.correlation_key)?,
            idempotency_key: short("idempotency_key", self.idempotency_key)?,
            occurred_at: self.occurred_at,
            title: bounded_text("title", self.title, MAX_SHORT_TEXT * 4)?,
            summary: bounded_text("summary", self.summary, MAX_LONG_TEXT)?,
            status: short("status", self.status)?,
            url,
            approve_url,
            facts: self.facts,
            data: self.data,
        })
    }
}

/// A link for people: http or https, bounded, and stored in its canonical encoding (see
/// [`crate::link::normalise_link`]) so every destination gets the same safe URL.
fn link(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(raw) = bounded_text(field, value, MAX_URL)? else {
        return Ok(None);
    };
    let url = crate::link::normalise_link(&raw).map_err(|m| FieldError::new(field, m))?;
    if url.as_str().len() > MAX_URL {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_URL} bytes once encoded"),
        ));
    }
    Ok(Some(url.into()))
}

fn bounded_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if v.is_empty() => {
            Err(FieldError::new(field, "must not be empty; omit it instead"))
        }
        Some(v) if v.len() > max => Err(FieldError::new(
            field,
            format!("must be at most {max} bytes"),
        )),
        Some(v) if v.contains('\0') => {
            Err(FieldError::new(field, "must not contain NUL characters"))
        }
        other => Ok(other),
    }
}

/// Identifiers and labels: also no control characters at all.
fn short_text(field: &str, value: Option<String>) -> Result<Option<String>, FieldError> {
    let value = bounded_text(field, value, MAX_SHORT_TEXT)?;
    if value
        .as_deref()
        .is_some_and(|v| v.chars().any(char::is_control))
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

/// A stored event. Its serialised form is the envelope every provider starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened (occurred_at, or the time Herald received it).
    pub timestamp: String,
    pub received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Event {
    /// Assigns the id and timestamps. The idempotency key stays out of the envelope on purpose:
    /// it is the sender's bookkeeping, not part of the event.
    pub fn from_new(id: &EventId, new: &NewEvent, received_at: DateTime<Utc>) -> Self {
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        Self {
            id: id.to_string(),
            event_type: new.event_type.as_str().to_owned(),
            timestamp: stamp(new.occurred_at.unwrap_or(received_at)),
            received_at: stamp(received_at),
            target_id: new.target_id.clone(),
            namespace: new.namespace.clone(),
            stack: new.stack.clone(),
            severity: new.severity,
            environment: new.environment.clone(),
            correlation_key: new.correlation_key.clone(),
            title: new.title.clone(),
            summary: new.summary.clone(),
            status: new.status.clone(),
            url: new.url.clone(),
            approve_url: new.approve_url.clone(),
            facts: new.facts.clone(),
            data: new.data.clone(),
        }
    }

    pub fn event_type(&self) -> EventType {
        EventType(self.event_type.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> EventInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_minimal_event_parses() {
        let event = input(json!({"type": "scan_done"})).parse().unwrap();
        assert_eq!(event.event_type.as_str(), "scan_done");
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (json!({"type": "scan done"}), "type"),
            (json!({"type": "x", "url": "ftp://example.com"}), "url"),
            (json!({"type": "x", "title": ""}), "title"),
            (
                json!({"type": "x", "facts": {"commit": {"sha": "1"}}}),
                "facts.commit",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(input(body).parse().unwrap_err().field, field);
        }
    }

    #[test]
    fn links_are_stored_in_their_canonical_encoding() {
        let event = input(json!({"type": "x", "url": "https://CI.example/a b/<x>|(y)",
            "approve_url": "https://ci.example/approve?run=1|2"}))
        .parse()
        .unwrap();
        assert_eq!(
            event.url.as_deref(),
            Some("https://ci.example/a%20b/%3Cx%3E%7C(y)")
        );
        assert_eq!(
            event.approve_url.as_deref(),
            Some("https://ci.example/approve?run=1%7C2")
        );
        let refused = input(json!({"type": "x", "approve_url": "javascript:alert(1)"}))
            .parse()
            .unwrap_err();
        assert_eq!(refused.field, "approve_url");
        let refused = input(json!({"type": "x", "url": "https://a:b@ci.example/"}))
            .parse()
            .unwrap_err();
        assert_eq!(refused.field, "url");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_value::<EventInput>(json!({"type": "x", "colour": "red"}))
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"));
    }

    #[test]
    fn envelope_uses_occurred_at_as_timestamp_and_omits_absent_fields() {
        let new = input(json!({"type": "scan_done", "occurred_at": "2026-01-02T03:04:05Z", "idempotency_key": "k"}))
            .parse()
            .unwrap();
        let received = "2026-01-02T03:04:06Z".parse().unwrap();
        let id = EventId::generate();
        let envelope = serde_json::to_value(Event::from_new(&id, &new, received)).unwrap();
        assert_eq!(envelope["timestamp"], "2026-01-02T03:04:05.000Z");
        assert_eq!(envelope["received_at"], "2026-01-02T03:04:06.000Z");
        assert!(envelope.get("severity").is_none());
        assert!(envelope.get("idempotency_key").is_none());
    }
}
