//! Snapshot tests of rendered messages (insta), so a change of what people see shows in
//! review: hostile text in the Markdown kinds, and every preset's phase and colour in the
//! chat kinds.

use herald_domain::catalogue::presets;
use herald_domain::{Kind, Phase};
use serde_json::{json, Value};

use crate::conformance::hostile_event;
use crate::examples::example_config;
use crate::present::{Colour, Message};
use crate::testing::Fixture;
use crate::{Registry, RegistryOptions};

/// The first request's JSON body, pretty.
fn rendered(kind: Kind, fixture: &Fixture) -> Vec<Value> {
    let registry = Registry::builtin(RegistryOptions::default());
    registry
        .get(kind)
        .unwrap()
        .render(&fixture.ctx(), &example_config(kind))
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.http().unwrap().body).unwrap_or(Value::Null))
        .collect()
}

fn hostile() -> Value {
    let mut event = hostile_event();
    event["occurred_at"] = json!("2026-07-01T12:00:00Z");
    event
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

#[test]
fn github_shows_hostile_text_as_typed() {
    let issue = rendered(Kind::Github, &Fixture::new(Kind::Github, hostile()));
    insta::assert_snapshot!("github_issue_hostile", issue[0]["body"].as_str().unwrap());
    assert_eq!(
        issue[0]["title"],
        "<b>x</b> *y* _z_ [l](https://e.example) @here @alice <!channel> &amp; | `",
        "an issue title is plain text"
    );
    let comment = Fixture::new(Kind::Github, hostile()).with_prior("7");
    let comment = rendered(Kind::Github, &comment);
    insta::assert_snapshot!(
        "github_comment_hostile",
        comment[0]["body"].as_str().unwrap()
    );
}

#[test]
fn discord_shows_hostile_text_as_typed() {
    let body = rendered(Kind::Discord, &Fixture::new(Kind::Discord, hostile()));
    insta::assert_snapshot!("discord_hostile", pretty(&body[0]));
}

#[test]
fn webex_shows_hostile_text_as_typed() {
    let body = rendered(Kind::Webex, &Fixture::new(Kind::Webex, hostile()));
    insta::assert_snapshot!(
        "webex_markdown_hostile",
        body[0]["markdown"].as_str().unwrap()
    );
    insta::assert_snapshot!(
        "webex_card_hostile",
        pretty(&body[0]["attachments"][0]["content"])
    );
}

/// The families whose presets must read right.
fn preset_ids() -> Vec<&'static str> {
    presets()
        .iter()
        .map(|p| p.def.id.as_str())
        .filter(|id| {
            id.starts_with("iac.run.")
                || id.starts_with("security.scan.")
                || id.starts_with("health.")
        })
        .collect()
}

/// The colour each phase must get when the event says nothing else.
fn expected_colour(phase: Phase) -> Colour {
    match phase {
        Phase::Succeeded | Phase::Resolved => Colour::GREEN,
        Phase::Failed => Colour::RED,
        Phase::Cancelled | Phase::Rejected | Phase::Open => Colour::ORANGE,
        Phase::AwaitingApproval => Colour::YELLOW,
        Phase::InProgress | Phase::Planned => Colour::BLUE,
        Phase::Notice => Colour::GREY,
    }
}

#[test]
fn every_preset_reads_with_its_phase_and_colour_in_slack_teams_chat_and_discord() {
    let mut table = String::from(
        "type | phase | slack: header / bar / label | teams: status (colour) | google chat: status | discord: colour / status\n",
    );
    for id in preset_ids() {
        let event = json!({"type": id, "title": "Run #44", "target_id": "net",
            "occurred_at": "2026-07-01T12:00:00Z"});
        let fixture = |kind| Fixture::new(kind, event.clone());
        let message = Message::of(&fixture(Kind::Slack).event);
        assert_ne!(message.phase, Phase::Notice, "{id} has a phase");
        assert!(!message.status.is_empty(), "{id} says where it stands");
        let colour = expected_colour(message.phase);
        assert_eq!(message.colour(), colour, "{id}");

        let slack = &rendered(Kind::Slack, &fixture(Kind::Slack))[0];
        let bar = &slack["attachments"][0];
        assert_eq!(bar["color"], colour.hex(), "{id}: slack");
        assert_ne!(bar["text"], "Open", "{id}: slack never says a bare Open");
        let header = slack["blocks"][0]["text"]["text"].as_str().unwrap();
        if !id.starts_with("health.") {
            assert!(!header.starts_with("Resolved"), "{id}: {header}");
        }

        let teams = &rendered(Kind::Teams, &fixture(Kind::Teams))[0];
        let status = &teams["attachments"][0]["content"]["body"][1]["inlines"][0];
        assert_eq!(status["color"], message.tone().adaptive(), "{id}: teams");
        assert!(status["text"].as_str().unwrap().starts_with("Status: "));

        let chat = &rendered(Kind::GoogleChat, &fixture(Kind::GoogleChat))[0];
        let chat_status = chat["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]
            ["text"]
            .as_str()
            .unwrap();
        assert!(chat_status.contains(&colour.hex()), "{id}: chat");

        let discord = &rendered(Kind::Discord, &fixture(Kind::Discord))[0];
        let embed = &discord["embeds"][0];
        assert_eq!(embed["color"], colour.int(), "{id}: discord");

        table.push_str(&format!(
            "{id} | {:?} | {header} / {} / {} | {} ({}) | {chat_status} | #{:06X} / {}\n",
            message.phase,
            bar["color"].as_str().unwrap(),
            bar["text"].as_str().unwrap_or("-"),
            status["text"].as_str().unwrap(),
            status["color"].as_str().unwrap(),
            embed["color"].as_u64().unwrap(),
            embed["description"].as_str().unwrap_or("-"),
        ));
    }
    insta::assert_snapshot!("preset_phases", table);
}

#[test]
fn run_statuses_read_as_runs_not_incidents() {
    // `herald emit --status applied` on a run: no "Resolved:", green, "Applied".
    for (status, label, colour) in [
        ("applied", "Applied", Colour::GREEN),
        ("completed", "Completed", Colour::GREEN),
        ("failed", "Failed", Colour::RED),
        (
            "waiting for approval",
            "Waiting for approval",
            Colour::YELLOW,
        ),
        ("cancelled", "Cancelled", Colour::ORANGE),
        ("rejected", "Rejected", Colour::ORANGE),
    ] {
        let event = json!({"type": "iac.run.applying", "title": "Run #44 applied",
            "status": status});
        let slack = &rendered(Kind::Slack, &Fixture::new(Kind::Slack, event))[0];
        assert_eq!(
            slack["blocks"][0]["text"]["text"], "Run #44 applied",
            "{status}"
        );
        assert_eq!(slack["attachments"][0]["text"], label, "{status}");
        assert_eq!(slack["attachments"][0]["color"], colour.hex(), "{status}");
    }
}
