use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herald_domain::Kind;
use serde_json::{json, Value};

use super::*;
use crate::testing::{loopback_sender, response, Fixture};
use crate::{exchange, ExecRequest, Outbound, Sender, SenderConfig};

fn event() -> Value {
    json!({
        "type": "iac.run.failed",
        "title": "Apply prod-network",
        "summary": "quotes \" and 'single' and $(dollar) and ünïcödé",
        "correlation_key": "run-42",
        "facts": {"workspace": "prod-network"}
    })
}

/// Writes an executable `#!/bin/sh` script into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn config(command: &Path, args: &[&str], timeout_s: u64) -> Value {
    json!({"command": command, "args": args, "timeout_s": timeout_s})
}

fn exec(program: &Path, args: &[&str], stdin: &[u8], timeout: Duration) -> Outbound {
    Outbound::Exec(ExecRequest {
        program: program.to_owned(),
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: stdin.to_vec(),
        timeout,
    })
}

#[tokio::test]
async fn the_envelope_arrives_intact_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let copy = script(dir.path(), "copy", r#"cat > "$1""#);
    let out = dir.path().join("stdin.json");
    let config = config(&copy, &[out.to_str().unwrap()], 10);
    let fixture = Fixture::new(Kind::Script, event());
    let result = exchange(&loopback_sender(), &ScriptProvider, &fixture.ctx(), &config).await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let received = std::fs::read(&out).unwrap();

    // Byte for byte what the webhook provider would post for the same event and integration.
    let webhook = crate::webhook::WebhookProvider
        .render(
            &fixture.ctx(),
            &json!({"webhook_url": "https://x.example/"}),
        )
        .unwrap();
    assert_eq!(received, webhook[0].http().unwrap().body);
    let envelope: Value = serde_json::from_slice(&received).unwrap();
    assert_eq!(envelope["summary"], event()["summary"]);
    assert_eq!(
        envelope["integration"],
        json!({"id": fixture.target.integration_id, "name": "ops alerts", "kind": "script"})
    );
}

#[tokio::test]
async fn arguments_reach_the_program_literally() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let echo = script(
        dir.path(),
        "args",
        r#"out="$1"; shift; printf '%s\n' "$@" > "$out""#,
    );
    let out = dir.path().join("args.txt");
    let hostile = [
        format!("$(touch {})", marker.display()),
        format!("`touch {}`", marker.display()),
        "; rm -rf /tmp/nothing-here".to_owned(),
        "*".to_owned(),
        "two words".to_owned(),
        "$HOME".to_owned(),
    ];
    let mut args = vec![out.to_str().unwrap()];
    args.extend(hostile.iter().map(String::as_str));
    let fixture = Fixture::new(Kind::Script, event());
    let result = exchange(
        &loopback_sender(),
        &ScriptProvider,
        &fixture.ctx(),
        &config(&echo, &args, 10),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let lines: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, hostile);
    assert!(!marker.exists(), "no shell ever saw the arguments");
}

#[tokio::test]
async fn the_environment_holds_only_path_and_the_directory_is_root() {
    let dir = tempfile::tempdir().unwrap();
    let env = script(dir.path(), "env", r#"{ pwd; env; } > "$1""#);
    let out = dir.path().join("env.txt");
    let response = loopback_sender()
        .send(&exec(
            &env,
            &[out.to_str().unwrap()],
            b"",
            Duration::from_secs(10),
        ))
        .await
        .unwrap();
    assert_eq!(response.status, 0);
    let seen = std::fs::read_to_string(&out).unwrap();
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("/"));
    let names: Vec<&str> = lines
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"PATH"), "{seen}");
    // Whatever the shell adds for itself (PWD, SHLVL, _) is fine; nothing of Herald's is.
    for name in names {
        assert!(
            matches!(name, "PATH" | "PWD" | "OLDPWD" | "SHLVL" | "_"),
            "unexpected variable {name}"
        );
    }
}

#[tokio::test]
async fn exit_codes_decide_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let sender = loopback_sender();
    let fixture = Fixture::new(Kind::Script, event());
    let run = |body: &str, name: &str| {
        let path = script(dir.path(), name, body);
        let config = config(&path, &[], 10);
        let sender = sender.clone();
        let ctx = fixture.ctx();
        async move {
            exchange(&sender, &ScriptProvider, &ctx, &config)
                .await
                .outcome
        }
    };
    assert_eq!(
        run("cat > /dev/null; exit 0", "ok").await,
        Outcome::Delivered { external_id: None }
    );
    assert_eq!(
        run("echo 'curl: (7) connection refused' >&2; exit 3", "three").await,
        Outcome::Retry {
            after: None,
            reason: "script exited with 3: curl: (7) connection refused".into()
        }
    );
    assert!(matches!(
        run("exit 75", "tempfail").await,
        Outcome::Retry { reason, .. } if reason.contains("exit 75")
    ));
    assert!(matches!(
        run("echo 'bad channel' >&2; exit 78", "config").await,
        Outcome::Failed { reason } if reason == "script failed permanently (exit 78): bad channel"
    ));
    assert!(matches!(
        run("kill -9 $$", "killed").await,
        Outcome::Retry { reason, .. } if reason == "script was killed by signal 9"
    ));
}

#[test]
fn classification_table() {
    let request = exec(Path::new("/bin/true"), &[], b"", Duration::from_secs(1));
    let classify = |status| ScriptProvider.classify(&request, &response(status, &[], ""));
    assert_eq!(classify(0), Outcome::Delivered { external_id: None });
    for status in [1, 2, 3, 75, 128, 137, 143, 255] {
        assert!(
            matches!(classify(status), Outcome::Retry { .. }),
            "{status}"
        );
    }
    for status in [64, 65, 69, 70, 77, 78, 126, 127] {
        assert!(
            matches!(classify(status), Outcome::Failed { .. }),
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_missing_or_unexecutable_program_fails_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let sender = loopback_sender();
    let missing = sender
        .send(&exec(
            &dir.path().join("gone"),
            &[],
            b"",
            Duration::from_secs(5),
        ))
        .await
        .unwrap();
    assert_eq!(missing.status, 127);
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    let not_executable = sender
        .send(&exec(&plain, &[], b"", Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(not_executable.status, 126);
    let no_interpreter = script(dir.path(), "interp", "exit 0");
    std::fs::write(&no_interpreter, "#!/nonexistent/interpreter\n").unwrap();
    let bad_interpreter = sender
        .send(&exec(&no_interpreter, &[], b"", Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(bad_interpreter.status, 127);
    for response in [missing, not_executable, bad_interpreter] {
        let outcome = ScriptProvider.classify(
            &exec(Path::new("/x"), &[], b"", Duration::from_secs(1)),
            &response,
        );
        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    }
}

fn process_is_gone(pid: u32) -> bool {
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[tokio::test]
async fn the_timeout_kills_the_script_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let slow = script(dir.path(), "slow", r#"sleep 60 & echo $! > "$1"; wait"#);
    let fixture = Fixture::new(Kind::Script, event());
    let started = Instant::now();
    let result = exchange(
        &loopback_sender(),
        &ScriptProvider,
        &fixture.ctx(),
        &config(&slow, &[pid_file.to_str().unwrap()], 1),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        matches!(&result.outcome, Outcome::Retry { reason, .. } if reason == "timed out"),
        "{:?}",
        result.outcome
    );
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !process_is_gone(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        process_is_gone(pid),
        "the background sleep {pid} was killed too"
    );
}

#[tokio::test]
async fn output_is_capped_and_a_chatty_program_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    // Writes 1 MB before reading its (large) stdin: with pipes left full either side would
    // block for ever, and with the pipe closed early `tr` would die of SIGPIPE (exit 9).
    let chatty = script(
        dir.path(),
        "chatty",
        "head -c 1000000 /dev/zero | tr '\\0' a || exit 9; cat > /dev/null; echo done >&2",
    );
    let sender = Sender::new(SenderConfig {
        max_response_bytes: 1000,
        ..SenderConfig::default()
    });
    let stdin = vec![b'x'; 1_000_000];
    let started = Instant::now();
    let response = sender
        .send(&exec(&chatty, &[], &stdin, Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(response.status, 0);
    assert_eq!(response.body.len(), 1000);
    assert!(response.body.iter().all(|b| *b == b'a'));
    assert!(started.elapsed() < Duration::from_secs(10));

    // A program that ignores its stdin still finishes.
    let deaf = script(dir.path(), "deaf", "echo hi");
    let response = sender
        .send(&exec(&deaf, &[], &stdin, Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (0, b"hi\n".as_slice())
    );
}

#[tokio::test]
async fn the_connection_test_runs_the_script_with_the_test_event() {
    let dir = tempfile::tempdir().unwrap();
    let copy = script(dir.path(), "copy", r#"cat > "$1""#);
    let out = dir.path().join("test.json");
    let fixture = Fixture::new(
        Kind::Script,
        json!({"type": "herald.test", "title": "Herald test event"}),
    )
    .for_test();
    let result = exchange(
        &loopback_sender(),
        &ScriptProvider,
        &fixture.ctx(),
        &config(&copy, &[out.to_str().unwrap()], 10),
    )
    .await;
    assert_eq!(result.outcome, Outcome::Delivered { external_id: None });
    let envelope: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(envelope["type"], "herald.test");
}

#[test]
fn config_validation_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = script(dir.path(), "good", "exit 0");
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let many: Vec<String> = (0..65).map(|i| i.to_string()).collect();
    let cases = [
        (json!({}), "command"),
        (json!({"command": ""}), "command"),
        (json!({"command": "notify.sh"}), "command"),
        (json!({"command": "./good"}), "command"),
        (json!({"command": dir.path().join("missing")}), "command"),
        (json!({"command": dir.path()}), "command"),
        (json!({"command": plain}), "command"),
        (json!({"command": "/bin/sh\u{0}x"}), "command"),
        (json!({"command": good, "args": "one"}), "args"),
        (json!({"command": good, "args": many}), "args"),
        (
            json!({"command": good, "args": ["ok", "a\u{0}b"]}),
            "args[1]",
        ),
        (
            json!({"command": good, "args": ["x".repeat(MAX_ARG_BYTES + 1)]}),
            "args[0]",
        ),
        (json!({"command": good, "timeout_s": 0}), "timeout_s"),
        (json!({"command": good, "timeout_s": 301}), "timeout_s"),
        (json!({"command": good, "timeout_s": -1}), "timeout_s"),
        (json!({"command": good, "shell": true}), "shell"),
    ];
    for (config, field) in cases {
        assert_eq!(
            ScriptProvider.validate(&config).unwrap_err().field,
            field,
            "{config}"
        );
    }
    let sixty_four: Vec<String> = (0..64).map(|i| i.to_string()).collect();
    for ok in [
        json!({"command": good}),
        json!({"command": good, "args": sixty_four, "timeout_s": 300}),
        json!({"command": good, "args": [], "timeout_s": 1}),
    ] {
        assert!(ScriptProvider.validate(&ok).is_ok(), "{ok}");
    }
    let parsed = ScriptConfig::parse(&json!({"command": good})).unwrap();
    assert_eq!(parsed.timeout, Duration::from_secs(DEFAULT_TIMEOUT_S));
}

#[test]
fn a_program_removed_after_saving_still_renders() {
    let config = json!({"command": "/nonexistent/notify", "args": ["--fast"], "timeout_s": 7});
    let fixture = Fixture::new(Kind::Script, event());
    let rendered = ScriptProvider.render(&fixture.ctx(), &config).unwrap();
    let [Outbound::Exec(request)] = rendered.as_slice() else {
        panic!("one exec request")
    };
    assert_eq!(request.program, Path::new("/nonexistent/notify"));
    assert_eq!(request.args, ["--fast"]);
    assert_eq!(request.timeout, Duration::from_secs(7));
}

#[test]
fn the_destination_is_the_program() {
    let destination = ScriptProvider.destination(&json!({"command": "/usr/local/bin/notify"}));
    assert_eq!(destination.key, "script:/usr/local/bin/notify");
    assert_eq!(destination.rate, None);
}
