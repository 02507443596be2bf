use herald_domain::Severity;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::OpsgenieConfig;
use crate::present::{truncate_chars, Message, Phase};
use crate::{join, Method, Outbound, OutboundRequest, RenderContext, RenderError};

pub(super) const MAX_MESSAGE: usize = 130;
pub(super) const MAX_ALIAS: usize = 512;
pub(super) const MAX_DESCRIPTION: usize = 15_000;
pub(super) const MAX_ENTITY: usize = 512;
pub(super) const MAX_NOTE: usize = 25_000;
/// `details` in total, keys and values, counted in characters (an unconfirmed limit).
pub(super) const MAX_DETAILS_CHARS: usize = 8_000;
pub(super) const MAX_TAGS: usize = 20;
pub(super) const MAX_TAG: usize = 50;
/// One detail may not crowd out the others.
const MAX_DETAIL_VALUE: usize = 1_000;

/// Opening (or de-duplicating into) the alert for this correlation, closing it once the run or
/// incident is over, or, for a connection test, looking up a request id that cannot exist.
pub(super) fn requests(
    ctx: &RenderContext<'_>,
    config: &OpsgenieConfig,
) -> Result<Vec<Outbound>, RenderError> {
    let base = config.base(ctx.endpoints);
    let auth = format!("GenieKey {}", config.api_key);
    if ctx.is_test() {
        let url = with_segments(
            join(base, "/v2/alerts/requests"),
            &[&probe_id(&ctx.target.delivery_id)],
        )?;
        let request = OutboundRequest::new(Method::Get, url).header("authorization", auth);
        return Ok(vec![request.into()]);
    }
    let message = Message::for_delivery(ctx);
    let alias = alias(ctx);
    let request = if message.phase.is_over() {
        let mut url = with_segments(join(base, "/v2/alerts"), &[&alias, "close"])?;
        // Without it Opsgenie reads the alias as an alert id and answers 404.
        url.query_pairs_mut().append_pair("identifierType", "alias");
        let body = json!({
            "user": "Herald",
            "source": "Herald",
            "note": truncate_chars(&message.plain_text(), MAX_NOTE),
        });
        OutboundRequest::post_json(url, to_vec(&body))
    } else {
        let body = create(ctx, &message, &alias);
        OutboundRequest::post_json(join(base, "/v2/alerts"), to_vec(&body))
    };
    Ok(vec![request.header("authorization", auth).into()])
}

fn to_vec(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).expect("a JSON value serialises")
}

/// Appends percent-encoded path segments (an alias may hold `/`, `?` or `#`).
fn with_segments(mut url: url::Url, segments: &[&str]) -> Result<url::Url, RenderError> {
    url.path_segments_mut()
        .map_err(|()| RenderError::Unrenderable("the Opsgenie base URL cannot take a path".into()))?
        .extend(segments);
    Ok(url)
}

/// The alert's alias: the one an earlier delivery of this correlation got back, else the
/// correlation key, else one per event. Only one open alert exists per alias, so a retried
/// create de-duplicates instead of opening a second alert.
pub(super) fn alias(ctx: &RenderContext<'_>) -> String {
    if let Some(prior) = ctx.prior {
        if usable_alias(&prior.0) {
            return prior.0.clone();
        }
    }
    match &ctx.event.correlation_key {
        Some(key) if usable_alias(key) => key.clone(),
        // Too long, or `.`/`..`, which cannot be a path segment: a stable digest instead.
        Some(key) => format!("herald:{:x}", Sha256::digest(key.as_bytes())),
        None => format!("herald:{}", ctx.event.id),
    }
}

fn usable_alias(alias: &str) -> bool {
    !alias.is_empty() && !matches!(alias, "." | "..") && alias.chars().count() <= MAX_ALIAS
}

/// A UUID derived from the delivery id: unique per test, and rendering stays pure.
fn probe_id(delivery_id: &str) -> String {
    let digest = Sha256::digest(format!("herald-opsgenie-probe:{delivery_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Herald severity to Opsgenie priority. Without a severity the phase decides, as for
/// PagerDuty: a failure is P2 (like `high`), anything else P5 (like `info`).
pub(super) fn priority(message: &Message) -> &'static str {
    match message.severity {
        Some(Severity::Critical) => "P1",
        Some(Severity::High) => "P2",
        Some(Severity::Medium) => "P3",
        Some(Severity::Low) => "P4",
        Some(Severity::Info) => "P5",
        None if message.phase == Phase::Failed => "P2",
        None => "P5",
    }
}

fn create(ctx: &RenderContext<'_>, message: &Message, alias: &str) -> Value {
    let event = ctx.event;
    let mut body = Map::new();
    body.insert(
        "message".into(),
        truncate_chars(&message.headline(), MAX_MESSAGE).into(),
    );
    body.insert("alias".into(), alias.into());
    body.insert(
        "description".into(),
        truncate_chars(&message.plain_text(), MAX_DESCRIPTION).into(),
    );
    body.insert("details".into(), details(ctx, message).into());
    if let Some(target) = &event.target_id {
        body.insert("entity".into(), truncate_chars(target, MAX_ENTITY).into());
    }
    body.insert("source".into(), "Herald".into());
    body.insert("priority".into(), priority(message).into());
    body.insert("tags".into(), tags(ctx, message).into());
    Value::Object(body)
}

fn tags(ctx: &RenderContext<'_>, message: &Message) -> Vec<String> {
    let mut candidates = vec!["herald".to_owned(), ctx.event.event_type.clone()];
    candidates.extend(ctx.event.environment.clone());
    candidates.extend(message.severity.map(|s| s.as_str().to_owned()));
    let mut tags: Vec<String> = Vec::new();
    for tag in candidates {
        let tag = truncate_chars(tag.trim(), MAX_TAG);
        if !tag.is_empty() && !tags.contains(&tag) && tags.len() < MAX_TAGS {
            tags.push(tag);
        }
    }
    tags
}

/// Herald's own details, the links, then the facts, while the total fits.
fn details(ctx: &RenderContext<'_>, message: &Message) -> Map<String, Value> {
    let event = ctx.event;
    let mut details = Details::default();
    details.add("Event ID", &event.id, false);
    details.add("Event type", &event.event_type, false);
    if !message.status.is_empty() {
        details.add("Status", &message.status, false);
    }
    for link in &message.links {
        // A cut URL is a broken link: leave it out instead.
        details.add(link.label, link.url.as_str(), false);
    }
    for (name, value) in &message.facts {
        details.add(name, value, true);
    }
    details.finish()
}

#[derive(Default)]
struct Details {
    map: Map<String, Value>,
    used: usize,
    omitted: usize,
}

/// Room kept for the note saying facts were left out.
const OMITTED_NOTE_ROOM: usize = 64;

impl Details {
    fn add(&mut self, name: &str, value: &str, may_cut: bool) {
        if self.map.contains_key(name) {
            return;
        }
        let value = if may_cut {
            truncate_chars(value, MAX_DETAIL_VALUE)
        } else {
            value.to_owned()
        };
        let cost = name.chars().count() + value.chars().count();
        if self.used + cost > MAX_DETAILS_CHARS - OMITTED_NOTE_ROOM {
            self.omitted += 1;
            return;
        }
        self.used += cost;
        self.map.insert(name.to_owned(), value.into());
    }

    fn finish(mut self) -> Map<String, Value> {
        if self.omitted > 0 {
            let note = format!("{} more details did not fit", self.omitted);
            self.map.insert("Omitted".into(), note.into());
        }
        self.map
    }
}
