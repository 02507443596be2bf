//! What every provider shows of an event, worked out once: a title, a text, the phase of the
//! run or incident, a colour, the facts in a stable order, and the links to follow. Each
//! provider then lays this out in its own format and within its own limits.

use herald_domain::{Event, Severity};
use serde_json::Value;

/// Where a run or incident stands, read from the event's status and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The incident is over or the run succeeded: follow-ups resolve alerts and close issues.
    Resolved,
    /// A run waits for a person to approve it.
    AwaitingApproval,
    /// Something went wrong (failed, errored, rejected, cancelled).
    Failed,
    /// Anything else: started, running, a finding.
    Active,
}

/// Statuses (normalised: lower case, `-` and spaces as `_`) that mean the matter is over.
const RESOLVED: &[&str] = &[
    "resolved",
    "recovered",
    "ok",
    "closed",
    "succeeded",
    "success",
    "applied",
    "healthy",
    "passed",
    "completed",
];
const AWAITING_APPROVAL: &[&str] = &[
    "waiting_for_approval",
    "awaiting_approval",
    "pending_approval",
    "needs_approval",
    "unconfirmed",
];
const FAILED: &[&str] = &[
    "failed",
    "failure",
    "error",
    "errored",
    "rejected",
    "cancelled",
    "canceled",
    "down",
    "unhealthy",
    "critical",
];

fn normalise(status: &str) -> String {
    status.trim().to_lowercase().replace(['-', ' ', '.'], "_")
}

impl Phase {
    pub fn of(event: &Event) -> Phase {
        let status = event.status.as_deref().map(normalise);
        let event_type = event.event_type.to_lowercase();
        let in_list = |list: &[&str]| status.as_deref().is_some_and(|s| list.contains(&s));
        if in_list(RESOLVED) || event_type.ends_with("resolved") {
            Phase::Resolved
        } else if in_list(AWAITING_APPROVAL) || event_type.ends_with("waiting_for_approval") {
            Phase::AwaitingApproval
        } else if in_list(FAILED) || event_type.ends_with("failed") {
            Phase::Failed
        } else {
            Phase::Active
        }
    }
}

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

/// A link button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: &'static str,
    pub url: String,
    /// A short stable id for services that want one per button (Slack's action_id).
    pub id: &'static str,
}

/// The event as people should read it, independent of the destination's format.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Never empty: the event's title, or its type and target.
    pub title: String,
    /// The summary; may be empty.
    pub text: String,
    pub phase: Phase,
    pub severity: Option<Severity>,
    /// A human label for the status line, e.g. "waiting for approval"; empty if unknown.
    pub status: String,
    /// Name → value, in a stable order: the well-known facts first, then the event's own.
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

impl Message {
    pub fn of(event: &Event) -> Message {
        let title = match (&event.title, &event.target_id) {
            (Some(title), _) => title.clone(),
            (None, Some(target)) => format!("{} · {target}", event.event_type),
            (None, None) => event.event_type.clone(),
        };
        let phase = Phase::of(event);
        let mut facts: Vec<(String, String)> = Vec::new();
        if let Some(own) = &event.facts {
            for name in FIRST_FACTS {
                if let Some(value) = own.get(*name) {
                    facts.push((label(name), scalar(value)));
                }
            }
        }
        if let Some(environment) = &event.environment {
            facts.push(("Environment".into(), environment.clone()));
        }
        if let Some(target) = &event.target_id {
            if !facts.iter().any(|(_, v)| v == target) {
                facts.push(("Target".into(), target.clone()));
            }
        }
        if let Some(own) = &event.facts {
            for (name, value) in own {
                if !FIRST_FACTS.contains(&name.as_str()) {
                    facts.push((name.clone(), scalar(value)));
                }
            }
        }
        let mut links = Vec::new();
        if let Some(url) = &event.url {
            links.push(Link {
                label: "View run",
                url: url.clone(),
                id: "view_run",
            });
        }
        if phase == Phase::AwaitingApproval {
            if let Some(url) = &event.approve_url {
                links.push(Link {
                    label: "Approve run",
                    url: url.clone(),
                    id: "approve_run",
                });
            }
        }
        Message {
            title,
            text: event.summary.clone().unwrap_or_default(),
            phase,
            severity: event.severity,
            status: event
                .status
                .as_deref()
                .map(|s| normalise(s).replace('_', " "))
                .unwrap_or_default(),
            facts,
            links,
        }
    }

    /// Severity decides the colour when there is one; otherwise the phase does.
    pub fn colour(&self) -> Colour {
        if self.phase == Phase::Resolved {
            return Colour::GREEN;
        }
        match self.severity {
            Some(Severity::Critical | Severity::High) => Colour::RED,
            Some(Severity::Medium) => Colour::ORANGE,
            Some(Severity::Low) => Colour::YELLOW,
            Some(Severity::Info) => Colour::BLUE,
            None => match self.phase {
                Phase::Failed => Colour::RED,
                Phase::AwaitingApproval => Colour::YELLOW,
                Phase::Resolved => Colour::GREEN,
                Phase::Active => Colour::GREY,
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
        let phase = |v: Value| Phase::of(&event(v));
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
        assert_eq!(phase(json!({"type": "scan_done"})), Phase::Active);
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
