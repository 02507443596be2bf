//! Queue semantics, run against both back-ends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::{
    DeliveryId, DeliveryStatus, Event, EventId, EventInput, Filters, Integration, IntegrationId,
    Kind, OrgId,
};
use serde_json::json;
use sqlx::Row as _;

use crate::testing::{fresh_postgres_url, sqlite_url};
use crate::*;

pub(crate) async fn stores() -> (Vec<Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&sqlite_url(dir.path())).await.unwrap();
    let postgres = Store::connect(&fresh_postgres_url().await).await.unwrap();
    (vec![sqlite, postgres], dir)
}

/// A webhook integration of `org`, not yet stored.
pub(crate) fn new_integration(org: &OrgId) -> Integration {
    Integration {
        id: IntegrationId::generate(),
        org_id: org.clone(),
        kind: Kind::Webhook,
        name: format!("hook-{}", IntegrationId::generate()),
        enabled: true,
        filters: Filters::default(),
        supplied_to_all_modules: false,
        disabled_reason: None,
        paused_at: None,
        destinations: None,
        config_keys: vec!["webhook_url".into()],
        template: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

pub(crate) async fn integration(store: &Store, org: &OrgId) -> Integration {
    let integration = new_integration(org);
    store
        .insert_integration(&IntegrationRow {
            integration: integration.clone(),
            config_sealed: "sealed".into(),
        })
        .await
        .unwrap();
    integration
}

/// One event for `org`, with one delivery to `to`.
pub(crate) fn event_row(
    org: &OrgId,
    to: &Integration,
    key: Option<&str>,
    at: DateTime<Utc>,
) -> (EventInsert, Vec<NewDelivery>) {
    let new = serde_json::from_value::<EventInput>(json!({"type": "scan_done"}))
        .unwrap()
        .parse()
        .unwrap();
    let id = EventId::generate();
    let insert = EventInsert {
        id: id.clone(),
        org_id: org.clone(),
        event: Event::from_new(&id, &new, at),
        idempotency_key: key.map(str::to_owned),
        received_at: at,
    };
    let delivery = NewDelivery {
        id: DeliveryId::generate(),
        integration_id: to.id.clone(),
        integration_name: to.name.clone(),
        kind: to.kind,
        destination: String::new(),
        lease: None,
        carried_by: None,
    };
    (insert, vec![delivery])
}

pub(crate) async fn emit(
    store: &Store,
    org: &OrgId,
    to: &Integration,
    key: Option<&str>,
    at: DateTime<Utc>,
) -> (InsertedEvent, EventId) {
    let (insert, deliveries) = event_row(org, to, key, at);
    (
        store.insert_event(&insert, &deliveries).await.unwrap(),
        insert.id,
    )
}

/// An organisation with one webhook integration and one event for it, due at the returned time.
async fn one_due_delivery(store: &Store) -> (OrgId, DateTime<Utc>) {
    let org = store.ensure_org("default").await.unwrap();
    let hook = integration(store, &org).await;
    let t0 = Utc::now();
    emit(store, &org, &hook, None, t0).await;
    (org, t0)
}

pub(crate) fn record(
    claim: &ClaimedDelivery,
    attempt_number: u32,
    at: DateTime<Utc>,
    result: ResultKind,
) -> AttemptRecord {
    AttemptRecord {
        delivery_id: claim.id.clone(),
        lease_token: claim.lease_token.clone(),
        attempt_number,
        started_at: at,
        duration: Duration::from_millis(3),
        result,
        status_code: Some(503),
        response_excerpt: Some("down".into()),
        error: None,
        external_id: None,
        chained: false,
    }
}

pub(crate) const LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_claim_hides_the_delivery_until_its_lease_expires() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let (org, t0) = one_due_delivery(&store).await;

        let claimed = store.claim_due("worker-a", t0, LEASE, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{:?}", store.backend());
        assert!(
            store
                .claim_due("worker-b", t0, LEASE, 10)
                .await
                .unwrap()
                .is_empty(),
            "leased"
        );

        // worker-a stalls; after the lease it claims the delivery again itself, and the stalled
        // attempt's late result is fenced off by its claim's token.
        let later = t0 + chrono::Duration::seconds(61);
        let reclaimed = store.claim_due("worker-a", later, LEASE, 10).await.unwrap();
        assert_eq!(reclaimed.len(), 1);
        let id = &reclaimed[0].id;
        assert_eq!(
            store
                .record_results(&[record(&claimed[0], 1, later, ResultKind::Failed)])
                .await
                .unwrap(),
            0
        );
        let delivered = ResultKind::Delivered {
            external_id: Some("x-1".into()),
        };
        assert_eq!(
            store
                .record_results(&[record(&reclaimed[0], 1, later, delivered)])
                .await
                .unwrap(),
            1
        );

        let (delivery, attempts) = store.get_delivery(&org, id).await.unwrap().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Success);
        assert_eq!(delivery.external_id.as_deref(), Some("x-1"));
        assert_eq!(delivery.next_attempt_at, None);
        assert_eq!(attempts.len(), 1);
        assert!(store
            .claim_due("worker-c", later + chrono::Duration::days(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn retries_become_due_at_their_time_and_failed_ones_can_be_requeued() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let (org, t0) = one_due_delivery(&store).await;
        let first = store.claim_due("w", t0, LEASE, 10).await.unwrap().remove(0);
        let id = first.id.clone();
        let retry_at = t0 + chrono::Duration::seconds(5);
        store
            .record_results(&[record(&first, 1, t0, ResultKind::RetryAt(retry_at))])
            .await
            .unwrap();
        assert!(store
            .claim_due("w", t0 + chrono::Duration::seconds(4), LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        let again = store.claim_due("w", retry_at, LEASE, 10).await.unwrap();
        assert_eq!((again[0].attempt_count, again[0].cycle_attempts), (1, 1));
        store
            .record_results(&[record(&again[0], 2, retry_at, ResultKind::Failed)])
            .await
            .unwrap();

        let (failed, attempts) = store.get_delivery(&org, &id).await.unwrap().unwrap();
        assert_eq!((failed.status, attempts.len()), (DeliveryStatus::Failed, 2));
        assert!(matches!(
            store.requeue_failed(&OrgId::generate(), &id, t0).await,
            Err(RequeueError::NotFound)
        ));
        store.requeue_failed(&org, &id, retry_at).await.unwrap();
        assert!(matches!(
            store.requeue_failed(&org, &id, retry_at).await,
            Err(RequeueError::NotFailed("pending"))
        ));
        let requeued = store.claim_due("w", retry_at, LEASE, 10).await.unwrap();
        assert_eq!(
            (requeued[0].attempt_count, requeued[0].cycle_attempts),
            (2, 0)
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_event_and_writes_nothing() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(&store, &org).await;
        let (first, first_id) = emit(&store, &org, &hook, Some("run-42"), Utc::now()).await;
        assert_eq!(first, InsertedEvent::Created);
        let (second, _) = emit(&store, &org, &hook, Some("run-42"), Utc::now()).await;
        assert_eq!(second, InsertedEvent::Replayed(first_id));
        let page = store
            .list_deliveries(&org, &DeliveryFilter::default(), None, 50)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        // Keys are per organisation.
        let other = store.ensure_org("other").await.unwrap();
        let other_hook = integration(&store, &other).await;
        assert_eq!(
            emit(&store, &other, &other_hook, Some("run-42"), Utc::now())
                .await
                .0,
            InsertedEvent::Created
        );
    }
}

#[tokio::test]
async fn listings_page_newest_first_and_names_are_unique_per_kind() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(&store, &org).await;
        for _ in 0..5 {
            emit(&store, &org, &hook, None, Utc::now()).await;
        }
        let first = store
            .list_deliveries(&org, &DeliveryFilter::default(), None, 3)
            .await
            .unwrap();
        assert_eq!(first.items.len(), 3);
        assert!(first.items[0].id > first.items[1].id);
        let rest = store
            .list_deliveries(
                &org,
                &DeliveryFilter::default(),
                first.next_cursor.as_deref(),
                3,
            )
            .await
            .unwrap();
        assert_eq!((rest.items.len(), rest.next_cursor), (2, None));

        let mut twin = hook.clone();
        twin.id = IntegrationId::generate();
        let duplicate = store
            .insert_integration(&IntegrationRow {
                integration: twin,
                config_sealed: "s".into(),
            })
            .await;
        assert!(matches!(duplicate, Err(StoreError::Conflict("name"))));
    }
}

#[tokio::test]
async fn a_group_commit_stores_each_event_once_in_order() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(&store, &org).await;
        let now = Utc::now();
        let row = |key: Option<&str>| event_row(&org, &hook, key, now);
        let batch = vec![row(Some("k1")), row(None), row(Some("k1")), row(Some("k2"))];
        let first_id = batch[0].0.id.clone();
        let results = store.insert_events(&batch).await.unwrap();
        assert_eq!(
            results,
            vec![
                InsertedEvent::Created,
                InsertedEvent::Created,
                InsertedEvent::Replayed(first_id),
                InsertedEvent::Created
            ]
        );
        let page = store
            .list_deliveries(&org, &DeliveryFilter::default(), None, 50)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 3, "the replayed event wrote no delivery");
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    // No `mode=rwc` in the URL: the file is created all the same.
    let url = format!("sqlite://{}/fresh.db", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode.0.to_lowercase(), "wal");
    let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(sync.0, 2, "FULL");
}

/// PostgreSQL's results and claims connections do not wait for the WAL flush, and the results'
/// keeps one plan (see `Store::connect`); ingest keeps the server's defaults.
#[tokio::test]
async fn postgres_results_and_claims_commit_without_waiting_for_the_wal_flush() {
    let store = Store::connect(&fresh_postgres_url().await).await.unwrap();
    // The committers' statements run on the native side of their connections; claims on the
    // generic side.
    async fn show(connection: &writer::Writer, setting: &str) -> String {
        let rows = connection
            .fetch_all(sqlx::query(&format!("SHOW {setting}")))
            .await
            .unwrap();
        rows[0].try_get(0).unwrap()
    }
    async fn show_native(connection: &writer::Writer, setting: &str) -> String {
        let rows = connection
            .fetch_all_native(sqlx::query(&format!("SHOW {setting}")))
            .await
            .unwrap();
        rows[0].try_get(0).unwrap()
    }
    assert_eq!(
        show_native(&store.results, "synchronous_commit").await,
        "off"
    );
    assert_eq!(show(&store.claims, "synchronous_commit").await, "off");
    assert_eq!(show_native(&store.ingest, "synchronous_commit").await, "on");
    assert_eq!(
        show_native(&store.results, "plan_cache_mode").await,
        "force_generic_plan"
    );
    assert_eq!(show_native(&store.ingest, "plan_cache_mode").await, "auto");
}

/// The results' one plan, made while `deliveries` is empty, finds each delivery by its primary
/// key: it is kept for good, and must serve as well when the table holds millions.
#[tokio::test]
async fn postgres_results_plan_finds_deliveries_by_key_even_when_made_on_an_empty_table() {
    let store = Store::connect(&fresh_postgres_url().await).await.unwrap();
    let explain = format!(
        "EXPLAIN (FORMAT TEXT) {}",
        crate::results_postgres::RECORD_RESULTS
    );
    let (texts, numbers) = (Vec::<String>::new(), Vec::<i64>::new());
    let mut query = sqlx::query(&explain);
    // The statement's arrays, all empty, in their order: text or bigint.
    for column in "ttntttnnnttntnntt".chars() {
        query = match column {
            'n' => query.bind(numbers.clone()),
            _ => query.bind(texts.clone()),
        };
    }
    let rows = store.results.fetch_all_native(query).await.unwrap();
    let plan: Vec<String> = rows.iter().map(|row| row.try_get(0).unwrap()).collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("Seq Scan on deliveries"), "{plan}");
    assert_eq!(
        plan.matches("Index Scan using deliveries_rebuilt_pkey")
            .count(),
        3,
        "{plan}"
    );
}

#[tokio::test]
async fn a_stale_result_in_the_same_batch_as_the_current_one_is_not_logged() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let (org, t0) = one_due_delivery(&store).await;
        let stale = store.claim_due("w", t0, LEASE, 10).await.unwrap().remove(0);
        let later = t0 + chrono::Duration::seconds(61);
        let current = store
            .claim_due("w", later, LEASE, 10)
            .await
            .unwrap()
            .remove(0);
        let delivered = ResultKind::Delivered { external_id: None };
        let batch = [
            record(&stale, 1, later, ResultKind::Failed),
            record(&current, 1, later, delivered),
        ];
        assert_eq!(store.record_results(&batch).await.unwrap(), 1);
        let (delivery, attempts) = store
            .get_delivery(&org, &current.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Success);
        assert_eq!(
            attempts.len(),
            1,
            "only the current claim's attempt is logged"
        );
        assert_eq!(
            attempts[0].outcome,
            herald_domain::AttemptOutcome::Delivered
        );
    }
}

/// An event in the chain `correlation_key` for `to`, stored now.
async fn emit_correlated(
    store: &Store,
    org: &OrgId,
    to: &Integration,
    correlation_key: &str,
    at: DateTime<Utc>,
) -> DeliveryId {
    let (mut insert, deliveries) = event_row(org, to, None, at);
    insert.event.correlation_key = Some(correlation_key.to_owned());
    store.insert_event(&insert, &deliveries).await.unwrap();
    deliveries[0].id.clone()
}

#[tokio::test]
async fn a_chain_goes_out_in_order_and_follow_ups_see_the_first_external_id() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(&store, &org).await;
        let t0 = Utc::now();
        let first = emit_correlated(&store, &org, &hook, "run-1", t0).await;
        let second = emit_correlated(&store, &org, &hook, "run-1", t0).await;
        let other = emit_correlated(&store, &org, &hook, "run-2", t0).await;

        // Only the head of each chain is due; the follow-up waits for the first.
        let claimed = store.claim_due("w", t0, LEASE, 10).await.unwrap();
        let mut ids: Vec<_> = claimed.iter().map(|c| c.id.clone()).collect();
        ids.sort_by_key(|id| id.to_string());
        let mut expected = vec![first.clone(), other.clone()];
        expected.sort_by_key(|id| id.to_string());
        assert_eq!(ids, expected);
        // The blocked follow-up, due at t0, does not count as due: only the leases' ends do.
        let due = store.next_due_at().await.unwrap().unwrap();
        assert!(due > t0 + chrono::Duration::seconds(30), "{due}");

        // A deferral keeps the chain blocked and logs nothing.
        let head = claimed.iter().find(|c| c.id == first).unwrap();
        let later = t0 + chrono::Duration::seconds(3);
        store
            .record_results(&[record(head, 1, t0, ResultKind::Deferred(later))])
            .await
            .unwrap();
        assert!(store
            .claim_due("w", t0, LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        let head = store
            .claim_due("w", later, LEASE, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!((head.id.clone(), head.attempt_count), (first.clone(), 0));

        let delivered = ResultKind::Delivered {
            external_id: Some("C1:1.5".into()),
        };
        store
            .record_results(&[record(&head, 1, later, delivered)])
            .await
            .unwrap();
        let follow_up = store
            .claim_due("w", later, LEASE, 10)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(follow_up.id, second);
        assert_eq!(
            store.chain_prior(&follow_up).await.unwrap().as_deref(),
            Some("C1:1.5")
        );
        let (_, attempts) = store.get_delivery(&org, &first).await.unwrap().unwrap();
        assert_eq!(attempts.len(), 1, "the deferral is not an attempt");
    }
}

#[tokio::test]
async fn an_id_from_an_unfinished_attempt_is_kept_for_the_retry() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(&store, &org).await;
        let t0 = Utc::now();
        emit_correlated(&store, &org, &hook, "run-1", t0).await;
        let claim = store.claim_due("w", t0, LEASE, 10).await.unwrap().remove(0);
        let mut retry = record(&claim, 1, t0, ResultKind::RetryAt(t0));
        retry.external_id = Some("OPS-7".into());
        store.record_results(&[retry]).await.unwrap();
        let again = store.claim_due("w", t0, LEASE, 10).await.unwrap().remove(0);
        assert_eq!(again.external_id.as_deref(), Some("OPS-7"));
        assert_eq!(
            store.chain_prior(&again).await.unwrap().as_deref(),
            Some("OPS-7")
        );
    }
}

#[tokio::test]
async fn deleting_an_integration_deletes_its_sealed_config() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let org = store.ensure_org("default").await.unwrap();
        let hook = integration(&store, &org).await;
        let kept = integration(&store, &org).await;
        assert!(store.delete_integration(&org, &hook.id).await.unwrap());
        assert!(store
            .get_integration(&org, &hook.id)
            .await
            .unwrap()
            .is_none());
        // No row, so no blob: nothing of the config is left to open with a leaked key.
        let blobs: Vec<(String,)> = sqlx::query_as("SELECT config_sealed FROM integrations")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(blobs.len(), 1, "{:?}", store.backend());
        assert!(store
            .get_integration(&org, &kept.id)
            .await
            .unwrap()
            .is_some());
        assert!(!store.delete_integration(&org, &hook.id).await.unwrap());
    }
}

#[tokio::test]
async fn a_claim_passes_over_busy_destinations_and_organisations() {
    let (stores, _dir) = stores().await;
    for store in stores {
        let (busy_org, quiet_org) = (
            store.ensure_org("busy").await.unwrap(),
            store.ensure_org("quiet").await.unwrap(),
        );
        let (hanging, healthy, elsewhere) = (
            integration(&store, &busy_org).await,
            integration(&store, &busy_org).await,
            integration(&store, &quiet_org).await,
        );
        let t0 = Utc::now();
        // The busy destination's backlog is the oldest.
        for _ in 0..3 {
            emit(&store, &busy_org, &hanging, None, t0).await;
        }
        emit(
            &store,
            &busy_org,
            &healthy,
            None,
            t0 + chrono::Duration::seconds(1),
        )
        .await;
        emit(
            &store,
            &quiet_org,
            &elsewhere,
            None,
            t0 + chrono::Duration::seconds(2),
        )
        .await;
        let now = t0 + chrono::Duration::seconds(5);

        let skip = ClaimFilter {
            destinations: vec![(hanging.id.clone(), String::new())],
            orgs: vec![],
        };
        assert_eq!(
            store.next_due_at_except(&skip).await.unwrap(),
            Some(
                crate::time::from_millis(crate::time::to_millis(t0 + chrono::Duration::seconds(1)))
                    .unwrap()
            )
        );
        let claimed = store
            .claim_due_except("w", now, LEASE, 1, &skip)
            .await
            .unwrap();
        assert_eq!(claimed[0].integration_id, healthy.id);
        let skip = ClaimFilter {
            destinations: vec![],
            orgs: vec![busy_org.clone()],
        };
        let claimed = store
            .claim_due_except("w", now, LEASE, 10, &skip)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].integration_id, elsewhere.id);

        // Released at once: due now, untouched, claimable by anyone.
        let released = store.claim_due("w", now, LEASE, 10).await.unwrap();
        assert_eq!(released.len(), 3);
        let records: Vec<_> = released
            .iter()
            .map(|c| AttemptRecord {
                status_code: None,
                response_excerpt: None,
                ..record(c, c.attempt_count, now, ResultKind::Deferred(now))
            })
            .collect();
        assert_eq!(store.record_results(&records).await.unwrap(), 3);
        let again = store.claim_due("other", now, LEASE, 10).await.unwrap();
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(|c| c.attempt_count == 0));
    }
}

#[tokio::test]
async fn a_full_or_unreachable_database_is_unavailable_not_a_data_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&sqlite_url(dir.path())).await.unwrap();
    // A unique violation is about the data.
    let org = store.ensure_org("default").await.unwrap();
    let hook = integration(&store, &org).await;
    let error = store
        .insert_integration(&IntegrationRow {
            integration: hook,
            config_sealed: "sealed".into(),
        })
        .await
        .unwrap_err();
    assert!(!error.is_unavailable());
    // SQLite's "disk full" (13), here from a database capped at its current size.
    let mut conn = store.pool().acquire().await.unwrap();
    let page_count: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    sqlx::query(&format!("PRAGMA max_page_count = {page_count}"))
        .execute(&mut *conn)
        .await
        .unwrap();
    // A megabyte: more than the pages the migrations' dropped indexes left free.
    let full = sqlx::query("CREATE TABLE filler AS SELECT zeroblob(1000000) AS x")
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)
        .unwrap_err();
    assert!(full.is_unavailable(), "{full:?}");
    assert!(!full.is_data_error());
    drop(conn);
    // An unreachable PostgreSQL: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = Store::connect(&format!("postgres://postgres@127.0.0.1:{port}/x"))
        .await
        .err()
        .unwrap();
    assert!(unreachable.is_unavailable(), "{unreachable:?}");
}
