//! Two engines on one PostgreSQL database: a change made through one reaches the other's
//! caches at once, not when their entries expire.

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_crypto::{MasterKey, SecretBox};
use herald_domain::{Filters, Integration, IntegrationId, Kind, OrgId};
use herald_providers::{Registry, RegistryOptions, Sender, SenderConfig};
use herald_store::{IntegrationRow, Store};
use serde_json::{json, Value};

use crate::{Engine, EngineConfig};

async fn engine(url: &str, keys: &SecretBox) -> Engine {
    let store = Store::connect(url).await.unwrap();
    Engine::new(
        store,
        Registry::builtin(RegistryOptions::default()),
        Sender::new(SenderConfig::default()),
        keys.clone(),
        EngineConfig::default(),
    )
}

/// Polls `done` for at most `within`.
async fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn config(token: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "webhook_url": "https://example.com/hook", "token": token }))
        .unwrap()
}

fn sealed_row(keys: &SecretBox, org: &OrgId, token: &str) -> IntegrationRow {
    let id = IntegrationId::generate();
    IntegrationRow {
        config_sealed: keys.seal(&config(token), id.as_str()),
        integration: Integration {
            id,
            org_id: org.clone(),
            kind: Kind::Webhook,
            name: "hook".into(),
            enabled: true,
            filters: Filters::default(),
            config_keys: vec!["webhook_url".into(), "token".into()],
            template: None,
            supplied_to_all_modules: false,
            disabled_reason: None,
            paused_at: None,
            destinations: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        },
    }
}

/// An integration stored before the engines start, so that no notification of its creation
/// can arrive after a test has filled the caches.
async fn existing_integration(url: &str, keys: &SecretBox) -> (OrgId, IntegrationRow) {
    let store = Store::connect(url).await.unwrap();
    let org = store.ensure_org("default").await.unwrap();
    let row = sealed_row(keys, &org, "v1");
    store.insert_integration(&row).await.unwrap();
    store.close().await;
    (org, row)
}

/// What `engine` would route and send with for `org` now, filling its caches.
async fn token_seen_by(engine: &Engine, org: &OrgId) -> Option<Value> {
    let routing = engine.routing_for(org).await.unwrap();
    let row = routing.rows().first()?;
    Some(engine.credentials_for(row).unwrap().config["token"].clone())
}

fn cached(engine: &Engine, org: &OrgId, id: &IntegrationId, sealed: &str) -> bool {
    engine.routing.get(org).is_some() && engine.credentials.get(id, sealed).is_some()
}

async fn both_hearing(a: &Engine, b: &Engine) {
    eventually("both listeners connect", Duration::from_secs(5), || {
        a.routing.is_hearing() && b.routing.is_hearing()
    })
    .await;
}

#[tokio::test]
async fn a_change_through_one_engine_reaches_the_other_at_once() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let keys = SecretBox::new(MasterKey::generate());
    let (org, mut row) = existing_integration(&url, &keys).await;
    let (a, b) = (engine(&url, &keys).await, engine(&url, &keys).await);
    both_hearing(&a, &b).await;

    assert_eq!(token_seen_by(&b, &org).await, Some(json!("v1")));
    assert!(cached(&b, &org, &row.integration.id, &row.config_sealed));

    // The token is rotated through A. B's entries would live 15 minutes (credentials) and 60 s
    // (routing); the notification drops them now.
    let old_sealed = row.config_sealed.clone();
    row.config_sealed = keys.seal(&config("v2"), row.integration.id.as_str());
    assert!(a.store().update_integration(&row).await.unwrap());
    a.integrations_changed(&org);
    eventually(
        "B drops its cached routing and credentials",
        Duration::from_secs(2),
        || {
            b.routing.get(&org).is_none()
                && b.credentials
                    .get(&row.integration.id, &old_sealed)
                    .is_none()
        },
    )
    .await;
    assert_eq!(token_seen_by(&b, &org).await, Some(json!("v2")));

    assert!(a
        .store()
        .delete_integration(&org, &row.integration.id)
        .await
        .unwrap());
    eventually(
        "B forgets the deleted integration",
        Duration::from_secs(2),
        || {
            b.routing.get(&org).is_none()
                && b.credentials
                    .get(&row.integration.id, &row.config_sealed)
                    .is_none()
        },
    )
    .await;
    assert_eq!(token_seen_by(&b, &org).await, None);
}

#[tokio::test]
async fn a_lost_listener_forgets_everything_and_reconnects() {
    let url = herald_store::testing::fresh_postgres_url().await;
    let keys = SecretBox::new(MasterKey::generate());
    let (org, row) = existing_integration(&url, &keys).await;
    let (a, b) = (engine(&url, &keys).await, engine(&url, &keys).await);
    both_hearing(&a, &b).await;
    assert_eq!(token_seen_by(&b, &org).await, Some(json!("v1")));

    // Every listening connection is cut: notifications sent now would be missed.
    let database = url.rsplit('/').next().unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(database)
    .execute(a.store().pool())
    .await
    .unwrap();
    eventually("B forgets what it cached", Duration::from_secs(2), || {
        !cached(&b, &org, &row.integration.id, &row.config_sealed)
    })
    .await;
    both_hearing(&a, &b).await;

    assert_eq!(token_seen_by(&b, &org).await, Some(json!("v1")));
    let mut renamed = row.clone();
    renamed.integration.name = "renamed".into();
    assert!(a.store().update_integration(&renamed).await.unwrap());
    eventually("B hears changes again", Duration::from_secs(2), || {
        b.routing.get(&org).is_none()
    })
    .await;
}
