use herald_domain::Severity;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::PagerDutyConfig;
use crate::present::{truncate_chars, Message, Phase};
use crate::{join, Outbound, OutboundRequest, RenderContext};

/// `dedup_key` is at most 255 characters.
pub(super) const MAX_DEDUP_KEY: usize = 255;
/// `payload.summary` is at most 1,024 characters.
pub(super) const MAX_SUMMARY: usize = 1024;
/// A whole event is at most 512 KB.
pub(super) const MAX_BODY_BYTES: usize = 512 * 1024;
/// What the event's own facts may take of the body; everything else is bounded far below the
/// rest (summary 1,024 characters, text 16,384, links and labels a few KB).
const FACTS_BUDGET_BYTES: usize = 256 * 1024;
/// One fact may not crowd out the others.
const MAX_FACT_CHARS: usize = 4096;
const MAX_TEXT_CHARS: usize = 16 * 1024;

/// The requests for one delivery: a trigger, or a resolve once the run or incident is over.
/// A connection test triggers an info alert and resolves it at once.
pub(super) fn requests(ctx: &RenderContext<'_>, config: &PagerDutyConfig) -> Vec<Outbound> {
    let url = join(&ctx.endpoints.pagerduty, "/v2/enqueue");
    let post = |body: Value| -> Outbound {
        let bytes = serde_json::to_vec(&body).expect("a JSON value serialises");
        OutboundRequest::post_json(url.clone(), bytes).into()
    };
    let message = Message::for_delivery(ctx);
    if ctx.is_test() {
        // Unique per test, so it never touches a real alert; visible to responders until the
        // resolve lands a moment later.
        let dedup_key = format!("herald-test:{}", ctx.target.delivery_id);
        let dedup_key = truncate_chars(&dedup_key, MAX_DEDUP_KEY);
        return vec![
            post(trigger(ctx, config, &message, &dedup_key, "info")),
            post(resolve(config, &dedup_key)),
        ];
    }
    let dedup_key = dedup_key(ctx);
    let body = if message.phase.is_over() {
        resolve(config, &dedup_key)
    } else {
        trigger(ctx, config, &message, &dedup_key, severity(&message))
    };
    vec![post(body)]
}

/// The alert's key: the one an earlier delivery of this correlation got back, else the
/// correlation key, else one per event. Always set by us, so a retried trigger lands on the
/// same alert instead of opening a second one.
pub(super) fn dedup_key(ctx: &RenderContext<'_>) -> String {
    if let Some(prior) = ctx.prior {
        if !prior.0.is_empty() && prior.0.chars().count() <= MAX_DEDUP_KEY {
            return prior.0.clone();
        }
    }
    match &ctx.event.correlation_key {
        Some(key) if key.chars().count() <= MAX_DEDUP_KEY => key.clone(),
        // Too long to send: a digest is as stable and cannot collide the way a cut would.
        Some(key) => format!("herald:{:x}", Sha256::digest(key.as_bytes())),
        None => format!("herald:{}", ctx.event.id),
    }
}

/// Herald severity to PagerDuty's four levels. Without a severity the phase decides: a failure
/// is an `error`, anything else `info`.
pub(super) fn severity(message: &Message) -> &'static str {
    match message.severity {
        Some(Severity::Critical) => "critical",
        Some(Severity::High) => "error",
        Some(Severity::Medium) => "warning",
        Some(Severity::Low | Severity::Info) => "info",
        None if message.phase == Phase::Failed => "error",
        None => "info",
    }
}

fn resolve(config: &PagerDutyConfig, dedup_key: &str) -> Value {
    json!({
        "routing_key": config.routing_key,
        "event_action": "resolve",
        "dedup_key": dedup_key,
    })
}

fn trigger(
    ctx: &RenderContext<'_>,
    config: &PagerDutyConfig,
    message: &Message,
    dedup_key: &str,
    severity: &str,
) -> Value {
    let event = ctx.event;
    let mut payload = Map::new();
    payload.insert(
        "summary".into(),
        truncate_chars(&message.headline(), MAX_SUMMARY).into(),
    );
    payload.insert(
        "source".into(),
        event.target_id.as_deref().unwrap_or("herald").into(),
    );
    payload.insert("severity".into(), severity.into());
    payload.insert("timestamp".into(), event.timestamp.clone().into());
    payload.insert("class".into(), event.event_type.clone().into());
    if let Some(environment) = &event.environment {
        payload.insert("group".into(), environment.clone().into());
    }
    let links: Vec<Value> = message
        .links
        .iter()
        .map(|link| json!({"href": link.url.as_str(), "text": link.label}))
        .collect();
    let body = |facts_budget| {
        let mut payload = payload.clone();
        let details = custom_details(ctx, message, facts_budget);
        payload.insert("custom_details".into(), details.into());
        json!({
            "routing_key": config.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": payload,
            "links": links,
            "client": "Herald",
        })
    };
    let full = body(FACTS_BUDGET_BYTES);
    // The budget already keeps the body far below the limit; this guard makes the limit a
    // property of the code rather than of that arithmetic: the facts go, not the event.
    if serde_json::to_vec(&full).map_or(0, |b| b.len()) > MAX_BODY_BYTES {
        return body(0);
    }
    full
}

/// Herald's own details first, then the facts as long as they fit the budget.
fn custom_details(
    ctx: &RenderContext<'_>,
    message: &Message,
    facts_budget: usize,
) -> Map<String, Value> {
    let event = ctx.event;
    let mut details = Map::new();
    if !message.text.is_empty() {
        details.insert(
            "Summary".into(),
            truncate_chars(&message.text, MAX_TEXT_CHARS).into(),
        );
    }
    if !message.status.is_empty() {
        details.insert("Status".into(), message.status.clone().into());
    }
    if let Some(environment) = &event.environment {
        details.insert("Environment".into(), environment.clone().into());
    }
    details.insert("Event ID".into(), event.id.clone().into());
    details.insert("Event type".into(), event.event_type.clone().into());
    if ctx.is_test() {
        details.insert(
            "Herald".into(),
            "connection test: this alert is resolved immediately".into(),
        );
    }
    let mut used = 0;
    let mut omitted = 0;
    for (name, value) in &message.facts {
        if details.contains_key(name) {
            continue;
        }
        let value = truncate_chars(value, MAX_FACT_CHARS);
        let cost = json_len(name) + json_len(&value) + 2;
        if used + cost > facts_budget {
            omitted += 1;
            continue;
        }
        used += cost;
        details.insert(name.clone(), value.into());
    }
    if omitted > 0 {
        details.insert(
            "Omitted".into(),
            format!("{omitted} more facts did not fit PagerDuty's size limit").into(),
        );
    }
    details
}

/// The bytes a string takes as JSON, escapes included.
fn json_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6, |s| s.len())
}
