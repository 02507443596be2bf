//! Reading `/metrics` as Prometheus does: with PyPI `prometheus-client`'s reference parser
//! (`text_string_to_metric_families`), which scripts/test installs.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Parses an exposition with the reference Python parser; returns every sample as
/// `{family, type, name, labels, value}`. Panics with the parser's error if it refuses it.
pub fn parse_with_prometheus_client(text: &str) -> Vec<Value> {
    serde_json::from_value(run_parser(
        r#"
out = []
for family in families:
    for s in family.samples:
        v = s.value
        out.append({"family": family.name, "type": family.type, "name": s.name,
                    "labels": s.labels, "value": None if math.isinf(v) or math.isnan(v) else v})
"#,
        text,
    ))
    .unwrap()
}

/// The names of every metric family the reference parser read, with samples or without.
pub fn prometheus_families(text: &str) -> Vec<String> {
    serde_json::from_value(run_parser("out = [f.name for f in families]\n", text)).unwrap()
}

/// Runs `body` over `families` (the parsed exposition) and returns its `out` as JSON.
fn run_parser(body: &str, text: &str) -> Value {
    let script = format!(
        "import json, math, sys\n\
         from prometheus_client.parser import text_string_to_metric_families\n\
         families = list(text_string_to_metric_families(sys.stdin.read()))\n\
         {body}\
         print(json.dumps(out))\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test installs prometheus-client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
