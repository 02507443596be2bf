//! Each organisation's routing input (integrations, the routing index, the catalogue), kept in
//! memory so that accepting an event needs no query. Every routing write in this process drops
//! the organisation's entry. Writes by other instances (PostgreSQL) drop it when their
//! notification arrives; while no listener is hearing them, entries expire quickly instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_domain::OrgId;

/// An organisation's routing input, as loaded at a moment.
type Entry<T> = (Arc<T>, Instant);

pub(crate) struct RoutingCache<T> {
    entries: Mutex<HashMap<OrgId, Entry<T>>>,
    /// Bumped by every invalidation; a load that overlapped one is not cached.
    generation: AtomicU64,
    ttl: Option<Duration>,
    /// Used instead of `ttl` while other instances' changes are not heard.
    unheard_ttl: Option<Duration>,
    hearing: AtomicBool,
}

impl<T> RoutingCache<T> {
    /// `ttl` None: entries live until invalidated (one process owns the database).
    pub(crate) fn new(ttl: Option<Duration>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
            unheard_ttl: None,
            hearing: AtomicBool::new(true),
        }
    }

    /// Entries expire after `ttl` until [`RoutingCache::set_hearing`] says changes are heard.
    pub(crate) fn unheard_ttl(mut self, ttl: Duration) -> Self {
        self.unheard_ttl = Some(ttl);
        self.hearing = AtomicBool::new(false);
        self
    }

    pub(crate) fn set_hearing(&self, hearing: bool) {
        self.hearing.store(hearing, Ordering::Release);
    }

    pub(crate) fn is_hearing(&self) -> bool {
        self.hearing.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, org: &OrgId) -> Option<Arc<T>> {
        let ttl = match self.is_hearing() {
            true => self.ttl,
            false => self.unheard_ttl.or(self.ttl),
        };
        let entries = self.entries.lock().expect("not poisoned");
        let (rows, loaded) = entries.get(org)?;
        let fresh = ttl.is_none_or(|ttl| loaded.elapsed() < ttl);
        fresh.then(|| rows.clone())
    }

    /// Call before loading; pass the result to [`RoutingCache::put`].
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn put(&self, org: OrgId, rows: Arc<T>, loaded_at_generation: u64) {
        let mut entries = self.entries.lock().expect("not poisoned");
        if self.generation.load(Ordering::Acquire) == loaded_at_generation {
            entries.insert(org, (rows, Instant::now()));
        }
    }

    pub(crate) fn invalidate(&self, org: &OrgId) {
        let mut entries = self.entries.lock().expect("not poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(org);
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.entries.lock().expect("not poisoned");
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Arc<()> {
        Arc::new(())
    }

    #[test]
    fn entries_live_until_invalidated_or_expired() {
        let org = OrgId::generate();
        let forever = RoutingCache::new(None);
        forever.put(org.clone(), rows(), forever.generation());
        assert!(forever.get(&org).is_some());
        forever.invalidate(&org);
        assert!(forever.get(&org).is_none());

        let expiring = RoutingCache::new(Some(Duration::ZERO));
        expiring.put(org.clone(), rows(), expiring.generation());
        assert!(expiring.get(&org).is_none());
    }

    #[test]
    fn entries_expire_quickly_while_changes_are_unheard() {
        let org = OrgId::generate();
        let cache = RoutingCache::new(Some(Duration::from_secs(60))).unheard_ttl(Duration::ZERO);
        cache.put(org.clone(), rows(), cache.generation());
        assert!(cache.get(&org).is_none(), "not hearing yet");
        cache.set_hearing(true);
        assert!(cache.get(&org).is_some());
        cache.clear();
        assert!(cache.get(&org).is_none());
    }

    #[test]
    fn a_load_that_overlapped_an_invalidation_is_not_cached() {
        let cache = RoutingCache::new(None);
        let org = OrgId::generate();
        let before_load = cache.generation();
        // An integration changes while the load is in flight: its result may be stale.
        cache.invalidate(&OrgId::generate());
        cache.put(org.clone(), rows(), before_load);
        assert!(cache.get(&org).is_none());
    }
}
