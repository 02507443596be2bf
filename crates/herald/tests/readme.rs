//! The README's quick tour, executed as written.
//!
//! Every `sh` block of the "A quick tour" section runs, in order, in one bash (`set -euo
//! pipefail`), from a fresh directory, with this build's `herald` first on `PATH`. The tour
//! uses fixed ports (8080 for Herald, 9000 for its receiver), so it runs in a network and PID
//! namespace of its own: the ports are free whatever else runs, and everything the tour leaves
//! running in the background ends with it. The assertions are what the README says will
//! happen: the calls succeed, the receiver gets signed deliveries, the log shows them, a
//! delivery to a stopped receiver waits with its error on record, and it is delivered once the
//! receiver is back.

use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const README: &str = include_str!("../../../README.md");

/// The `sh` blocks of the quick tour, in order.
fn tour_blocks() -> Vec<String> {
    let start = README
        .find("## A quick tour")
        .expect("the README has a quick tour");
    let rest = &README[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut remaining = section;
    while let Some(open) = remaining.find("```sh\n") {
        let body = &remaining[open + "```sh\n".len()..];
        let close = body.find("```").expect("every block is closed");
        blocks.push(body[..close].to_owned());
        remaining = &body[close + 3..];
    }
    assert!(blocks.len() >= 4, "the tour has its blocks: {blocks:?}");
    blocks
}

/// Runs the script in fresh network and PID namespaces; unprivileged, through a user namespace.
fn run_isolated(dir: &std::path::Path, script: &std::path::Path) -> Output {
    let herald = env!("CARGO_BIN_EXE_herald");
    let bin_dir = std::path::Path::new(herald).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let inner = format!("ip link set lo up && exec bash {}", script.display());
    let attempt = |user_namespace: bool| {
        let mut command = Command::new("timeout");
        command.arg("300").arg("unshare");
        if user_namespace {
            command.arg("--map-root-user");
        }
        command
            .args(["--net", "--pid", "--fork", "--mount-proc", "bash", "-c"])
            .arg(&inner)
            .current_dir(dir)
            .env("PATH", &path)
            .env_remove("HERALD_TOKEN")
            .env_remove("HERALD_URL")
            .env_remove("HERALD_DATABASE_URL")
            .env_remove("HERALD_DATA_DIR")
            .env_remove("HERALD_LISTEN")
            .env("NO_COLOR", "1");
        command
            .output()
            .expect("timeout, unshare and bash are installed")
    };
    let output = attempt(false);
    let refused = String::from_utf8_lossy(&output.stderr).contains("unshare failed");
    if refused {
        attempt(true)
    } else {
        output
    }
}

/// The output of each block, split on the markers the script prints.
fn outputs_by_block(stdout: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let marker = format!("::block {i}::\n");
            let start = stdout
                .find(&marker)
                .unwrap_or_else(|| panic!("block {i} ran:\n{stdout}"))
                + marker.len();
            let end = stdout[start..]
                .find("::block ")
                .map_or(stdout.len(), |end| start + end);
            stdout[start..end].to_owned()
        })
        .collect()
}

/// A webhook the tour's receiver printed: its headers, a blank line, then the body on one line.
/// The receiver runs in the background, so its output may be interleaved with the tour's own.
struct Printed {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

fn printed_webhooks(stdout: &str) -> Vec<Printed> {
    let value_after = |text: &str, name: &str| -> Option<(String, usize)> {
        let start = text.find(name)? + name.len();
        let end = text[start..]
            .find('\n')
            .map_or(text.len(), |end| start + end);
        Some((text[start..end].to_owned(), end))
    };
    let mut found = Vec::new();
    let mut rest = stdout;
    while let Some((id, after_id)) = value_after(rest, "webhook-id: ") {
        let headers = &rest[after_id..];
        let (timestamp, _) = value_after(headers, "webhook-timestamp: ").expect("a timestamp");
        let (signature, _) = value_after(headers, "webhook-signature: ").expect("a signature");
        let (body, _) = value_after(headers, "\n {").expect("a body follows the headers");
        found.push(Printed {
            id,
            timestamp,
            signature,
            body: format!("{{{body}"),
        });
        rest = headers;
    }
    found
}

/// Standard Webhooks: HMAC-SHA256 over `id.timestamp.body` with the secret's decoded key.
fn signed_with(secret: &str, printed: &Printed) -> bool {
    let key = B64.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", printed.id, printed.timestamp, printed.body).as_bytes());
    let expected = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    printed.signature.split(' ').any(|given| given == expected)
}

/// The rows of a `herald deliveries list` table: (id, status, attempts).
fn delivery_rows(output: &str) -> Vec<(String, String, String)> {
    output
        .lines()
        .filter(|line| line.starts_with("dlv_"))
        .map(|line| {
            let mut cells = line.split_whitespace();
            let mut next = || cells.next().unwrap_or_default().to_owned();
            (next(), next(), next())
        })
        .collect()
}

fn block_with<'a>(blocks: &[String], outputs: &'a [String], needle: &str) -> &'a str {
    let index = blocks
        .iter()
        .position(|block| block.contains(needle))
        .unwrap_or_else(|| panic!("a tour block runs `{needle}`"));
    &outputs[index]
}

#[test]
fn the_quick_tour_runs_as_written() {
    let blocks = tour_blocks();
    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("tour.sh");
    let script = blocks
        .iter()
        .enumerate()
        .map(|(i, block)| format!("echo '::block {i}::'\n{block}"))
        .collect::<String>();
    std::fs::write(&script_path, format!("set -euo pipefail\n{script}")).unwrap();

    let output = run_isolated(dir.path(), &script_path);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let log = std::fs::read_to_string(dir.path().join("herald.log")).unwrap_or_default();
    let context = format!(
        "stdout:\n{stdout}\nstderr:\n{}\nherald.log:\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the tour failed\n{context}");
    let outputs = outputs_by_block(&stdout, blocks.len());

    // Herald answered ready; the integration was created; the emits printed event ids.
    assert!(
        block_with(&blocks, &outputs, "/readyz").contains("\"status\":\"ready\""),
        "{context}"
    );
    assert!(
        block_with(&blocks, &outputs, "/v1/integrations").contains("\"id\":\"int_"),
        "{context}"
    );
    assert!(
        block_with(&blocks, &outputs, "herald emit").contains("evt_"),
        "{context}"
    );

    // Every webhook the receiver printed is signed with the README's secret.
    let secret = README
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|word| word.starts_with("whsec_"))
        .expect("the tour's integration has a signing secret");
    let printed = printed_webhooks(&stdout);
    assert!(printed.len() >= 3, "{context}");
    for webhook in &printed {
        assert!(
            signed_with(secret, webhook),
            "bad signature on {}",
            webhook.body
        );
    }
    for title in [
        "Scan finished",
        "SQL injection in /login",
        "Scan finished again",
    ] {
        assert!(
            printed
                .iter()
                .any(|w| w.body.contains(&format!("\"title\":\"{title}\""))),
            "the receiver got `{title}`\n{context}"
        );
    }

    // The log shows the first two delivered.
    let first_log = delivery_rows(block_with(&blocks, &outputs, "herald deliveries list"));
    assert_eq!(first_log.len(), 2, "{context}");
    assert!(
        first_log.iter().all(|(_, status, _)| status == "success"),
        "{context}"
    );

    // With the receiver stopped, the new delivery waits to be retried, its error on record.
    let stopped = block_with(&blocks, &outputs, "kill $receiver");
    let waiting = delivery_rows(stopped);
    assert_eq!(waiting.len(), 1, "{context}");
    assert_eq!(waiting[0].1, "retrying", "{context}");
    assert!(stopped.contains("Connection refused"), "{context}");

    // Once the receiver is back, the retry delivers it: the same delivery, a second attempt.
    let back = delivery_rows(outputs.last().unwrap());
    assert_eq!(
        back,
        vec![(waiting[0].0.clone(), "success".to_owned(), "2".to_owned())],
        "{context}"
    );
    assert!(
        printed.iter().any(|w| w.id == waiting[0].0),
        "the receiver got the retried delivery\n{context}"
    );
}
