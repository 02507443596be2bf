//! What every provider shows of an event, worked out once: a title, a text, the phase of the
//! run or incident, a colour, the facts in a stable order, and the links to follow. Each
//! provider then lays this out in its own format and within its own limits.

use herald_domain::status::stage_of;
use herald_domain::{Event, Severity, Stage};
use serde_json::{Map, Value};
use url::Url;

pub use herald_domain::Phase;

/// A colour in the three notations services use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub u32);

impl Colour {
    pub const GREEN: Colour = Colour(0x2EB67D);
    pub const RED: Colour = Colour(0xE01E5A);
    pub const ORANGE: Colour = Colour(0xF2952F);
    pub const YELLOW: Colour = Colour(0xECB22E);
    pub const BLUE: Colour = Colour(0x1D9BD1);
    pub const GREY: Colour = Colour(0x9E9EA6);

    /// `#rrggbb`
    pub fn hex(self) -> String {
        format!("#{:06X}", self.0)
    }

    /// `rrggbb`, as Teams' legacy themeColor wants.
    pub fn bare_hex(self) -> String {
        format!("{:06X}", self.0)
    }

    /// The integer Discord wants.
    pub fn int(self) -> u32 {
        self.0
    }
}

/// Adaptive Card and similar named styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Attention,
    Warning,
    Accent,
    Default,
}

impl Tone {
    /// Adaptive Card `color` / `style` name.
    pub fn adaptive(self) -> &'static str {
        match self {
            Tone::Good => "Good",
            Tone::Attention => "Attention",
            Tone::Warning => "Warning",
            Tone::Accent => "Accent",
            Tone::Default => "Default",
        }
    }
}

/// A link button. Herald builds it from a parsed URL; its label is Herald's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: &'static str,
    /// Parsed and in its canonical encoding (see [`herald_domain::link::normalise_link`]).
    pub url: Url,
    /// A short stable id for services that want one per button (Slack's action_id).
    pub id: &'static str,
}

/// The event as people should read it, independent of the destination's format. Every string
/// in it is plain text from the event (or Herald's own words): a renderer escapes it for its
/// format (see [`crate::markup`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Never empty: the event's title, or its type and target.
    pub title: String,
    /// The summary; may be empty.
    pub text: String,
    pub phase: Phase,
    /// The stage Herald read from the status or the type, if any.
    pub stage: Option<Stage>,
    pub severity: Option<Severity>,
    /// The status for people, e.g. "waiting for approval" or "applied": the stage's words
    /// for an understood status or a preset type, else the status as given; empty if unknown.
    pub status: String,
    /// Name → value, in a stable order: the target, the well-known facts, then the event's own.
    pub facts: Vec<(String, String)>,
    /// View run, and approve run while the run waits for approval.
    pub links: Vec<Link>,
}

/// Facts shown first when the event has them, in this order.
const FIRST_FACTS: &[&str] = &[
    "workspace",
    "organisation",
    "organization",
    "stack",
    "namespace",
    "module",
    "job",
    "commit",
    "branch",
];

/// Facts that name the target itself: left out when they repeat it, so the target is always
/// shown the same way, as "Target".
const TARGET_FACTS: &[&str] = &["workspace", "module", "target", "system"];

impl Message {
    /// The message for one event on its own.
    pub fn of(event: &Event) -> Message {
        Self::of_chain(event, &[])
    }

    /// The message for `event`, a follow-up of `earlier` (the same run or incident's earlier
    /// events, oldest first): it shows what the run has accumulated, the latest value of each
    /// fact, and keeps the target and the run's link when the follow-up does not repeat them.
    pub fn of_chain(event: &Event, earlier: &[Event]) -> Message {
        let latest = |field: fn(&Event) -> Option<&String>| {
            field(event)
                .or_else(|| earlier.iter().rev().find_map(field))
                .cloned()
        };
        let target = latest(|e| e.target_id.as_ref());
        let environment = latest(|e| e.environment.as_ref());
        let mut own = Map::new();
        for each in earlier.iter().chain(std::iter::once(event)) {
            for (name, value) in each.facts.iter().flatten() {
                own.insert(name.clone(), value.clone());
            }
        }
        let title = match (&event.title, &target) {
            (Some(title), _) => title.clone(),
            (None, Some(target)) => format!("{} · {target}", event.event_type),
            (None, None) => event.event_type.clone(),
        };
        let stage = stage_of(
            &event.event_type,
            event.status.as_deref(),
            event.data.as_ref(),
        );
        let phase = stage.map_or(Phase::Notice, |s| s.phase);
        let status = match (&event.status, stage) {
            (Some(status), _) if herald_domain::status::status_word(status).is_none() => {
                status.trim().to_owned()
            }
            (_, Some(stage)) => stage.words.to_owned(),
            (_, None) => String::new(),
        };
        let repeats_target = |name: &str, value: &Value| {
            target.as_deref().is_some_and(|t| scalar(value) == t)
                && TARGET_FACTS.contains(&name.to_lowercase().as_str())
        };
        let mut facts: Vec<(String, String)> = Vec::new();
        if let Some(target) = &target {
            facts.push(("Target".into(), target.clone()));
        }
        for name in FIRST_FACTS {
            if let Some(value) = own.get(*name) {
                if !repeats_target(name, value) {
                    facts.push((label(name), scalar(value)));
                }
            }
        }
        if let Some(environment) = &environment {
            facts.push(("Environment".into(), environment.clone()));
        }
        for (name, value) in &own {
            if !FIRST_FACTS.contains(&name.as_str()) && !repeats_target(name, value) {
                facts.push((name.clone(), scalar(value)));
            }
        }
        let mut links = Vec::new();
        if let Some(url) = latest(|e| e.url.as_ref()).as_deref().and_then(parsed) {
            links.push(Link {
                label: "View run",
                url,
                id: "view_run",
            });
        }
        if phase == Phase::AwaitingApproval {
            if let Some(url) = latest(|e| e.approve_url.as_ref())
                .as_deref()
                .and_then(parsed)
            {
                links.push(Link {
                    label: "Approve run",
                    url,
                    id: "approve_run",
                });
            }
        }
        Message {
            title,
            text: event.summary.clone().unwrap_or_default(),
            phase,
            stage,
            severity: event.severity,
            status,
            facts,
            links,
        }
    }

    /// The message for a delivery: the event as a follow-up of its chain's earlier events.
    pub fn for_delivery(ctx: &crate::RenderContext<'_>) -> Message {
        Self::of_chain(ctx.event, ctx.earlier)
    }

    /// While the matter is open, severity decides the colour when there is one, otherwise the
    /// phase does; once it is over (or failed), the outcome does.
    pub fn colour(&self) -> Colour {
        match self.phase {
            Phase::Succeeded | Phase::Resolved => return Colour::GREEN,
            Phase::Failed => return Colour::RED,
            Phase::Cancelled | Phase::Rejected => return Colour::ORANGE,
            _ => {}
        }
        match self.severity {
            Some(Severity::Critical | Severity::High) => Colour::RED,
            Some(Severity::Medium) => Colour::ORANGE,
            Some(Severity::Low) => Colour::YELLOW,
            Some(Severity::Info) => Colour::BLUE,
            None => match self.phase {
                Phase::AwaitingApproval => Colour::YELLOW,
                Phase::InProgress | Phase::Planned => Colour::BLUE,
                Phase::Open => Colour::ORANGE,
                _ => Colour::GREY,
            },
        }
    }

    pub fn tone(&self) -> Tone {
        match self.colour() {
            Colour::GREEN => Tone::Good,
            Colour::RED => Tone::Attention,
            Colour::ORANGE | Colour::YELLOW => Tone::Warning,
            Colour::BLUE => Tone::Accent,
            _ => Tone::Default,
        }
    }

    /// The stage as a label of its own, e.g. "Applied", "Waiting for approval"; the status
    /// as given when Herald does not know it; empty when nothing is known.
    pub fn phase_label(&self) -> String {
        let mut chars = self.status.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    }

    /// "[HIGH] title" style prefix, or the plain title without a severity.
    pub fn headline(&self) -> String {
        match self.severity {
            Some(severity) => format!("[{}] {}", severity.as_str().to_uppercase(), self.title),
            None => self.title.clone(),
        }
    }

    /// One line for the status, e.g. "Status: waiting for approval · Severity: high".
    pub fn status_line(&self) -> String {
        let mut parts = Vec::new();
        if !self.status.is_empty() {
            parts.push(format!("Status: {}", self.status));
        }
        if let Some(severity) = self.severity {
            parts.push(format!("Severity: {}", severity.as_str()));
        }
        parts.join(" · ")
    }

    /// Title, status, text, facts and links as plain text, for fallbacks and e-mail.
    pub fn plain_text(&self) -> String {
        let mut out = self.headline();
        let status = self.status_line();
        if !status.is_empty() {
            out.push('\n');
            out.push_str(&status);
        }
        if !self.text.is_empty() {
            out.push_str("\n\n");
            out.push_str(&self.text);
        }
        if !self.facts.is_empty() {
            out.push('\n');
            for (name, value) in &self.facts {
                out.push_str(&format!("\n{name}: {value}"));
            }
        }
        for link in &self.links {
            out.push_str(&format!("\n{}: {}", link.label, link.url));
        }
        out
    }
}

/// A stored link as Herald sends it; one that cannot be normalised (stored before links were
/// checked as strictly) is left out rather than sent raw.
fn parsed(raw: &str) -> Option<Url> {
    herald_domain::link::normalise_link(raw).ok()
}

fn label(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(serde::Serialize)]
struct Envelope<'a> {
    #[serde(flatten)]
    event: &'a Event,
    integration: IntegrationRef<'a>,
}

#[derive(serde::Serialize)]
struct IntegrationRef<'a> {
    id: &'a str,
    name: &'a str,
    kind: herald_domain::Kind,
}

/// The machine payload of webhook, custom and script: the stored event plus the integration
/// it went to. It depends on nothing else, so every retry sends the same bytes.
pub fn envelope_json(ctx: &crate::RenderContext<'_>) -> Vec<u8> {
    let envelope = Envelope {
        event: ctx.event,
        integration: IntegrationRef {
            id: &ctx.target.integration_id,
            name: &ctx.target.integration_name,
            kind: ctx.target.kind,
        },
    };
    serde_json::to_vec(&envelope).expect("the envelope serialises")
}

/// Fits a text and a list of facts into a size limit: `build(text_chars, facts_shown)` renders
/// with the text cut to that many characters and the first that many facts. The text is
/// halved until it fits without facts, then as many facts as still fit are kept, in order.
/// Returns the last rendering tried (which fits unless even the bare message cannot).
pub fn fit_text_and_facts<T>(
    text_chars: usize,
    facts: usize,
    build: impl Fn(usize, usize) -> T,
    fits: impl Fn(&T) -> bool,
) -> T {
    let mut text_max = text_chars;
    while text_max > 0 && !fits(&build(text_max, 0)) {
        text_max /= 2;
    }
    let mut shown = facts;
    loop {
        let rendered = build(text_max, shown);
        if shown == 0 || fits(&rendered) {
            return rendered;
        }
        shown -= 1;
    }
}

/// Cuts `text` to at most `max` characters, ending with `…` when it was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Cuts `text` to at most `max` bytes of UTF-8 on a character boundary, ending with `…`
/// (3 bytes) when it was cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    if max < 3 {
        return String::new();
    }
    let mut end = max - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use herald_domain::{EventId, EventInput};
    use serde_json::json;

    fn event(value: Value) -> Event {
        let new = serde_json::from_value::<EventInput>(value)
            .unwrap()
            .parse()
            .unwrap();
        Event::from_new(&EventId::generate(), &new, Utc::now())
    }

    #[test]
    fn phases_follow_status_and_type() {
        let phase = |v: Value| Message::of(&event(v)).phase;
        assert_eq!(
            phase(json!({"type": "x", "status": "Waiting for approval"})),
            Phase::AwaitingApproval
        );
        assert_eq!(
            phase(json!({"type": "x", "status": "resolved"})),
            Phase::Resolved
        );
        assert_eq!(
            phase(json!({"type": "health.incident.resolved"})),
            Phase::Resolved
        );
        assert_eq!(phase(json!({"type": "iac.run.failed"})), Phase::Failed);
        assert_eq!(phase(json!({"type": "scan_done"})), Phase::Succeeded);
        assert_eq!(phase(json!({"type": "acme.thing"})), Phase::Notice);
    }

    #[test]
    fn finished_runs_read_as_finished() {
        for (input, status, label, colour) in [
            (
                json!({"type": "iac.run.applied"}),
                "applied",
                "Applied",
                Colour::GREEN,
            ),
            (
                json!({"type": "iac.run.cancelled"}),
                "cancelled",
                "Cancelled",
                Colour::ORANGE,
            ),
            (
                json!({"type": "iac.run.rejected"}),
                "rejected",
                "Rejected",
                Colour::ORANGE,
            ),
            (
                json!({"type": "x", "status": "COMPLETED"}),
                "completed",
                "Completed",
                Colour::GREEN,
            ),
            (
                json!({"type": "iac.run.applying", "status": "applied"}),
                "applied",
                "Applied",
                Colour::GREEN,
            ),
        ] {
            let message = Message::of(&event(input.clone()));
            assert_eq!(message.status, status, "{input}");
            assert_eq!(message.phase_label(), label, "{input}");
            assert_eq!(message.colour(), colour, "{input}");
            assert_ne!(
                message.phase,
                Phase::Resolved,
                "{input}: a run is not an incident"
            );
        }
        let unknown = Message::of(&event(json!({"type": "x", "status": "Scanning 40%"})));
        assert_eq!(
            unknown.status, "Scanning 40%",
            "an unknown status is shown as given"
        );
    }

    #[test]
    fn a_follow_up_keeps_what_the_run_accumulated() {
        let planning = event(json!({"type": "iac.run.planning", "target_id": "net",
            "url": "https://ci.example/runs/44",
            "facts": {"workspace": "net", "commit": "abc123", "plan": "+2 ~1"}}));
        let applied = event(json!({"type": "iac.run.applied", "target_id": "net",
            "facts": {"plan": "+2 ~1 -0", "duration": "41s"}}));
        let message = Message::of_chain(&applied, &[planning]);
        assert_eq!(
            message.facts,
            vec![
                ("Target".to_owned(), "net".to_owned()),
                ("Commit".to_owned(), "abc123".to_owned()),
                ("plan".to_owned(), "+2 ~1 -0".to_owned()),
                ("duration".to_owned(), "41s".to_owned()),
            ]
        );
        assert_eq!(message.links[0].url.as_str(), "https://ci.example/runs/44");
        // The same target reads the same on its own.
        let alone = Message::of(&event(
            json!({"type": "iac.run.applied", "target_id": "net"}),
        ));
        assert_eq!(alone.facts, vec![("Target".to_owned(), "net".to_owned())]);
    }

    #[test]
    fn approve_link_only_while_waiting() {
        let waiting = Message::of(&event(
            json!({"type": "x", "status": "waiting_for_approval",
            "url": "https://ci.example/run/1", "approve_url": "https://ci.example/run/1/approve"}),
        ));
        let labels: Vec<_> = waiting.links.iter().map(|l| l.label).collect();
        assert_eq!(labels, ["View run", "Approve run"]);
        let done = Message::of(&event(json!({"type": "x", "status": "applied",
            "url": "https://ci.example/run/1", "approve_url": "https://ci.example/run/1/approve"})));
        assert_eq!(done.links.len(), 1);
        assert_eq!(done.colour(), Colour::GREEN);
    }

    #[test]
    fn facts_put_the_well_known_first() {
        let message = Message::of(&event(json!({"type": "x", "environment": "prod",
            "facts": {"zeta": 1, "commit": "abc123", "workspace": "net"}})));
        assert_eq!(
            message.facts,
            vec![
                ("Workspace".to_owned(), "net".to_owned()),
                ("Commit".to_owned(), "abc123".to_owned()),
                ("Environment".to_owned(), "prod".to_owned()),
                ("zeta".to_owned(), "1".to_owned()),
            ]
        );
    }

    #[test]
    fn truncation_respects_characters_and_bytes() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
        assert_eq!(truncate_bytes("ééé", 5), "é…");
        assert_eq!(truncate_bytes("abcdef", 5), "ab…");
        assert!(truncate_bytes(&"é".repeat(100), 51).len() <= 51);
    }
}
