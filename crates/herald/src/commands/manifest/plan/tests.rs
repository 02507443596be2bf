use serde_json::json;

use super::*;
use crate::commands::manifest::state::Remote;
use crate::commands::manifest::state::{
    RemoteAttachment, RemoteIntegration, RemoteIntegrationEvent, RemoteSupply,
};
use crate::commands::manifest::{parse, ScopeSpec};
use herald_domain::attachment::RunAfter;

fn env(name: &str) -> Option<String> {
    (name == "TOKEN").then(|| "xoxb-secret".to_owned())
}

fn slack(id: &str, name: &str) -> RemoteIntegration {
    RemoteIntegration {
        id: id.into(),
        name: name.into(),
        kind: "slack".into(),
        enabled: true,
        severity_filter: None,
        events: None,
        target_ids: None,
        config_keys: vec!["bot_token".into(), "default_channel".into()],
        template: None,
        is_supplied_to_all_modules: false,
        destinations: None,
    }
}

const SLACK: &str = "
integrations:
  - name: ops
    kind: slack
    config: {bot_token: '${TOKEN}', default_channel: '#ops'}
";

fn plan_of(yaml: &str, remote: &Remote, options: &Options) -> Plan {
    plan(&parse(yaml).unwrap(), remote, options, &env).unwrap()
}

fn summary(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .flat_map(|s| s.requests.iter().map(|r| format!("{r:?}")))
        .collect()
}

#[test]
fn an_unchanged_integration_plans_nothing_and_a_changed_one_names_its_fields() {
    let remote = Remote {
        integrations: vec![slack("int_1", "ops")],
        ..Remote::default()
    };
    let plan = plan_of(SLACK, &remote, &Options::default());
    assert!(plan.is_empty());
    assert_eq!(plan.unchanged, 1);
    assert!(plan
        .render("f.yaml")
        .starts_with("No changes: 1 resource(s)"));

    let changed = format!("{SLACK}    enabled: false\n    events: [scan_done, scan_done]\n");
    let plan = plan_of(&changed, &remote, &Options::default());
    assert_eq!(
        plan.steps[0].change,
        Change::Update(vec!["enabled".into(), "events".into()])
    );
    let request = &plan.steps[0].requests[0];
    assert_eq!(request.path, "/v1/integrations/int_1");
    // Only what changes is sent, normalised as the server stores it; no config.
    assert_eq!(
        request.body,
        Some(json!({"enabled": false, "events": ["scan_done"]}))
    );
}

#[test]
fn config_is_sent_when_its_keys_differ_or_when_asked_and_never_printed() {
    let mut stored = slack("int_1", "ops");
    stored.config_keys.push("old_key".into());
    let remote = Remote {
        integrations: vec![stored],
        ..Remote::default()
    };
    let plan = plan_of(SLACK, &remote, &Options::default());
    assert_eq!(
        plan.steps[0].change,
        Change::Update(vec!["config (-old_key)".into()])
    );
    assert_eq!(
        plan.steps[0].requests[0].body,
        Some(
            json!({"config": {"bot_token": "xoxb-secret", "default_channel": "#ops", "old_key": null}})
        )
    );
    let shown = format!("{}{:?}", plan.render("f"), plan);
    assert!(!shown.contains("xoxb-secret"), "{shown}");

    let remote = Remote {
        integrations: vec![slack("int_1", "ops")],
        ..Remote::default()
    };
    let resend = Options {
        resend_config: Some(vec![]),
        ..Options::default()
    };
    let plan = plan_of(SLACK, &remote, &resend);
    assert_eq!(
        plan.steps[0].change,
        Change::Update(vec!["config (re-sent)".into()])
    );
    let other = Options {
        resend_config: Some(vec!["someone else".into()]),
        ..Options::default()
    };
    assert!(plan_of(SLACK, &remote, &other).is_empty());
}

#[test]
fn references_to_integrations_being_created_wait_for_their_id() {
    let yaml = format!(
        "{SLACK}supplies:\n  - {{integration: ops, stack: prod}}\nintegration_events:\n  - {{integration: ops, name: all, trigger: scan_done}}\n"
    );
    let remote = Remote {
        event_types: vec![crate::commands::manifest::state::RemoteEventType {
            id: "security.scan.done".into(),
            description: String::new(),
            schema: None,
            aliases: vec!["scan_done".into()],
            preset: true,
        }],
        ..Remote::default()
    };
    let plan = plan_of(&yaml, &remote, &Options::default());
    assert_eq!(
        summary(&plan),
        [
            "POST /v1/integrations",
            "POST /v1/stack-supplies",
            "POST /v1/integration-events"
        ]
    );
    assert_eq!(
        plan.steps[0].requests[0].creates_integration.as_deref(),
        Some("ops")
    );
    let demand = &plan.steps[2].requests[0];
    assert_eq!(demand.integration, Some(IntegrationRef::New("ops".into())));
    // The alias is compared and sent as the id the server stores.
    assert_eq!(
        demand.body.as_ref().unwrap()["trigger"],
        "security.scan.done"
    );
}

#[test]
fn an_unknown_reference_or_a_duplicate_is_an_error_naming_its_path() {
    let error = plan(
        &parse("supplies:\n  - {integration: ghost, module: api}\n").unwrap(),
        &Remote::default(),
        &Options::default(),
        &env,
    )
    .unwrap_err();
    assert_eq!(
        error,
        "supplies[0].integration: there is no integration named `ghost` in the file or on the server"
    );
    let twice = format!("{SLACK}{}", &SLACK["\nintegrations:\n".len()..]);
    let error = plan(
        &parse(&twice).unwrap(),
        &Remote::default(),
        &Options::default(),
        &env,
    )
    .unwrap_err();
    assert!(
        error.starts_with("integrations[1].name: `ops` is listed twice"),
        "{error}"
    );
    let error = plan(
        &parse("supplies:\n  - {integration: x, module: a, stack: b}\n").unwrap(),
        &Remote::default(),
        &Options::default(),
        &env,
    )
    .unwrap_err();
    assert_eq!(
        error,
        "supplies[0]: name exactly one of stack, namespace or module"
    );
}

fn attachment(id: &str, module: &str, run_after: RunAfter) -> RemoteAttachment {
    RemoteAttachment {
        id: id.into(),
        integration_id: "int_1".into(),
        module: module.into(),
        run_after,
        destinations: None,
    }
}

#[test]
fn attachments_are_created_updated_and_pruned_by_integration_and_module() {
    let yaml = format!(
        "{SLACK}attachments:
  - {{integration: ops, module: api, run_after: plan}}
  - integration: ops
    module: web
    run_after: all
    destinations: {{default: ['#web'], environments: {{prod: ['#web-prod']}}}}
  - {{integration: ops, module: db, run_after: apply, destinations: {{default: []}}}}
"
    );
    let remote = Remote {
        integrations: vec![slack("int_1", "ops")],
        attachments: Some(vec![
            attachment("att_api", "api", RunAfter::Apply),
            attachment("att_db", "db", RunAfter::Apply),
            attachment("att_old", "old", RunAfter::All),
        ]),
        ..Remote::default()
    };
    let plan = plan_of(&yaml, &remote, &Options::default());
    // db is unchanged: an empty list counts as no destinations.
    assert_eq!(plan.unchanged, 2);
    assert_eq!(
        summary(&plan),
        ["PATCH /v1/attachments/att_api", "POST /v1/attachments"]
    );
    assert_eq!(
        plan.steps[0].change,
        Change::Update(vec!["run_after".into()])
    );
    assert_eq!(
        plan.steps[0].requests[0].body,
        Some(json!({"run_after": "plan"}))
    );
    let create = &plan.steps[1].requests[0];
    assert_eq!(
        create.body,
        Some(json!({"module": "web", "run_after": "all",
                    "destinations": {"default": ["#web"], "environments": {"prod": ["#web-prod"]}}}))
    );
    assert_eq!(
        create.integration,
        Some(IntegrationRef::Existing("int_1".into()))
    );

    let prune = Options {
        prune: true,
        ..Options::default()
    };
    let plan = plan_of(&yaml, &remote, &prune);
    assert_eq!(
        summary(&plan).last().unwrap(),
        "DELETE /v1/attachments/att_old"
    );
    assert!(plan
        .render("f")
        .contains("- delete   attachment \"ops\" → module old"));

    // Clearing destinations sends an empty object.
    let mut with = attachment("att_api", "api", RunAfter::Plan);
    with.destinations = Some(herald_domain::attachment::Destinations {
        default: vec!["#x".into()],
        ..Default::default()
    });
    let remote = Remote {
        integrations: vec![slack("int_1", "ops")],
        attachments: Some(vec![with]),
        ..Remote::default()
    };
    let plan = plan_of(
        &format!("{SLACK}attachments:\n  - {{integration: ops, module: api, run_after: plan}}\n"),
        &remote,
        &Options::default(),
    );
    assert_eq!(
        plan.steps[0].requests[0].body,
        Some(json!({"destinations": {}}))
    );
}

#[test]
fn attachments_need_a_server_that_has_them() {
    let yaml =
        format!("{SLACK}attachments:\n  - {{integration: ops, module: api, run_after: plan}}\n");
    let error = plan(
        &parse(&yaml).unwrap(),
        &Remote::default(),
        &Options::default(),
        &env,
    )
    .unwrap_err();
    assert!(error.contains("no workspace attachments API"), "{error}");
}

#[test]
fn prune_deletes_only_within_the_sections_of_the_file_dependants_first() {
    let remote = Remote {
        integrations: vec![slack("int_1", "ops"), slack("int_2", "gone")],
        supplies: vec![RemoteSupply {
            id: "sup_1".into(),
            integration_id: "int_2".into(),
            kind: herald_domain::ScopeKind::Module,
            stack: None,
            namespace: None,
            module: Some("api".into()),
        }],
        integration_events: vec![RemoteIntegrationEvent {
            id: "ie_1".into(),
            integration_id: "int_2".into(),
            name: "x".into(),
            trigger: "*".into(),
            scope: ScopeSpec::default(),
            environments: None,
            min_severity: None,
            enabled: true,
            template: None,
        }],
        ..Remote::default()
    };
    let prune = Options {
        prune: true,
        ..Options::default()
    };
    // Only integrations are managed: the stale supply and integration event stay listed.
    let plan = plan_of(SLACK, &remote, &prune);
    assert_eq!(summary(&plan), ["DELETE /v1/integrations/int_2"]);
    let yaml = format!("{SLACK}supplies: []\nintegration_events: []\n");
    let plan = plan_of(&yaml, &remote, &prune);
    assert_eq!(
        summary(&plan),
        [
            "DELETE /v1/integration-events/ie_1",
            "DELETE /v1/module-supplies/sup_1",
            "DELETE /v1/integrations/int_2"
        ]
    );
    // Without --prune nothing is deleted.
    assert!(plan_of(&yaml, &remote, &Options::default()).is_empty());
}
