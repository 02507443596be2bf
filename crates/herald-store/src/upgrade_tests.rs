//! Upgrading a database that already holds deliveries: migration 0011 rebuilds `deliveries`
//! and `attempts` (SQLite cannot drop a UNIQUE constraint), and must keep every row, and the
//! attempts' reference to their delivery, on both back-ends.

use std::borrow::Cow;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::Row;

use crate::testing::{fresh_postgres_url, sqlite_url};
use crate::Store;

async fn upgrade_keeps_every_row(url: &str) {
    sqlx::any::install_default_drivers();
    let all = sqlx::migrate!("./migrations");
    let before: Vec<_> = all
        .migrations
        .iter()
        .filter(|m| m.version < 11)
        .cloned()
        .collect();
    let old = Migrator {
        migrations: Cow::Owned(before),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    old.run(&pool).await.unwrap();
    for statement in [
        "INSERT INTO organizations (id, name, created_at) VALUES ('org_1', 'one', 1)",
        "INSERT INTO events (id, org_id, event_type, envelope, received_at) VALUES ('evt_1', 'org_1', 't.x', '{}', 1)",
        "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, status, \
         attempt_count, next_attempt_at, created_at, updated_at, correlation_key) \
         VALUES ('dlv_1', 'org_1', 'evt_1', 'int_1', 'hook', 'webhook', 'retrying', 1, 5000, 1, 2, 'run-1')",
        "INSERT INTO attempts (id, delivery_id, attempt_number, started_at, duration_ms, outcome, status_code) \
         VALUES ('att_1', 'dlv_1', 1, 1, 10, 'retry', 503)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = Store::connect(url).await.unwrap();
    let row = sqlx::query(
        "SELECT status, attempt_count, next_attempt_at, correlation_key, replayed, replay_of FROM deliveries WHERE id = 'dlv_1'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(row.try_get::<String, _>("status").unwrap(), "retrying");
    assert_eq!(row.try_get::<i64, _>("attempt_count").unwrap(), 1);
    assert_eq!(row.try_get::<i64, _>("next_attempt_at").unwrap(), 5000);
    assert_eq!(
        row.try_get::<String, _>("correlation_key").unwrap(),
        "run-1"
    );
    assert_eq!(row.try_get::<i64, _>("replayed").unwrap(), 0);
    assert_eq!(row.try_get::<Option<String>, _>("replay_of").unwrap(), None);
    let attempts = sqlx::query("SELECT COUNT(*) AS n FROM attempts WHERE delivery_id = 'dlv_1'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(attempts.try_get::<i64, _>("n").unwrap(), 1);
    // On SQLite attempts still refer to deliveries, and deliveries to events: an orphan is
    // refused. PostgreSQL's migrations 5000 and 5003 drop those checks (see their comments).
    let orphan = sqlx::query(
        "INSERT INTO attempts (id, delivery_id, attempt_number, started_at, duration_ms, outcome) \
         VALUES ('att_2', 'dlv_missing', 1, 1, 1, 'retry')",
    )
    .execute(store.pool())
    .await;
    match store.backend() {
        crate::Backend::Sqlite => assert!(orphan.is_err(), "the foreign key survived the rebuild"),
        crate::Backend::Postgres => assert!(orphan.is_ok(), "{orphan:?}"),
    };
    let orphan = sqlx::query(
        "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, status, created_at, updated_at) \
         VALUES ('dlv_orphan', 'org_1', 'evt_missing', 'int_1', 'hook', 'webhook', 'pending', 1, 1)",
    )
    .execute(store.pool())
    .await;
    match store.backend() {
        crate::Backend::Sqlite => assert!(orphan.is_err(), "a delivery's event is checked"),
        crate::Backend::Postgres => assert!(orphan.is_ok(), "{orphan:?}"),
    };
    // PostgreSQL's migration 5001 makes the hot tables' keys compare as bytes, whatever the
    // database's collation; names keep the database's.
    if store.backend() == crate::Backend::Postgres {
        let collations = sqlx::query(
            "SELECT column_name::text AS name, COALESCE(collation_name::text, '') AS collation \
             FROM information_schema.columns WHERE table_name = 'deliveries' \
             AND column_name IN ('id', 'event_id', 'integration_name') ORDER BY column_name",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let collations: Vec<(String, String)> = collations
            .iter()
            .map(|row| {
                (
                    row.try_get("name").unwrap(),
                    row.try_get("collation").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            collations,
            [
                ("event_id".to_owned(), "C".to_owned()),
                ("id".to_owned(), "C".to_owned()),
                ("integration_name".to_owned(), String::new()),
            ]
        );
    }
    // Originals stay unique per (event, integration, destination); replays do not.
    let duplicate = sqlx::query(
        "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, status, created_at, updated_at) \
         VALUES ('dlv_2', 'org_1', 'evt_1', 'int_1', 'hook', 'webhook', 'pending', 1, 1)",
    )
    .execute(store.pool())
    .await;
    assert!(duplicate.is_err());
    sqlx::query(
        "INSERT INTO deliveries (id, org_id, event_id, integration_id, integration_name, kind, status, created_at, updated_at, replayed, replay_of) \
         VALUES ('dlv_3', 'org_1', 'evt_1', 'int_1', 'hook', 'webhook', 'pending', 1, 1, 1, 'dlv_1')",
    )
    .execute(store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn upgrading_sqlite_keeps_deliveries_and_attempts() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_keeps_every_row(&sqlite_url(dir.path())).await;
}

#[tokio::test]
async fn upgrading_postgres_keeps_deliveries_and_attempts() {
    upgrade_keeps_every_row(&fresh_postgres_url().await).await;
}
