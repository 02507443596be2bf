//! The result committer: finished attempts are written in batches, one transaction for many.
//! While the database is unavailable a batch is retried (holding back the attempts behind it,
//! so the workers stop taking new work) rather than dropped; nothing waits for a lease.

use std::time::Duration;

use herald_domain::error::error_chain;
use herald_store::{AttemptRecord, ResultKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Engine;

/// Results committed in one transaction at most.
const COMMIT_BATCH: usize = 256;
/// How long a batch of results waits for more before it is committed.
const LINGER: Duration = Duration::from_millis(3);
/// The longest pause between tries while the database is unavailable.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl Engine {
    /// Commits results as they come until every sender is gone. After `give_up`, a batch the
    /// database refuses is dropped: its deliveries come due again when their leases run out.
    pub(crate) async fn commit_results(
        self,
        mut committed: mpsc::Receiver<AttemptRecord>,
        give_up: CancellationToken,
    ) {
        let mut batch = Vec::with_capacity(COMMIT_BATCH);
        while committed.recv_many(&mut batch, COMMIT_BATCH).await > 0 {
            // Nobody waits for a result to be committed (its worker is already free), while
            // every request waits for its event's: on SQLite, where one transaction commits at
            // a time, a little patience here makes fewer, larger result transactions and leaves
            // the writer to ingest more often.
            if batch.len() < COMMIT_BATCH {
                tokio::time::sleep(LINGER).await;
                while batch.len() < COMMIT_BATCH {
                    match committed.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            self.commit_batch(&batch, &give_up).await;
            // A retry may now be due sooner than the loop's current sleep, and a chain's
            // follow-up is due once the delivery before it ends.
            if batch.iter().any(|r| {
                r.chained || matches!(r.result, ResultKind::RetryAt(_) | ResultKind::Deferred(_))
            }) {
                self.wake();
            }
            batch.clear();
        }
    }

    /// Commits a batch, trying again for as long as the database is unavailable. A batch the
    /// database refuses for its data is committed record by record, so one bad record cannot
    /// hold back the others; a record that still fails is dropped, and its delivery is retried
    /// when its lease runs out.
    async fn commit_batch(&self, batch: &[AttemptRecord], give_up: &CancellationToken) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.store.record_results(batch).await {
                Ok(_) => {
                    self.health.store_ok();
                    return;
                }
                Err(error) if error.is_unavailable() => {
                    self.health.store_failed(&error, "recording attempts");
                    tokio::select! {
                        _ = give_up.cancelled() => {
                            tracing::warn!(results = batch.len(), "shutting down with attempt results the database did not take; their deliveries are retried when their leases run out");
                            return;
                        }
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "recording attempts failed; recording them one by one");
                    for record in batch {
                        if let Err(error) = self
                            .store
                            .record_results(std::slice::from_ref(record))
                            .await
                        {
                            tracing::error!(delivery_id = %record.delivery_id, error = %error_chain(&error), "dropping an attempt result");
                        }
                    }
                    return;
                }
            }
        }
    }
}
