use chrono::DateTime;
use serde_json::{json, Map, Value};

use super::SplunkConfig;
use crate::present::truncate_chars;
use crate::{Method, Outbound, OutboundRequest, RenderContext};

/// HEC's request limit is the server's `max_content_length`, not published as a default;
/// providers.md advises staying under about 1 MB.
pub(super) const MAX_BODY_BYTES: usize = 1_000_000;
const DEFAULT_SOURCETYPE: &str = "_json";
const TEST_SOURCETYPE: &str = "herald:test";
/// A fact value kept when the event is too big to send whole.
const CUT_FACT_CHARS: usize = 1_024;

/// One event (and, for a connection test, the health check before it). HEC events are
/// immutable and carry no id, so a follow-up is simply the next event with the new status.
pub(super) fn requests(ctx: &RenderContext<'_>, config: &SplunkConfig) -> Vec<Outbound> {
    let auth = format!("Splunk {}", config.token);
    let body = serde_json::to_vec(&hec_event(ctx, config)).expect("a JSON value serialises");
    let post = OutboundRequest::post_json(config.event_url(), body)
        .header("authorization", auth.clone())
        .into();
    if ctx.is_test() {
        // Health proves the collector is reachable; only the event proves token and index.
        let health = OutboundRequest::new(Method::Get, config.health_url())
            .header("authorization", auth)
            .into();
        return vec![health, post];
    }
    vec![post]
}

fn hec_event(ctx: &RenderContext<'_>, config: &SplunkConfig) -> Value {
    let event = ctx.event;
    let mut hec = Map::new();
    let time = DateTime::parse_from_rfc3339(&event.timestamp)
        .or_else(|_| DateTime::parse_from_rfc3339(&event.received_at))
        .ok();
    if let Some(time) = time {
        // Epoch seconds with milliseconds, as HEC's `time` takes them.
        hec.insert(
            "time".into(),
            json!(time.timestamp_millis() as f64 / 1000.0),
        );
    }
    // The system the event is about, which is what Splunk's `host` means.
    if let Some(target) = &event.target_id {
        hec.insert("host".into(), target.clone().into());
    }
    hec.insert("source".into(), "herald".into());
    let sourcetype = if ctx.is_test() {
        TEST_SOURCETYPE
    } else {
        config.sourcetype.as_deref().unwrap_or(DEFAULT_SOURCETYPE)
    };
    hec.insert("sourcetype".into(), sourcetype.into());
    if let Some(index) = &config.index {
        hec.insert("index".into(), index.clone().into());
    }
    hec.insert("event".into(), envelope(ctx));
    hec.insert(
        "fields".into(),
        json!({"herald_event_id": event.id, "herald_event_type": event.event_type}),
    );
    let mut hec = Value::Object(hec);
    shrink(&mut hec);
    hec
}

/// The same envelope the webhook provider posts: the event plus the integration it went to.
fn envelope(ctx: &RenderContext<'_>) -> Value {
    serde_json::from_slice(&crate::present::envelope_json(ctx)).unwrap_or_default()
}

/// Keeps the request under [`MAX_BODY_BYTES`]: drops the free-form `data` first, then cuts
/// fact values, then drops the facts, noting each step in `event.herald_truncated`. Every
/// other field is bounded well below the limit when the event is accepted.
fn shrink(hec: &mut Value) {
    let size = |v: &Value| serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    type Step = fn(&mut Map<String, Value>);
    let steps: [(&str, Step); 3] = [
        ("data", |e| {
            e.remove("data");
        }),
        ("facts cut", |e| {
            if let Some(Value::Object(facts)) = e.get_mut("facts") {
                for value in facts.values_mut() {
                    if let Value::String(s) = value {
                        *s = truncate_chars(s, CUT_FACT_CHARS);
                    }
                }
            }
        }),
        ("facts", |e| {
            e.remove("facts");
        }),
    ];
    let mut done: Vec<&str> = Vec::new();
    for (name, step) in steps {
        if size(hec) <= MAX_BODY_BYTES {
            break;
        }
        if let Some(Value::Object(event)) = hec.get_mut("event") {
            step(event);
            done.push(name);
            event.insert("herald_truncated".into(), json!(done));
        }
    }
}
