//! Black-box tests of the console: the real server with the console mounted, on an ephemeral
//! port, against SQLite and PostgreSQL, driven as a browser drives it (cookies, forms).

#[path = "../../herald-server/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;

use reqwest::{header, StatusCode};
use serde_json::json;
use support::{Db, TestApp, TOKEN};

async fn spawn(db: Db) -> TestApp {
    let mount: herald_server::Mount =
        Box::new(|state| herald_console::Console::new(state, None).surface());
    support::spawn_app_mounted(db, |_| {}, vec![mount]).await
}

/// A browser: keeps cookies, does not follow redirects.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the page's first CSRF field.
    fn csrf(&self) -> String {
        let start = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a CSRF field")
            + 19;
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            client,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.app.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.app.base))
            .header(header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    async fn sign_in_with_token(&mut self, token: &str) -> Page {
        let form = self.get("/sign-in").await;
        let csrf = form.csrf();
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("token", token), ("next", "/integrations")],
        )
        .await
    }

    async fn sign_in_as(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/sign-in").await;
        let csrf = form.csrf();
        self.post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("org", "default"),
                ("user", user),
                ("password", password),
            ],
        )
        .await
    }
}

macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                ($body)(spawn(Db::Sqlite).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                ($body)(spawn(Db::Postgres).await).await;
            }
        }
    };
}

on_both!(
    a_token_signs_in_every_page_renders_and_sign_out_ends_the_session,
    |app: TestApp| async move {
        let mut browser = Browser::new(&app);
        let first = browser.get("/integrations").await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        assert_eq!(first.location(), "/sign-in?next=%2Fintegrations");
        let signed_in = browser.sign_in_with_token(TOKEN).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        assert_eq!(signed_in.location(), "/integrations");
        let set_cookie = signed_in
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(set_cookie.contains("herald_session="), "{set_cookie}");
        assert!(
            set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
            "{set_cookie}"
        );
        assert!(!set_cookie.contains(TOKEN));
        for path in [
            "/",
            "/integrations",
            "/integrations/new",
            "/integrations/new?kind=webhook",
            "/deliveries",
            "/events",
            "/events?type=scan_done&since=2026-01-01T00:00",
            "/routing",
            "/routing?type=iac.run.applied&target_id=web",
            "/users",
            "/catalogue",
            "/access",
            "/audit",
            "/workspaces/web",
        ] {
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            let csp = page
                .headers
                .get("content-security-policy")
                .unwrap()
                .to_str()
                .unwrap();
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
            assert!(csp.contains("frame-ancestors 'none'"));
            assert_eq!(page.headers.get("x-frame-options").unwrap(), "DENY");
            assert!(page.headers.get("referrer-policy").is_some());
            assert!(!page.body.contains(TOKEN), "{path} shows the token");
        }
        let page = browser.get("/").await;
        let csrf = page.csrf();
        let out = browser.post("/sign-out", &[("csrf", &csrf)]).await;
        assert_eq!(out.location(), "/sign-in");
        assert_eq!(
            browser.get("/").await.status,
            StatusCode::SEE_OTHER,
            "the session ended"
        );
    }
);

on_both!(
    a_form_post_without_its_csrf_token_is_refused,
    |app: TestApp| async move {
        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;
        let form = [
            ("kind", "webhook"),
            ("name", "forged"),
            ("config.webhook_url", "http://127.0.0.1:9/x"),
        ];
        let refused = browser.post("/integrations/new", &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let mut wrong = form.to_vec();
        wrong.push(("csrf", "0000"));
        assert_eq!(
            browser.post("/integrations/new", &wrong).await.status,
            StatusCode::FORBIDDEN
        );
        let (_, list) = app.get("/v1/integrations").await;
        assert_eq!(list["data"], json!([]), "nothing was created");
        // The sign-in form's own token is checked too.
        let mut stranger = Browser::new(&app);
        let page = stranger.post("/sign-in", &[("token", TOKEN)]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(!stranger.cookies.contains_key("herald_session"));
    }
);

on_both!(
    the_generated_form_shows_a_field_error_then_creates_and_never_shows_the_secret,
    |app: TestApp| async move {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;
        let form = browser.get("/integrations/new?kind=webhook").await;
        assert!(form.body.contains(r#"name="config.webhook_url""#));
        assert!(
            form.body.contains(r#"name="config.hmac_secret""#)
                && form.body.contains(r#"type="password""#)
        );
        let csrf = form.csrf();
        let bad = browser
            .post(
                "/integrations/new",
                &[
                    ("csrf", &csrf),
                    ("kind", "webhook"),
                    ("name", "receiver"),
                    ("enabled", "true"),
                    ("config.webhook_url", "not a url"),
                    ("config.hmac_secret", secret),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains(r#"id="config.webhook_url-error""#),
            "{}",
            bad.body
        );
        assert!(
            !bad.body.contains(secret),
            "a refused form does not echo the secret"
        );
        let created = browser
            .post(
                "/integrations/new",
                &[
                    ("csrf", &csrf),
                    ("kind", "webhook"),
                    ("name", "receiver"),
                    ("enabled", "true"),
                    ("config.webhook_url", "http://127.0.0.1:9/hook"),
                    ("config.hmac_secret", secret),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let page_path = created.location().to_owned();
        let id = page_path.trim_start_matches("/integrations/").to_owned();
        let (_, view) = app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(view["config_keys"], json!(["webhook_url", "hmac_secret"]));
        for path in [
            page_path.clone(),
            format!("{page_path}/edit"),
            "/integrations".into(),
        ] {
            let page = browser.get(&path).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(!page.body.contains(secret), "{path} shows the secret");
        }
        let edit = browser.get(&format!("{page_path}/edit")).await;
        // MiniJinja escapes `/` as `&#x2f;` in HTML.
        assert!(
            edit.body.contains("127.0.0.1:9&#x2f;hook"),
            "non-secret values are shown for editing"
        );
        assert!(edit.body.contains("Replace"));
        // Saving with the secret left empty keeps it; the URL changes.
        let csrf = edit.csrf();
        let saved = browser
            .post(
                &format!("{page_path}/edit"),
                &[
                    ("csrf", &csrf),
                    ("kind", "webhook"),
                    ("name", "receiver"),
                    ("enabled", "true"),
                    ("config.webhook_url", "http://127.0.0.1:9/other"),
                    ("config.hmac_secret", ""),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let row = app
            .engine
            .store()
            .get_integration(
                &app.engine
                    .store()
                    .find_org("default")
                    .await
                    .unwrap()
                    .unwrap(),
                &herald_domain::IntegrationId::parse(&id).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        let config = app.engine.open_config(&row).unwrap();
        assert_eq!(
            config,
            json!({"webhook_url": "http://127.0.0.1:9/other", "hmac_secret": secret})
        );
    }
);

on_both!(
    a_user_signs_in_with_a_password_an_owner_set_and_failures_are_rate_limited,
    |app: TestApp| async move {
        let (user_id, _) = app.principal("user", "ada", &["Reader"]).await;
        let mut owner = Browser::new(&app);
        owner.sign_in_with_token(TOKEN).await;
        let users = owner.get("/users").await;
        assert!(users.body.contains("ada"));
        let csrf = users.csrf();
        let short = owner
            .post(
                &format!("/users/{user_id}/password"),
                &[("csrf", &csrf), ("password", "short")],
            )
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        let set = owner
            .post(
                &format!("/users/{user_id}/password"),
                &[("csrf", &csrf), ("password", "a long passphrase")],
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        let stored = app
            .engine
            .store()
            .password_hash(
                &app.engine
                    .store()
                    .find_org("default")
                    .await
                    .unwrap()
                    .unwrap(),
                &herald_domain::PrincipalId::parse(&user_id).unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert!(stored.starts_with("$argon2id$"));

        let mut ada = Browser::new(&app);
        let wrong = ada.sign_in_as("ada", "not the passphrase").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("Wrong user name or password"));
        let unknown = ada.sign_in_as("nobody", "a long passphrase").await;
        assert_eq!(
            unknown.status,
            StatusCode::UNAUTHORIZED,
            "an unknown user reads the same"
        );
        let right = ada.sign_in_as("ada", "a long passphrase").await;
        assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
        let dashboard = ada.get("/").await;
        assert_eq!(dashboard.status, StatusCode::OK);
        assert!(dashboard.body.contains("ada"));
        // A viewer may not set passwords: the API's permission, checked in the console.
        let csrf = ada.get("/users").await.csrf();
        let refused = ada
            .post(
                &format!("/users/{user_id}/password"),
                &[("csrf", &csrf), ("password", "another passphrase")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let mut guesser = Browser::new(&app);
        for _ in 0..5 {
            assert_eq!(
                guesser.sign_in_as("ada", "guess guess").await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        let blocked = guesser.sign_in_as("ada", "a long passphrase").await;
        assert_eq!(
            blocked.status,
            StatusCode::TOO_MANY_REQUESTS,
            "even the right password waits"
        );
    }
);

on_both!(
    supplies_and_integration_events_are_added_and_removed_on_the_integration_page,
    |app: TestApp| async move {
        let id = app
            .create_webhook("hook", "http://127.0.0.1:9/hook", json!({}))
            .await;
        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;
        let path = format!("/integrations/{id}");
        let csrf = browser.get(&path).await.csrf();
        let added = browser
            .post(
                &format!("{path}/supplies"),
                &[("csrf", &csrf), ("kind", "module"), ("name", "web")],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let demand = browser
            .post(
                &format!("{path}/integration-events"),
                &[
                    ("csrf", &csrf),
                    ("name", "applies"),
                    ("trigger", "iac.run.applied"),
                    ("scope_kind", "module"),
                    ("scope_name", "web"),
                ],
            )
            .await;
        assert_eq!(demand.status, StatusCode::SEE_OTHER, "{}", demand.body);
        let bad = browser
            .post(
                &format!("{path}/integration-events"),
                &[
                    ("csrf", &csrf),
                    ("name", "broken"),
                    ("trigger", "iac.run.applied"),
                    ("scope_kind", "module"),
                    ("scope_name", ""),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::OK);
        assert!(
            bad.body.contains(r#"id="form-error""#) && bad.body.contains("scope.name"),
            "{}",
            bad.body
        );
        let (_, supplies) = app
            .get(&format!("/v1/module-supplies?integration_id={id}"))
            .await;
        assert_eq!(supplies["data"][0]["module"], "web");
        let (_, demands) = app
            .get(&format!("/v1/integration-events?integration_id={id}"))
            .await;
        assert_eq!(demands["data"].as_array().unwrap().len(), 1);
        let (_, explained) = app
            .post(
                "/v1/routing/explain",
                json!({"type": "iac.run.applied", "target_id": "web"}),
            )
            .await;
        assert_eq!(explained["integrations"][0]["verdict"], "deliver");
        let page = browser.get(&path).await;
        assert!(page.body.contains("applies"));
        let supply_id = supplies["data"][0]["id"].as_str().unwrap();
        let demand_id = demands["data"][0]["id"].as_str().unwrap();
        let csrf = page.csrf();
        let gone = browser
            .post(
                &format!("/supplies/module/{supply_id}/delete"),
                &[("csrf", &csrf), ("back", &path)],
            )
            .await;
        assert_eq!(gone.location(), path);
        browser
            .post(
                &format!("/integration-events/{demand_id}/delete"),
                &[("csrf", &csrf), ("back", &path)],
            )
            .await;
        let (_, supplies) = app
            .get(&format!("/v1/module-supplies?integration_id={id}"))
            .await;
        assert_eq!(supplies["data"], json!([]));
        let (_, demands) = app
            .get(&format!("/v1/integration-events?integration_id={id}"))
            .await;
        assert_eq!(demands["data"], json!([]));
    }
);

on_both!(
    openapi_publishes_each_kinds_config_schema_with_secrets_write_only,
    |app: TestApp| async move {
        let (status, openapi) = app.get("/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        let schemas = &openapi["components"]["schemas"];
        let webhook = &schemas["IntegrationConfig.webhook"];
        assert_eq!(webhook["required"], json!(["webhook_url"]));
        assert_eq!(webhook["properties"]["hmac_secret"]["writeOnly"], true);
        assert_eq!(webhook["properties"]["webhook_url"]["format"], "uri");
        for kind in [
            "slack",
            "teams",
            "pagerduty",
            "jira",
            "github",
            "email",
            "custom",
        ] {
            assert!(
                schemas[format!("IntegrationConfig.{kind}")]["properties"].is_object(),
                "{kind}"
            );
        }
    }
);

on_both!(
    retry_now_shows_only_while_a_delivery_waits_and_sends_it_at_once,
    |app: TestApp| async move {
        let receiver = herald_testkit::Receiver::start().await;
        receiver.script([herald_testkit::Reply::status(503)]);
        app.create_webhook("flaky", &receiver.url("/"), json!({}))
            .await;
        app.emit(json!({"type": "scan_done"})).await;
        assert_eq!(app.step().await, 1);
        let id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(app.step().await, 0, "the retry waits for its delay");

        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;
        let waiting = browser.get(&format!("/deliveries/{id}")).await;
        assert!(waiting.body.contains("Retry now"), "{}", waiting.body);
        let action = format!(r#"action="/deliveries/{id}/retry-now""#);
        assert!(waiting.body.contains(&action));
        let csrf = waiting.csrf();
        let forged = browser
            .post(&format!("/deliveries/{id}/retry-now"), &[])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let done = browser
            .post(&format!("/deliveries/{id}/retry-now"), &[("csrf", &csrf)])
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location(), format!("/deliveries/{id}"));
        // The clock has not moved: only Retry now made it due.
        assert_eq!(app.step().await, 1);
        let sent = browser.get(&format!("/deliveries/{id}")).await;
        assert!(!sent.body.contains("Retry now"), "it no longer waits");
        assert_eq!(app.delivery(&id).await["status"], "success");
        // Again: the API's 409, shown as a page.
        let again = browser
            .post(&format!("/deliveries/{id}/retry-now"), &[("csrf", &csrf)])
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let audit = app.get("/v1/audit").await.1;
        assert!(
            audit.to_string().contains("delivery.retry_now"),
            "the API's audit record: {audit}"
        );
    }
);

on_both!(
    the_catalogue_lists_presets_registers_a_type_with_a_schema_and_deletes_it,
    |app: TestApp| async move {
        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;
        let page = browser.get("/catalogue").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("iac.run.applied"), "a preset is listed");
        let csrf = page.csrf();
        // A schema that is not JSON: the error beside its field, the draft kept.
        let bad = browser
            .post(
                "/catalogue",
                &[
                    ("csrf", &csrf),
                    ("id", "acme.deploy.finished"),
                    ("description", "A deploy <finished>"),
                    ("schema", "{not json"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains(r#"id="type-schema-error""#),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("acme.deploy.finished"));
        assert!(bad.body.contains("A deploy &lt;finished&gt;"), "escaped");
        // A bad id: the API's own check, beside the id field.
        let bad_id = browser
            .post(
                "/catalogue",
                &[("csrf", &csrf), ("id", "Not An Id"), ("description", "x")],
            )
            .await;
        assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad_id.body.contains(r#"id="type-id-error""#),
            "{}",
            bad_id.body
        );
        // A preset's id is taken: 409 beside the id.
        let taken = browser
            .post(
                "/catalogue",
                &[
                    ("csrf", &csrf),
                    ("id", "iac.run.applied"),
                    ("description", "x"),
                ],
            )
            .await;
        assert_eq!(taken.status, StatusCode::CONFLICT);

        let schema = r#"{"type": "object", "required": ["version"]}"#;
        let created = browser
            .post(
                "/catalogue",
                &[
                    ("csrf", &csrf),
                    ("id", "acme.deploy.finished"),
                    ("description", "A deploy finished"),
                    ("schema", schema),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let (status, def) = app.get("/v1/event-types/acme.deploy.finished").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(def["schema"]["required"], json!(["version"]));
        let listed = browser.get("/catalogue").await;
        assert!(listed.body.contains("A deploy finished"));
        assert!(
            listed.body.contains("&quot;required&quot;"),
            "the schema is shown"
        );
        assert!(listed
            .body
            .contains(r#"action="/catalogue/acme.deploy.finished/delete""#));
        assert!(
            !listed
                .body
                .contains(r#"action="/catalogue/iac.run.applied/delete""#),
            "a preset has no Delete"
        );
        // The schema is the API's: an event without `version` is refused.
        let (status, _) = app
            .post(
                "/v1/events",
                json!({"type": "acme.deploy.finished", "data": {}}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let preset = browser
            .post("/catalogue/iac.run.applied/delete", &[("csrf", &csrf)])
            .await;
        assert_eq!(preset.status, StatusCode::CONFLICT);
        let forged = browser
            .post("/catalogue/acme.deploy.finished/delete", &[])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let deleted = browser
            .post("/catalogue/acme.deploy.finished/delete", &[("csrf", &csrf)])
            .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        let (status, _) = app.get("/v1/event-types/acme.deploy.finished").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A reader sees the catalogue without the forms, and may not register.
        let (_, reader) = app.principal("user", "reader", &["Reader"]).await;
        let mut viewer = Browser::new(&app);
        viewer.sign_in_with_token(&reader).await;
        let page = viewer.get("/catalogue").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains(r#"action="/catalogue""#));
        let csrf = page.csrf();
        let refused = viewer
            .post(
                "/catalogue",
                &[("csrf", &csrf), ("id", "acme.x"), ("description", "x")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
);

/// The id in the first `action="/access/{what}/{id}/…"` after `marker` on a page.
fn id_after(body: &str, marker: &str, prefix: &str) -> String {
    let from = body
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {body}"));
    let at = body[from..].find(prefix).expect(prefix) + from + prefix.len();
    body[at..].split('/').next().unwrap().to_owned()
}

on_both!(
    access_manages_principals_groups_roles_tokens_and_shows_the_audit_log,
    |app: TestApp| async move {
        let integration = app
            .create_webhook("hook", "http://127.0.0.1:9/hook", json!({}))
            .await;
        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;
        let page = browser.get("/access").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.csrf();

        // Principals: a field error first, then a user and a group.
        let empty = browser
            .post(
                "/access/principals",
                &[("csrf", &csrf), ("kind", "user"), ("name", "")],
            )
            .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            empty.body.contains(r#"id="principal-name-error""#),
            "{}",
            empty.body
        );
        for (kind, name) in [("user", "grace"), ("group", "oncall")] {
            let made = browser
                .post(
                    "/access/principals",
                    &[("csrf", &csrf), ("kind", kind), ("name", name)],
                )
                .await;
            assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        }
        let (_, users) = app.get("/v1/principals?name=grace").await;
        let grace = users["data"][0]["id"].as_str().unwrap().to_owned();
        let (_, groups) = app.get("/v1/principals?name=oncall").await;
        let oncall = groups["data"][0]["id"].as_str().unwrap().to_owned();

        // Membership. A user is not a group: its "group page" does not exist.
        let not_a_group = browser.get(&format!("/access/groups/{grace}")).await;
        assert_eq!(not_a_group.status, StatusCode::NOT_FOUND);
        let group = browser.get(&format!("/access/groups/{oncall}")).await;
        assert_eq!(group.status, StatusCode::OK, "{}", group.body);
        assert!(group.body.contains("No members yet"));
        let added = browser
            .post(
                &format!("/access/groups/{oncall}/members"),
                &[("csrf", &csrf), ("member_id", &grace)],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let (_, members) = app.get(&format!("/v1/principals/{oncall}/members")).await;
        assert_eq!(members[0]["id"], json!(grace));
        let removed = browser
            .post(
                &format!("/access/groups/{oncall}/members/{grace}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER);
        let (_, members) = app.get(&format!("/v1/principals/{oncall}/members")).await;
        assert_eq!(members, json!([]));

        // Roles: on one integration, then revoked.
        let granted = browser
            .post(
                "/access/roles",
                &[
                    ("csrf", &csrf),
                    ("principal_id", &grace),
                    ("role", "IdentityAccessManager"),
                    ("integration_id", &integration),
                ],
            )
            .await;
        assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
        let (_, assignments) = app
            .get(&format!("/v1/role-assignments?principal_id={grace}"))
            .await;
        assert_eq!(assignments[0]["integration_id"], json!(integration));
        let page = browser.get("/access").await;
        assert!(page.body.contains("IdentityAccessManager"));
        let assignment = assignments[0]["id"].as_str().unwrap().to_owned();
        // An organisation role that does not exist: the API's field error beside the form.
        let unknown = browser
            .post(
                "/access/roles",
                &[
                    ("csrf", &csrf),
                    ("principal_id", &grace),
                    ("role", "Emperor"),
                    ("integration_id", ""),
                ],
            )
            .await;
        assert_eq!(
            unknown.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            unknown.body
        );
        assert!(
            unknown.body.contains(r#"id="grant-role-error""#),
            "{}",
            unknown.body
        );

        // The escalation rule is the API's: grace (IdentityAccessManager on the integration)
        // may not make herself Owner of it.
        let (_, grace_token) = {
            let (status, token) = app
                .post(
                    "/v1/tokens",
                    json!({"name": "grace", "principal_id": grace}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED);
            ((), token["token"].as_str().unwrap().to_owned())
        };
        let mut grace_browser = Browser::new(&app);
        grace_browser.sign_in_with_token(&grace_token).await;
        let own = grace_browser.get("/access").await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);
        let grace_csrf = own.csrf();
        let escalate = grace_browser
            .post(
                "/access/roles",
                &[
                    ("csrf", &grace_csrf),
                    ("principal_id", &grace),
                    ("role", "Owner"),
                    ("integration_id", &integration),
                ],
            )
            .await;
        assert_eq!(escalate.status, StatusCode::FORBIDDEN, "{}", escalate.body);

        let revoked = browser
            .post(
                &format!("/access/roles/{assignment}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        let (_, assignments) = app
            .get(&format!("/v1/role-assignments?principal_id={grace}"))
            .await;
        assert_eq!(assignments, json!([]));

        // Tokens: the value once, on the answer to the post, never in the list.
        let created = browser
            .post(
                "/access/tokens",
                &[
                    ("csrf", &csrf),
                    ("name", "ci"),
                    ("principal_id", &grace),
                    ("expires_at", ""),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert_eq!(created.headers.get("cache-control").unwrap(), "no-store");
        let start = created
            .body
            .find(r#"id="new-token-value" value=""#)
            .expect("the value")
            + 28;
        let value = created.body[start..].split('"').next().unwrap().to_owned();
        assert!(value.len() > 20, "{value}");
        let (status, _) = app
            .request_as(&value, reqwest::Method::GET, "/v1/me", None)
            .await;
        assert_eq!(status, StatusCode::OK, "the shown value is the token");
        let listed = browser.get("/access").await;
        assert!(!listed.body.contains(&value), "never shown again");
        assert!(listed.body.contains(">ci<"));
        let past = browser
            .post(
                "/access/tokens",
                &[
                    ("csrf", &csrf),
                    ("name", "old"),
                    ("expires_at", "2001-01-01T00:00"),
                ],
            )
            .await;
        assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            past.body.contains(r#"id="token-expires_at-error""#),
            "{}",
            past.body
        );
        let token_id = id_after(&listed.body, ">ci<", "/access/tokens/");
        let revoke = browser
            .post(
                &format!("/access/tokens/{token_id}/revoke"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(revoke.status, StatusCode::SEE_OTHER, "{}", revoke.body);
        let (status, _) = app
            .request_as(&value, reqwest::Method::GET, "/v1/me", None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");

        // Deleting a principal.
        let deleted = browser
            .post(
                &format!("/access/principals/{oncall}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        let (_, groups) = app.get("/v1/principals?name=oncall").await;
        assert_eq!(groups["data"], json!([]));

        // The audit log: newest first, with the console's actions, paged.
        let audit = browser.get("/audit").await;
        assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
        let newest = audit.body.find("principal.delete").expect("the delete");
        let older = audit.body.find("principal.create").expect("a create");
        assert!(newest < older, "newest first");
        for _ in 0..60 {
            app.post(
                "/v1/principals",
                json!({"kind": "service_principal", "name": format!("svc-{}", rand_suffix())}),
            )
            .await;
        }
        let first = browser.get("/audit").await;
        let start = first.body.find("/audit?cursor=").expect("an Older link");
        let href = first.body[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&");
        let second = browser.get(&href).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.body);
        assert!(
            second.body.contains("principal.delete"),
            "the next page goes on"
        );
        assert!(second.body.contains("Newest"));
        // A filter by action.
        let filtered = browser.get("/audit?action=token.revoke").await;
        assert!(filtered.body.contains("token.revoke"));
        assert!(!filtered.body.contains("<code>principal.create</code>"));
        // Without audit.read: the API's 403.
        assert_eq!(
            grace_browser.get("/audit").await.status,
            StatusCode::FORBIDDEN
        );
    }
);

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

on_both!(
    the_delivery_log_filters_by_event_type_and_time_range,
    |app: TestApp| async move {
        app.create_webhook("hook", "http://127.0.0.1:9/hook", json!({}))
            .await;
        app.emit(json!({"type": "scan_done", "title": "Old scan"}))
            .await;
        app.clock.advance(std::time::Duration::from_secs(3600));
        app.emit(json!({"type": "iac.run.applied", "target_id": "net", "title": "New run"}))
            .await;
        let older = app.deliveries("").await[1].clone();
        let first: chrono::DateTime<chrono::Utc> =
            older["created_at"].as_str().unwrap().parse().unwrap();
        // As a datetime-local input sends it: minutes, no zone (the form says UTC).
        let middle = (first + chrono::Duration::minutes(30))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        let mut browser = Browser::new(&app);
        browser.sign_in_with_token(TOKEN).await;

        let by_type = browser.get("/deliveries?event_type=iac.run.applied").await;
        assert_eq!(by_type.status, StatusCode::OK, "{}", by_type.body);
        assert!(by_type.body.contains("New run") && !by_type.body.contains("Old scan"));
        assert!(
            by_type.body.contains(r#"value="iac.run.applied""#),
            "the filter is kept"
        );
        let since = browser.get(&format!("/deliveries?since={middle}")).await;
        assert!(since.body.contains("New run") && !since.body.contains("Old scan"));
        let until = browser.get(&format!("/deliveries?until={middle}")).await;
        assert!(until.body.contains("Old scan") && !until.body.contains("New run"));
        assert!(until.body.contains(&format!(r#"value="{middle}""#)));
        let alias = browser
            .get(&format!(
                "/deliveries?event_type=security.scan.done&until={middle}"
            ))
            .await;
        assert!(alias.body.contains("Old scan"), "{}", alias.body);
        // A bad time: the API's field error, on the page.
        let bad = browser.get("/deliveries?since=soon").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("since:"), "{}", bad.body);
    }
);
