//! Workspace attachments (seed 001): an integration attached to a module fires after a job
//! stage, and its channels (or webhook URLs) resolve from four levels, first match wins:
//! the workspace's environment override, the organisation's environment override, the
//! workspace's defaults, the organisation's defaults.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::demand::{IntegrationEvent, Trigger};
use crate::limits::{
    check_len, normalise_list, short_text, MAX_DESTINATIONS, MAX_DESTINATION_ENVIRONMENTS,
};
use crate::scope::{Scope, ScopeKind};
use crate::{FieldError, IntegrationEventId, IntegrationId, OrgId};

/// An integration attached to a module (seed 001's workspace): it fires after the chosen
/// stage, with this module's destination overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// `wsa_…`, unique.
    pub id: String,
    pub org_id: OrgId,
    pub integration_id: IntegrationId,
    /// The module's name, as events carry it in `target_id`.
    pub module: String,
    pub run_after: RunAfter,
    pub destinations: Destinations,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Attachment ids carry this prefix; routing reports them where an integration event's id
/// would stand, so an explanation says which attachment carried an event.
pub const ATTACHMENT_PREFIX: &str = "wsa_";

impl Attachment {
    pub fn new_id() -> String {
        format!("{ATTACHMENT_PREFIX}{}", uuid::Uuid::now_v7().simple())
    }

    /// The attachment in the one routing model: a supply of the module, and one integration
    /// event per stage-ending event type on it. Routing and its explanations need nothing else.
    pub fn as_demands(&self) -> Vec<IntegrationEvent> {
        self.run_after
            .stage_events()
            .iter()
            .map(|event_type| IntegrationEvent {
                id: IntegrationEventId::from_trusted(self.id.clone()),
                org_id: self.org_id.clone(),
                integration_id: self.integration_id.clone(),
                name: format!("attachment {} ({})", self.module, self.run_after.as_str()),
                trigger: Trigger::Exact((*event_type).to_owned()),
                scope: Scope::Named(ScopeKind::Module, self.module.clone()),
                environments: None,
                min_severity: None,
                enabled: true,
                template: None,
                destinations: None,
                created_at: self.created_at,
                updated_at: self.created_at,
            })
            .collect()
    }
}

/// After which stage an attached integration fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunAfter {
    Plan,
    Apply,
    All,
}

/// Events that end the plan stage: the plan is ready, possibly waiting for a person.
const PLAN_STAGE_ENDS: &[&str] = &["iac.run.plan_finished", "iac.run.waiting_for_approval"];
/// Events that end the apply stage, or the run before it (failed, cancelled, rejected).
const APPLY_STAGE_ENDS: &[&str] = &[
    "iac.run.applied",
    "iac.run.failed",
    "iac.run.cancelled",
    "iac.run.rejected",
];

impl RunAfter {
    pub fn as_str(self) -> &'static str {
        match self {
            RunAfter::Plan => "plan",
            RunAfter::Apply => "apply",
            RunAfter::All => "all",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [RunAfter::Plan, RunAfter::Apply, RunAfter::All]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }

    /// The event types that end this attachment's stages.
    pub fn stage_events(self) -> Vec<&'static str> {
        match self {
            RunAfter::Plan => PLAN_STAGE_ENDS.to_vec(),
            RunAfter::Apply => APPLY_STAGE_ENDS.to_vec(),
            RunAfter::All => [PLAN_STAGE_ENDS, APPLY_STAGE_ENDS].concat(),
        }
    }

    /// Whether an event of this type is one this attachment fires on.
    pub fn fires_on(self, event_type: &str) -> bool {
        let plan = PLAN_STAGE_ENDS.contains(&event_type);
        let apply = APPLY_STAGE_ENDS.contains(&event_type);
        match self {
            RunAfter::Plan => plan,
            RunAfter::Apply => apply,
            RunAfter::All => plan || apply,
        }
    }
}

/// Channels (for Slack) or URLs (for Teams, webhook, custom) at one level: defaults, and
/// per-environment lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    /// At most 8 (see [`crate::limits`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 8)]
    pub default: Vec<String>,
    /// At most 50 environments, of at most 8 each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Vec<String>>,
}

impl Destinations {
    pub fn is_empty(&self) -> bool {
        self.default.is_empty() && self.environments.values().all(Vec::is_empty)
    }

    /// Caps every list (at most [`MAX_DESTINATIONS`] per list and
    /// [`MAX_DESTINATION_ENVIRONMENTS`] environments) and drops repeated entries in one pass.
    /// `field` prefixes the errors: `destinations.default`, `destinations.environments.prod`.
    pub fn normalised(self, field: &str) -> Result<Self, FieldError> {
        self.check_caps(field)?;
        let environments_field = format!("{field}.environments");
        let list = |at: String, items: Vec<String>| {
            normalise_list(&at, Some(items), MAX_DESTINATIONS, |_| Ok(()))
                .map(Option::unwrap_or_default)
        };
        let default = list(format!("{field}.default"), self.default)?;
        let mut environments = BTreeMap::new();
        for (environment, items) in self.environments {
            short_text(&environment).map_err(|message| {
                FieldError::new(
                    environments_field.clone(),
                    format!("environment names {message}"),
                )
            })?;
            let items = list(format!("{environments_field}.{environment}"), items)?;
            environments.insert(environment, items);
        }
        Ok(Self {
            default,
            environments,
        })
    }

    /// Refuses more lists or longer lists than the caps allow, before any entry is looked at.
    pub fn check_caps(&self, field: &str) -> Result<(), FieldError> {
        let environments_field = format!("{field}.environments");
        check_len(
            &environments_field,
            self.environments.len(),
            MAX_DESTINATION_ENVIRONMENTS,
        )?;
        check_len(
            &format!("{field}.default"),
            self.default.len(),
            MAX_DESTINATIONS,
        )?;
        for (environment, items) in &self.environments {
            check_len(
                &format!("{environments_field}.{environment}"),
                items.len(),
                MAX_DESTINATIONS,
            )?;
        }
        Ok(())
    }

    /// Every destination named at this level, for validation.
    pub fn all(&self) -> impl Iterator<Item = (String, &String)> {
        let defaults = self
            .default
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("default[{i}]"), d));
        let by_env = self.environments.iter().flat_map(|(env, list)| {
            list.iter()
                .enumerate()
                .map(move |(i, d)| (format!("environments.{env}[{i}]"), d))
        });
        defaults.chain(by_env)
    }
}

/// Which of the four levels a resolution came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolvedFrom {
    WorkspaceEnvironment,
    OrganisationEnvironment,
    WorkspaceDefault,
    OrganisationDefault,
    /// Nothing at any level: the integration's own config destination.
    IntegrationConfig,
}

/// The destinations of one notification, first match wins. An empty list at a level counts as
/// absent, so it falls through to the next.
pub fn resolve<'a>(
    workspace: &'a Destinations,
    organisation: &'a Destinations,
    environment: Option<&str>,
) -> (&'a [String], ResolvedFrom) {
    let by_environment = |level: &'a Destinations| {
        environment
            .and_then(|env| level.environments.get(env))
            .filter(|list| !list.is_empty())
    };
    if let Some(list) = by_environment(workspace) {
        return (list, ResolvedFrom::WorkspaceEnvironment);
    }
    if let Some(list) = by_environment(organisation) {
        return (list, ResolvedFrom::OrganisationEnvironment);
    }
    if !workspace.default.is_empty() {
        return (&workspace.default, ResolvedFrom::WorkspaceDefault);
    }
    if !organisation.default.is_empty() {
        return (&organisation.default, ResolvedFrom::OrganisationDefault);
    }
    (&[], ResolvedFrom::IntegrationConfig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(default: &[&str], environments: &[(&str, &[&str])]) -> Destinations {
        Destinations {
            default: default.iter().map(|s| s.to_string()).collect(),
            environments: environments
                .iter()
                .map(|(env, list)| {
                    (
                        env.to_string(),
                        list.iter().map(|s| s.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn each_level_wins_in_order_and_falls_through_when_absent() {
        let workspace = level(&["#ws"], &[("production", &["#ws-prod"])]);
        let org = level(
            &["#org"],
            &[("production", &["#org-prod"]), ("staging", &["#org-stg"])],
        );
        let none = Destinations::default();
        // (workspace, organisation, environment) -> (destinations, level)
        type Case<'a> = (
            &'a Destinations,
            &'a Destinations,
            Option<&'a str>,
            &'a [&'a str],
            ResolvedFrom,
        );
        let cases: &[Case] = &[
            (
                &workspace,
                &org,
                Some("production"),
                &["#ws-prod"],
                ResolvedFrom::WorkspaceEnvironment,
            ),
            (
                &workspace,
                &org,
                Some("staging"),
                &["#org-stg"],
                ResolvedFrom::OrganisationEnvironment,
            ),
            (
                &workspace,
                &org,
                Some("dev"),
                &["#ws"],
                ResolvedFrom::WorkspaceDefault,
            ),
            (
                &workspace,
                &org,
                None,
                &["#ws"],
                ResolvedFrom::WorkspaceDefault,
            ),
            (
                &none,
                &org,
                Some("dev"),
                &["#org"],
                ResolvedFrom::OrganisationDefault,
            ),
            (
                &none,
                &none,
                Some("production"),
                &[],
                ResolvedFrom::IntegrationConfig,
            ),
        ];
        for (ws, org, env, expected, from) in cases {
            let (list, level) = resolve(ws, org, *env);
            assert_eq!(
                (list, level),
                (
                    &expected.iter().map(|s| s.to_string()).collect::<Vec<_>>()[..],
                    *from
                ),
                "{env:?}"
            );
        }
        // An empty override list is no override.
        let empty_env = level(&["#ws"], &[("production", &[])]);
        assert_eq!(
            resolve(&empty_env, &org, Some("production")).1,
            ResolvedFrom::OrganisationEnvironment
        );
    }

    #[test]
    fn run_after_fires_on_exactly_its_stages() {
        let plan = ["iac.run.plan_finished", "iac.run.waiting_for_approval"];
        let apply = [
            "iac.run.applied",
            "iac.run.failed",
            "iac.run.cancelled",
            "iac.run.rejected",
        ];
        let neither = [
            "iac.run.queued",
            "iac.run.planning",
            "iac.run.applying",
            "scan_done",
        ];
        for event in plan {
            assert!(RunAfter::Plan.fires_on(event) && RunAfter::All.fires_on(event));
            assert!(!RunAfter::Apply.fires_on(event), "{event}");
        }
        for event in apply {
            assert!(RunAfter::Apply.fires_on(event) && RunAfter::All.fires_on(event));
            assert!(!RunAfter::Plan.fires_on(event), "{event}");
        }
        for event in neither {
            for run_after in [RunAfter::Plan, RunAfter::Apply, RunAfter::All] {
                assert!(!run_after.fires_on(event), "{run_after:?} {event}");
            }
        }
    }
}
