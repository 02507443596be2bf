//! Where a run, scan or incident stands. The status words Herald understands, and the stage
//! each preset event type stands for, are defined here once; renderers, the README and
//! `herald emit --help` all take them from this module.

/// The class of a stage: what colour it gets and how follow-ups act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Under way: queued, planning, applying, a scan running, a maintenance window open.
    InProgress,
    /// A run's plan is ready; the run may go on to approval or apply.
    Planned,
    /// A run waits for a person to approve it.
    AwaitingApproval,
    /// Finished as intended: a run applied or completed, a scan done.
    Succeeded,
    /// A run or scan failed, or a system is down.
    Failed,
    /// A run was stopped before it finished.
    Cancelled,
    /// A person rejected a run's plan.
    Rejected,
    /// A problem is open: an incident, a finding, a degraded system.
    Open,
    /// A problem is over: an incident resolved, a system healthy again, maintenance ended.
    Resolved,
    /// Nothing known: a type Herald has no stage for and no status it understands.
    Notice,
}

impl Phase {
    /// The matter is over: follow-ups resolve alerts and close issues.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            Phase::Succeeded | Phase::Resolved | Phase::Cancelled | Phase::Rejected
        )
    }

    /// Over without doing what it set out to do (closes an issue as "not planned").
    pub fn ended_unfinished(self) -> bool {
        matches!(self, Phase::Cancelled | Phase::Rejected)
    }

    /// A person should look now (a thread reply or a fresh post, not only an edit).
    pub fn needs_a_person(self) -> bool {
        matches!(self, Phase::AwaitingApproval | Phase::Failed)
    }
}

/// A stage: its class and the words people read, e.g. `(Succeeded, "applied")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub phase: Phase,
    /// Lower case, e.g. "waiting for approval"; capitalise it for a label of its own.
    pub words: &'static str,
}

impl Stage {
    const fn new(phase: Phase, words: &'static str) -> Self {
        Self { phase, words }
    }

    /// The words with a capital first letter, e.g. "Waiting for approval".
    pub fn label(&self) -> String {
        capitalised(self.words)
    }
}

/// A status word Herald understands: its canonical spelling, the spellings that mean the same,
/// and its stage.
#[derive(Debug, Clone, Copy)]
pub struct StatusWord {
    pub word: &'static str,
    pub aliases: &'static [&'static str],
    pub stage: Stage,
}

const fn word(
    word: &'static str,
    aliases: &'static [&'static str],
    phase: Phase,
    words: &'static str,
) -> StatusWord {
    StatusWord {
        word,
        aliases,
        stage: Stage::new(phase, words),
    }
}

/// Every status word Herald understands, compared after lower-casing and reading `-`, `.`
/// and spaces as `_` (so `COMPLETED`, `Waiting for approval` and `waiting-for-approval` all
/// count). Any other status is shown as given, and the stage comes from the event type.
pub const STATUS_WORDS: &[StatusWord] = &[
    word("queued", &["pending"], Phase::InProgress, "queued"),
    word("planning", &[], Phase::InProgress, "planning"),
    word("planned", &["plan_finished"], Phase::Planned, "planned"),
    word(
        "waiting_for_approval",
        &[
            "awaiting_approval",
            "pending_approval",
            "needs_approval",
            "unconfirmed",
        ],
        Phase::AwaitingApproval,
        "waiting for approval",
    ),
    word("applying", &[], Phase::InProgress, "applying"),
    word(
        "running",
        &["in_progress", "started"],
        Phase::InProgress,
        "running",
    ),
    word("applied", &[], Phase::Succeeded, "applied"),
    word(
        "completed",
        &[
            "complete",
            "succeeded",
            "success",
            "passed",
            "done",
            "finished",
        ],
        Phase::Succeeded,
        "completed",
    ),
    word(
        "failed",
        &["failure", "error", "errored"],
        Phase::Failed,
        "failed",
    ),
    word(
        "cancelled",
        &["canceled", "aborted"],
        Phase::Cancelled,
        "cancelled",
    ),
    word("rejected", &["discarded"], Phase::Rejected, "rejected"),
    word(
        "open",
        &["opened", "triggered", "firing"],
        Phase::Open,
        "open",
    ),
    word("degraded", &["warning"], Phase::Open, "degraded"),
    word(
        "down",
        &["unhealthy", "critical", "outage"],
        Phase::Failed,
        "down",
    ),
    word(
        "resolved",
        &["recovered", "closed"],
        Phase::Resolved,
        "resolved",
    ),
    word("healthy", &["ok", "up"], Phase::Resolved, "healthy"),
];

/// The stage of each preset type of the catalogue (by canonical id).
const PRESET_STAGES: &[(&str, Stage)] = &[
    ("iac.run.queued", Stage::new(Phase::InProgress, "queued")),
    (
        "iac.run.planning",
        Stage::new(Phase::InProgress, "planning"),
    ),
    (
        "iac.run.plan_finished",
        Stage::new(Phase::Planned, "planned"),
    ),
    (
        "iac.run.waiting_for_approval",
        Stage::new(Phase::AwaitingApproval, "waiting for approval"),
    ),
    (
        "iac.run.applying",
        Stage::new(Phase::InProgress, "applying"),
    ),
    ("iac.run.applied", Stage::new(Phase::Succeeded, "applied")),
    ("iac.run.failed", Stage::new(Phase::Failed, "failed")),
    (
        "iac.run.cancelled",
        Stage::new(Phase::Cancelled, "cancelled"),
    ),
    ("iac.run.rejected", Stage::new(Phase::Rejected, "rejected")),
    (
        "security.scan.started",
        Stage::new(Phase::InProgress, "scan started"),
    ),
    (
        "security.scan.done",
        Stage::new(Phase::Succeeded, "scan done"),
    ),
    (
        "security.scan.failed",
        Stage::new(Phase::Failed, "scan failed"),
    ),
    (
        "security.scan.finding_new",
        Stage::new(Phase::Open, "new finding"),
    ),
    (
        "security.scan.finding_changed",
        Stage::new(Phase::Open, "finding changed"),
    ),
    (
        "health.state_changed",
        Stage::new(Phase::Open, "state changed"),
    ),
    (
        "health.incident.created",
        Stage::new(Phase::Open, "incident open"),
    ),
    (
        "health.incident.resolved",
        Stage::new(Phase::Resolved, "resolved"),
    ),
    (
        "health.maintenance.started",
        Stage::new(Phase::InProgress, "maintenance started"),
    ),
    (
        "health.maintenance.ended",
        Stage::new(Phase::Resolved, "maintenance ended"),
    ),
    ("herald.test", Stage::new(Phase::Notice, "test")),
    (
        "herald.approval.decided",
        Stage::new(Phase::Notice, "decided"),
    ),
    (
        "herald.integration.failing",
        Stage::new(Phase::Open, "failing"),
    ),
    (
        "herald.integration.disabled",
        Stage::new(Phase::Failed, "disabled"),
    ),
    (
        "herald.delivery.exhausted",
        Stage::new(Phase::Failed, "delivery failed"),
    ),
];

/// `status` lower-cased, with `-`, `.` and spaces read as `_`.
fn normalise(status: &str) -> String {
    status.trim().to_lowercase().replace(['-', ' ', '.'], "_")
}

/// The status word `status` spells, if Herald understands it.
pub fn status_word(status: &str) -> Option<&'static StatusWord> {
    let status = normalise(status);
    STATUS_WORDS
        .iter()
        .find(|w| w.word == status || w.aliases.contains(&status.as_str()))
}

/// The stage a preset type stands for, by id or alias.
pub fn preset_stage(event_type: &str) -> Option<Stage> {
    let id = crate::catalogue::canonical(event_type);
    PRESET_STAGES
        .iter()
        .find(|(preset, _)| *preset == id)
        .map(|(_, stage)| *stage)
}

/// Where an event stands: an understood status wins, then the stage of its preset type (a
/// health state change by the state it went to), then a status word that ends the type's id
/// (`acme.deploy.failed`). `None` when none of these says anything.
pub fn stage_of(
    event_type: &str,
    status: Option<&str>,
    data: Option<&serde_json::Value>,
) -> Option<Stage> {
    if let Some(word) = status.and_then(status_word) {
        return Some(word.stage);
    }
    let id = crate::catalogue::canonical(event_type);
    if id == "health.state_changed" {
        let to = data.and_then(|d| d.get("to")).and_then(|v| v.as_str());
        if let Some(word) = to.and_then(status_word) {
            return Some(word.stage);
        }
    }
    if let Some(stage) = preset_stage(id) {
        return Some(stage);
    }
    let last = id.rsplit(['.', ':']).next().unwrap_or(id);
    status_word(last).map(|w| w.stage)
}

/// The status words by stage class, one line each ("  succeeded: applied, completed, …"),
/// for `herald emit --help`; the README lists the same (a test keeps them in step).
pub fn status_help() -> String {
    let mut lines: Vec<(Phase, Vec<String>)> = Vec::new();
    for word in STATUS_WORDS {
        let mut spellings = vec![word.word.replace('_', " ")];
        spellings.extend(word.aliases.iter().map(|a| a.replace('_', " ")));
        match lines
            .iter_mut()
            .find(|(phase, _)| *phase == word.stage.phase)
        {
            Some((_, words)) => words.extend(spellings),
            None => lines.push((word.stage.phase, spellings)),
        }
    }
    lines
        .into_iter()
        .map(|(phase, words)| format!("  {}: {}", phase_name(phase), words.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A short name of a class, for documentation.
pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::InProgress => "in progress",
        Phase::Planned => "planned",
        Phase::AwaitingApproval => "waiting for approval",
        Phase::Succeeded => "succeeded",
        Phase::Failed => "failed",
        Phase::Cancelled => "cancelled",
        Phase::Rejected => "rejected",
        Phase::Open => "open problem",
        Phase::Resolved => "resolved",
        Phase::Notice => "notice",
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_preset_has_a_stage_and_every_stage_a_preset() {
        for preset in crate::catalogue::presets() {
            assert!(
                preset_stage(&preset.def.id).is_some(),
                "{} has no stage",
                preset.def.id
            );
        }
        for (id, _) in PRESET_STAGES {
            assert!(crate::catalogue::preset(id).is_some(), "{id} is no preset");
        }
    }

    #[test]
    fn the_seed_statuses_are_understood() {
        // Seed 001: completed, failed, waiting for approval, cancelled, rejected.
        let phase = |s: &str| status_word(s).map(|w| w.stage.phase);
        assert_eq!(phase("COMPLETED"), Some(Phase::Succeeded));
        assert_eq!(phase("failed"), Some(Phase::Failed));
        assert_eq!(phase("Waiting for approval"), Some(Phase::AwaitingApproval));
        assert_eq!(phase("waiting-for-approval"), Some(Phase::AwaitingApproval));
        assert_eq!(phase("cancelled"), Some(Phase::Cancelled));
        assert_eq!(phase("canceled"), Some(Phase::Cancelled));
        assert_eq!(phase("rejected"), Some(Phase::Rejected));
        assert_eq!(phase("applied"), Some(Phase::Succeeded));
        assert_eq!(phase("scanning 40%"), None);
    }

    #[test]
    fn the_stage_comes_from_status_then_type() {
        let stage = |t: &str, s: Option<&str>| stage_of(t, s, None).map(|s| (s.phase, s.words));
        assert_eq!(
            stage("iac.run.applied", None),
            Some((Phase::Succeeded, "applied"))
        );
        assert_eq!(
            stage("iac.run.cancelled", None),
            Some((Phase::Cancelled, "cancelled"))
        );
        assert_eq!(
            stage("scan_done", None),
            Some((Phase::Succeeded, "scan done"))
        );
        assert_eq!(
            stage("iac.run.applying", Some("failed")),
            Some((Phase::Failed, "failed"))
        );
        assert_eq!(
            stage("iac.run.applied", Some("something else")),
            Some((Phase::Succeeded, "applied"))
        );
        assert_eq!(
            stage("acme.deploy.failed", None),
            Some((Phase::Failed, "failed"))
        );
        assert_eq!(stage("acme.deploy", None), None);
        let healthy = json!({"from": "down", "to": "healthy"});
        assert_eq!(
            stage_of("health.state_changed", None, Some(&healthy)).map(|s| s.phase),
            Some(Phase::Resolved)
        );
    }

    #[test]
    fn the_help_and_the_readme_name_every_word() {
        let help = status_help();
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
        for word in STATUS_WORDS {
            for spelling in std::iter::once(&word.word).chain(word.aliases) {
                let spelling = spelling.replace('_', " ");
                assert!(help.contains(&spelling), "{spelling}: {help}");
                assert!(
                    readme.contains(&format!("`{spelling}`")),
                    "the README lists the status `{spelling}`"
                );
            }
        }
        assert!(help.starts_with("  in progress: queued, pending"), "{help}");
    }
}
