//! Interactive actions of the Slack app: the Approve and Reject buttons on a message about a
//! run waiting for approval, and the edit that records a decision on that message.
//!
//! Only workspaces connected with Add to Slack get the buttons: clicks come back to Herald's
//! `/webhooks/slack`, which a pasted bot token or an incoming webhook never reaches.

use serde_json::{json, Map, Value};

use super::config::BotToken;
use super::render::{fit, with_json};
use crate::present::{Message, Phase};
use crate::{join, Endpoints, Method, OutboundRequest, RenderContext};

/// `action_id` of the Approve button.
pub const APPROVE_ACTION: &str = "herald_approve";
/// `action_id` of the Reject button.
pub const REJECT_ACTION: &str = "herald_reject";
/// `block_id` of the block holding both, removed once a decision is taken.
pub const DECISION_BLOCK: &str = "herald_decision";
/// `section.text`.
const SECTION_TEXT_MAX: usize = 3_000;

/// What a person decided about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// The decision a button's `action_id` stands for.
    pub fn of_action(action_id: &str) -> Option<Self> {
        match action_id {
            APPROVE_ACTION => Some(Decision::Approved),
            REJECT_ACTION => Some(Decision::Rejected),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Decision::Approved, Decision::Rejected]
            .into_iter()
            .find(|d| d.as_str() == raw)
    }
}

/// What both buttons carry back: the event the message is about and the integration that
/// posted it, as `evt_…:int_…`. Ids only; the click handler looks both up in the clicker's
/// organisation, so a forged value can name nothing it may not see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionValue {
    pub event_id: String,
    pub integration_id: String,
}

impl DecisionValue {
    pub fn encode(&self) -> String {
        format!("{}:{}", self.event_id, self.integration_id)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (event_id, integration_id) = raw.split_once(':')?;
        let id_like = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        (id_like(event_id) && id_like(integration_id)).then(|| Self {
            event_id: event_id.to_owned(),
            integration_id: integration_id.to_owned(),
        })
    }
}

/// Adds Approve and Reject to a message about a run waiting for approval (never to a test
/// message, nor once the run has moved on).
pub(super) fn add_decision_buttons(ctx: &RenderContext<'_>, body: &mut Map<String, Value>) {
    if ctx.is_test() || Message::for_delivery(ctx).phase != Phase::AwaitingApproval {
        return;
    }
    let value = DecisionValue {
        event_id: ctx.event.id.clone(),
        integration_id: ctx.target.integration_id.clone(),
    }
    .encode();
    let block = json!({
        "type": "actions",
        "block_id": DECISION_BLOCK,
        "elements": [
            {"type": "button", "action_id": APPROVE_ACTION, "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": REJECT_ACTION, "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"},
             "confirm": {
                "title": {"type": "plain_text", "text": "Reject this run?"},
                "text": {"type": "plain_text", "text": "The run will not be applied."},
                "confirm": {"type": "plain_text", "text": "Reject"},
                "deny": {"type": "plain_text", "text": "Cancel"}}},
        ],
    });
    if let Some(Value::Array(blocks)) = body.get_mut("blocks") {
        blocks.push(block);
    }
}

/// Escapes text for mrkdwn (`&`, `<`, `>`), so a name cannot ping anyone or forge a link.
pub fn escape_mrkdwn(text: &str) -> String {
    fit(text, SECTION_TEXT_MAX, true)
}

/// The message as it was (`blocks`, as Slack echoed them with the click) without its buttons,
/// with `note` (mrkdwn, already escaped) below: what a decision turns the message into.
pub fn decided_blocks(blocks: &[Value], note: &str) -> Vec<Value> {
    let mut kept: Vec<Value> = blocks
        .iter()
        .filter(|b| b.get("block_id").and_then(Value::as_str) != Some(DECISION_BLOCK))
        .cloned()
        .collect();
    kept.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(note, SECTION_TEXT_MAX, false)}}));
    kept
}

/// chat.update of one message, with its fallback text and blocks.
pub fn chat_update(
    endpoints: &Endpoints,
    token: &BotToken,
    channel: &str,
    ts: &str,
    text: &str,
    blocks: Vec<Value>,
) -> OutboundRequest {
    let body =
        json!({"channel": channel, "ts": ts, "text": fit(text, 4_000, true), "blocks": blocks});
    with_json(
        OutboundRequest::new(Method::Post, join(&endpoints.slack, "chat.update"))
            .header("authorization", token.bearer()),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::{SlackConfig, SlackProvider};
    use crate::testing::Fixture;
    use crate::{Outbound, Provider};
    use herald_domain::Kind;

    fn installed() -> Value {
        json!({"bot_token": "xoxb-1-app", "team_id": "T0TEAM1", "team_name": "Acme",
               "bot_user_id": "U0BOT1", "app_id": "A0APP1"})
    }

    fn waiting() -> Value {
        json!({"type": "iac.run.waiting_for_approval", "title": "Apply net-prod",
               "status": "waiting_for_approval", "url": "https://ci.example/runs/42"})
    }

    fn posted(fixture: &Fixture, config: &Value) -> Value {
        let requests = SlackProvider.render(&fixture.ctx(), config).unwrap();
        let Outbound::Http(request) = &requests[0] else {
            panic!("HTTP")
        };
        serde_json::from_slice(&request.body).unwrap()
    }

    fn decision_block(body: &Value) -> Option<&Value> {
        body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == DECISION_BLOCK)
    }

    #[test]
    fn an_app_install_parses_and_a_pasted_token_cannot_claim_to_be_one() {
        let SlackConfig::App {
            channel, install, ..
        } = SlackConfig::parse(&installed()).unwrap()
        else {
            panic!("an app install");
        };
        assert_eq!((channel, install.team_id.as_str()), (None, "T0TEAM1"));
        let mut rotating = installed();
        rotating["refresh_token"] = "xoxe-1-refresh".into();
        rotating["token_expires_at"] = 1_700_000_000.into();
        assert!(SlackConfig::parse(&rotating).is_ok());
        for (config, field) in [
            (
                json!({"bot_token": "xoxb-1", "default_channel": "C1", "refresh_token": "xoxe-1-r"}),
                "refresh_token",
            ),
            (
                json!({"bot_token": "xoxb-1", "team_id": "T1"}),
                "bot_user_id",
            ),
            (
                json!({"bot_token": "xoxb-1", "team_id": "T 1", "bot_user_id": "U1"}),
                "team_id",
            ),
            (
                json!({"webhook_url": "https://hooks.slack.com/services/T/B/x", "team_id": "T1"}),
                "webhook_url",
            ),
        ] {
            assert_eq!(
                SlackConfig::parse(&config).unwrap_err().field,
                field,
                "{config}"
            );
        }
        let refresh = format!("{:?}", SlackConfig::parse(&rotating).unwrap());
        assert!(
            !refresh.contains("xoxe-1-refresh") && !refresh.contains("xoxb-1-app"),
            "{refresh}"
        );
    }

    #[test]
    fn only_an_app_installs_message_about_a_waiting_run_has_the_buttons() {
        let to_channel = Fixture::new(Kind::Slack, waiting()).to("C0CHAN1");
        let body = posted(&to_channel, &installed());
        assert_eq!(body["channel"], "C0CHAN1");
        let block = decision_block(&body).expect("Approve and Reject");
        let value = DecisionValue::parse(block["elements"][0]["value"].as_str().unwrap()).unwrap();
        assert_eq!(value.event_id, to_channel.event.id);
        assert_eq!(block["elements"][0]["action_id"], APPROVE_ACTION);
        assert_eq!(block["elements"][1]["action_id"], REJECT_ACTION);
        // A pasted bot token: no buttons (clicks would reach no one).
        let pasted = json!({"bot_token": "xoxb-1-app", "default_channel": "C0CHAN1"});
        assert!(decision_block(&posted(&to_channel, &pasted)).is_none());
        // A run that is not waiting: none either.
        let running = Fixture::new(
            Kind::Slack,
            json!({"type": "iac.run.applying", "status": "applying"}),
        )
        .to("C1");
        assert!(decision_block(&posted(&running, &installed())).is_none());
        // No subscribed channel and no default: a clear refusal, not a post to nowhere.
        let nowhere = Fixture::new(Kind::Slack, waiting());
        assert!(SlackProvider.render(&nowhere.ctx(), &installed()).is_err());
    }

    #[test]
    fn decision_values_round_trip_and_refuse_anything_else() {
        let value = DecisionValue {
            event_id: "evt_0190".into(),
            integration_id: "int_0191".into(),
        };
        assert_eq!(DecisionValue::parse(&value.encode()), Some(value));
        for bad in [
            "",
            "evt_1",
            "evt_1:",
            ":int_1",
            "evt_1:int 1",
            "evt_1:int_1:x",
        ] {
            assert_eq!(DecisionValue::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Decision::of_action(APPROVE_ACTION),
            Some(Decision::Approved)
        );
        assert_eq!(Decision::of_action("view_run"), None);
    }

    #[test]
    fn a_decision_drops_the_buttons_and_keeps_the_rest() {
        let blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": "Apply prod"}}),
            json!({"type": "actions", "block_id": DECISION_BLOCK, "elements": []}),
        ];
        let decided = decided_blocks(&blocks, "Approved by <@U1>");
        assert_eq!(decided.len(), 2);
        assert_eq!(decided[0], blocks[0]);
        assert_eq!(decided[1]["text"]["text"], "Approved by <@U1>");
        assert_eq!(
            escape_mrkdwn("<!channel> & co"),
            "&lt;!channel&gt; &amp; co"
        );
    }
}
