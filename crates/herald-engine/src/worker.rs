//! The worker loop. Each round claims only what free workers can start now, fair shares first
//! (see [`crate::capacity`]), and starts every claimed delivery at once in its own task; what
//! it cannot start goes back to the store due now. Results are committed in batches (see
//! [`crate::results`]). New events wake the loop in-process; a poll catches the rest.
//!
//! Shutdown: stop claiming, let attempts run for the grace period, then cancel the rest and
//! give their deliveries back, so another instance (or the next start) takes them at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_store::{AttemptRecord, ClaimedDelivery, ResultKind, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use herald_domain::error::error_chain;

use crate::attempt::{release_record, Job};
use crate::capacity::{Admission, DestinationKey, Share};
use crate::due_work::FairDrained;
use crate::handoff::Dispatch;
use crate::Engine;

/// Never spin faster than this when work is due but another instance holds it.
const MIN_IDLE: Duration = Duration::from_millis(5);
/// After the grace period: how long cancelled attempts get to hand their deliveries back, and
/// the committer to write that down.
const RELEASE_TIME: Duration = Duration::from_millis(1500);

/// What one claim round found.
struct Round {
    /// Claim again as soon as a worker comes free: more may be due than the free workers could
    /// take ([`Round::filled`]), or a claim passed over an organisation or destination at its
    /// share that may have due work.
    backlog: bool,
    /// More may be due than the free workers could take: due work is waiting for them, so
    /// nothing comes due sooner than it.
    filled: bool,
}

impl Engine {
    /// Claims what is due now, sends it all and records the results; returns how many attempts
    /// were recorded. Tests step the engine with this instead of sleeping.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let claimed = self
            .claim(self.capacity.free(), &self.claim_skip(Share::Fair))
            .await?;
        let (admitted, refused) = self.admit(claimed);
        let mut records: Vec<AttemptRecord> = refused
            .iter()
            .map(|d| release_record(d, self.now()))
            .collect();
        let jobs = self.load_jobs(admitted).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (job, mut admission) in jobs {
            let engine = self.clone();
            tasks.spawn(async move {
                let record = engine.attempt(job).await;
                observe(&mut admission, &record);
                record
            });
        }
        while let Some(record) = tasks.join_next().await {
            records.push(record.expect("attempts do not panic"));
        }
        self.store.record_results(&records).await
    }

    /// Runs until `shutdown` is cancelled, then shuts down gracefully (see the module docs).
    pub async fn run(self, shutdown: CancellationToken) {
        let (results, committed) = mpsc::channel::<AttemptRecord>(self.capacity.workers() * 2);
        let give_up = CancellationToken::new();
        let committer =
            crate::commit_thread::spawn(self.clone().commit_results(committed, give_up.clone()));
        let dispatch = Dispatch {
            engine: self.clone(),
            runtime: tokio::runtime::Handle::current(),
            results,
            abort: CancellationToken::new(),
            abandon: CancellationToken::new(),
        };
        self.handoff.activate(dispatch.clone());
        self.health.set_workers_running(true);
        self.claim_until(&shutdown, &dispatch).await;

        self.health.set_workers_running(false);
        self.handoff.deactivate();
        let grace = self.config.shutdown_grace;
        if self.capacity.busy() > 0 {
            tracing::info!(
                in_flight = self.capacity.busy(),
                grace_s = grace.as_secs_f64(),
                "letting in-flight attempts finish"
            );
        }
        self.wait_idle(grace).await;
        if self.capacity.busy() > 0 {
            tracing::warn!(
                cancelled = self.capacity.busy(),
                "shutdown grace is over: cancelling the attempts still running and releasing their deliveries"
            );
            dispatch.abort.cancel();
            self.wait_idle(RELEASE_TIME).await;
        }
        dispatch.abandon.cancel();
        drop(dispatch);
        // The committer ends once every attempt's sender is gone; if the database is away it
        // stops retrying, and the leases of what it could not write run out as usual.
        let mut committer = committer;
        if tokio::time::timeout(RELEASE_TIME, &mut committer)
            .await
            .is_err()
        {
            give_up.cancel();
            let _ = committer.await;
        }
    }

    async fn claim_until(&self, shutdown: &CancellationToken, dispatch: &Dispatch) {
        let poll = self.config.poll_interval;
        let mut backlog = false;
        let mut wait = Duration::ZERO;
        let mut fair_drained = None;
        loop {
            if !wait.is_zero() {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => return,
                    _ = self.capacity.freed(), if backlog => {}
                    _ = self.wake.notified() => {}
                    // Work may have come due by the clock: look for it with a fair claim.
                    _ = tokio::time::sleep(wait) => fair_drained = None,
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
            if self.capacity.free() == 0 {
                backlog = true;
                wait = poll;
                continue;
            }
            match self.claim_round(dispatch, &mut fair_drained).await {
                Ok(round) => {
                    backlog = round.backlog;
                    wait = match round.filled {
                        true => poll,
                        false => self.time_until_due().await,
                    };
                }
                Err(error) => {
                    self.health.store_failed(&error, "claiming deliveries");
                    if !error.is_unavailable() {
                        tracing::error!(error = %error_chain(&error), "claiming deliveries failed");
                    }
                    backlog = false;
                    wait = poll;
                }
            }
        }
    }

    /// Claims for the free workers, fair shares first, then (if workers are still free) for
    /// healthy destinations beyond their share; starts all it admits and gives back the rest.
    ///
    /// A fair claim known to find nothing (see [`crate::due_work`]) is skipped; `fair_drained`
    /// remembers the last one that came back short.
    async fn claim_round(
        &self,
        dispatch: &Dispatch,
        fair_drained: &mut Option<FairDrained>,
    ) -> Result<Round, StoreError> {
        let mut more_due = false;
        let mut passed_over = false;
        for share in [Share::Fair, Share::Borrowed] {
            let free = self.capacity.free();
            if free == 0 {
                more_due = true;
                break;
            }
            if share == Share::Borrowed && !self.capacity.may_lend() {
                break;
            }
            let skip = self.claim_skip(share);
            let generation = self.wake.fair_generation();
            if share == Share::Fair
                && fair_drained
                    .as_ref()
                    .is_some_and(|drained| self.wake.still_drained(drained, &skip))
            {
                passed_over |= !skip.is_empty();
                continue;
            }
            let started = Instant::now();
            let claimed = self.claim(free, &skip).await?;
            self.health.store_ok();
            if share == Share::Borrowed {
                // It looked at all a fair claim passed over, but for destinations that may not
                // borrow (counted below).
                passed_over = false;
            }
            let filled = claimed.len() >= free;
            // A claim that filled says nothing about what it passed over; an earlier short one
            // still holds.
            if share == Share::Fair && !filled {
                // What it passed over may fall below its share while this round runs; if no
                // borrowed claim follows, the next freed worker looks again.
                passed_over |= !skip.is_empty();
                *fair_drained = Some(FairDrained::new(skip, generation, started.elapsed()));
            }
            let (admitted, refused) = self.admit(claimed);
            self.release(&refused).await;
            more_due |= filled || !refused.is_empty();
            for (job, admission) in self.load_jobs_or_release(admitted).await? {
                self.spawn_attempt(job, admission, dispatch);
            }
            if filled {
                break;
            }
        }
        self.capacity.set_backlog(more_due);
        // A destination passed over even for borrowed workers may have due work that a freed
        // worker of its share can take; a healthy borrower's was just looked for.
        Ok(Round {
            backlog: more_due || passed_over || !self.capacity.skip(Share::Borrowed).is_empty(),
            filled: more_due,
        })
    }

    /// Claims up to `free` due deliveries outside `skip`. On SQLite the claim runs whole in
    /// the calling thread (see the store's `direct`), so it goes to the committers' thread,
    /// which takes the same write turn, rather than holding up one of the runtime's.
    async fn claim(
        &self,
        free: usize,
        skip: &herald_store::ClaimFilter,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        let (now, lease) = (self.now(), self.config.lease);
        if self.store.backend() != herald_store::Backend::Sqlite {
            return self
                .store
                .claim_due_except(&self.config.owner, now, lease, limit, skip)
                .await;
        }
        let (store, owner, skip) = (self.store.clone(), self.config.owner.clone(), skip.clone());
        crate::commit_thread::spawn(async move {
            store
                .claim_due_except(&owner, now, lease, limit, &skip)
                .await
        })
        .await
        .expect("claims do not panic")
    }

    /// What a claim passes over: destinations and organisations at their share, and
    /// destinations whose circuit is open (or whose probe is out).
    fn claim_skip(&self, share: Share) -> herald_store::ClaimFilter {
        let mut skip = self.capacity.skip(share);
        for key in self.breaker.blocked(self.now()) {
            let pair = (key.integration, key.destination);
            if !skip.destinations.contains(&pair) {
                skip.destinations.push(pair);
            }
        }
        skip
    }

    /// Admits what it can: fair first, else borrowed for a healthy destination.
    fn admit(
        &self,
        claimed: Vec<ClaimedDelivery>,
    ) -> (Vec<(ClaimedDelivery, Admission)>, Vec<ClaimedDelivery>) {
        let mut admitted = Vec::with_capacity(claimed.len());
        let mut refused = Vec::new();
        for delivery in claimed {
            let key = DestinationKey::of(&delivery);
            match self.capacity.admit(&delivery.org_id, &key, Share::Borrowed) {
                Some(admission) => admitted.push((delivery, admission)),
                None => refused.push(delivery),
            }
        }
        (admitted, refused)
    }

    /// Gives claimed deliveries back, due now. If that fails the database is away, and their
    /// leases run out as for a crashed process.
    ///
    /// This does not tell [`crate::due_work`] of new fair work, so a fair claim may miss them
    /// for as long as its memory holds (100 ms to 1 s). Telling it cost 8% of a fan-out drain,
    /// where ingest's hand-overs take workers between a claim and its admissions: each such
    /// release then cost another walk of the backlog (docs/performance.md, sixth round).
    async fn release(&self, deliveries: &[ClaimedDelivery]) {
        if deliveries.is_empty() {
            return;
        }
        let now = self.now();
        let records: Vec<_> = deliveries.iter().map(|d| release_record(d, now)).collect();
        if let Err(error) = self.store.record_results(&records).await {
            self.health.store_failed(&error, "releasing deliveries");
        }
    }

    async fn load_jobs_or_release(
        &self,
        admitted: Vec<(ClaimedDelivery, Admission)>,
    ) -> Result<Vec<(Job, Admission)>, StoreError> {
        if admitted.is_empty() {
            return Ok(Vec::new());
        }
        let deliveries: Vec<ClaimedDelivery> = admitted.iter().map(|(d, _)| d.clone()).collect();
        match self.load_jobs(admitted).await {
            Ok(jobs) => Ok(jobs),
            Err(error) => {
                self.release(&deliveries).await;
                Err(error)
            }
        }
    }

    /// Loads the events and integrations of claimed deliveries, one query each for the batch.
    async fn load_jobs(
        &self,
        admitted: Vec<(ClaimedDelivery, Admission)>,
    ) -> Result<Vec<(Job, Admission)>, StoreError> {
        if admitted.is_empty() {
            return Ok(Vec::new());
        }
        let event_ids = unique(admitted.iter().map(|(d, _)| d.event_id.to_string()));
        let integration_ids = unique(admitted.iter().map(|(d, _)| d.integration_id.to_string()));
        let events = self.store.get_envelopes(&event_ids).await?;
        let integrations: HashMap<String, _> = self
            .store
            .get_integrations_by_ids(&integration_ids)
            .await?
            .into_iter()
            .map(|row| (row.integration.id.to_string(), row))
            .collect();
        Ok(admitted
            .into_iter()
            .map(|(delivery, admission)| {
                let job = Job {
                    event: events.get(delivery.event_id.as_str()).cloned(),
                    integration: integrations.get(delivery.integration_id.as_str()).cloned(),
                    delivery,
                };
                (job, admission)
            })
            .collect())
    }

    /// Runs one attempt in its own task, holding its worker until the result is handed to the
    /// committer. After the grace period, an attempt still running is cancelled and its
    /// delivery given back untouched.
    pub(crate) fn spawn_attempt(&self, job: Job, admission: Admission, dispatch: &Dispatch) {
        let engine = self.clone();
        let (results, abort, abandon) = (
            dispatch.results.clone(),
            dispatch.abort.clone(),
            dispatch.abandon.clone(),
        );
        let mut admission = admission;
        dispatch.runtime.spawn(async move {
            let release = release_record(&job.delivery, engine.now());
            let record = tokio::select! {
                biased;
                _ = abort.cancelled() => AttemptRecord {
                    result: ResultKind::Deferred(engine.now()),
                    ..release
                },
                // Boxed: an attempt's future is large (it holds the whole HTTP exchange), and
                // spawning it unboxed copied it several times: 8% of instructions under load.
                record = Box::pin(engine.attempt(job)) => record,
            };
            observe(&mut admission, &record);
            tokio::select! {
                biased;
                _ = results.send(record) => {}
                _ = abandon.cancelled() => {}
            }
            drop(admission);
        });
    }

    /// Waits until no worker is busy, or `limit` has passed.
    async fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.capacity.busy() > 0 && Instant::now() < deadline {
            tokio::select! {
                _ = self.capacity.freed() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// How long until the earliest delivery this process could take is due, capped by the
    /// poll interval.
    async fn time_until_due(&self) -> Duration {
        let poll = self.config.poll_interval;
        match self
            .store
            .next_due_at_except(&self.claim_skip(Share::Borrowed))
            .await
        {
            Ok(Some(at)) => until(at, self.now()).clamp(MIN_IDLE, poll),
            _ => poll,
        }
    }
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

/// Tells the destination's share how the attempt went: answered without a retry (healthy) or
/// not. A deferral says nothing about the destination.
fn observe(admission: &mut Admission, record: &AttemptRecord) {
    match record.result {
        ResultKind::Deferred(_) => {}
        ResultKind::Delivered { .. } | ResultKind::Failed | ResultKind::Aborted => {
            admission.observe(record.status_code.is_some())
        }
        ResultKind::RetryAt(_) => admission.observe(false),
    }
}

fn unique(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
