//! `/webhooks/slack`: verified before anything else; Events API retries handled once.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{self, SlackTest, SIGNING_SECRET, TEAM};

fn url_verification() -> String {
    json!({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}).to_string()
}

crate::on_both_backends!(
    every_inbound_request_is_verified_first,
    |t: SlackTest| async move {
        let body = url_verification();
        // Valid: the challenge comes back.
        let (status, answer) = t.post_signed(&body, "application/json").await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(
            answer["challenge"],
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        );

        let now = t.app.clock.now().timestamp();
        let sign = |ts: i64, body: &str, secret: &str| {
            let ts = ts.to_string();
            let signature = herald_slack::signature::sign(secret, &ts, body.as_bytes());
            vec![
                ("x-slack-request-timestamp", ts),
                ("x-slack-signature", signature),
            ]
        };
        // A wrong signature (another secret).
        let wrong = sign(now, &body, "not-the-signing-secret");
        // A stale timestamp, correctly signed: a replay.
        let stale = sign(now - 301, &body, SIGNING_SECRET);
        // The body changed after signing.
        let signed = sign(now, &body, SIGNING_SECRET);
        let changed = body.replace("url_verification", "url_verificatioN");
        for (case, sent, headers) in [
            ("wrong signature", body.as_str(), wrong),
            ("stale timestamp", body.as_str(), stale),
            ("body changed", changed.as_str(), signed.clone()),
            ("no signature", body.as_str(), vec![signed[0].clone()]),
            ("no timestamp", body.as_str(), vec![signed[1].clone()]),
            ("no headers", body.as_str(), vec![]),
        ] {
            let (status, answer) = t.post_raw(sent, "application/json", &headers).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {answer}");
            assert!(
                !answer.contains("challenge"),
                "{case}: nothing was read: {answer}"
            );
        }
        // A slash command with a bad signature does nothing either.
        let command = "team_id=T0TEAM1&user_id=U1&command=%2Fherald&text=link&channel_id=C1";
        let (status, _) = t
            .post_raw(
                command,
                "application/x-www-form-urlencoded",
                &sign(now, "other", SIGNING_SECRET),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
);

crate::on_both_backends!(
    app_uninstalled_disables_the_integration_and_a_retry_is_handled_once,
    |t: SlackTest| async move {
        let id = t.install().await;
        let uninstalled = json!({"token": "legacy", "team_id": TEAM, "api_app_id": "A0APP1",
            "event": {"type": "app_uninstalled"}, "type": "event_callback",
            "event_id": "Ev0UNINSTALL1", "event_time": 1_700_000_000});
        let (status, _) = t.event(&uninstalled).await;
        assert_eq!(status, StatusCode::OK);
        let (_, integration) = t.app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(integration["enabled"], false, "{integration}");
        let reason = integration["disabled_reason"].as_str().unwrap();
        assert!(
            reason.contains("uninstalled") && reason.contains(TEAM),
            "{reason}"
        );
        let (_, audit) = t.app.get(&format!("/v1/audit?resource_id={id}")).await;
        let disables: Vec<&Value> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "integration.disable")
            .collect();
        assert_eq!(disables.len(), 1, "{audit}");
        assert_eq!(disables[0]["details"]["reason"], reason);
        assert_eq!(disables[0]["source"], "slack:events");

        // Someone turns it back on; the reason goes with it.
        let (status, patched) = t
            .app
            .patch(&format!("/v1/integrations/{id}"), json!({"enabled": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["disabled_reason"], Value::Null);
        // Slack retries the same event (it thought we timed out): it is not handled again.
        let body = uninstalled.to_string();
        let mut headers = t.signed_headers(&body);
        headers.push(("x-slack-retry-num", "1".into()));
        headers.push(("x-slack-retry-reason", "http_timeout".into()));
        let (status, _) = t.post_raw(&body, "application/json", &headers).await;
        assert_eq!(status, StatusCode::OK);
        let (_, integration) = t.app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(
            integration["enabled"], true,
            "the retry changed nothing: {integration}"
        );
        let (_, audit) = t.app.get(&format!("/v1/audit?resource_id={id}")).await;
        let disables = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "integration.disable")
            .count();
        assert_eq!(disables, 1);

        // tokens_revoked names the bot user: the same effect, for that installation only.
        let revoked = json!({"team_id": TEAM, "type": "event_callback", "event_id": "Ev0REVOKED1",
            "event": {"type": "tokens_revoked", "tokens": {"oauth": ["U0ADMIN"], "bot": ["U0BOT1"]}}});
        assert_eq!(t.event(&revoked).await.0, StatusCode::OK);
        let (_, integration) = t.app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(integration["enabled"], false);
        assert!(integration["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("revoked"));
    }
);

#[tokio::test]
async fn the_manifest_names_this_deployments_urls() {
    let t = support::spawn_app(support::Db::Sqlite).await;
    let response = t
        .app
        .client
        .get(format!("{}/slack/manifest", t.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let manifest: Value = response.json().await.unwrap();
    let inbound = "https://herald.example.com/webhooks/slack";
    assert_eq!(
        manifest["features"]["slash_commands"][0]["command"],
        "/herald"
    );
    assert_eq!(manifest["features"]["slash_commands"][0]["url"], inbound);
    assert_eq!(
        manifest["settings"]["interactivity"]["request_url"],
        inbound
    );
    assert_eq!(
        manifest["settings"]["event_subscriptions"]["request_url"],
        inbound
    );
    assert_eq!(
        manifest["settings"]["event_subscriptions"]["bot_events"],
        json!(["app_uninstalled", "tokens_revoked"])
    );
    assert_eq!(
        manifest["oauth_config"]["redirect_urls"],
        json!(["https://herald.example.com/slack_oauth"])
    );
    let scopes = manifest["oauth_config"]["scopes"]["bot"]
        .as_array()
        .unwrap();
    for scope in ["chat:write", "chat:write.public", "commands"] {
        assert!(scopes.contains(&json!(scope)), "{scope}");
    }
    // The install and link calls are in the OpenAPI document, with their permissions.
    let openapi: Value = t
        .app
        .client
        .get(format!("{}/openapi.json", t.app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        openapi["paths"]["/v1/integrations/{id}/slack/install"]["post"]["security"][0]["bearer"][0],
        "integration.update"
    );
}

#[tokio::test]
async fn without_the_slack_configuration_its_routes_do_not_exist() {
    let app = support::spawn_app_with(support::Db::Sqlite, |_| {}).await;
    for (method, path) in [
        ("GET", "/slack/manifest"),
        ("POST", "/webhooks/slack"),
        ("GET", "/slack_oauth?code=x&state=y"),
        ("POST", "/v1/slack/install"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, _) = app.request(method, path, Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app.get("/v1/integrations").await;
    assert_eq!(status, StatusCode::OK, "the rest of Herald works as before");
}

/// Our signature is the one Slack's own SDK computes and accepts (PyPI `slack_sdk`).
#[tokio::test]
async fn slacks_sdk_agrees_with_our_signatures() {
    let t = support::spawn_app(support::Db::Sqlite).await;
    let body = "token=x&team_id=T0TEAM1&command=%2Fherald&text=help&user_id=U1&channel_id=C1&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1";
    let ts = t.app.clock.now().timestamp().to_string();
    let ours = herald_slack::signature::sign(SIGNING_SECRET, &ts, body.as_bytes());
    let script = r#"
import sys
from slack_sdk.signature import SignatureVerifier
secret, ts, body, ours = sys.argv[1:5]
verifier = SignatureVerifier(signing_secret=secret)
print(verifier.generate_signature(timestamp=ts, body=body))
print(verifier.is_valid(body=body, timestamp=ts, signature=ours))
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script, SIGNING_SECRET, &ts, body, &ours])
        .output()
        .expect("python3 runs (scripts/test installs slack_sdk)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, [ours.as_str(), "True"]);
    // And a request signed by the SDK's signature is accepted by the server.
    let (status, answer) = t
        .post_raw(
            body,
            "application/x-www-form-urlencoded",
            &[
                ("x-slack-request-timestamp", ts.clone()),
                ("x-slack-signature", lines[0].to_owned()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

crate::on_both_backends!(
    a_command_slower_than_the_budget_answers_through_response_url,
    |inline: SlackTest| async move {
        // The same app with no time at all to answer inline.
        let mut config = support::slack_config();
        config.ack_budget = std::time::Duration::ZERO;
        let t = support::spawn_slack(inline.app.db, config).await;
        t.install().await;
        let owner = t.owner().await;
        t.link("U0ALICE", &owner).await;
        let answer = t.command("U0ALICE", "subscribe iac.run.*").await;
        assert_eq!(answer["response_type"], "ephemeral");
        assert_eq!(answer["text"], "Working on it…");
        let late = t.fake.wait_for("/response/1", 1).await[0].json();
        assert_eq!(late["response_type"], "in_channel", "{late}");
        assert!(
            late["text"]
                .as_str()
                .unwrap()
                .contains("subscribed this channel"),
            "{late}"
        );
    }
);

#[tokio::test]
async fn a_body_larger_than_slack_ever_sends_is_refused_unread() {
    let t = support::spawn_app(support::Db::Sqlite).await;
    let body = format!("payload={}", "x".repeat(herald_slack::MAX_INBOUND_BODY + 1));
    let (status, _) = t
        .post_signed(&body, "application/x-www-form-urlencoded")
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
