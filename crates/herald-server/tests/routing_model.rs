//! Issue 4, who hears what, against the real server: the supply ∩ demand matrix, how the
//! scanner filters coexist with it, the event catalogue, environment and severity filters,
//! routing explained, lookups by name and who may change what.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use support::TestApp;

async fn created(app: &TestApp, path: &str, body: Value) -> String {
    let (status, answer) = app.post(path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {answer}");
    answer["id"].as_str().unwrap().to_owned()
}

/// Two branches of the tree: s1 > n1 > m1 and s2 > n2 > m2.
async fn register_tree(app: &TestApp) {
    for (stack, namespace, module) in [("s1", "n1", "m1"), ("s2", "n2", "m2")] {
        created(app, "/v1/stacks", json!({"name": stack})).await;
        created(
            app,
            "/v1/namespaces",
            json!({"name": namespace, "stack": stack}),
        )
        .await;
        created(
            app,
            "/v1/modules",
            json!({"name": module, "namespace": namespace}),
        )
        .await;
    }
}

/// The decision about one integration in a routing explanation.
fn decision<'a>(explanation: &'a Value, integration: &str) -> &'a Value {
    explanation["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["integration_id"] == integration)
        .unwrap_or_else(|| panic!("{integration} is explained: {explanation}"))
}

/// Every combination and its expected verdicts: (supply, demand scope, event inside the
/// demand's scope, event outside it). Supplies and demands name the s1 > n1 > m1 branch; the
/// event "inside" is about m1, the one "outside" about m2, and each names only its module.
/// Delivered only when the demand's scope contains the module and the supply covers it.
const MATRIX: [(&str, &str, &str, &str); 20] = [
    ("none", "organisation", "not_supplied", "not_supplied"),
    ("none", "stack", "not_supplied", "no_matching_demand"),
    ("none", "namespace", "not_supplied", "no_matching_demand"),
    ("none", "module", "not_supplied", "no_matching_demand"),
    ("flag", "organisation", "deliver", "deliver"),
    ("flag", "stack", "deliver", "no_matching_demand"),
    ("flag", "namespace", "deliver", "no_matching_demand"),
    ("flag", "module", "deliver", "no_matching_demand"),
    ("stack", "organisation", "deliver", "not_supplied"),
    ("stack", "stack", "deliver", "no_matching_demand"),
    ("stack", "namespace", "deliver", "no_matching_demand"),
    ("stack", "module", "deliver", "no_matching_demand"),
    ("namespace", "organisation", "deliver", "not_supplied"),
    ("namespace", "stack", "deliver", "no_matching_demand"),
    ("namespace", "namespace", "deliver", "no_matching_demand"),
    ("namespace", "module", "deliver", "no_matching_demand"),
    ("module", "organisation", "deliver", "not_supplied"),
    ("module", "stack", "deliver", "no_matching_demand"),
    ("module", "namespace", "deliver", "no_matching_demand"),
    ("module", "module", "deliver", "no_matching_demand"),
];

on_both_backends!(supply_and_demand_matrix, |app: TestApp| async move {
    register_tree(&app).await;
    let mut cases = Vec::new();
    for (supply, demand, inside, outside) in MATRIX {
        let name = format!("{supply}-x-{demand}");
        let id = app
            .create_webhook(
                &name,
                "https://receiver.example.com/hook",
                json!({"is_supplied_to_all_modules": supply == "flag"}),
            )
            .await;
        let scope_name = |kind: &str| match kind {
            "stack" => "s1",
            "namespace" => "n1",
            _ => "m1",
        };
        if !matches!(supply, "none" | "flag") {
            let body = json!({"integration_id": id, supply: scope_name(supply)});
            created(&app, &format!("/v1/{supply}-supplies"), body).await;
        }
        let scope = match demand {
            "organisation" => json!({"kind": "organisation"}),
            kind => json!({"kind": kind, "name": scope_name(kind)}),
        };
        let body =
            json!({"integration_id": id, "name": "runs", "trigger": "iac.run.*", "scope": scope});
        created(&app, "/v1/integration-events", body).await;
        cases.push((supply, demand, [inside, outside], id));
    }

    let mut table = Vec::new();
    for (inside, module) in [(true, "m1"), (false, "m2")] {
        let event = app
            .emit(json!({"type": "iac.run.applied", "target_id": module}))
            .await;
        let (status, explanation) = app.get(&format!("/v1/events/{event}/routing")).await;
        assert_eq!(status, StatusCode::OK, "{explanation}");
        let (stack, namespace) = if inside { ("s1", "n1") } else { ("s2", "n2") };
        assert_eq!(
            explanation["location"],
            json!({"stack": stack, "namespace": namespace, "module": module}),
            "a registered module brings its ancestors"
        );
        let mut delivered = 0;
        for (supply, demand, verdicts, id) in &cases {
            let decided = decision(&explanation, id);
            assert_eq!(decided["routing_model"], "supply_demand");
            let got = match decided["verdict"].as_str().unwrap() {
                "deliver" => "deliver",
                _ => decided["reason"]["code"].as_str().unwrap(),
            };
            let want = if inside { verdicts[0] } else { verdicts[1] };
            table.push(format!(
                "supply {supply:9} demand {demand:12} event {:7} -> {got}",
                if inside { "inside" } else { "outside" }
            ));
            assert_eq!(
                got, want,
                "supply {supply}, demand {demand}, inside {inside}"
            );
            assert_eq!(decided["delivery_id"].is_string(), want == "deliver");
            if want == "deliver" {
                delivered += 1;
                assert_eq!(
                    decided["integration_event_ids"].as_array().unwrap().len(),
                    1
                );
            }
        }
        assert_eq!(
            app.deliveries(&format!("event_id={event}")).await.len(),
            delivered
        );
    }
    assert_eq!(table.len(), 40);
    println!("{}", table.join("\n"));
});

on_both_backends!(
    the_scanner_filters_apply_until_an_integration_event_exists,
    |app: TestApp| async move {
        let id = app
            .create_webhook(
                "scanner",
                "https://receiver.example.com/hook",
                json!({"events": ["scan_done"]}),
            )
            .await;
        let one = format!("/v1/integrations/{id}");
        let (_, integration) = app.get(&one).await;
        assert_eq!(integration["routing_model"], "filters");
        assert_eq!(integration["is_supplied_to_all_modules"], false);
        assert!(
            integration.get("warnings").is_none(),
            "its filters apply: {integration}"
        );
        // The short name and its fully qualified id are one type.
        assert_eq!(app.emit_and_count(json!({"type": "scan_done"})).await, 1);
        assert_eq!(
            app.emit_and_count(json!({"type": "security.scan.done"}))
                .await,
            1
        );
        assert_eq!(app.emit_and_count(json!({"type": "scan_failed"})).await, 0);

        let demand = created(
            &app,
            "/v1/integration-events",
            json!({"integration_id": id, "name": "failures", "trigger": "scan_failed",
                   "scope": {"kind": "organisation"}}),
        )
        .await;
        let (_, integration) = app.get(&one).await;
        assert_eq!(integration["routing_model"], "supply_demand");
        assert_eq!(
            integration["warnings"][0]["field"], "events",
            "{integration}"
        );
        // Patching in another filter is accepted, and the answer says it is inert too.
        let (status, patched) = app.patch(&one, json!({"severity_filter": "high"})).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        let warned: Vec<&str> = patched["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["field"].as_str().unwrap())
            .collect();
        assert_eq!(warned, vec!["events", "severity_filter"]);
        assert!(patched["warnings"][1]["message"]
            .as_str()
            .unwrap()
            .contains("min_severity"));
        let (_, listed) = app.get("/v1/integrations?name=scanner").await;
        assert_eq!(listed["data"][0]["routing_model"], "supply_demand");
        let (_, shown) = app.get(&format!("/v1/integration-events/{demand}")).await;
        assert_eq!(shown["trigger"], "security.scan.failed", "stored by its id");

        // Demanded but not supplied; the old `events` filter no longer applies.
        let (_, dry) = app
            .post(
                "/v1/routing/explain",
                json!({"type": "scan_failed", "target_id": "repo-1"}),
            )
            .await;
        assert_eq!(decision(&dry, &id)["reason"]["code"], "not_supplied");
        assert_eq!(app.emit_and_count(json!({"type": "scan_failed"})).await, 0);
        app.patch(&one, json!({"is_supplied_to_all_modules": true}))
            .await;
        assert_eq!(app.emit_and_count(json!({"type": "scan_failed"})).await, 1);
        assert_eq!(app.emit_and_count(json!({"type": "scan_done"})).await, 0);
        let (_, dry) = app
            .post("/v1/routing/explain", json!({"type": "scan_done"}))
            .await;
        assert_eq!(decision(&dry, &id)["reason"]["code"], "no_matching_demand");

        // Without integration events, it is back on its filters.
        assert_eq!(
            app.delete(&format!("/v1/integration-events/{demand}"))
                .await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(app.emit_and_count(json!({"type": "scan_done"})).await, 1);
        let (_, integration) = app.get(&one).await;
        assert_eq!(integration["routing_model"], "filters");
    }
);

on_both_backends!(
    environment_and_severity_filters_are_explained,
    |app: TestApp| async move {
        let id = app
            .create_webhook(
                "pager",
                "https://receiver.example.com/hook",
                json!({"is_supplied_to_all_modules": true}),
            )
            .await;
        let demand = created(
            &app,
            "/v1/integration-events",
            json!({"integration_id": id, "name": "prod-incidents", "trigger": "health.incident.*",
                   "scope": {"kind": "stack", "name": "prod"}, "environments": ["production"],
                   "min_severity": "high", "template": {"title": "{{ title }}!"}}),
        )
        .await;
        let explain = |event: Value| {
            let app = &app;
            let id = id.clone();
            async move {
                let (status, dry) = app.post("/v1/routing/explain", event).await;
                assert_eq!(status, StatusCode::OK, "{dry}");
                decision(&dry, &id).clone()
            }
        };
        let base = json!({"type": "health.incident.created", "target_id": "db", "stack": "prod",
                          "environment": "production", "severity": "critical"});
        let with = |field: &str, value: Value| {
            let mut event = base.clone();
            event[field] = value;
            event
        };
        let delivered = explain(base.clone()).await;
        assert_eq!(delivered["verdict"], "deliver");
        assert_eq!(delivered["integration_event_ids"], json!([demand]));
        let by_env = explain(with("environment", json!("staging"))).await;
        assert_eq!(by_env["reason"]["code"], "filtered_by_environment");
        assert_eq!(by_env["reason"]["integration_event_ids"], json!([demand]));
        let by_severity = explain(with("severity", json!("medium"))).await;
        assert_eq!(by_severity["reason"]["code"], "filtered_by_severity");
        let elsewhere = explain(with("stack", json!("dev"))).await;
        assert_eq!(elsewhere["reason"]["code"], "no_matching_demand");
        let other_type = explain(with("type", json!("health.maintenance.started"))).await;
        assert_eq!(other_type["reason"]["code"], "no_matching_demand");

        // Disabling the integration event, then the integration.
        app.patch(
            &format!("/v1/integration-events/{demand}"),
            json!({"enabled": false}),
        )
        .await;
        assert_eq!(
            explain(base.clone()).await["reason"]["code"],
            "no_matching_demand"
        );
        app.patch(
            &format!("/v1/integration-events/{demand}"),
            json!({"enabled": true}),
        )
        .await;
        app.patch(&format!("/v1/integrations/{id}"), json!({"enabled": false}))
            .await;
        assert_eq!(explain(base.clone()).await["reason"]["code"], "disabled");
    }
);

on_both_backends!(
    the_catalogue_refuses_unknown_types_and_data_breaking_a_schema,
    |app: TestApp| async move {
        let (status, error) = app
            .post("/v1/events", json!({"type": "acme.deploy.finished"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["error"]["field"], "type");
        let (status, _) = app
            .post(
                "/v1/routing/explain",
                json!({"type": "acme.deploy.finished"}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a dry run is refused alike"
        );

        let schema = json!({"type": "object", "required": ["version"],
            "properties": {"version": {"type": "string"},
                           "hosts": {"type": "array", "items": {"type": "string"}}}});
        let (status, registered) = app
            .post(
                "/v1/event-types",
                json!({"id": "acme.deploy.finished", "description": "A deploy finished.", "schema": schema}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{registered}");
        let refused = |data: Value| {
            let app = &app;
            async move {
                let (status, error) = app
                    .post(
                        "/v1/events",
                        json!({"type": "acme.deploy.finished", "data": data}),
                    )
                    .await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
                error["error"]["field"].as_str().unwrap().to_owned()
            }
        };
        assert_eq!(refused(json!({"version": 2})).await, "data.version");
        assert_eq!(
            refused(json!({"version": "2", "hosts": ["a", 1]})).await,
            "data.hosts[1]"
        );
        assert_eq!(refused(Value::Null).await, "data");
        app.emit(json!({"type": "acme.deploy.finished", "data": {"version": "2"}}))
            .await;
        let (status, error) = app
            .post(
                "/v1/events",
                json!({"type": "iac.run.plan_finished", "data": {"plan": {"add": -1}}}),
            )
            .await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("data.plan.add"))
        );

        // Bad registrations.
        for (body, field, code) in [
            (
                json!({"id": "deploy", "description": "d"}),
                "id",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"id": "a.b", "description": "d", "schema": {"type": 7}}),
                "schema",
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"id": "acme.deploy.finished", "description": "d"}),
                "id",
                StatusCode::CONFLICT,
            ),
            (
                json!({"id": "security.scan.done", "description": "d"}),
                "id",
                StatusCode::CONFLICT,
            ),
        ] {
            let (status, error) = app.post("/v1/event-types", body.clone()).await;
            assert_eq!(
                (status, error["error"]["field"].as_str()),
                (code, Some(field)),
                "{body}: {error}"
            );
        }

        // Presets and registered types, found by id or alias.
        let (_, all) = app.get("/v1/event-types").await;
        let ids: Vec<&str> = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        for id in [
            "iac.run.waiting_for_approval",
            "security.scan.finding_new",
            "health.maintenance.ended",
            "acme.deploy.finished",
        ] {
            assert!(ids.contains(&id), "{id} in {ids:?}");
        }
        let (_, by_alias) = app.get("/v1/event-types?name=scan_done").await;
        assert_eq!(by_alias["data"][0]["id"], "security.scan.done");
        let (status, one) = app.get("/v1/event-types/finding_new").await;
        assert_eq!(
            (status, one["aliases"].clone()),
            (StatusCode::OK, json!(["finding_new"]))
        );
        assert_eq!(
            app.delete("/v1/event-types/iac.run.failed").await,
            StatusCode::CONFLICT
        );
        assert_eq!(
            app.delete("/v1/event-types/acme.deploy.finished").await,
            StatusCode::NO_CONTENT
        );
        let (status, _) = app
            .post(
                "/v1/events",
                json!({"type": "acme.deploy.finished", "data": {"version": "3"}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unregistered again"
        );
        // A trigger must name a known type.
        let id = app
            .create_webhook("t", "https://receiver.example.com/hook", json!({}))
            .await;
        let (status, error) = app
            .post("/v1/integration-events", json!({"integration_id": id, "name": "n", "trigger": "acme.nope", "scope": {"kind": "organisation"}}))
            .await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("trigger"))
        );
    }
);

on_both_backends!(
    every_resource_is_found_by_name_and_changes_need_their_permission,
    |app: TestApp| async move {
        register_tree(&app).await;
        let mine = app
            .create_webhook("mine", "https://receiver.example.com/a", json!({}))
            .await;
        let theirs = app
            .create_webhook("theirs", "https://receiver.example.com/b", json!({}))
            .await;
        created(
            &app,
            "/v1/module-supplies",
            json!({"integration_id": mine, "module": "m1"}),
        )
        .await;
        created(
            &app,
            "/v1/integration-events",
            json!({"integration_id": mine, "name": "applied", "trigger": "iac.run.applied", "scope": {"kind": "namespace", "name": "n1"}}),
        )
        .await;
        for (list, name, expect) in [
            ("/v1/stacks", "s2", "s2"),
            ("/v1/namespaces", "n1", "n1"),
            ("/v1/modules", "m2", "m2"),
            ("/v1/module-supplies", "m1", "m1"),
            ("/v1/integration-events", "applied", "applied"),
            ("/v1/integrations", "mine", "mine"),
            ("/v1/event-types", "iac.run.applied", "iac.run.applied"),
        ] {
            let (status, page) = app.get(&format!("{list}?name={name}")).await;
            assert_eq!(status, StatusCode::OK, "{list}: {page}");
            let found = page["data"].as_array().unwrap();
            assert_eq!(found.len(), 1, "{list}: {page}");
            let shown = found[0]
                .get("name")
                .or(found[0].get("module"))
                .or(found[0].get("id"))
                .unwrap();
            assert_eq!(shown, expect, "{list}");
        }
        let (_, m1) = app.get("/v1/modules?name=m1").await;
        assert_eq!(m1["data"][0]["namespace"], "n1");
        let (_, in_n1) = app.get("/v1/modules?parent=n1").await;
        assert_eq!(in_n1["data"].as_array().unwrap().len(), 1);

        // The tree is kept whole; names are unique per kind.
        let (_, s1) = app.get("/v1/stacks?name=s1").await;
        let s1 = s1["data"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.delete(&format!("/v1/stacks/{s1}")).await,
            StatusCode::CONFLICT
        );
        let (status, _) = app.post("/v1/stacks", json!({"name": "s1"})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, error) = app
            .post("/v1/modules", json!({"name": "m9", "namespace": "nope"}))
            .await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("namespace"))
        );

        // A contributor on one integration changes its supplies and demand, nothing else.
        let (principal, token) = app.principal("user", "cora", &[]).await;
        app.grant(&principal, "Contributor", Some(&mine)).await;
        let supply = |integration: &str| json!({"integration_id": integration, "stack": "s2"});
        let (status, _) = app
            .request_as(
                &token,
                Method::POST,
                "/v1/stack-supplies",
                Some(supply(&mine)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = app
            .request_as(
                &token,
                Method::POST,
                "/v1/stack-supplies",
                Some(supply(&theirs)),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "an integration it cannot read does not exist"
        );
        let (_, visible) = app
            .request_as(&token, Method::GET, "/v1/stack-supplies", None)
            .await;
        assert_eq!(visible["data"].as_array().unwrap().len(), 1);
        let (status, error) = app
            .request_as(
                &token,
                Method::POST,
                "/v1/stacks",
                Some(json!({"name": "s3"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("catalogue.manage"));
        let (_, reader) = app.principal("user", "rex", &["Reader"]).await;
        let (status, _) = app
            .request_as(&reader, Method::GET, "/v1/modules", None)
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = app
            .request_as(
                &reader,
                Method::POST,
                "/v1/module-supplies",
                Some(json!({"integration_id": mine, "module": "m2"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Every change is audited.
        let (_, audit) = app.get("/v1/audit").await;
        let actions: Vec<&str> = audit["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for action in [
            "stack.create",
            "namespace.create",
            "module.create",
            "module_supply.create",
            "stack_supply.create",
            "integration_event.create",
        ] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }

        // Deleting the integration takes its supplies and integration events with it.
        app.delete(&format!("/v1/integrations/{mine}")).await;
        let (_, left) = app.get("/v1/integration-events").await;
        assert_eq!(left["data"], json!([]));
        let (_, left) = app.get("/v1/module-supplies").await;
        assert_eq!(left["data"], json!([]));
    }
);
