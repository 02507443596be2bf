//! Approve and Reject from Slack: a verified, permitted click becomes herald.approval.decided,
//! the message says who decided, and a second click changes nothing.

use herald_testkit::Receiver;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{self, SlackTest, BOT_TOKEN, CHANNEL, TEAM};

crate::on_both_backends!(
    an_approval_click_decides_once_and_reaches_the_platform,
    |t: SlackTest| async move {
        t.install().await;
        let owner = t.owner().await;
        t.link("U0ALICE", &owner).await;
        assert_eq!(
            t.command("U0ALICE", "subscribe iac.run.*").await["response_type"],
            "in_channel"
        );
        // The platform's callback hears decisions.
        let platform = Receiver::start().await;
        let callback = t
            .app
            .create_webhook(
                "platform callback",
                &platform.url("/callback"),
                json!({"events": ["herald.approval.decided"]}),
            )
            .await;

        let run = t
            .app
            .emit(
                json!({"type": "iac.run.waiting_for_approval", "target_id": "network",
            "environment": "production", "correlation_key": "run-7", "title": "Apply network",
            "status": "waiting_for_approval", "url": "https://ci.example/runs/7"}),
            )
            .await;
        t.app.step_all().await;
        let post = t.fake.seen("/chat.postMessage")[0].json();
        let blocks = post["blocks"].clone();
        let decision = blocks
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == "herald_decision")
            .expect("Approve and Reject buttons")
            .clone();
        let approve = &decision["elements"][0];
        assert_eq!(approve["action_id"], "herald_approve");
        assert_eq!(decision["elements"][1]["action_id"], "herald_reject");
        let value = approve["value"].as_str().unwrap().to_owned();
        assert!(value.starts_with(&format!("{run}:")), "{value}");

        // A linked reader may not decide: told so, nothing recorded.
        let (reader, _) = t.app.principal("user", "rita", &["Reader"]).await;
        t.link("U0RITA", &reader).await;
        assert_eq!(
            t.click("U0RITA", "herald_approve", &value, &blocks).await,
            StatusCode::OK
        );
        let told = t.fake.wait_for("/response/2", 1).await;
        assert_eq!(told[0].json()["response_type"], "ephemeral");
        assert!(
            told[0].json()["text"]
                .as_str()
                .unwrap()
                .contains("approval.decide"),
            "{:?}",
            told[0].json()
        );
        // Unlinked: told how to link.
        assert_eq!(
            t.click("U0NOBODY", "herald_approve", &value, &blocks).await,
            StatusCode::OK
        );
        let told = t.fake.wait_for("/response/2", 2).await;
        assert!(told[1].json()["text"]
            .as_str()
            .unwrap()
            .contains("/herald link"));
        assert!(t.fake.seen("/chat.update").is_empty());

        // Alice approves.
        assert_eq!(
            t.click("U0ALICE", "herald_approve", &value, &blocks).await,
            StatusCode::OK
        );
        let update = t.fake.wait_for("/chat.update", 1).await[0].clone();
        assert_eq!(
            update.header("authorization"),
            Some(&*format!("Bearer {BOT_TOKEN}"))
        );
        let edited = update.json();
        assert_eq!(
            (edited["channel"].as_str(), edited["ts"].as_str()),
            (Some(CHANNEL), Some("1700000000.000100"))
        );
        let edited_blocks = edited["blocks"].as_array().unwrap();
        assert!(
            edited_blocks
                .iter()
                .all(|b| b["block_id"] != "herald_decision"),
            "the buttons are gone"
        );
        let note = edited_blocks.last().unwrap()["text"]["text"]
            .as_str()
            .unwrap();
        assert!(
            note.contains("Approved") && note.contains("<@U0ALICE>") && note.contains("admin"),
            "{note}"
        );
        assert_eq!(edited_blocks[0], blocks[0], "the rest of the message stays");

        // herald.approval.decided routes like any event: to the platform's callback.
        t.app.step_all().await;
        let received = platform.received();
        assert_eq!(received.len(), 1);
        let decided = received[0].json();
        assert_eq!(decided["type"], "herald.approval.decided");
        assert_eq!(decided["target_id"], "network");
        assert_eq!(decided["data"]["decision"], "approved");
        assert_eq!(decided["data"]["original_event_id"], run.as_str());
        assert_eq!(decided["data"]["correlation_key"], "run-7");
        assert_eq!(decided["data"]["run_url"], "https://ci.example/runs/7");
        assert_eq!(decided["data"]["decided_by"]["slack_user_id"], "U0ALICE");
        assert_eq!(decided["data"]["decided_by"]["slack_team_id"], TEAM);
        assert_eq!(
            decided["data"]["decided_by"]["principal_id"],
            owner.as_str()
        );
        assert_eq!(decided["integration"]["id"], callback.as_str());
        let (_, audit) = t
            .app
            .get(&format!(
                "/v1/audit?action=approval.decide&resource_id={run}"
            ))
            .await;
        assert_eq!(audit["data"][0]["actor_id"], owner.as_str(), "{audit}");

        // A second click (Bob rejects): the first decision stands, Bob is told, nothing else.
        let (bob, _) = t.app.principal("user", "bob", &["Approver"]).await;
        t.link("U0BOB", &bob).await;
        assert_eq!(
            t.click("U0BOB", "herald_reject", &value, &blocks).await,
            StatusCode::OK
        );
        let told = t.fake.wait_for("/response/2", 3).await;
        let told = told[2].json();
        assert_eq!(told["response_type"], "ephemeral");
        assert_eq!(told["replace_original"], false);
        let text = told["text"].as_str().unwrap();
        assert!(
            text.contains("already approved by <@U0ALICE>") && text.contains("changed nothing"),
            "{text}"
        );
        t.app.step_all().await;
        assert_eq!(platform.received().len(), 1, "no second decision event");
        assert_eq!(
            t.fake.seen("/chat.update").len(),
            1,
            "the message was not edited again"
        );
        let decided = t
            .app
            .deliveries(&format!("integration_id={callback}"))
            .await;
        assert_eq!(decided.len(), 1, "{decided:?}");
    }
);
