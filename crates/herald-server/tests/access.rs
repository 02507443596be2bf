//! Issue 5, end to end: roles and what they allow, nested groups, token expiry and
//! revocation, tenants that cannot see each other, the audit log, and the OpenAPI document
//! naming each endpoint's permission.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use support::TestApp;

async fn integration(app: &TestApp, name: &str) -> String {
    app.create_webhook(name, "https://receiver.example.com/hook", json!({}))
        .await
}

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> StatusCode {
    app.request_as(token, method, path, body).await.0
}

on_both_backends!(
    a_reader_reads_but_cannot_create_update_test_or_delete,
    |app: TestApp| async move {
        let id = integration(&app, "ops").await;
        let (_, reader) = app.principal("user", "rita", &["Reader"]).await;
        let one = format!("/v1/integrations/{id}");
        assert_eq!(
            call(&app, &reader, Method::GET, &one, None).await,
            StatusCode::OK
        );
        assert_eq!(
            call(&app, &reader, Method::GET, "/v1/integrations", None).await,
            StatusCode::OK
        );
        assert_eq!(
            call(&app, &reader, Method::GET, "/v1/deliveries", None).await,
            StatusCode::OK
        );
        let create = json!({"kind": "webhook", "name": "x", "config": {"webhook_url": "https://x.example.com"}});
        let (status, body) = app
            .request_as(&reader, Method::POST, "/v1/integrations", Some(create))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("integration.create"),
            "{body}"
        );
        let patch = json!({"name": "renamed"});
        assert_eq!(
            call(&app, &reader, Method::PATCH, &one, Some(patch)).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(
                &app,
                &reader,
                Method::POST,
                &format!("{one}/test"),
                Some(json!({}))
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&app, &reader, Method::DELETE, &one, None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(
                &app,
                &reader,
                Method::POST,
                "/v1/events",
                Some(json!({"type": "x"}))
            )
            .await,
            StatusCode::FORBIDDEN
        );
        // Nothing changed.
        let (_, unchanged) = app.get(&one).await;
        assert_eq!(unchanged["name"], "ops");
    }
);

on_both_backends!(
    an_integration_contributor_edits_but_cannot_grant,
    |app: TestApp| async move {
        let id = integration(&app, "ops").await;
        let (_, contributor) = app
            .principal("user", "carl", &["IntegrationContributor"])
            .await;
        let (someone, _) = app.principal("user", "sam", &[]).await;
        let one = format!("/v1/integrations/{id}");
        let (status, body) = app
            .request_as(
                &contributor,
                Method::PATCH,
                &one,
                Some(json!({"name": "ops-2"})),
            )
            .await;
        assert_eq!(
            (status, body["name"].as_str()),
            (StatusCode::OK, Some("ops-2"))
        );
        let grant = json!({"principal_id": someone, "role": "Reader", "integration_id": id});
        assert_eq!(
            call(
                &app,
                &contributor,
                Method::POST,
                "/v1/role-assignments",
                Some(grant.clone())
            )
            .await,
            StatusCode::FORBIDDEN
        );
        let org_grant = json!({"principal_id": someone, "role": "Owner"});
        assert_eq!(
            call(
                &app,
                &contributor,
                Method::POST,
                "/v1/role-assignments",
                Some(org_grant)
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&app, &contributor, Method::DELETE, &one, None).await,
            StatusCode::FORBIDDEN
        );

        // An IdentityAccessManager on the integration may grant on it, but not edit it.
        let (iam_id, iam) = app.principal("user", "ida", &[]).await;
        app.grant(&iam_id, "IdentityAccessManager", Some(&id)).await;
        assert_eq!(
            call(
                &app,
                &iam,
                Method::POST,
                "/v1/role-assignments",
                Some(grant)
            )
            .await,
            StatusCode::CREATED
        );
        assert_eq!(
            call(&app, &iam, Method::PATCH, &one, Some(json!({"name": "x"}))).await,
            StatusCode::FORBIDDEN
        );
    }
);

on_both_backends!(
    roles_on_one_integration_reach_only_that_integration,
    |app: TestApp| async move {
        let (mine, theirs) = (
            integration(&app, "mine").await,
            integration(&app, "theirs").await,
        );
        let (id, token) = app.principal("user", "una", &[]).await;
        app.grant(&id, "Contributor", Some(&mine)).await;
        let patch = Some(json!({"enabled": false}));
        assert_eq!(
            call(
                &app,
                &token,
                Method::PATCH,
                &format!("/v1/integrations/{mine}"),
                patch.clone()
            )
            .await,
            StatusCode::OK
        );
        // Another integration it has no role on does not exist, as far as it can tell.
        assert_eq!(
            call(
                &app,
                &token,
                Method::PATCH,
                &format!("/v1/integrations/{theirs}"),
                patch
            )
            .await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(
                &app,
                &token,
                Method::GET,
                &format!("/v1/integrations/{theirs}"),
                None
            )
            .await,
            StatusCode::NOT_FOUND
        );
        let (_, list) = app
            .request_as(&token, Method::GET, "/v1/integrations", None)
            .await;
        let names: Vec<_> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].clone())
            .collect();
        assert_eq!(names, [json!("mine")]);
    }
);

on_both_backends!(a_creator_owns_what_it_creates, |app: TestApp| async move {
    let other = integration(&app, "other").await;
    let (_, creator) = app
        .principal("service_principal", "terraform", &["IntegrationCreator"])
        .await;
    let body = json!({"kind": "webhook", "name": "made", "config": {"webhook_url": "https://x.example.com/h"}});
    let (status, created) = app
        .request_as(&creator, Method::POST, "/v1/integrations", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let made = format!("/v1/integrations/{}", created["id"].as_str().unwrap());
    assert_eq!(
        call(
            &app,
            &creator,
            Method::PATCH,
            &made,
            Some(json!({"name": "made-2"}))
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &app,
            &creator,
            Method::GET,
            &format!("/v1/integrations/{other}"),
            None
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, &creator, Method::DELETE, &made, None).await,
        StatusCode::NO_CONTENT
    );
});

on_both_backends!(
    a_grant_through_nested_groups_works_until_the_membership_goes,
    |app: TestApp| async move {
        let id = integration(&app, "ops").await;
        let (user, token) = app.principal("user", "nina", &[]).await;
        let (team, _) = app.principal("group", "sre", &[]).await;
        let (everyone, _) = app.principal("group", "engineering", &[]).await;
        for (group, member) in [(&team, &user), (&everyone, &team)] {
            let (status, body) = app
                .request(
                    Method::PUT,
                    &format!("/v1/principals/{group}/members/{member}"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        app.grant(&everyone, "Contributor", Some(&id)).await;
        let one = format!("/v1/integrations/{id}");
        assert_eq!(
            call(
                &app,
                &token,
                Method::PATCH,
                &one,
                Some(json!({"name": "ops-2"}))
            )
            .await,
            StatusCode::OK
        );

        // A cycle is refused.
        let (status, body) = app
            .request(
                Method::PUT,
                &format!("/v1/principals/{team}/members/{everyone}"),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("member_id"))
        );

        // Removing the middle membership takes the grant away at once.
        let removed = app
            .request(
                Method::DELETE,
                &format!("/v1/principals/{everyone}/members/{team}"),
                None,
            )
            .await
            .0;
        assert_eq!(removed, StatusCode::NO_CONTENT);
        assert_eq!(
            call(
                &app,
                &token,
                Method::PATCH,
                &one,
                Some(json!({"name": "ops-3"}))
            )
            .await,
            StatusCode::NOT_FOUND
        );
    }
);

on_both_backends!(
    expired_and_revoked_tokens_get_401,
    |app: TestApp| async move {
        let (user, token) = app.principal("user", "tom", &["Reader"]).await;
        assert_eq!(
            call(&app, &token, Method::GET, "/v1/me", None).await,
            StatusCode::OK
        );

        // Revoked: at once, although the token was just used (and cached).
        let (_, tokens) = app.get("/v1/tokens").await;
        let listed = tokens
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["principal_id"] == user.as_str())
            .unwrap()
            .clone();
        assert!(
            listed.get("token").is_none() && !listed.to_string().contains(&token),
            "never the value"
        );
        let revoke = app
            .delete(&format!("/v1/tokens/{}", listed["id"].as_str().unwrap()))
            .await;
        assert_eq!(revoke, StatusCode::NO_CONTENT);
        assert_eq!(
            call(&app, &token, Method::GET, "/v1/me", None).await,
            StatusCode::UNAUTHORIZED
        );

        // Expired: a token whose time has passed.
        let expired = "hld_expired_token_for_the_test_0123456789";
        let org = app.engine.store().ensure_org("default").await.unwrap();
        app.engine
            .store()
            .insert_token(&herald_store::NewToken {
                org: &org,
                principal: &herald_domain::PrincipalId::parse(&user).unwrap(),
                name: "old",
                token_hash: &herald_crypto::hash_token(expired),
                expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
            })
            .await
            .unwrap();
        assert_eq!(
            call(&app, expired, Method::GET, "/v1/me", None).await,
            StatusCode::UNAUTHORIZED
        );
        let (status, body) = app
            .post(
                "/v1/tokens",
                json!({"name": "past", "expires_at": "2020-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("expires_at"))
        );
    }
);

on_both_backends!(
    an_event_publisher_publishes_and_nothing_else,
    |app: TestApp| async move {
        let (_, publisher) = app
            .principal("service_principal", "platform", &["EventPublisher"])
            .await;
        assert_eq!(
            call(
                &app,
                &publisher,
                Method::POST,
                "/v1/events",
                Some(json!({"type": "scan_done"}))
            )
            .await,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            call(&app, &publisher, Method::GET, "/v1/deliveries", None).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&app, &publisher, Method::GET, "/v1/integrations", None).await,
            StatusCode::OK,
            "lists what it may read: nothing"
        );
        let (_, me) = app
            .request_as(&publisher, Method::GET, "/v1/me", None)
            .await;
        assert_eq!(me["permissions"], json!(["event.publish"]));
    }
);

on_both_backends!(
    changes_are_audited_with_who_what_when_and_where,
    |app: TestApp| async move {
        let id = app
            .create_webhook("audited", "https://x.example.com/SECRET-PATH-1", json!({"config": {"webhook_url": "https://x.example.com/SECRET-PATH-1", "hmac_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}))
            .await;
        app.patch(&format!("/v1/integrations/{id}"), json!({"config": {"webhook_url": "https://x.example.com/SECRET-PATH-2"}, "enabled": false})).await;
        let (principal, _) = app.principal("user", "ann", &["Reader"]).await;
        app.delete(&format!("/v1/integrations/{id}")).await;

        let (status, audit) = app.get("/v1/audit").await;
        assert_eq!(status, StatusCode::OK);
        let entries = audit["data"].as_array().unwrap();
        let actions: Vec<_> = entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "integration.delete",
                "token.create",
                "role_assignment.create",
                "principal.create",
                "integration.update",
                "integration.create"
            ]
        );
        let (_, me) = app.get("/v1/me").await;
        for entry in entries {
            assert_eq!(entry["actor_id"], me["principal_id"]);
            assert_eq!(entry["source"], "127.0.0.1");
            assert!(entry["at"].is_string());
        }
        assert_eq!(
            entries[4]["details"]["changed"],
            json!(["enabled", "config.webhook_url"])
        );
        assert_eq!(entries[2]["details"]["principal_id"], principal.as_str());
        let text = audit.to_string();
        assert!(
            !text.contains("SECRET-PATH") && !text.contains("whsec_"),
            "no secret values: {text}"
        );
        let (_, reader) = app.principal("user", "rob", &["EventPublisher"]).await;
        assert_eq!(
            call(&app, &reader, Method::GET, "/v1/audit", None).await,
            StatusCode::FORBIDDEN
        );
    }
);

/// Fills an OpenAPI path template with this organisation's ids, by parameter name.
fn fill(template: &str, ids: &Value) -> String {
    let mut path = template.to_owned();
    for (name, value) in ids.as_object().unwrap() {
        path = path.replace(&format!("{{{name}}}"), value.as_str().unwrap());
    }
    path
}

on_both_backends!(
    another_organisation_sees_nothing_on_any_route,
    |app: TestApp| async move {
        // Organisation A (the default): one of everything.
        let receiver = herald_testkit::Receiver::start().await;
        let integration_id = app
            .create_webhook("a-hook", &receiver.url("/a"), json!({}))
            .await;
        let event_id = app.emit(json!({"type": "scan_done"})).await;
        let delivery_id = app.deliveries("").await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (group, _) = app.principal("group", "a-group", &[]).await;
        let (member, _) = app.principal("user", "a-user", &[]).await;
        app.request(
            Method::PUT,
            &format!("/v1/principals/{group}/members/{member}"),
            None,
        )
        .await;
        let assignment = app.grant(&member, "Reader", Some(&integration_id)).await;
        let (_, tokens) = app.get("/v1/tokens").await;
        let token_id = tokens[0]["id"].as_str().unwrap().to_owned();
        let ids = json!({"id": "", "member_id": member});
        // The scope tree, supplies, an integration event and a registered event type.
        let created = |(status, body): (StatusCode, Value)| {
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["id"].as_str().unwrap().to_owned()
        };
        let stack = created(app.post("/v1/stacks", json!({"name": "a-stack"})).await);
        let namespace = created(
            app.post(
                "/v1/namespaces",
                json!({"name": "a-ns", "stack": "a-stack"}),
            )
            .await,
        );
        let module = created(
            app.post("/v1/modules", json!({"name": "a-mod", "namespace": "a-ns"}))
                .await,
        );
        let supply = |path: &'static str, field: &'static str, name: &'static str| {
            let body = json!({"integration_id": integration_id, field: name});
            let app = &app;
            async move { created(app.post(path, body).await) }
        };
        let stack_supply = supply("/v1/stack-supplies", "stack", "a-stack").await;
        let namespace_supply = supply("/v1/namespace-supplies", "namespace", "a-ns").await;
        let module_supply = supply("/v1/module-supplies", "module", "a-mod").await;
        let integration_event = created(
            app.post(
                "/v1/integration-events",
                json!({"integration_id": integration_id, "name": "a-demand", "trigger": "iac.run.*",
                       "scope": {"kind": "organisation"}}),
            )
            .await,
        );
        let event_type = created(
            app.post(
                "/v1/event-types",
                json!({"id": "acme.a.happened", "description": "A's own type"}),
            )
            .await,
        );
        let attachment = created(
            app.post(
                "/v1/attachments",
                json!({"integration_id": integration_id, "module": "a-mod", "run_after": "all"}),
            )
            .await,
        );

        // Organisation B: its own owner.
        let other = app.engine.store().ensure_org("other").await.unwrap();
        let b = "hld_other_org_owner_token_0123456789abcdef";
        app.engine
            .store()
            .create_owner_token(&other, "b-admin", &herald_crypto::hash_token(b))
            .await
            .unwrap();

        let (_, spec) = app.get("/openapi.json").await;
        let mut checked = 0;
        for (template, operations) in spec["paths"].as_object().unwrap() {
            if !template.contains("{id}") {
                continue;
            }
            // The id of A's resource of the kind this path is about.
            let resource = match template.split('/').nth(2).unwrap() {
                "integrations" => &integration_id,
                "events" => &event_id,
                "deliveries" => &delivery_id,
                "principals" => &group,
                "role-assignments" => &assignment,
                "tokens" => &token_id,
                "stacks" => &stack,
                "namespaces" => &namespace,
                "modules" => &module,
                "stack-supplies" => &stack_supply,
                "namespace-supplies" => &namespace_supply,
                "module-supplies" => &module_supply,
                "integration-events" => &integration_event,
                "event-types" => &event_type,
                "attachments" => &attachment,
                other => panic!("no fixture for /v1/{other}"),
            };
            let mut ids = ids.clone();
            ids["id"] = json!(resource);
            let path = fill(template, &ids);
            for method in operations.as_object().unwrap().keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let body = (method == Method::POST || method == Method::PATCH).then(|| json!({}));
                let (status, answer) = app.request_as(b, method.clone(), &path, body).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
                assert!(
                    !answer.to_string().contains("a-hook"),
                    "{method} {path}: {answer}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 15, "only {checked} operations checked");

        // Lists show B nothing of A's, and B cannot grant on A's things.
        for list in [
            "/v1/integrations",
            "/v1/deliveries",
            "/v1/principals?kind=user",
            "/v1/audit",
            "/v1/role-assignments",
            "/v1/stacks",
            "/v1/namespaces",
            "/v1/modules",
            "/v1/stack-supplies",
            "/v1/namespace-supplies",
            "/v1/module-supplies",
            "/v1/integration-events",
            "/v1/event-types",
        ] {
            let (status, answer) = app.request_as(b, Method::GET, list, None).await;
            assert_eq!(status, StatusCode::OK, "{list}");
            for secret_id in [
                &integration_id,
                &delivery_id,
                &member,
                &assignment,
                &stack,
                &module_supply,
                &integration_event,
                &event_type,
            ] {
                assert!(
                    !answer.to_string().contains(secret_id.as_str()),
                    "{list}: {answer}"
                );
            }
        }
        let (status, _) = app
            .request_as(
                b,
                Method::POST,
                "/v1/role-assignments",
                Some(json!({"principal_id": member, "role": "Reader"})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "A's principal is unknown to B"
        );
        let (status, _) = app
            .request_as(
                b,
                Method::GET,
                &format!("/v1/deliveries?event_id={event_id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // A still has everything.
        assert_eq!(
            app.get(&format!("/v1/integrations/{integration_id}"))
                .await
                .0,
            StatusCode::OK
        );
    }
);

#[tokio::test]
async fn every_operation_names_the_permission_it_needs() {
    let app = support::spawn_app(support::Db::Sqlite).await;
    let (_, spec) = app.get("/openapi.json").await;
    let mut operations = 0;
    for (path, methods) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in methods.as_object().unwrap() {
            operations += 1;
            let scopes = &operation["security"][0]["bearer"];
            let named = scopes.as_array().is_some_and(|s| !s.is_empty());
            let described = operation["description"].as_str().is_some_and(|d| {
                d.contains("principal.manage")
                    || d.contains("for itself")
                    || d.contains("permission")
            });
            let me = path == "/v1/me";
            assert!(
                named || described || me,
                "{method} {path} does not say what it needs: {operation}"
            );
        }
    }
    assert!(operations >= 25, "{operations}");
}

on_both_backends!(
    an_identity_access_manager_cannot_grant_itself_more,
    |app: TestApp| async move {
        // Issue 9: an IdentityAccessManager on one integration granted itself Owner on it,
        // then deleted it.
        let id = integration(&app, "guarded").await;
        let (iam_id, iam) = app.principal("user", "ivan", &[]).await;
        app.grant(&iam_id, "IdentityAccessManager", Some(&id)).await;
        for role in ["Owner", "Contributor"] {
            let grant = json!({"principal_id": iam_id, "role": role, "integration_id": id});
            let (status, body) = app
                .request_as(&iam, Method::POST, "/v1/role-assignments", Some(grant))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
            assert_eq!(body["error"]["field"], "role");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("integration.update"),
                "{body}"
            );
        }
        assert_eq!(
            call(
                &app,
                &iam,
                Method::DELETE,
                &format!("/v1/integrations/{id}"),
                None
            )
            .await,
            StatusCode::FORBIDDEN
        );
        // What it holds, it may pass on: Reader and IdentityAccessManager.
        let (someone, _) = app.principal("user", "sam", &[]).await;
        for role in ["Reader", "IdentityAccessManager"] {
            let grant = json!({"principal_id": someone, "role": role, "integration_id": id});
            assert_eq!(
                call(
                    &app,
                    &iam,
                    Method::POST,
                    "/v1/role-assignments",
                    Some(grant)
                )
                .await,
                StatusCode::CREATED,
                "{role}"
            );
        }
        // An Owner of the integration may grant any role on it, but none on the organisation.
        let (owner_id, owner) = app.principal("user", "olga", &[]).await;
        app.grant(&owner_id, "Owner", Some(&id)).await;
        let grant = json!({"principal_id": someone, "role": "Contributor", "integration_id": id});
        assert_eq!(
            call(
                &app,
                &owner,
                Method::POST,
                "/v1/role-assignments",
                Some(grant)
            )
            .await,
            StatusCode::CREATED
        );
        let org_grant = json!({"principal_id": owner_id, "role": "Owner"});
        assert_eq!(
            call(
                &app,
                &owner,
                Method::POST,
                "/v1/role-assignments",
                Some(org_grant)
            )
            .await,
            StatusCode::FORBIDDEN
        );
    }
);
