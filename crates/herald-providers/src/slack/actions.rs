//! Interactive actions of the Slack app: the Approve and Reject buttons on a message about a
//! run waiting for approval, and the edit that records a decision on that message.
//!
//! Only workspaces connected with Add to Slack get the buttons: clicks come back to Herald's
//! `/webhooks/slack`, which a pasted bot token or an incoming webhook never reaches.

use serde_json::{json, Map, Value};

use super::config::BotToken;
use super::render::{fit, with_json};
use crate::present::Phase;
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
    if ctx.is_test() || Phase::of(ctx.event) != Phase::AwaitingApproval {
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
