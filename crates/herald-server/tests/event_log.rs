//! Finding events again: `GET /v1/events` with its filters and paging, and deliveries that
//! filter by correlation key and carry their event's type and title.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends!(
    events_list_newest_first_filtered_by_type_module_correlation_and_time,
    |app: support::TestApp| async move {
        let planned = app
            .emit(json!({"type": "iac.run.plan_finished", "target_id": "net", "correlation_key": "run-1", "title": "Run 1 planned"}))
            .await;
        let applied = app
            .emit(
                json!({"type": "iac.run.applied", "target_id": "net", "correlation_key": "run-1"}),
            )
            .await;
        let other = app
            .emit(json!({"type": "iac.run.plan_finished", "target_id": "db", "correlation_key": "run-2"}))
            .await;

        let (status, all) = app.get("/v1/events").await;
        assert_eq!(status, StatusCode::OK, "{all}");
        assert_eq!(
            ids(&all),
            vec![other.clone(), applied.clone(), planned.clone()]
        );
        assert_eq!(
            all["data"][2]["title"], "Run 1 planned",
            "the envelope as stored"
        );

        let (_, by_type) = app.get("/v1/events?type=iac.run.plan_finished").await;
        assert_eq!(ids(&by_type), vec![other.clone(), planned.clone()]);
        let (_, by_module) = app.get("/v1/events?target_id=net").await;
        assert_eq!(ids(&by_module), vec![applied.clone(), planned.clone()]);
        let (_, by_run) = app.get("/v1/events?correlation_key=run-2").await;
        assert_eq!(ids(&by_run), vec![other.clone()]);

        let (_, future) = app.get("/v1/events?since=2999-01-01T00:00:00Z").await;
        assert_eq!(ids(&future), Vec::<String>::new());
        let (_, past) = app.get("/v1/events?until=2000-01-01T00:00:00Z").await;
        assert_eq!(ids(&past), Vec::<String>::new());
        let (_, window) = app
            .get("/v1/events?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00%2B02:00")
            .await;
        assert_eq!(ids(&window).len(), 3);

        let (status, bad) = app.get("/v1/events?since=yesterday").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad["error"]["field"], "since", "{bad}");
        let (status, _) = app.get("/v1/events?colour=red").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
);

on_both_backends!(
    events_list_pages_with_a_cursor,
    |app: support::TestApp| async move {
        let mut emitted = Vec::new();
        for n in 0..5 {
            emitted.push(
                app.emit(json!({"type": "scan_done", "title": format!("scan {n}")}))
                    .await,
            );
        }
        emitted.reverse();
        let mut seen = Vec::new();
        let mut path = "/v1/events?limit=2".to_owned();
        loop {
            let (status, page) = app.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/events?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, emitted);
    }
);

on_both_backends!(
    deliveries_filter_by_correlation_key_and_name_their_event,
    |app: support::TestApp| async move {
        app.create_webhook("ops", "https://hooks.example/a", json!({}))
            .await;
        let first = app
            .emit(json!({"type": "iac.run.plan_finished", "correlation_key": "run-1", "title": "Run 1 planned"}))
            .await;
        app.emit(json!({"type": "iac.run.plan_finished", "correlation_key": "run-2"}))
            .await;

        let run_one = app.deliveries("correlation_key=run-1").await;
        assert_eq!(run_one.len(), 1);
        assert_eq!(run_one[0]["event_id"], first.as_str());
        assert_eq!(run_one[0]["event_type"], "iac.run.plan_finished");
        assert_eq!(run_one[0]["event_title"], "Run 1 planned");
        let one = app.delivery(run_one[0]["id"].as_str().unwrap()).await;
        assert_eq!(one["event_title"], "Run 1 planned");
        assert_eq!(app.deliveries("").await.len(), 2);
    }
);
