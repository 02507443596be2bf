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

/// The console and the Slack app served together, as `herald serve` does with the Slack app on.
async fn with_console(db: support::Db, slack_on: bool) -> support::TestApp {
    let console: herald_server::Mount = Box::new(move |state| {
        herald_console::Console::with_slack_app(state, None, slack_on).surface()
    });
    let slack: herald_server::Mount =
        Box::new(|state| herald_slack::SlackApp::new(support::slack_config(), state).surface());
    let mounts = if slack_on {
        vec![console, slack]
    } else {
        vec![console]
    };
    support::spawn_app_mounted(db, |_| {}, mounts).await
}

fn set_cookies(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn csrf_of(body: &str) -> String {
    let start = body.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    body[start..].split('"').next().unwrap().to_owned()
}

/// A browser signed in to the console with a token: its client (no redirects followed) and
/// its cookie header.
async fn console_session(app: &support::TestApp, token: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{}/sign-in", app.base))
        .send()
        .await
        .unwrap();
    let pre = set_cookies(&form);
    let csrf = csrf_of(&form.text().await.unwrap());
    let signed_in = client
        .post(format!("{}/sign-in", app.base))
        .header(reqwest::header::COOKIE, &pre)
        .form(&[("csrf", csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    (client, set_cookies(&signed_in))
}

async fn get_page(
    app: &support::TestApp,
    client: &reqwest::Client,
    cookie: &str,
    path: &str,
) -> String {
    client
        .get(format!("{}{path}", app.base))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn add_to_slack_from_the_console(db: support::Db) {
    let app = with_console(db, true).await;
    let (_, slack) = app
        .post(
            "/v1/integrations",
            json!({"kind": "slack", "name": "ops", "config": {"bot_token": "xoxb-1-pasted", "default_channel": "C0OPS"}}),
        )
        .await;
    let slack_id = slack["id"].as_str().unwrap().to_owned();
    let hook = app
        .create_webhook("hook", "http://127.0.0.1:9/hook", json!({}))
        .await;
    let (client, cookie) = console_session(&app, support::TOKEN).await;
    let button = format!(r#"action="/slack/install/{slack_id}""#);
    let page = get_page(&app, &client, &cookie, &format!("/integrations/{slack_id}")).await;
    assert!(
        page.contains(&button) && page.contains("Add to Slack"),
        "{page}"
    );
    let other = get_page(&app, &client, &cookie, &format!("/integrations/{hook}")).await;
    assert!(
        !other.contains("Add to Slack"),
        "only on Slack integrations"
    );

    let post = |cookie: String, form: Vec<(&'static str, String)>, id: String| {
        let client = client.clone();
        let base = app.base.clone();
        async move {
            client
                .post(format!("{base}/slack/install/{id}"))
                .header(reqwest::header::COOKIE, cookie)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    // Without its CSRF token, or without a session: refused, no state issued.
    let forged = post(cookie.clone(), vec![], slack_id.clone()).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let stranger = post(String::new(), vec![("csrf", "x".into())], slack_id.clone()).await;
    assert_eq!(stranger.status(), StatusCode::SEE_OTHER);
    assert!(stranger.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/sign-in?next="));

    let csrf = csrf_of(&page);
    let sent = post(
        cookie.clone(),
        vec![("csrf", csrf.clone())],
        slack_id.clone(),
    )
    .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let to = url::Url::parse(sent.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        (to.scheme(), to.host_str(), to.path()),
        ("https", Some("slack.com"), "/oauth/v2/authorize")
    );
    let query: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], support::CLIENT_ID);
    assert!(query["state"].len() >= 16, "{query:?}");
    assert_eq!(
        query["redirect_uri"],
        "https://herald.example.com/slack_oauth"
    );
    assert!(query["scope"].contains("chat:write"));

    // A webhook: the API's 422, as a page.
    let wrong = post(cookie.clone(), vec![("csrf", csrf.clone())], hook.clone()).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A reader lacks integration.update: the API's 403.
    let (_, reader) = app.principal("user", "reader", &["Reader"]).await;
    let (client_r, cookie_r) = console_session(&app, &reader).await;
    let page_r = get_page(
        &app,
        &client_r,
        &cookie_r,
        &format!("/integrations/{slack_id}"),
    )
    .await;
    let refused = client_r
        .post(format!("{}/slack/install/{slack_id}", app.base))
        .header(reqwest::header::COOKIE, cookie_r)
        .form(&[("csrf", csrf_of(&page_r))])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Without the Slack app: no button.
    let off = with_console(db, false).await;
    let (_, slack) = off
        .post(
            "/v1/integrations",
            json!({"kind": "slack", "name": "ops", "config": {"bot_token": "xoxb-1-pasted", "default_channel": "C0OPS"}}),
        )
        .await;
    let (client, cookie) = console_session(&off, support::TOKEN).await;
    let page = get_page(
        &off,
        &client,
        &cookie,
        &format!("/integrations/{}", slack["id"].as_str().unwrap()),
    )
    .await;
    assert!(!page.contains("Add to Slack"), "{page}");
}

mod add_to_slack_from_the_console {
    #[tokio::test]
    async fn sqlite() {
        super::add_to_slack_from_the_console(crate::support::Db::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::add_to_slack_from_the_console(crate::support::Db::Postgres).await;
    }
}
