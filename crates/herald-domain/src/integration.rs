//! Integrations: a configured destination plus the filters that decide what it hears.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::limits::{normalise_list, short_text, MAX_EVENT_TYPES, MAX_TARGET_IDS};
use crate::{EventType, FieldError, IntegrationId, OrgId, Severity};

/// Every kind of destination Herald knows. Whether a kind can be used depends on the
/// providers compiled in; see `herald_providers::Registry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Slack,
    Teams,
    GoogleChat,
    Discord,
    Webex,
    Telegram,
    Pagerduty,
    Opsgenie,
    Splunk,
    Jira,
    Github,
    Email,
    Script,
    Webhook,
    Custom,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Slack,
        Kind::Teams,
        Kind::GoogleChat,
        Kind::Discord,
        Kind::Webex,
        Kind::Telegram,
        Kind::Pagerduty,
        Kind::Opsgenie,
        Kind::Splunk,
        Kind::Jira,
        Kind::Github,
        Kind::Email,
        Kind::Script,
        Kind::Webhook,
        Kind::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Teams => "teams",
            Kind::GoogleChat => "google_chat",
            Kind::Discord => "discord",
            Kind::Webex => "webex",
            Kind::Telegram => "telegram",
            Kind::Pagerduty => "pagerduty",
            Kind::Opsgenie => "opsgenie",
            Kind::Splunk => "splunk",
            Kind::Jira => "jira",
            Kind::Github => "github",
            Kind::Email => "email",
            Kind::Script => "script",
            Kind::Webhook => "webhook",
            Kind::Custom => "custom",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// A display name: trimmed, 1 to 200 characters, no control characters. Unique per kind in an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IntegrationName(String);

impl IntegrationName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 200 {
            return Err(FieldError::new("name", "must be 1 to 200 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The scanner seed's three filters. `None` means "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub events: Option<Vec<String>>,
    pub target_ids: Option<Vec<String>>,
    /// Minimum severity for severity-gated events (finding_new, finding_changed).
    pub severity_filter: Option<Severity>,
}

impl Filters {
    /// Normalises an `events` list: empty means all, each entry must be a valid event type
    /// (not a pattern), at most [`MAX_EVENT_TYPES`] entries, duplicates are dropped, order is
    /// kept.
    pub fn parse_events(raw: Option<Vec<String>>) -> Result<Option<Vec<String>>, FieldError> {
        normalise_list("events", raw, MAX_EVENT_TYPES, |v| {
            if v.contains('*') {
                return Err(format!(
                    "`{v}` is a pattern; an integration's `events` lists exact types. \
                     Subscribe to a pattern with an integration event \
                     (POST /v1/integration-events, `trigger`), which accepts `prefix.*` and `*`"
                ));
            }
            EventType::parse(v).map(|_| ())
        })
    }

    /// Normalises a `target_ids` list: empty means all, at most [`MAX_TARGET_IDS`] entries of
    /// 1 to 256 bytes, duplicates dropped.
    pub fn parse_target_ids(raw: Option<Vec<String>>) -> Result<Option<Vec<String>>, FieldError> {
        normalise_list("target_ids", raw, MAX_TARGET_IDS, short_text)
    }
}

/// An integration as the rest of Herald sees it. Its config lives sealed in the store and is
/// opened only on the send path.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    pub id: IntegrationId,
    pub org_id: OrgId,
    pub kind: Kind,
    pub name: String,
    pub enabled: bool,
    /// Why Herald disabled it on its own (the Slack app was uninstalled, its token revoked);
    /// cleared when someone sets `enabled` again.
    pub disabled_reason: Option<String>,
    /// Paused by an operator: its deliveries wait, untried, until it is resumed.
    pub paused_at: Option<DateTime<Utc>>,
    pub filters: Filters,
    /// Supplied to every module of the organisation (supply ∩ demand model).
    pub supplied_to_all_modules: bool,
    /// The organisation-level channels (Slack) or URLs (Teams, webhook, custom), by default
    /// and per environment; a workspace attachment may override them.
    pub destinations: Option<crate::attachment::Destinations>,
    /// Names of the config keys that are set; never their values.
    pub config_keys: Vec<String>,
    /// Overrides of the title and text every provider shows.
    pub template: Option<crate::MessageTemplate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(Kind::parse("carrier_pigeon"), None);
    }

    #[test]
    fn empty_lists_normalise_to_all() {
        assert_eq!(Filters::parse_events(Some(vec![])).unwrap(), None);
        assert_eq!(Filters::parse_target_ids(None).unwrap(), None);
        let deduped =
            Filters::parse_events(Some(vec!["scan_done".into(), "scan_done".into()])).unwrap();
        assert_eq!(deduped, Some(vec!["scan_done".to_owned()]));
    }

    #[test]
    fn a_pattern_in_events_points_to_integration_events() {
        let err = Filters::parse_events(Some(vec!["iac.run.*".into()])).unwrap_err();
        assert_eq!(err.field, "events[0]");
        assert!(err.message.contains("integration event"), "{}", err.message);
    }

    #[test]
    fn list_errors_name_the_entry() {
        let err = Filters::parse_events(Some(vec!["ok".into(), "not ok".into()])).unwrap_err();
        assert_eq!(err.field, "events[1]");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            IntegrationName::parse("  #security ").unwrap().as_str(),
            "#security"
        );
        assert!(IntegrationName::parse("   ").is_err());
        assert!(IntegrationName::parse(&"x".repeat(201)).is_err());
    }
}
