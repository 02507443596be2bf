//! Per-destination pacing: a token bucket for each destination a provider names (a Slack
//! channel, a webhook host, a PagerDuty routing key), and a pause when the destination says
//! 429. A delivery that finds its destination busy is deferred in the store, not held in a
//! worker, so other destinations keep flowing.
//!
//! The buckets live in this process. Several instances each keep their own, so together they
//! may exceed a pace by their number; a 429 still pauses each of them as it arrives.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use herald_providers::Destination;

/// Above this many destinations, idle ones are forgotten.
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub(crate) struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled_at: DateTime<Utc>,
    paused_until: Option<DateTime<Utc>>,
}

impl Limiter {
    /// Takes a token for `destination` at `now`, or says when to come back.
    pub(crate) fn acquire(
        &self,
        destination: &Destination,
        now: DateTime<Utc>,
    ) -> Result<(), DateTime<Utc>> {
        let mut buckets = self
            .buckets
            .lock()
            .expect("the limiter lock is never poisoned");
        if let Some(until) = buckets
            .get(&destination.key)
            .and_then(|b| b.paused_until)
            .filter(|until| *until > now)
        {
            return Err(until);
        }
        let Some(rate) = destination.rate else {
            return Ok(());
        };
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| b.paused_until.is_some_and(|u| u > now) || b.tokens < 1.0);
        }
        let burst = f64::from(rate.burst.max(1));
        let bucket = buckets
            .entry(destination.key.clone())
            .or_insert_with(|| Bucket {
                tokens: burst,
                refilled_at: now,
                paused_until: None,
            });
        let elapsed = (now - bucket.refilled_at).num_microseconds().unwrap_or(0) as f64 / 1e6;
        if elapsed > 0.0 {
            bucket.tokens = (bucket.tokens + elapsed * rate.per_second).min(burst);
            bucket.refilled_at = now;
        }
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / rate.per_second.max(f64::MIN_POSITIVE);
        Err(now + Duration::microseconds((wait * 1e6).ceil() as i64))
    }

    /// Holds every delivery to `key` until `until` (a 429's Retry-After).
    pub(crate) fn pause(&self, key: &str, until: DateTime<Utc>) {
        let mut buckets = self
            .buckets
            .lock()
            .expect("the limiter lock is never poisoned");
        let bucket = buckets.entry(key.to_owned()).or_insert_with(|| Bucket {
            tokens: 0.0,
            refilled_at: until,
            paused_until: None,
        });
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::Kind;
    use herald_providers::Rate;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_750_000_000_000 + ms).unwrap()
    }

    #[test]
    fn one_per_second_per_channel() {
        let limiter = Limiter::default();
        let channel = Destination::new(Kind::Slack, "C1", Some(Rate::new(1.0, 1)));
        let other = Destination::new(Kind::Slack, "C2", Some(Rate::new(1.0, 1)));
        assert_eq!(limiter.acquire(&channel, at(0)), Ok(()));
        assert_eq!(limiter.acquire(&channel, at(200)), Err(at(1000)));
        assert_eq!(
            limiter.acquire(&other, at(200)),
            Ok(()),
            "another channel flows"
        );
        assert_eq!(limiter.acquire(&channel, at(1000)), Ok(()));
        assert_eq!(limiter.acquire(&channel, at(1500)), Err(at(2000)));
    }

    #[test]
    fn a_burst_is_allowed_then_paced() {
        let limiter = Limiter::default();
        let key = Destination::new(Kind::Teams, "h", Some(Rate::new(4.0, 4)));
        for _ in 0..4 {
            assert_eq!(limiter.acquire(&key, at(0)), Ok(()));
        }
        assert_eq!(limiter.acquire(&key, at(0)), Err(at(250)));
    }

    #[test]
    fn a_pause_holds_only_its_destination_even_without_a_rate() {
        let limiter = Limiter::default();
        let hook = Destination::new(Kind::Webhook, "a.example", None);
        let other = Destination::new(Kind::Webhook, "b.example", None);
        limiter.pause(&hook.key, at(5000));
        assert_eq!(limiter.acquire(&hook, at(100)), Err(at(5000)));
        assert_eq!(limiter.acquire(&other, at(100)), Ok(()));
        assert_eq!(limiter.acquire(&hook, at(5000)), Ok(()));
        // A shorter pause arriving later does not cut a longer one short.
        limiter.pause(&hook.key, at(9000));
        limiter.pause(&hook.key, at(6000));
        assert_eq!(limiter.acquire(&hook, at(7000)), Err(at(9000)));
    }
}
