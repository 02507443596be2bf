//! `herald users set-password` as an operator runs it: against the database, the password on
//! standard input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use herald_store::Store;

fn set_password(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["users", "set-password"])
        .args(args)
        .env("HERALD_DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn set_password_stores_an_argon2id_hash_the_console_accepts() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        herald_store::testing::sqlite_url(dir.path()),
        herald_store::testing::fresh_postgres_url().await,
    ] {
        let store = Store::connect(&url).await.unwrap();
        let org = store.ensure_org("default").await.unwrap();
        let admin = store
            .create_owner_token(&org, "admin", "hash-of-a-token")
            .await
            .unwrap();

        let output = set_password(&url, &["admin"], "a long passphrase\n");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.contains("password set for admin"), "{stdout}");
        let hash = store.password_hash(&org, &admin).await.unwrap().unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(herald_console::verify_password("a long passphrase", &hash));
        assert!(
            !herald_console::verify_password("a long passphrase\n", &hash),
            "the newline is not part of it"
        );

        let short = set_password(&url, &["admin"], "short\n");
        assert!(!short.status.success());
        assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
        let nobody = set_password(&url, &["nobody"], "a long passphrase\n");
        assert!(!nobody.status.success());
        assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user named nobody"));
        assert!(herald_console::verify_password(
            "a long passphrase",
            &store.password_hash(&org, &admin).await.unwrap().unwrap()
        ));
        store.close().await;
    }
}
