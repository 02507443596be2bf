//! `herald apply` and `herald export` against the real binary: idempotent applies, dry runs,
//! credentials only as environment references, and an export that round-trips without secrets.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use reqwest::Method;
use serde_json::Value;
use support::{Herald, TOKEN};

const BOT_TOKEN: &str = "xoxb-1111-2222-SECRETBOTTOKEN";
const HOOK_PATH: &str = "T0SECRET/B0SECRET/hookpathsecret";
const HMAC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const FILE: &str = r##"
scopes:
  stacks: [prod]
  namespaces:
    - {name: payments, stack: prod}
  modules:
    - {name: api, namespace: payments}
event_types:
  - id: acme.deploy.finished
    description: A deploy finished
integrations:
  - name: ops slack
    kind: slack
    destinations:
      default: [C0OPS]
      environments: {production: [C0PROD]}
    config:
      bot_token: ${SLACK_TOKEN}
      default_channel: "#ops"
  - name: audit hook
    kind: webhook
    events: [scan_done]
    template: {title: "{{ title }}!"}
    config:
      webhook_url: https://hooks.example.com/services/${HOOK_PATH}
      hmac_secret: ${HOOK_HMAC}
supplies:
  - {integration: ops slack, stack: prod}
  - {integration: audit hook, module: api}
integration_events:
  - integration: ops slack
    name: prod runs
    trigger: iac.run.*
    scope: {kind: stack, name: prod}
    environments: [production]
    min_severity: high
  - integration: audit hook
    name: scans
    trigger: scan_done
  - integration: audit hook
    name: deploys
    trigger: acme.deploy.finished
    scope: {kind: module, name: api}
attachments:
  - integration: ops slack
    module: api
    run_after: apply
    destinations:
      environments: {production: [C0APIPROD]}
"##;

fn secrets() -> Vec<(&'static str, String)> {
    vec![
        ("SLACK_TOKEN", BOT_TOKEN.into()),
        ("HOOK_PATH", HOOK_PATH.into()),
        ("HOOK_HMAC", HMAC.into()),
    ]
}

/// Runs the CLI with only these variables (and the server's address and token).
fn cli(herald: &Herald, args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env_clear()
        .env("HERALD_URL", herald.base())
        .env("HERALD_TOKEN", TOKEN)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn failed(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "it should fail; stdout:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn audit_count(herald: &Herald) -> usize {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page = herald
            .call(Method::GET, &format!("/v1/audit?limit=250{cursor}"), None)
            .await;
        count += page["data"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return count,
        }
    }
}

async fn integration(herald: &Herald, name: &str) -> Value {
    let page = herald
        .call(
            Method::GET,
            &format!("/v1/integrations?name={}", name.replace(' ', "%20")),
            None,
        )
        .await;
    page["data"][0].clone()
}

fn start() -> (Herald, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let herald = Herald::start(&[
        ("HERALD_DATA_DIR", dir.path().display().to_string()),
        ("HERALD_WORKERS", "0".to_owned()),
    ]);
    (herald, dir)
}

#[tokio::test]
async fn apply_creates_everything_then_a_second_run_changes_nothing() {
    let (herald, dir) = start();
    let file = write(dir.path(), "herald.yaml", FILE);

    let applied = cli(&herald, &["apply", "-f", &file], &secrets());
    let out = ok(&applied);
    assert!(
        out.contains("+ create   integration \"ops slack\" (slack)"),
        "{out}"
    );
    // The audit hook keeps an `events` filter beside its integration event: said, not refused.
    let warned = String::from_utf8_lossy(&applied.stderr);
    assert!(
        warned.contains("warning: ") && warned.contains("integrations[1].events (\"audit hook\")"),
        "{warned}"
    );
    assert!(!warned.contains("ops slack"), "{warned}");
    assert!(out.contains("Plan: 12 to create, 0 to update"), "{out}");
    assert!(out.contains("Applied 12 change(s)."), "{out}");

    let slack = integration(&herald, "ops slack").await;
    assert_eq!(slack["kind"], "slack");
    assert_eq!(
        slack["config_keys"],
        serde_json::json!(["bot_token", "default_channel"])
    );
    let hook = integration(&herald, "audit hook").await;
    assert_eq!(hook["events"], serde_json::json!(["scan_done"]));
    assert_eq!(hook["template"]["title"], "{{ title }}!");
    assert_eq!(hook["routing_model"], "supply_demand");
    assert_eq!(hook["warnings"][0]["field"], "events", "{hook}");
    let slack_id = slack["id"].as_str().unwrap();
    let supplies = herald
        .call(
            Method::GET,
            &format!("/v1/stack-supplies?integration_id={slack_id}"),
            None,
        )
        .await;
    assert_eq!(supplies["data"][0]["stack"], "prod");
    let demand = herald
        .call(
            Method::GET,
            &format!(
                "/v1/integration-events?integration_id={}",
                hook["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let triggers: Vec<&str> = demand["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["trigger"].as_str().unwrap())
        .collect();
    assert!(triggers.contains(&"security.scan.done"), "{triggers:?}");
    assert_eq!(
        slack["destinations"]["environments"]["production"],
        serde_json::json!(["C0PROD"])
    );
    let attached = herald
        .call(
            Method::GET,
            &format!("/v1/attachments?integration_id={slack_id}"),
            None,
        )
        .await;
    assert_eq!(attached["data"][0]["module"], "api");
    assert_eq!(attached["data"][0]["run_after"], "apply");
    assert_eq!(
        attached["data"][0]["destinations"]["environments"]["production"],
        serde_json::json!(["C0APIPROD"])
    );
    let modules = herald.call(Method::GET, "/v1/modules?name=api", None).await;
    assert_eq!(modules["data"][0]["namespace"], "payments");
    // Nothing the CLI printed holds a secret.
    for secret in [BOT_TOKEN, HOOK_PATH, HMAC] {
        assert!(!out.contains(secret));
    }

    // Again: no changes, and no write call (the audit log records every change).
    let before = audit_count(&herald).await;
    let out = ok(&cli(&herald, &["apply", "-f", &file], &secrets()));
    assert!(out.starts_with("No changes: 12 resource(s)"), "{out}");
    assert_eq!(audit_count(&herald).await, before);

    // A dry run of a changed file prints the plan and changes nothing.
    let changed = FILE
        .replace("  stacks: [prod]", "  stacks: [prod, staging]")
        .replace("min_severity: high", "min_severity: critical")
        .replace(
            "  - name: audit hook\n    kind: webhook\n",
            "  - name: audit hook\n    kind: webhook\n    enabled: false\n",
        )
        .replace("      hmac_secret: ${HOOK_HMAC}\n", "");
    let changed = write(dir.path(), "changed.yaml", &changed);
    let out = ok(&cli(
        &herald,
        &["apply", "-f", &changed, "--dry-run"],
        &secrets(),
    ));
    assert!(out.contains("+ create   stack \"staging\""), "{out}");
    assert!(
        out.contains(
            "~ update   integration \"audit hook\" (webhook): enabled, config (-hmac_secret)"
        ),
        "{out}"
    );
    assert!(
        out.contains("~ update   integration event \"prod runs\" of \"ops slack\": min_severity"),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was changed."), "{out}");
    assert_eq!(audit_count(&herald).await, before);
    assert_eq!(integration(&herald, "audit hook").await["enabled"], true);

    // Applied for real, then idempotent again.
    let out = ok(&cli(&herald, &["apply", "-f", &changed], &secrets()));
    assert!(out.contains("Applied 3 change(s)."), "{out}");
    assert_eq!(integration(&herald, "audit hook").await["enabled"], false);
    assert_eq!(
        integration(&herald, "audit hook").await["config_keys"],
        serde_json::json!(["webhook_url"])
    );
    let before = audit_count(&herald).await;
    let out = ok(&cli(&herald, &["apply", "-f", &changed], &secrets()));
    assert!(out.starts_with("No changes"), "{out}");
    // Re-sending a rotated secret is explicit.
    let out = ok(&cli(
        &herald,
        &["apply", "-f", &changed, "--resend-config", "ops slack"],
        &secrets(),
    ));
    assert!(
        out.contains("~ update   integration \"ops slack\" (slack): config (re-sent)"),
        "{out}"
    );
    assert!(out.contains("Applied 1 change(s)."), "{out}");
    assert_eq!(audit_count(&herald).await, before + 1);
}

#[tokio::test]
async fn export_has_no_secrets_and_applying_it_changes_nothing() {
    let (herald, dir) = start();
    let file = write(dir.path(), "herald.yaml", FILE);
    ok(&cli(&herald, &["apply", "-f", &file], &secrets()));

    let exported = dir.path().join("exported.yaml");
    let exported_path = exported.display().to_string();
    ok(&cli(&herald, &["export", "-o", &exported_path], &[]));
    let text = std::fs::read_to_string(&exported).unwrap();
    for secret in [BOT_TOKEN, HOOK_PATH, HMAC, "#ops"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("bot_token: ${OPS_SLACK_BOT_TOKEN}"), "{text}");
    assert!(text.contains("trigger: security.scan.done"), "{text}");
    // The same to standard output.
    assert_eq!(ok(&cli(&herald, &["export"], &[])), text);

    let before = audit_count(&herald).await;
    let env = [
        ("OPS_SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("OPS_SLACK_DEFAULT_CHANNEL", "#ops".to_owned()),
        (
            "AUDIT_HOOK_WEBHOOK_URL",
            format!("https://hooks.example.com/services/{HOOK_PATH}"),
        ),
        ("AUDIT_HOOK_HMAC_SECRET", HMAC.to_owned()),
    ];
    let out = ok(&cli(&herald, &["apply", "-f", &exported_path], &env));
    assert!(out.starts_with("No changes"), "{out}");
    assert_eq!(audit_count(&herald).await, before);
    // Pruning against the export finds nothing to delete either.
    let out = ok(&cli(
        &herald,
        &["apply", "-f", &exported_path, "--prune", "--dry-run"],
        &env,
    ));
    assert!(out.starts_with("No changes"), "{out}");
}

#[tokio::test]
async fn literal_secrets_missing_variables_and_api_refusals_are_errors() {
    let (herald, dir) = start();

    let literal = FILE.replace("${SLACK_TOKEN}", BOT_TOKEN);
    let literal = write(dir.path(), "literal.yaml", &literal);
    let error = failed(&cli(&herald, &["apply", "-f", &literal], &secrets()));
    assert!(
        error.contains("integrations[0].config.bot_token: a literal value is refused"),
        "{error}"
    );
    assert!(!error.contains(BOT_TOKEN), "{error}");

    let file = write(dir.path(), "herald.yaml", FILE);
    let mut env = secrets();
    env.retain(|(name, _)| *name != "HOOK_HMAC");
    let error = failed(&cli(&herald, &["apply", "-f", &file, "--dry-run"], &env));
    assert!(
        error.contains(
            "integrations[1].config.hmac_secret: the environment variable HOOK_HMAC is not set"
        ),
        "{error}"
    );
    assert_eq!(audit_count(&herald).await, 0, "nothing was changed");

    // The server's refusal, with its field and message, names what was being done.
    let bad = FILE.replace("trigger: iac.run.*", "trigger: nope.not.registered");
    let bad = write(dir.path(), "bad.yaml", &bad);
    let error = failed(&cli(&herald, &["apply", "-f", &bad], &secrets()));
    assert!(
        error.contains("integration event \"prod runs\" of \"ops slack\" failed: POST /v1/integration-events: 422"),
        "{error}"
    );
    assert!(error.contains("invalid_field: trigger: "), "{error}");
    assert!(error.contains("stopped after"), "{error}");

    let unknown = write(dir.path(), "unknown.yaml", "integrations:\n  - nme: x\n");
    let error = failed(&cli(&herald, &["apply", "-f", &unknown], &[]));
    assert!(
        error.contains("unknown.yaml: integrations[0]: unknown field `nme`"),
        "{error}"
    );
}
