//! Retention: events and their delivery log are pruned after the configured age, in batches,
//! never undelivered work nor a run that is still going on.

mod support;

use std::time::Duration;

use herald_testkit::Receiver;
use reqwest::StatusCode;
use serde_json::json;

const DAY: Duration = Duration::from_secs(24 * 3600);

on_both_backends!(
    aged_out_events_are_pruned_but_not_undelivered_work_or_live_runs,
    |app: support::TestApp| async move {
        let ok = Receiver::start().await;
        let held = Receiver::start().await;
        app.create_webhook(
            "ok",
            &ok.url("/"),
            json!({"events": ["scan_done", "iac.run.queued", "iac.run.applied"]}),
        )
        .await;
        // Paused: its deliveries wait, undelivered, for as long as it takes.
        let paused = app
            .create_webhook("held", &held.url("/"), json!({"events": ["scan_started"]}))
            .await;
        let (status, _) = app
            .post(&format!("/v1/integrations/{paused}/pause"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);

        let delivered = app.emit(json!({"type": "scan_done", "title": "old"})).await;
        let delivered_too = app
            .emit(json!({"type": "scan_done", "title": "old too"}))
            .await;
        let undelivered = app.emit(json!({"type": "scan_started"})).await;
        let live_run = app
            .emit(json!({"type": "iac.run.queued", "correlation_key": "run-1"}))
            .await;
        let ended_run = app
            .emit(json!({"type": "iac.run.queued", "correlation_key": "run-2"}))
            .await;
        let replayed = app
            .emit(json!({"type": "scan_done", "title": "replayed"}))
            .await;
        app.step_all().await;

        // A month later (the default retention is 30 days): run-1 goes on, one old event is
        // replayed, and the undelivered one still waits.
        app.clock.advance(31 * DAY);
        app.emit(json!({"type": "iac.run.applied", "correlation_key": "run-1"}))
            .await;
        let (status, _) = app
            .post(&format!("/v1/events/{replayed}/replay"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        app.step_all().await;
        assert_eq!(
            app.deliveries(&format!("event_id={undelivered}")).await[0]["status"],
            "pending"
        );

        // In batches: one event at a time here, then everything else.
        let cutoff = app.engine.now() - chrono::Duration::days(30);
        let first = app.engine.store().prune_before(cutoff, 1).await.unwrap();
        assert_eq!((first.events, first.deliveries, first.attempts), (1, 1, 1));
        let rest = app.engine.prune_expired().await.unwrap();
        assert_eq!((rest.events, rest.deliveries, rest.attempts), (2, 2, 2));
        assert_eq!(app.engine.prune_expired().await.unwrap().events, 0);

        for gone in [&delivered, &delivered_too, &ended_run] {
            let (status, _) = app.get(&format!("/v1/events/{gone}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{gone} was pruned");
            assert!(app.deliveries(&format!("event_id={gone}")).await.is_empty());
        }
        for kept in [&undelivered, &live_run, &replayed] {
            let (status, _) = app.get(&format!("/v1/events/{kept}")).await;
            assert_eq!(status, StatusCode::OK, "{kept} was kept");
            assert!(!app.deliveries(&format!("event_id={kept}")).await.is_empty());
        }
        // The undelivered one is still delivered once its integration is resumed.
        let (status, _) = app
            .post(&format!("/v1/integrations/{paused}/resume"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
        app.step_all().await;
        assert_eq!(held.received().len(), 1);
        assert_eq!(
            app.deliveries(&format!("event_id={undelivered}")).await[0]["status"],
            "success"
        );
    }
);

#[tokio::test]
async fn retention_off_keeps_everything() {
    let app = support::spawn_app_with(support::Db::Sqlite, |config| {
        config.retention = Duration::ZERO;
    })
    .await;
    let receiver = Receiver::start().await;
    app.create_webhook("ok", &receiver.url("/"), json!({}))
        .await;
    let event = app.emit(json!({"type": "scan_done"})).await;
    app.step_all().await;
    app.clock.advance(3650 * DAY);
    assert_eq!(app.engine.prune_expired().await.unwrap().events, 0);
    let (status, _) = app.get(&format!("/v1/events/{event}")).await;
    assert_eq!(status, StatusCode::OK);
}
