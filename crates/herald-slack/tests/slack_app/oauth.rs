//! Add to Slack against a fake `oauth.v2.access`, and token rotation.

use std::time::Duration;

use herald_domain::{IntegrationId, OrgId};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{self, SlackTest, BOT_TOKEN, GOOD_CODE};

/// The integration's sealed config, as stored.
async fn sealed(t: &SlackTest, id: &str) -> String {
    let (_, me) = t.app.get("/v1/me").await;
    let org = OrgId::from_trusted(me["org_id"].as_str().unwrap().to_owned());
    let row = t
        .app
        .engine
        .store()
        .get_integration(&org, &IntegrationId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    row.config_sealed
}

crate::on_both_backends!(
    add_to_slack_stores_a_sealed_token_and_test_passes,
    |t: SlackTest| async move {
        // An integration with a pasted token Slack no longer accepts.
        let (status, created) = t
            .app
            .post(
                "/v1/integrations",
                json!({"kind": "slack", "name": "ops",
            "config": {"bot_token": "xoxb-1-old-pasted", "default_channel": "C0OPS"}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (_, before) = t
            .app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(before["ok"], false, "{before}");

        let state = t.start_install(Some(&id)).await;
        let (status, page) = t.callback(GOOD_CODE, &state).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Acme") && page.contains("ops"), "{page}");
        let exchange = &t.fake.seen("/oauth.v2.access")[0];
        assert_eq!(exchange.form()["code"], GOOD_CODE);
        assert_eq!(
            exchange.form()["redirect_uri"],
            "https://herald.example.com/slack_oauth"
        );

        let (_, integration) = t.app.get(&format!("/v1/integrations/{id}")).await;
        let keys: Vec<&str> = integration["config_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        for key in [
            "bot_token",
            "team_id",
            "team_name",
            "bot_user_id",
            "default_channel",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        assert!(
            !integration.to_string().contains(BOT_TOKEN),
            "never returned"
        );
        let stored = sealed(&t, &id).await;
        assert!(
            !stored.contains(BOT_TOKEN) && !stored.contains("xoxb"),
            "sealed at rest"
        );
        let (_, after) = t
            .app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(after["ok"], true, "{after}");
        let auth = t.fake.seen("/auth.test");
        assert_eq!(
            auth.last().unwrap().header("authorization"),
            Some(&*format!("Bearer {BOT_TOKEN}"))
        );

        // The state was single-use.
        let (status, page) = t.callback(GOOD_CODE, &state).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("already used"), "{page}");
        assert_eq!(
            t.fake.seen("/oauth.v2.access").len(),
            1,
            "no second exchange"
        );
        // The audit log says who connected it, from where.
        let (_, audit) = t
            .app
            .get(&format!(
                "/v1/audit?resource_id={id}&action=integration.update"
            ))
            .await;
        assert_eq!(audit["data"][0]["source"], "slack:oauth", "{audit}");
    }
);

crate::on_both_backends!(
    wrong_reused_and_expired_states_change_nothing,
    |t: SlackTest| async move {
        let (_, created) = t
            .app
            .post(
                "/v1/integrations",
                json!({"kind": "slack", "name": "ops",
            "config": {"bot_token": "xoxb-1-old-pasted", "default_channel": "C0OPS"}}),
            )
            .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let before = sealed(&t, &id).await;

        // A state Herald never issued (a forged or mismatched callback).
        let issued = t.start_install(Some(&id)).await;
        let (status, page) = t
            .callback(GOOD_CODE, "0123456789abcdef0123456789abcdef")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("not valid"), "{page}");
        // No state at all.
        let response = t
            .app
            .client
            .get(format!("{}/slack_oauth?code={GOOD_CODE}", t.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        // Expired: ten minutes and a second later.
        t.app.clock.advance(Duration::from_secs(601));
        let (status, page) = t.callback(GOOD_CODE, &issued).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("expired"), "{page}");
        // Reused: the expired one was used up too.
        let (status, _) = t.callback(GOOD_CODE, &issued).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // Slack refuses the code: a clear page, nothing changed.
        let fresh = t.start_install(Some(&id)).await;
        let (status, page) = t.callback("stolen-code", &fresh).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(page.contains("invalid_code"), "{page}");

        assert_eq!(sealed(&t, &id).await, before, "the config did not change");
        assert_eq!(
            t.fake.seen("/oauth.v2.access").len(),
            1,
            "only the last one reached Slack"
        );
        let (_, list) = t.app.get("/v1/integrations").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "nothing created");
        // Add to Slack is for Slack integrations.
        let webhook = t
            .app
            .create_webhook("hook", "https://example.com/h", json!({}))
            .await;
        let (status, body) = t
            .app
            .post(
                &format!("/v1/integrations/{webhook}/slack/install"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
);

crate::on_both_backends!(
    a_rotating_token_is_refreshed_before_it_expires,
    |t: SlackTest| async move {
        t.fake.with_rotation();
        let id = t.install().await;
        assert_eq!(t.slack.maintain().await.refreshed, 0, "not due yet");
        // Eleven hours and fifty-one minutes later: within ten minutes of expiry.
        t.app
            .clock
            .advance(Duration::from_secs(11 * 3600 + 51 * 60));
        let report = t.slack.maintain().await;
        assert_eq!((report.refreshed, report.failed), (1, 0));
        let refresh = t.fake.seen("/oauth.v2.access");
        let form = refresh.last().unwrap().form();
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["refresh_token"], "xoxe-1-refresh-1");
        // The new token is the one used (the fake accepts only it), and it is sealed.
        let (_, test) = t
            .app
            .post(&format!("/v1/integrations/{id}/test"), json!({}))
            .await;
        assert_eq!(test["ok"], true, "{test}");
        assert_eq!(
            t.fake
                .seen("/auth.test")
                .last()
                .unwrap()
                .header("authorization"),
            Some("Bearer xoxe.xoxb-1-rotated-1")
        );
        assert!(!sealed(&t, &id).await.contains("rotated"));
        // Not due again until the new token nears its end.
        assert_eq!(t.slack.maintain().await.refreshed, 0);
        t.app.clock.advance(Duration::from_secs(12 * 3600));
        assert_eq!(t.slack.maintain().await.refreshed, 1);
        assert_eq!(
            t.fake.seen("/oauth.v2.access").last().unwrap().form()["refresh_token"],
            "xoxe-1-refresh-2"
        );
        let (_, audit) = t
            .app
            .get(&format!(
                "/v1/audit?resource_id={id}&action=integration.update"
            ))
            .await;
        assert_eq!(audit["data"][0]["source"], "slack:token_refresh", "{audit}");
    }
);
