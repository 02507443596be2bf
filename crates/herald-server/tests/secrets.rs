//! Integration secrets at rest: what deleting an integration leaves behind.

mod support;

use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    deleting_an_integration_leaves_no_row_and_no_blob,
    |app: support::TestApp| async move {
        let id = app
            .create_webhook("doomed", "http://127.0.0.1:9/hook", json!({}))
            .await;
        assert_eq!(
            app.delete(&format!("/v1/integrations/{id}")).await,
            StatusCode::NO_CONTENT
        );
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM integrations WHERE id = $1")
            .bind(&id)
            .fetch_one(app.engine.store().pool())
            .await
            .unwrap();
        assert_eq!(count, 0);
        let (status, _) = app.get(&format!("/v1/integrations/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
