//! `github`: GitHub issues through the REST API. The first event of a correlation key opens an
//! issue (its number is the external id); later events comment on it, and a resolved run or
//! incident also closes it as completed.

mod classify;
mod config;
mod markdown;
mod render;
#[cfg(test)]
mod tests;

use herald_domain::{FieldError, Kind};
use serde_json::Value;

use crate::present::Message;
use crate::{
    Destination, Outbound, Outcome, Provider, Rate, RenderContext, RenderError, Response, Step,
};

pub use config::GithubConfig;

use classify::Step as GithubStep;

/// GitHub's secondary limit: at most 80 content-creating requests a minute.
const RATE: Rate = Rate::new(80.0 / 60.0, 5);

pub struct GithubProvider;

impl Provider for GithubProvider {
    fn kind(&self) -> Kind {
        Kind::Github
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut s = crate::config_schema::ConfigSchema::new();
        s.string("repo", "Repository", "owner/name")
            .required()
            .example("acme/infra");
        s.string(
            "token",
            "Token",
            "A token with issues: write on the repository.",
        )
        .required()
        .secret();
        s.string(
            "api_url",
            "API URL",
            "GitHub Enterprise Server's API (https://HOST/api/v3); empty for github.com.",
        )
        .format("uri");
        s.build()
    }

    fn validate(&self, config: &Value) -> Result<(), FieldError> {
        GithubConfig::parse(config).map(|_| ())
    }

    /// A delivery: open the issue, or comment on the prior one and, when resolved, close it.
    /// A connection test: read the repository, which opens nothing.
    fn render(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
    ) -> Result<Vec<Outbound>, RenderError> {
        ctx.no_destination_override()?;
        let config = GithubConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        if ctx.is_test() {
            return Ok(vec![render::repository(ctx, &config).into()]);
        }
        let Some(prior) = ctx.prior else {
            return Ok(vec![render::create(ctx, &config).into()]);
        };
        let number = issue_number(&prior.0)?;
        let mut requests = vec![render::comment(ctx, &config, number).into()];
        if resolved(ctx) {
            requests.push(render::close(ctx, &config, number).into());
        }
        Ok(requests)
    }

    /// When the first event already says resolved, the issue it opened is closed at once.
    fn follow_on(
        &self,
        ctx: &RenderContext<'_>,
        config: &Value,
        done: &[Step<'_>],
    ) -> Result<Vec<Outbound>, RenderError> {
        let [first] = done else {
            return Ok(Vec::new());
        };
        let created = first
            .request
            .http()
            .is_some_and(|r| GithubStep::of(r) == GithubStep::Create);
        let Outcome::Delivered {
            external_id: Some(number),
        } = first.outcome
        else {
            return Ok(Vec::new());
        };
        if !created || !resolved(ctx) {
            return Ok(Vec::new());
        }
        let config = GithubConfig::parse(config).map_err(RenderError::InvalidConfig)?;
        Ok(vec![
            render::close(ctx, &config, issue_number(number)?).into()
        ])
    }

    fn classify(&self, request: &Outbound, response: &Response) -> Outcome {
        classify::classify(request, response)
    }

    /// The repository (case-insensitive, as GitHub treats it), paced to the secondary limit
    /// on content-creating requests.
    fn destination(&self, config: &Value) -> Destination {
        match GithubConfig::parse(config) {
            Ok(config) => {
                Destination::new(Kind::Github, &config.full_name().to_lowercase(), Some(RATE))
            }
            Err(_) => Destination::new(Kind::Github, "", Some(RATE)),
        }
    }
}

fn resolved(ctx: &RenderContext<'_>) -> bool {
    !ctx.is_test() && Message::for_delivery(ctx).phase.is_over()
}

/// A stored external id is an issue number; anything else cannot be addressed.
fn issue_number(raw: &str) -> Result<u64, RenderError> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| RenderError::Unrenderable(format!("`{raw}` is not a GitHub issue number")))
}
