//! `/herald` from Slack: linked users act with their own permissions.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{self, SlackTest, BOT_TOKEN, CHANNEL};

fn text(answer: &Value) -> &str {
    answer["text"].as_str().unwrap_or_default()
}

crate::on_both_backends!(
    subscribe_from_a_channel_and_a_real_event_arrives_there,
    |t: SlackTest| async move {
        let integration = t.install().await;
        let owner = t.owner().await;
        t.link("U0ALICE", &owner).await;

        let answer = t.command("U0ALICE", "subscribe iac.run.*").await;
        assert_eq!(answer["response_type"], "in_channel", "announced: {answer}");
        assert!(
            text(&answer).contains("<@U0ALICE> subscribed this channel to `iac.run.*`"),
            "{answer}"
        );

        // A real integration event, delivering to this channel, and the supply it needs.
        let (_, demands) = t
            .app
            .get(&format!(
                "/v1/integration-events?integration_id={integration}"
            ))
            .await;
        let demands = demands["data"].as_array().unwrap();
        assert_eq!(demands.len(), 1);
        assert_eq!(demands[0]["trigger"], "iac.run.*");
        assert_eq!(demands[0]["destinations"], json!([CHANNEL]));
        assert_eq!(demands[0]["scope"]["kind"], "organisation");
        let (_, view) = t.app.get(&format!("/v1/integrations/{integration}")).await;
        assert_eq!(view["is_supplied_to_all_modules"], true);
        assert_eq!(view["routing_model"], "supply_demand");
        // As the linked principal, from Slack.
        let (_, audit) = t.app.get("/v1/audit?action=integration_event.create").await;
        assert_eq!(audit["data"][0]["actor_id"], owner.as_str(), "{audit}");
        assert_eq!(audit["data"][0]["source"], "slack:T0TEAM1/U0ALICE");

        // A real event is posted to that channel through the Web API.
        let event = t
            .app
            .emit(
                json!({"type": "iac.run.failed", "target_id": "network", "title": "Apply failed"}),
            )
            .await;
        t.app.step_all().await;
        let posts = t.fake.seen("/chat.postMessage");
        assert_eq!(posts.len(), 1);
        assert_eq!(
            posts[0].header("authorization"),
            Some(&*format!("Bearer {BOT_TOKEN}"))
        );
        let body = posts[0].json();
        assert_eq!(body["channel"], CHANNEL);
        assert!(
            body["text"].as_str().unwrap().contains("Apply failed"),
            "{body}"
        );
        let deliveries = t.app.deliveries(&format!("event_id={event}")).await;
        assert_eq!(deliveries[0]["status"], "success", "{deliveries:?}");
        // Other types are not.
        t.app
            .emit(json!({"type": "scan_done", "title": "scan"}))
            .await;
        t.app.step_all().await;
        assert_eq!(t.fake.seen("/chat.postMessage").len(), 1);

        // list, then unsubscribe by pattern: the integration event and its supply go.
        let listed = t.command("U0ALICE", "list").await;
        assert_eq!(listed["response_type"], "ephemeral");
        assert!(text(&listed).contains("`iac.run.*` everywhere"), "{listed}");
        let duplicate = t.command("U0ALICE", "subscribe iac.run.*").await;
        assert!(
            text(&duplicate).contains("already subscribed"),
            "{duplicate}"
        );
        let gone = t.command("U0ALICE", "unsubscribe iac.run.*").await;
        assert_eq!(gone["response_type"], "in_channel", "{gone}");
        let (_, demands) = t
            .app
            .get(&format!(
                "/v1/integration-events?integration_id={integration}"
            ))
            .await;
        assert_eq!(demands["data"].as_array().unwrap().len(), 0);
        let (_, view) = t.app.get(&format!("/v1/integrations/{integration}")).await;
        assert_eq!(
            view["is_supplied_to_all_modules"], false,
            "the supply it made went with it"
        );

        // A scoped subscription makes the stack supply it needs.
        let scoped = t
            .command("U0ALICE", "subscribe iac.run.failed stack:prod")
            .await;
        assert!(text(&scoped).contains("in stack prod"), "{scoped}");
        let (_, supplies) = t
            .app
            .get(&format!("/v1/stack-supplies?integration_id={integration}"))
            .await;
        assert_eq!(supplies["data"][0]["stack"], "prod", "{supplies}");
        let unknown = t
            .command("U0ALICE", "subscribe acme.nothing stack:prod")
            .await;
        assert!(
            text(&unknown).contains("not in the event catalogue"),
            "{unknown}"
        );
    }
);

crate::on_both_backends!(
    unlinked_and_unpermitted_users_are_told_what_to_do,
    |t: SlackTest| async move {
        let integration = t.install().await;
        // Not linked: how to link, and nothing created.
        let answer = t.command("U0STRANGER", "subscribe iac.run.*").await;
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(text(&answer).contains("/herald link"), "{answer}");
        // Linked to a reader: refused, naming the permission.
        let (reader, _) = t.app.principal("user", "rita", &["Reader"]).await;
        t.link("U0RITA", &reader).await;
        let answer = t.command("U0RITA", "subscribe iac.run.*").await;
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(text(&answer).contains("`integration.update`"), "{answer}");
        let (_, demands) = t
            .app
            .get(&format!(
                "/v1/integration-events?integration_id={integration}"
            ))
            .await;
        assert_eq!(
            demands["data"].as_array().unwrap().len(),
            0,
            "nothing half-created"
        );
        // A reader may list.
        let listed = t.command("U0RITA", "list").await;
        assert!(text(&listed).contains("no subscriptions"), "{listed}");
        // Help, and a typo.
        assert!(text(&t.command("U0STRANGER", "help").await).contains("/herald subscribe"));
        let typo = t.command("U0STRANGER", "subscrbe iac.run.*").await;
        assert!(
            text(&typo).contains("`subscrbe` is not a /herald command"),
            "{typo}"
        );
    }
);

crate::on_both_backends!(
    link_answers_a_one_time_url_a_signed_in_user_confirms,
    |t: SlackTest| async move {
        t.install().await;
        let answer = t.command("U0BOB", "link").await;
        assert_eq!(answer["response_type"], "ephemeral");
        let text = text(&answer);
        let start = text
            .find("https://herald.example.com/slack/link?code=")
            .unwrap();
        let code: String = text[start..]
            .split("code=")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect();
        assert_eq!(code.len(), 64);

        // Bob confirms with his own token: from now on he acts as bob.
        let (bob, bob_token) = t.app.principal("user", "bob", &["Contributor"]).await;
        let (status, link) = t
            .app
            .request_as(
                &bob_token,
                reqwest::Method::POST,
                "/v1/slack/links/confirm",
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{link}");
        assert_eq!(link["principal_id"], bob.as_str());
        assert_eq!(link["slack_user_id"], "U0BOB");
        let answer = t.command("U0BOB", "subscribe iac.run.applied").await;
        assert_eq!(answer["response_type"], "in_channel", "{answer}");
        // The code worked once.
        let (status, body) = t
            .app
            .request_as(
                &bob_token,
                reqwest::Method::POST,
                "/v1/slack/links/confirm",
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // The page at that URL links with a Herald API token, escaping what it shows.
        let again = t.command("U0BOB", "link").await;
        let again = again["text"].as_str().unwrap();
        let start = again.find("/slack/link?code=").unwrap();
        let path: String = again[start..].chars().take_while(|c| *c != '|').collect();
        let page = t
            .app
            .client
            .get(format!("{}{path}", t.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        let code = path.split("code=").nth(1).unwrap();
        let confirmed = t
            .app
            .client
            .post(format!("{}/slack/link", t.app.base))
            .form(&[("code", code), ("token", bob_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(confirmed.status(), StatusCode::OK);
        // The admin sees the links.
        let (_, links) = t.app.get("/v1/slack/links").await;
        assert_eq!(links["data"].as_array().unwrap().len(), 1, "{links}");
    }
);

/// The `Set-Cookie` pairs of an answer, as a `Cookie` header.
fn cookies_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

fn csrf_in(page: &str) -> String {
    let start = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[start..].split('"').next().unwrap().to_owned()
}

crate::on_both_backends!(
    someone_signed_in_to_the_console_links_with_one_click,
    |t: SlackTest| async move {
        t.install().await;
        let (carol, carol_token) = t.app.principal("user", "carol", &["Contributor"]).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = |path: &str| format!("{}{path}", t.app.base);

        // Signed out, the page offers the console's sign-in (coming back here) or a token.
        let answer = t.command("U0CAROL", "link").await;
        let text = answer["text"].as_str().unwrap().to_owned();
        let start = text.find("/slack/link?code=").unwrap();
        let path: String = text[start..].chars().take_while(|c| *c != '|').collect();
        let signed_out = client
            .get(url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            signed_out.contains("/sign-in?next=%2Fslack%2Flink%3Fcode%3D"),
            "{signed_out}"
        );

        // Carol signs in to the console with her token.
        let form = client.get(url("/sign-in")).send().await.unwrap();
        let pre = cookies_of(&form);
        let csrf = csrf_in(&form.text().await.unwrap());
        let signed_in = client
            .post(url("/sign-in"))
            .header("cookie", pre)
            .form(&[
                ("csrf", csrf.as_str()),
                ("token", carol_token.as_str()),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        let session = cookies_of(&signed_in);
        assert!(session.contains("herald_session"), "{session}");

        // The page knows her; its form carries the session's CSRF token, not a token field.
        let page = client
            .get(url(&path))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Signed in to Herald as"), "{page}");
        assert!(!page.contains("name=\"token\""), "{page}");
        let code = path.split("code=").nth(1).unwrap();
        // A forged form (no session cookie, or the wrong CSRF token) links nobody.
        let forged = client
            .post(url("/slack/link"))
            .header("cookie", &session)
            .form(&[("code", code), ("csrf", "not-the-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        let csrf = csrf_in(&page);
        let no_cookie = client
            .post(url("/slack/link"))
            .form(&[("code", code), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(no_cookie.status(), StatusCode::UNAUTHORIZED);
        let confirmed = client
            .post(url("/slack/link"))
            .header("cookie", &session)
            .form(&[("code", code), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(confirmed.status(), StatusCode::OK);
        let (_, links) = t.app.get("/v1/slack/links").await;
        assert_eq!(links["data"][0]["principal_id"], carol.as_str(), "{links}");
        assert_eq!(links["data"][0]["slack_user_id"], "U0CAROL");
    }
);
