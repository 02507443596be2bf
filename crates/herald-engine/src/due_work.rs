//! How the worker loop hears of new work, and whether a fair claim could find it.
//!
//! A fair claim passes over the organisations and destinations at their share (see
//! [`crate::capacity`]). When one organisation's backlog fills its share, such a claim walks
//! that whole backlog in due order and finds nothing: under a 10-way fan-out it took 10–25 ms
//! on SQLite, and the loop ran one for every worker that came free. So the loop remembers a
//! fair claim that came back short ([`FairDrained`]) and skips the next ones until new work
//! could be there for it: work a fair claim may take bumps a generation here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herald_store::ClaimFilter;
use tokio::sync::Notify;

/// However quiet the signals, a fair claim runs again after this long: work that becomes due by
/// the clock (a retry, a lease another instance lost) tells no one.
const FAIR_DRAINED_FOR: Duration = Duration::from_millis(100);

/// Or after this many times as long as the empty claim took, if that is longer. Such a claim
/// walks the whole backlog while it holds the claim loop (and, on SQLite, the write turn): at
/// 100 ms, its repeats took 1.1 s of a 9 s fan-out drain. Now they take at most about a
/// twentieth of the loop's time, however deep the backlog.
const FAIR_DRAINED_PER_CLAIM_TIME: u32 = 20;

/// But never longer than this: work due by the clock waits at most this long for a fair claim
/// (a claim of borrowed workers may take it before).
const FAIR_DRAINED_AT_MOST: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct DueWork {
    notify: Notify,
    /// Counts the times work a fair claim could take was added.
    fair_generation: AtomicU64,
}

impl DueWork {
    /// New work that may be within the fair shares: the next fair claim looks for it.
    pub(crate) fn fair(&self) {
        self.fair_generation.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_one();
    }

    /// New work only a claim of borrowed workers could take: every delivery of it belongs to
    /// an organisation or a destination at its share.
    pub(crate) fn beyond_share(&self) {
        self.notify.notify_one();
    }

    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Read before a fair claim: if the claim comes back short, [`FairDrained::new`] keeps it.
    pub(crate) fn fair_generation(&self) -> u64 {
        self.fair_generation.load(Ordering::Acquire)
    }

    /// Whether a fair claim passing over `skip` would find nothing, as far as is known: no fair
    /// work was added since `drained`, it is recent, and `skip` passes over at least as much.
    pub(crate) fn still_drained(&self, drained: &FairDrained, skip: &ClaimFilter) -> bool {
        drained.generation == self.fair_generation()
            && drained.at.elapsed() < drained.lasts
            && drained
                .skip
                .destinations
                .iter()
                .all(|d| skip.destinations.contains(d))
            && drained.skip.orgs.iter().all(|o| skip.orgs.contains(o))
    }
}

/// A fair claim that came back short, and what it passed over.
pub(crate) struct FairDrained {
    skip: ClaimFilter,
    generation: u64,
    at: Instant,
    /// How long it holds without news.
    lasts: Duration,
}

impl FairDrained {
    /// A fair claim that passed over `skip`, started at `generation`, came back short after
    /// `took`: everything it could take is taken.
    pub(crate) fn new(skip: ClaimFilter, generation: u64, took: Duration) -> Self {
        Self {
            skip,
            generation,
            at: Instant::now(),
            lasts: (took * FAIR_DRAINED_PER_CLAIM_TIME)
                .clamp(FAIR_DRAINED_FOR, FAIR_DRAINED_AT_MOST),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{IntegrationId, OrgId};

    fn skip(orgs: &[&str], destinations: &[&str]) -> ClaimFilter {
        ClaimFilter {
            orgs: orgs
                .iter()
                .map(|o| OrgId::from_trusted((*o).to_owned()))
                .collect(),
            destinations: destinations
                .iter()
                .map(|i| (IntegrationId::from_trusted((*i).to_owned()), String::new()))
                .collect(),
        }
    }

    #[test]
    fn a_drained_fair_claim_holds_until_fair_work_comes_or_the_skip_shrinks() {
        let due = DueWork::default();
        let drained = FairDrained::new(
            skip(&["busy"], &["hanging"]),
            due.fair_generation(),
            Duration::from_millis(1),
        );
        assert!(due.still_drained(&drained, &skip(&["busy"], &["hanging"])));
        assert!(due.still_drained(&drained, &skip(&["busy", "other"], &["hanging", "x"])));
        // The busy organisation fell below its share: its backlog is fair game again.
        assert!(!due.still_drained(&drained, &skip(&[], &["hanging"])));
        assert!(!due.still_drained(&drained, &skip(&["busy"], &[])));
        // Work beyond the shares does not concern a fair claim; work within them does.
        due.beyond_share();
        assert!(due.still_drained(&drained, &skip(&["busy"], &["hanging"])));
        due.fair();
        assert!(!due.still_drained(&drained, &skip(&["busy"], &["hanging"])));
    }

    #[test]
    fn a_drained_fair_claim_expires() {
        let due = DueWork::default();
        let mut drained = FairDrained::new(
            skip(&["busy"], &[]),
            due.fair_generation(),
            Duration::from_millis(1),
        );
        drained.at -= FAIR_DRAINED_FOR;
        assert!(!due.still_drained(&drained, &skip(&["busy"], &[])));
    }

    /// An empty fair claim that walked a deep backlog is not repeated for twenty times as long
    /// (within bounds), so its repeats cannot take more than a twentieth of the claim loop.
    #[test]
    fn a_costly_drained_fair_claim_holds_longer() {
        let due = DueWork::default();
        let busy = || skip(&["busy"], &[]);
        let mut costly = FairDrained::new(busy(), due.fair_generation(), Duration::from_millis(15));
        costly.at -= Duration::from_millis(250);
        assert!(due.still_drained(&costly, &busy()));
        costly.at -= Duration::from_millis(60);
        assert!(!due.still_drained(&costly, &busy()));
        let mut slowest = FairDrained::new(busy(), due.fair_generation(), Duration::from_secs(5));
        slowest.at -= FAIR_DRAINED_AT_MOST;
        assert!(!due.still_drained(&slowest, &busy()));
    }
}
