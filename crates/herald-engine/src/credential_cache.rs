//! Opened integration configs, kept in memory for a while so that sending needs no decryption.
//! An entry is keyed by integration and remembers the sealed blob it was opened from: a row
//! whose blob changed (a PATCH, a rotation) never matches an old entry, so a replaced
//! credential is never served, whatever the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_domain::{IntegrationId, OrgId};
use herald_providers::{Destination, Prepared};
use serde_json::Value;

/// An opened config with what is derived from it alone, so that no attempt parses it again.
/// Deliberately not Debug, as the cache: it holds plaintext credentials.
pub(crate) struct Opened {
    pub config: Value,
    /// The integration's own destination (`Provider::destination` of `config`).
    pub destination: Destination,
    /// What the provider parsed of `config` for rendering (`Provider::prepare`).
    pub prepared: Option<Prepared>,
}

struct Entry {
    org: OrgId,
    sealed: String,
    config: Arc<Opened>,
    opened: Instant,
}

/// Deliberately not Debug: it holds plaintext credentials.
pub(crate) struct CredentialCache {
    entries: Mutex<HashMap<IntegrationId, Entry>>,
    ttl: Duration,
    capacity: usize,
}

impl CredentialCache {
    /// A zero `ttl` or `capacity` caches nothing.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity,
        }
    }

    /// The config opened from exactly `sealed`, if it is still fresh.
    pub(crate) fn get(&self, id: &IntegrationId, sealed: &str) -> Option<Arc<Opened>> {
        let entries = self.entries.lock().expect("not poisoned");
        let entry = entries.get(id)?;
        (entry.sealed == sealed && entry.opened.elapsed() < self.ttl).then(|| entry.config.clone())
    }

    pub(crate) fn put(&self, org: &OrgId, id: &IntegrationId, sealed: &str, config: Arc<Opened>) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= self.capacity && !entries.contains_key(id) {
            entries.retain(|_, e| e.opened.elapsed() < self.ttl);
        }
        if entries.len() >= self.capacity && !entries.contains_key(id) {
            // Full of fresh entries: the oldest goes. A scan, but only when full.
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.opened)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            id.clone(),
            Entry {
                org: org.clone(),
                sealed: sealed.to_owned(),
                config,
                opened: Instant::now(),
            },
        );
    }

    pub(crate) fn invalidate(&self, id: &IntegrationId) {
        self.entries.lock().expect("not poisoned").remove(id);
    }

    /// Drops every entry of `org`: after a local change whose integration is not known.
    pub(crate) fn invalidate_org(&self, org: &OrgId) {
        self.entries
            .lock()
            .expect("not poisoned")
            .retain(|_, e| &e.org != org);
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().expect("not poisoned").clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().expect("not poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(token: &str) -> Arc<Opened> {
        Arc::new(Opened {
            config: json!({ "token": token }),
            destination: Destination::new(herald_domain::Kind::Webhook, "", None),
            prepared: None,
        })
    }

    #[test]
    fn an_entry_serves_only_the_blob_it_was_opened_from() {
        let cache = CredentialCache::new(Duration::from_secs(900), 10);
        let (org, id) = (OrgId::generate(), IntegrationId::generate());
        cache.put(&org, &id, "hsb2.a.old", config("old"));
        let served = cache.get(&id, "hsb2.a.old").expect("served");
        assert_eq!(served.config, config("old").config);
        // The row now holds another blob (a PATCH elsewhere): the old token is not served.
        assert!(cache.get(&id, "hsb2.a.new").is_none());
    }

    #[test]
    fn entries_expire_and_are_invalidated() {
        let (org, id) = (OrgId::generate(), IntegrationId::generate());
        let expired = CredentialCache::new(Duration::from_nanos(1), 10);
        expired.put(&org, &id, "s", config("x"));
        std::thread::sleep(Duration::from_millis(1));
        assert!(expired.get(&id, "s").is_none());

        let cache = CredentialCache::new(Duration::from_secs(900), 10);
        cache.put(&org, &id, "s", config("x"));
        cache.invalidate(&id);
        assert!(cache.get(&id, "s").is_none());
        cache.put(&org, &id, "s", config("x"));
        cache.invalidate_org(&OrgId::generate());
        assert!(cache.get(&id, "s").is_some());
        cache.invalidate_org(&org);
        assert!(cache.get(&id, "s").is_none());
    }

    #[test]
    fn the_cache_is_bounded_and_a_zero_ttl_disables_it() {
        let org = OrgId::generate();
        let cache = CredentialCache::new(Duration::from_secs(900), 3);
        let ids: Vec<_> = (0..5).map(|_| IntegrationId::generate()).collect();
        for id in &ids {
            cache.put(&org, id, "s", config("x"));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&ids[4], "s").is_some(), "the newest stays");
        assert!(cache.get(&ids[0], "s").is_none(), "the oldest went");

        let off = CredentialCache::new(Duration::ZERO, 3);
        off.put(&org, &ids[0], "s", config("x"));
        assert_eq!(off.len(), 0);
    }
}
