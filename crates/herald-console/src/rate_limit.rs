//! Failed sign-ins, limited per user and per client address: after too many failures in the
//! window, further attempts are refused (without checking the password) until it passes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per user name in the window.
pub const USER_FAILURES: usize = 5;
/// Failures allowed per client address in the window (several users may share a NAT).
pub const ADDRESS_FAILURES: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Beyond this many tracked keys the oldest entries are dropped, bounding memory.
const MAX_KEYS: usize = 100_000;

/// Failure times per key (`user:<org>/<name>` or `addr:<ip>`), in this process. Each API
/// instance counts its own, so N instances allow N times the limit: still far too few
/// guesses to matter against argon2id-hashed passwords of 8+ characters.
#[derive(Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl SignInLimiter {
    /// Whether any of `keys` has used up its failures (`limits` pairs each key with its own).
    pub fn blocked(&self, keys: &[(&str, usize)], now: Instant) -> bool {
        let mut failures = self.failures.lock().expect("not poisoned");
        keys.iter().any(|(key, limit)| {
            failures.get_mut(*key).is_some_and(|times| {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                times.len() >= *limit
            })
        })
    }

    pub fn record_failure(&self, keys: &[&str], now: Instant) {
        let mut failures = self.failures.lock().expect("not poisoned");
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for key in keys {
            failures.entry((*key).to_owned()).or_default().push(now);
        }
    }

    /// A successful sign-in forgets the user's failures (not the address's).
    pub fn clear(&self, key: &str) {
        self.failures.lock().expect("not poisoned").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_blocked_after_five_failures_until_the_window_passes() {
        let limiter = SignInLimiter::default();
        let t0 = Instant::now();
        let keys = [
            ("user:ada", USER_FAILURES),
            ("addr:1.2.3.4", ADDRESS_FAILURES),
        ];
        for _ in 0..USER_FAILURES {
            assert!(!limiter.blocked(&keys, t0));
            limiter.record_failure(&["user:ada", "addr:1.2.3.4"], t0);
        }
        assert!(limiter.blocked(&keys, t0));
        assert!(!limiter.blocked(&[("user:bob", USER_FAILURES)], t0));
        assert!(!limiter.blocked(&keys, t0 + WINDOW));
    }

    #[test]
    fn an_address_is_blocked_across_user_names() {
        let limiter = SignInLimiter::default();
        let t0 = Instant::now();
        for n in 0..ADDRESS_FAILURES {
            limiter.record_failure(&[&format!("user:u{n}"), "addr:9.9.9.9"], t0);
        }
        assert!(limiter.blocked(
            &[
                ("user:new", USER_FAILURES),
                ("addr:9.9.9.9", ADDRESS_FAILURES)
            ],
            t0
        ));
    }
}
