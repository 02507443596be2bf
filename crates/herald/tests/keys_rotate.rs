//! `herald keys rotate` as an operator runs it: against the database, with "NEW,OLD".

use std::process::{Command, Output};

use chrono::Utc;
use herald_crypto::{MasterKey, SecretBox};
use herald_domain::{Filters, Integration, IntegrationId, Kind};
use herald_store::{IntegrationRow, Store};

fn rotate(url: &str, keys: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["keys", "rotate"])
        .env("HERALD_DATABASE_URL", url)
        .env("HERALD_MASTER_KEY", keys)
        .output()
        .unwrap()
}

#[tokio::test]
async fn rotate_rewraps_every_config_under_the_first_key() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let store = Store::connect(&url).await.unwrap();
    let org = store.ensure_org("default").await.unwrap();
    let (old, new) = (MasterKey::generate(), MasterKey::generate());
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = IntegrationId::generate();
        let integration = Integration {
            id: id.clone(),
            org_id: org.clone(),
            kind: Kind::Webhook,
            name: format!("hook-{n}"),
            enabled: true,
            filters: Filters::default(),
            config_keys: vec!["webhook_url".into()],
            template: None,
            supplied_to_all_modules: false,
            disabled_reason: None,
            paused_at: None,
            destinations: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let config_sealed = SecretBox::new(old.clone()).seal(b"{}", id.as_str());
        store
            .insert_integration(&IntegrationRow {
                integration,
                config_sealed,
            })
            .await
            .unwrap();
        ids.push(id);
    }

    let output = rotate(&url, &format!("{},{}", new.to_base64(), old.to_base64()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "under key {}: 3 rotated, 0 already current, 0 skipped",
            new.id()
        )),
        "{stdout}"
    );
    for id in &ids {
        let row = store.get_integration(&org, id).await.unwrap().unwrap();
        assert_eq!(
            SecretBox::key_id_of(&row.config_sealed),
            Some(new.id().as_str())
        );
        assert_eq!(
            SecretBox::new(new.clone())
                .open(&row.config_sealed, id.as_str())
                .unwrap(),
            b"{}"
        );
    }

    // Without OLD nothing is lost, and with only OLD the configs are reported, never touched.
    let again = rotate(&url, &new.to_base64());
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 rotated, 3 already current"));
    let wrong = rotate(&url, &old.to_base64());
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr)
        .contains("3 config(s) open with none of the given keys"));
}

#[test]
fn a_bad_key_list_is_refused_without_echoing_it() {
    let secret = "bm90LWEta2V5LWJ1dC1zZWNyZXQ=";
    let output = rotate(
        "sqlite::memory:",
        &format!("{},{secret}", MasterKey::generate().to_base64()),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("key 2 of the master key list"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
}
