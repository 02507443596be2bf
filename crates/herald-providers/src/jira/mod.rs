//! `jira`: Jira Cloud issues through REST API v3. The first event of a correlation key opens
//! an issue (its key is the external id); later events comment on it, and a resolved run or
//! incident also moves the issue through the configured transition.

mod adf;
mod classify;
mod config;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::Message;
use crate::{Destination, Outbound, Outcome, Provider, RenderContext, RenderError, Response, Step};

pub use config::JiraConfig;

use classify::Step as JiraStep;

pub struct JiraProvider;

impl Provider for JiraProvider {
    fn kind(&self) -> Kind {
        Kind::Jira
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string(
            "base_url",
            "Site URL",
            "Your Jira site, e.g. https://your-site.atlassian.net.",
        )
        .required()
        .format("uri");
        s.string(
            "email",
            "Account e-mail",
            "The account the API token belongs to.",
        )
        .required()
        .format("email");
        s.string(
            "api_token",
            "API token",
            "An Atlassian API token of that account.",
        )
        .required()
        .secret();
        s.string(
            "project_key",
            "Project key",
            "The project issues are created in, e.g. OPS.",
        )
        .required();
        s.string("issue_type", "Issue type", "Default Task.");
        s.string(
            "resolve_transition",
            "Resolve transition",
            "The transition run when a run or incident is resolved; empty: only comment.",
        );
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        JiraConfig::parse(config).map(|_| ())
    }

    /// A delivery: create the issue, or comment on the prior one. A connection test: create a
    /// real issue in the project (the only way to prove write access), deleted in `follow_on`.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = JiraConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        let request = if ctx.is_test() {
            render::create_test_issue(ctx, &config)
        } else {
            match ctx.prior {
                Some(prior) if !prior.0.is_empty() => render::comment(ctx, &config, &prior.0),
                _ => render::create(ctx, &config),
            }
        };
        Ok(vec![request.into()])
    }

    /// After the test issue is created: delete it. After a resolved event's comment (or its
    /// issue, when the first event already says resolved): look up the transitions, then run
    /// the configured one.
    fn follow_on(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
        done: &[Step<'_>],
    ) -> Result<Vec<Outbound>, RenderError> {
        let config = JiraConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        let Some(last) = done.last() else {
            return Ok(Vec::new());
        };
        let Some(request) = last.request.http() else {
            return Ok(Vec::new());
        };
        let key = issue_key(ctx, done);
        let next = match (JiraStep::of(request), key) {
            (JiraStep::Create, Some(key)) if ctx.is_test() => render::delete(&config, &key),
            (_, _) if ctx.is_test() => return Ok(Vec::new()),
            (JiraStep::Create | JiraStep::Comment, Some(key)) if resolving(ctx, &config) => {
                render::transitions(&config, &key)
            }
            (JiraStep::ListTransitions, Some(key)) => {
                let wanted = config.resolve_transition.as_deref().unwrap_or_default();
                let answer = last.response.json().ok_or_else(|| {
                    RenderError::Unrenderable("Jira's list of transitions was not JSON".into())
                })?;
                let id =
                    render::pick_transition(&answer, wanted).map_err(RenderError::Unrenderable)?;
                render::transition(&config, &key, &id)
            }
            _ => return Ok(Vec::new()),
        };
        Ok(vec![next.into()])
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify::classify(request, response)
    }

    /// The site's host. No pace of our own: Jira answers its burst limits with 429, which
    /// pauses the destination.
    fn destination(&self, config: &Value) -> Destination {
        match JiraConfig::parse(config) {
            Ok(config) => Destination::host_of(Kind::Jira, &config.base_url, None),
            Err(_) => Destination::new(Kind::Jira, "", None),
        }
    }
}

/// A delivery of a resolved run or incident, with a transition configured to close the issue.
fn resolving(ctx: &RenderContext<'_>, config: &JiraConfig) -> bool {
    !ctx.is_test()
        && config.resolve_transition.is_some()
        && Message::for_delivery(ctx).phase.is_over()
}

/// The issue this exchange is about: the prior one, or the one its first step created.
fn issue_key(ctx: &RenderContext<'_>, done: &[Step<'_>]) -> Option<String> {
    if !ctx.is_test() {
        if let Some(prior) = ctx.prior.filter(|p| !p.0.is_empty()) {
            return Some(prior.0.clone());
        }
    }
    done.iter().find_map(|step| match step.outcome {
        Outcome::Delivered { external_id } => external_id.clone(),
        _ => None,
    })
}
