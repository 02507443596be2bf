//! A bound on the requests in flight to one origin, and so on the connections open to it.
//!
//! hyper's pool opens a connection for every request that finds none idle. Each one holds
//! about 30 KB of buffers and queues in Herald, so a fast receiver that 256 workers sent to at
//! once cost 7–8 MB of Herald's memory for connections it did not need: the workers spend
//! most of their time waiting for their results to be committed, not for the receiver.
//! Requests beyond the bound wait for a connection, within their own deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many origins, those with nothing in flight are forgotten.
const MAX_TRACKED: usize = 1_024;

pub(crate) struct OriginLimits {
    per_origin: usize,
    origins: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl OriginLimits {
    pub(crate) fn new(per_origin: usize) -> Self {
        Self {
            per_origin: per_origin.max(1),
            origins: Mutex::default(),
        }
    }

    /// The bound for each origin, which is also how many idle connections the pool keeps.
    pub(crate) fn per_origin(&self) -> usize {
        self.per_origin
    }

    /// Waits for a turn to send to `url`'s origin (scheme, host and port); the turn ends when
    /// the permit is dropped.
    pub(crate) async fn turn(&self, url: &url::Url) -> OwnedSemaphorePermit {
        let semaphore = self.semaphore(url);
        semaphore.acquire_owned().await.expect("never closed")
    }

    fn semaphore(&self, url: &url::Url) -> Arc<Semaphore> {
        let key = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let mut origins = self.origins.lock().expect("not poisoned");
        if let Some(semaphore) = origins.get(&key) {
            return semaphore.clone();
        }
        if origins.len() >= MAX_TRACKED {
            // Held only here, and with every permit back: nothing is in flight to it.
            origins.retain(|_, semaphore| {
                Arc::strong_count(semaphore) > 1 || semaphore.available_permits() < self.per_origin
            });
        }
        let semaphore = Arc::new(Semaphore::new(self.per_origin));
        origins.insert(key, semaphore.clone());
        semaphore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> url::Url {
        url::Url::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn an_origin_at_its_bound_waits_while_another_origin_goes_on() {
        let limits = OriginLimits::new(2);
        let a = url("http://a.example/hook");
        let first = limits.turn(&a).await;
        let _second = limits.turn(&url("http://a.example:80/other")).await;
        let third = limits.turn(&a);
        tokio::pin!(third);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(50), third.as_mut()).await;
        assert!(waited.is_err(), "a third request to the same origin waits");
        // Another port, scheme or host is another origin.
        let _b = limits.turn(&url("http://a.example:8080/")).await;
        let _c = limits.turn(&url("https://a.example/")).await;
        drop(first);
        let third = tokio::time::timeout(std::time::Duration::from_secs(1), third).await;
        assert!(third.is_ok(), "a freed turn goes to the waiting request");
    }

    #[tokio::test]
    async fn origins_with_nothing_in_flight_are_forgotten_past_the_bound() {
        let limits = OriginLimits::new(1);
        let busy = limits.turn(&url("http://busy.example/")).await;
        for i in 0..MAX_TRACKED + 10 {
            drop(limits.turn(&url(&format!("http://h{i}.example/"))).await);
        }
        let origins = limits.origins.lock().unwrap();
        assert!(origins.len() <= MAX_TRACKED);
        assert!(origins.contains_key("http://busy.example:80"));
        drop(busy);
    }
}
