//! Isolation between destinations: how many of this process's workers each destination and
//! each organisation may hold.
//!
//! A delivery starts only with an [`Admission`]: a free worker, within its destination's and
//! its organisation's fair share. A destination that is *healthy* (its last attempt was
//! answered and not asked to retry) may also borrow idle workers beyond those shares, so one
//! busy but healthy endpoint drains at the speed of the whole pool. A destination that is new,
//! failing or hanging never holds more than its share, so dead endpoints leave the rest of the
//! pool to everyone else. Claims fill fair shares first (see the worker), so a borrower gives
//! way to other work as soon as one of its attempts ends.
//!
//! The counts are this process's: several instances each allow the shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_domain::{IntegrationId, OrgId};
use herald_store::{ClaimFilter, ClaimedDelivery};
use tokio::sync::Notify;

/// Above this many destinations, idle ones are forgotten (an unknown one counts as unproven).
const MAX_TRACKED: usize = 10_000;

/// One destination as the worker sees it: an integration and its resolved destination (`''`
/// for the integration's own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DestinationKey {
    pub integration: IntegrationId,
    pub destination: String,
}

impl DestinationKey {
    pub(crate) fn of(delivery: &ClaimedDelivery) -> Self {
        Self {
            integration: delivery.integration_id.clone(),
            destination: delivery.destination.clone(),
        }
    }
}

/// Which claims may go beyond the fair shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Share {
    /// Within every share.
    Fair,
    /// Idle workers lent to healthy destinations.
    Borrowed,
}

pub(crate) struct Capacity {
    workers: usize,
    destination_share: usize,
    org_share: usize,
    state: Mutex<State>,
    freed: Notify,
    /// The last claim left due work in the store: fresh deliveries then take only fair shares,
    /// so they cannot overtake it by borrowing.
    backlog: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct State {
    busy: usize,
    destinations: HashMap<DestinationKey, Destination>,
    orgs: HashMap<OrgId, usize>,
}

#[derive(Default)]
struct Destination {
    busy: usize,
    healthy: bool,
}

impl Capacity {
    pub(crate) fn new(workers: usize, destination_share: usize, org_share: usize) -> Self {
        let workers = workers.max(1);
        Self {
            workers,
            destination_share: destination_share.clamp(1, workers),
            org_share: org_share.clamp(1, workers),
            state: Mutex::default(),
            freed: Notify::new(),
            backlog: Default::default(),
        }
    }

    /// How fresh deliveries handed over by ingest may be admitted: like claims (borrowing for
    /// healthy destinations) unless due work waits in the store.
    pub(crate) fn share_for_fresh(&self) -> Share {
        match self.backlog.load(std::sync::atomic::Ordering::Acquire) {
            true => Share::Fair,
            false => Share::Borrowed,
        }
    }

    pub(crate) fn set_backlog(&self, backlog: bool) {
        self.backlog
            .store(backlog, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    /// Workers holding an admission (sending, or about to).
    pub(crate) fn busy(&self) -> usize {
        self.lock().busy
    }

    pub(crate) fn free(&self) -> usize {
        self.workers - self.lock().busy
    }

    /// A worker for a delivery to `key` of `org`, if one is free within the shares, or (when
    /// `share` allows it) borrowed for a healthy destination.
    pub(crate) fn admit(
        self: &Arc<Self>,
        org: &OrgId,
        key: &DestinationKey,
        share: Share,
    ) -> Option<Admission> {
        let mut state = self.lock();
        if state.busy >= self.workers {
            return None;
        }
        let fair = self.within_shares(&state, org, key);
        let healthy = state.destinations.get(key).is_some_and(|d| d.healthy);
        let may_borrow = share == Share::Borrowed && healthy;
        if !(fair || may_borrow) {
            return None;
        }
        if !state.destinations.contains_key(key) && state.destinations.len() >= MAX_TRACKED {
            state.destinations.retain(|_, d| d.busy > 0);
        }
        state.busy += 1;
        state.destinations.entry(key.clone()).or_default().busy += 1;
        *state.orgs.entry(org.clone()).or_default() += 1;
        Some(Admission {
            capacity: self.clone(),
            org: org.clone(),
            key: key.clone(),
            healthy: None,
        })
    }

    /// Whether `org` and `key` are both below their fair shares: a fair claim would not pass
    /// over a delivery of theirs.
    pub(crate) fn within_fair_share(&self, org: &OrgId, key: &DestinationKey) -> bool {
        self.within_shares(&self.lock(), org, key)
    }

    fn within_shares(&self, state: &State, org: &OrgId, key: &DestinationKey) -> bool {
        let destination_busy = state.destinations.get(key).map_or(0, |d| d.busy);
        let org_busy = state.orgs.get(org).copied().unwrap_or(0);
        destination_busy < self.destination_share && org_busy < self.org_share
    }

    /// What a claim for `share` passes over: destinations and organisations at their share
    /// (for borrowed workers, only destinations that may not borrow).
    pub(crate) fn skip(&self, share: Share) -> ClaimFilter {
        let state = self.lock();
        let destinations = state
            .destinations
            .iter()
            .filter(|(_, d)| {
                d.busy >= self.destination_share && (share == Share::Fair || !d.healthy)
            })
            .map(|(key, _)| (key.integration.clone(), key.destination.clone()))
            .collect();
        let orgs = match share {
            Share::Fair => state
                .orgs
                .iter()
                .filter(|(_, busy)| **busy >= self.org_share)
                .map(|(org, _)| org.clone())
                .collect(),
            Share::Borrowed => Vec::new(),
        };
        ClaimFilter { destinations, orgs }
    }

    /// Whether a claim of borrowed workers could find anything a fair claim passed over.
    pub(crate) fn may_lend(&self) -> bool {
        let state = self.lock();
        state
            .destinations
            .values()
            .any(|d| d.busy >= self.destination_share && d.healthy)
            || state.orgs.values().any(|busy| *busy >= self.org_share)
    }

    /// Resolves when an admission has ended since the last call (or now, if one did before).
    pub(crate) async fn freed(&self) {
        self.freed.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the capacity lock is never poisoned")
    }
}

/// A worker held for one delivery; dropping it frees the worker and the shares.
pub(crate) struct Admission {
    capacity: Arc<Capacity>,
    org: OrgId,
    key: DestinationKey,
    healthy: Option<bool>,
}

impl Admission {
    /// Records how the destination did: answered without asking for a retry (healthy), or
    /// not (no answer in time, a reset, a 5xx or 429). Applied when the admission ends.
    pub(crate) fn observe(&mut self, healthy: bool) {
        self.healthy = Some(healthy);
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.capacity.lock();
        state.busy -= 1;
        if let Some(destination) = state.destinations.get_mut(&self.key) {
            destination.busy -= 1;
            if let Some(healthy) = self.healthy {
                destination.healthy = healthy;
            }
            if destination.busy == 0 && !destination.healthy {
                state.destinations.remove(&self.key);
            }
        }
        if let Some(busy) = state.orgs.get_mut(&self.org) {
            *busy -= 1;
            if *busy == 0 {
                state.orgs.remove(&self.org);
            }
        }
        drop(state);
        self.capacity.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(integration: &str) -> DestinationKey {
        DestinationKey {
            integration: IntegrationId::from_trusted(integration.to_owned()),
            destination: String::new(),
        }
    }

    fn org(name: &str) -> OrgId {
        OrgId::from_trusted(name.to_owned())
    }

    #[test]
    fn a_destination_holds_at_most_its_share_until_it_proves_healthy() {
        let capacity = Arc::new(Capacity::new(8, 2, 8));
        let (o, hanging) = (org("o"), key("hanging"));
        let held: Vec<_> = (0..2)
            .map(|_| capacity.admit(&o, &hanging, Share::Borrowed).unwrap())
            .collect();
        assert!(capacity.admit(&o, &hanging, Share::Borrowed).is_none());
        assert!(capacity.admit(&o, &key("other"), Share::Fair).is_some());
        assert_eq!(
            capacity.skip(Share::Borrowed).destinations,
            vec![(hanging.integration.clone(), String::new())]
        );
        // Its attempts end answered: from now on it may borrow idle workers.
        for mut admission in held {
            admission.observe(true);
        }
        let borrowed: Vec<_> = (0..8)
            .map_while(|_| capacity.admit(&o, &hanging, Share::Borrowed))
            .collect();
        assert_eq!(borrowed.len(), 8, "the whole idle pool");
        assert!(capacity.admit(&o, &key("other"), Share::Fair).is_none());
        assert!(capacity.skip(Share::Borrowed).destinations.is_empty());
        assert_eq!(capacity.skip(Share::Fair).destinations.len(), 1);
        // A fair claim alone never borrows.
        drop(borrowed);
        let fair: Vec<_> = (0..8)
            .map_while(|_| capacity.admit(&o, &hanging, Share::Fair))
            .collect();
        assert_eq!(fair.len(), 2);
    }

    #[test]
    fn an_organisation_holds_at_most_its_share() {
        let capacity = Arc::new(Capacity::new(8, 8, 3));
        let (busy, other) = (org("busy"), org("other"));
        let held: Vec<_> = (0..3)
            .map(|i| {
                capacity
                    .admit(&busy, &key(&format!("i{i}")), Share::Fair)
                    .unwrap()
            })
            .collect();
        assert!(capacity.admit(&busy, &key("i9"), Share::Fair).is_none());
        assert!(capacity.admit(&other, &key("j"), Share::Fair).is_some());
        assert_eq!(capacity.skip(Share::Fair).orgs, vec![busy.clone()]);
        assert!(capacity.may_lend());
        drop(held);
        assert_eq!(capacity.busy(), 0);
        assert!(capacity.skip(Share::Fair).is_empty());
    }

    #[test]
    fn a_failure_takes_the_loan_back() {
        let capacity = Arc::new(Capacity::new(4, 1, 4));
        let (o, flaky) = (org("o"), key("flaky"));
        capacity
            .admit(&o, &flaky, Share::Fair)
            .unwrap()
            .observe(true);
        let mut first = capacity.admit(&o, &flaky, Share::Borrowed).unwrap();
        let second = capacity.admit(&o, &flaky, Share::Borrowed).unwrap();
        first.observe(false);
        drop(first);
        assert!(capacity.admit(&o, &flaky, Share::Borrowed).is_none());
        drop(second);
        assert!(capacity.admit(&o, &flaky, Share::Fair).is_some());
    }
}
