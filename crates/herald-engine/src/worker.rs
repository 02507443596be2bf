//! The worker loop: claim as many due deliveries as there are free slots, send each in its own
//! task, and commit results in batches. New events wake it in-process; a poll catches the rest.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_store::{AttemptRecord, ClaimedDelivery, ResultKind, StoreError};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use herald_domain::error::error_chain;

use crate::attempt::Job;
use crate::handoff::HandedJob;
use crate::Engine;

/// Results committed in one transaction at most.
const COMMIT_BATCH: usize = 256;
/// Never spin faster than this when work is due but another instance holds it.
const MIN_IDLE: Duration = Duration::from_millis(5);

impl Engine {
    /// Claims what is due now, sends it all and records the results; returns how many attempts
    /// were recorded. Tests step the engine with this instead of sleeping.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let jobs = self.claim_jobs(self.config.concurrency).await?;
        let mut tasks = JoinSet::new();
        for job in jobs {
            let engine = self.clone();
            tasks.spawn(async move { engine.attempt(job).await });
        }
        let mut records = Vec::new();
        while let Some(record) = tasks.join_next().await {
            records.push(record.expect("attempts do not panic"));
        }
        self.store.record_results(&records).await
    }

    /// Runs until `shutdown` is cancelled, then lets in-flight attempts finish and commits them.
    pub async fn run(self, shutdown: CancellationToken) {
        let concurrency = self.config.concurrency.max(1);
        let (results, committed) = mpsc::channel::<AttemptRecord>(concurrency * 2);
        let committer = tokio::spawn(self.clone().commit_results(committed));
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut handed = self.handoff.attach();
        let mut carried: Option<Job> = None;
        let mut last_claim = Instant::now();
        loop {
            let first = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            // Fresh deliveries handed over in memory go first, as they need no query; but the
            // store is asked at least every poll interval, so retries and re-queued deliveries
            // are not starved by a steady stream of new events.
            // A carried job may have waited; it is sent only if its lease still outlasts a request.
            let next = carried
                .take()
                .filter(|job| self.lease_is_fresh(job))
                .or_else(|| self.next_handed(handed.as_mut()));
            let store_overdue = last_claim.elapsed() >= self.config.poll_interval;
            if let Some(job) = next {
                if !store_overdue {
                    self.spawn_attempt(job, first, &results);
                    continue;
                }
                carried = Some(job);
            }
            last_claim = Instant::now();
            let free = 1 + slots.available_permits();
            let jobs = match self.claim_jobs(free).await {
                Ok(jobs) => jobs,
                Err(error) => {
                    tracing::error!(error = %error_chain(&error), "claiming deliveries failed");
                    drop(first);
                    if carried.is_none() {
                        carried = self
                            .idle(&shutdown, self.config.poll_interval, handed.as_mut())
                            .await;
                    }
                    continue;
                }
            };
            let drained = jobs.len() < free;
            let mut first = Some(first);
            for job in jobs {
                let slot = match first.take() {
                    Some(slot) => slot,
                    None => slots
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed"),
                };
                self.spawn_attempt(job, slot, &results);
            }
            drop(first);
            if drained && carried.is_none() {
                let wait = self.time_until_due().await;
                carried = self.idle(&shutdown, wait, handed.as_mut()).await;
            }
        }
        // Jobs still queued in memory keep their leases and are claimed again when those expire.
        self.handoff.detach(handed);
        // Let in-flight attempts finish (bounded by the sender's timeout, so by the lease).
        let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(self.config.lease, slots.acquire_many(all)).await;
        drop(results);
        let _ = committer.await;
    }

    fn spawn_attempt(
        &self,
        job: Job,
        slot: OwnedSemaphorePermit,
        results: &mpsc::Sender<AttemptRecord>,
    ) {
        let (engine, results) = (self.clone(), results.clone());
        tokio::spawn(async move {
            let record = engine.attempt(job).await;
            let _ = results.send(record).await;
            drop(slot);
        });
    }

    /// The next handed-over job worth sending: one whose lease still outlasts a request.
    /// Others are dropped here and claimed again from the store when their lease runs out.
    fn next_handed(&self, handed: Option<&mut mpsc::UnboundedReceiver<HandedJob>>) -> Option<Job> {
        let handed = handed?;
        while let Ok(HandedJob { job, .. }) = handed.try_recv() {
            if self.lease_is_fresh(&job) {
                return Some(job);
            }
        }
        None
    }

    fn lease_is_fresh(&self, job: &Job) -> bool {
        let min_left =
            chrono::Duration::from_std(self.config.min_lease_left).unwrap_or(chrono::Duration::MAX);
        job.lease_until
            .is_none_or(|until| until - self.now() >= min_left)
    }

    async fn claim_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let claimed = self
            .store
            .claim_due(&self.config.owner, self.now(), self.config.lease, limit)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let event_ids = unique(claimed.iter().map(|d| d.event_id.to_string()));
        let integration_ids = unique(claimed.iter().map(|d| d.integration_id.to_string()));
        let events = self.store.get_envelopes(&event_ids).await?;
        let integrations: HashMap<String, _> = self
            .store
            .get_integrations_by_ids(&integration_ids)
            .await?
            .into_iter()
            .map(|row| (row.integration.id.to_string(), row))
            .collect();
        Ok(claimed
            .into_iter()
            .map(|delivery: ClaimedDelivery| Job {
                lease_until: None,
                event: events.get(delivery.event_id.as_str()).cloned(),
                integration: integrations.get(delivery.integration_id.as_str()).cloned(),
                delivery,
            })
            .collect())
    }

    /// How long until the earliest delivery is due, capped by the poll interval.
    async fn time_until_due(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self.store.next_due_at().await {
            Ok(Some(at)) => (at - self.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_IDLE, poll),
            _ => poll,
        }
    }

    /// Waits for a wake-up, a handed-over job (returned), the next due time or shutdown.
    async fn idle(
        &self,
        shutdown: &CancellationToken,
        wait: Duration,
        handed: Option<&mut mpsc::UnboundedReceiver<HandedJob>>,
    ) -> Option<Job> {
        let handed_job = async {
            match handed {
                Some(receiver) => receiver.recv().await.map(|h| h.job),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            job = handed_job => job.filter(|job| self.lease_is_fresh(job)),
            _ = self.wake.notified() => None,
            _ = tokio::time::sleep(wait) => None,
            _ = shutdown.cancelled() => None,
        }
    }

    /// Commits results in batches. If the database stays unreachable the batch is dropped:
    /// its deliveries become due again when their leases run out, so nothing is lost.
    async fn commit_results(self, mut committed: mpsc::Receiver<AttemptRecord>) {
        let mut batch = Vec::with_capacity(COMMIT_BATCH);
        while let Some(record) = committed.recv().await {
            batch.push(record);
            while batch.len() < COMMIT_BATCH {
                match committed.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
            self.commit_batch(&batch).await;
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
}

impl Engine {
    /// Commits a batch, retrying while the database is unreachable. A batch that keeps failing
    /// is committed record by record, so one bad record cannot hold back the others; a record
    /// that still fails is dropped, and its delivery is retried when its lease runs out.
    async fn commit_batch(&self, batch: &[AttemptRecord]) {
        for retry in 0..3u32 {
            match self.store.record_results(batch).await {
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), retry, "recording attempts failed");
                    tokio::time::sleep(Duration::from_millis(100 << retry)).await;
                }
            }
        }
        for record in batch {
            if let Err(error) = self
                .store
                .record_results(std::slice::from_ref(record))
                .await
            {
                tracing::error!(delivery_id = %record.delivery_id, error = %error_chain(&error), "dropping an attempt result");
            }
        }
    }
}

fn unique(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
