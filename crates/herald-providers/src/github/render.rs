//! The requests of GitHub's REST API (Issues) that Herald sends.

use serde_json::{json, Value};

use super::markdown;
use super::GithubConfig;
use crate::present::{truncate_chars, Message};
use crate::{join, Method, OutboundRequest, RenderContext};

/// GitHub's limit for an issue title, in characters.
pub const MAX_TITLE_CHARS: usize = 256;
pub const API_VERSION: &str = "2022-11-28";
/// GitHub rejects requests without a User-Agent; the sender sets the same one.
pub const USER_AGENT: &str = concat!("Herald/", env!("CARGO_PKG_VERSION"));

fn request(
    ctx: &RenderContext<'_>,
    config: &GithubConfig,
    method: Method,
    path: &str,
) -> OutboundRequest {
    let base = config.api_url.as_ref().unwrap_or(&ctx.endpoints.github);
    let path = format!("repos/{}/{}{path}", config.owner, config.name);
    OutboundRequest::new(method, join(base, &path))
        .header("authorization", format!("Bearer {}", config.token.expose()))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", API_VERSION)
        .header("user-agent", USER_AGENT)
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value serialises")
}

/// `POST /repos/{owner}/{repo}/issues`: the first event of a correlation key opens an issue.
pub fn create(ctx: &RenderContext<'_>, config: &GithubConfig) -> OutboundRequest {
    let message = Message::for_delivery(ctx);
    let title = match markdown::one_line(&message.headline()).as_str() {
        "" => ctx.event.event_type.clone(),
        headline => headline.to_owned(),
    };
    let issue = json!({
        "title": truncate_chars(&title, MAX_TITLE_CHARS),
        "body": markdown::body(&message, None),
        "labels": ["herald"],
    });
    request(ctx, config, Method::Post, "/issues").json_body(body(&issue))
}

/// `POST …/issues/{number}/comments`: a follow-up of the same run or incident.
pub fn comment(ctx: &RenderContext<'_>, config: &GithubConfig, number: u64) -> OutboundRequest {
    let message = Message::for_delivery(ctx);
    let text = markdown::body(&message, Some(&message.headline()));
    request(
        ctx,
        config,
        Method::Post,
        &format!("/issues/{number}/comments"),
    )
    .json_body(body(&json!({"body": text})))
}

/// `PATCH …/issues/{number}`: closes the issue once the matter is over.
/// A run cancelled or rejected is closed as "not planned" rather than "completed".
pub fn close(ctx: &RenderContext<'_>, config: &GithubConfig, number: u64) -> OutboundRequest {
    let reason = if Message::for_delivery(ctx).phase.ended_unfinished() {
        "not_planned"
    } else {
        "completed"
    };
    request(ctx, config, Method::Patch, &format!("/issues/{number}"))
        .json_body(body(&json!({"state": "closed", "state_reason": reason})))
}

/// `GET /repos/{owner}/{repo}`: the connection test. It proves the token and shows, for user
/// tokens, whether it may push (write) to the repository, without opening an issue.
pub fn repository(ctx: &RenderContext<'_>, config: &GithubConfig) -> OutboundRequest {
    request(ctx, config, Method::Get, "")
}
