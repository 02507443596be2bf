//! The circuit breaker, per destination (an integration and its resolved channel or URL), per
//! process. After `threshold` failed attempts in a row the circuit opens: the destination's
//! deliveries are not claimed for a cool-down, which doubles with each failed probe (up to
//! [`MAX_COOLDOWN`]). Then one delivery goes through as a probe (half-open): a success closes
//! the circuit, a failure opens it again. A success at any time resets the count.
//!
//! Retries keep their own schedule; the breaker only keeps the rest of the destination's
//! backlog from hammering it meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::capacity::DestinationKey;

/// The longest cool-down, however often probes fail.
const MAX_COOLDOWN: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: DateTime<Utc>,
        reopened: u32,
    },
    /// One probe is out until `probe_until` (after which another may go, should the first be
    /// lost to a shutdown).
    HalfOpen {
        probe_until: DateTime<Utc>,
        reopened: u32,
    },
}

/// What an attempt's result did to the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Unchanged,
    /// The circuit opened (or opened again after a failed probe).
    Opened,
    /// A success closed an open or half-open circuit.
    Closed,
}

pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    /// How long a probe may take before another is let through.
    probe_time: Duration,
    states: Mutex<HashMap<DestinationKey, State>>,
}

impl Breaker {
    /// A `threshold` of 0 turns the breaker off.
    pub(crate) fn new(threshold: u32, cooldown: Duration, probe_time: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            probe_time,
            states: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DestinationKey, State>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May an attempt to `key` start now? Err carries when to look again. A half-open
    /// circuit lets exactly one attempt through.
    pub(crate) fn admit(
        &self,
        key: &DestinationKey,
        now: DateTime<Utc>,
    ) -> Result<(), DateTime<Utc>> {
        let mut states = self.lock();
        let Some(state) = states.get_mut(key) else {
            return Ok(());
        };
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until, .. }
            | State::HalfOpen {
                probe_until: until, ..
            } if now < until => Err(until),
            State::Open { reopened, .. } | State::HalfOpen { reopened, .. } => {
                *state = State::HalfOpen {
                    probe_until: now + chrono_duration(self.probe_time),
                    reopened,
                };
                Ok(())
            }
        }
    }

    /// A probe that was not sent after all (its destination was paced or paused): the next
    /// attempt may probe at once.
    pub(crate) fn probe_not_sent(&self, key: &DestinationKey, now: DateTime<Utc>) {
        let mut states = self.lock();
        if let Some(State::HalfOpen { reopened, .. }) = states.get(key).copied() {
            states.insert(
                key.clone(),
                State::Open {
                    until: now,
                    reopened,
                },
            );
        }
    }

    /// Records an attempt's result.
    pub(crate) fn record(
        &self,
        key: &DestinationKey,
        success: bool,
        now: DateTime<Utc>,
    ) -> Transition {
        if self.threshold == 0 {
            return Transition::Unchanged;
        }
        let mut states = self.lock();
        let state = states
            .get(key)
            .copied()
            .unwrap_or(State::Closed { failures: 0 });
        if success {
            states.remove(key);
            return match state {
                State::Closed { .. } => Transition::Unchanged,
                _ => Transition::Closed,
            };
        }
        let (next, transition) = match state {
            State::Closed { failures } if failures + 1 < self.threshold => (
                State::Closed {
                    failures: failures + 1,
                },
                Transition::Unchanged,
            ),
            State::Closed { .. } => (self.open(now, 0), Transition::Opened),
            State::HalfOpen { reopened, .. } => (self.open(now, reopened + 1), Transition::Opened),
            // A result of an attempt that started before the circuit opened.
            open @ State::Open { .. } => (open, Transition::Unchanged),
        };
        states.insert(key.clone(), next);
        transition
    }

    fn open(&self, now: DateTime<Utc>, reopened: u32) -> State {
        let cooldown = self
            .cooldown
            .saturating_mul(1 << reopened.min(16))
            .min(MAX_COOLDOWN.max(self.cooldown));
        State::Open {
            until: now + chrono_duration(cooldown),
            reopened,
        }
    }

    /// Destinations whose deliveries must not be claimed now: open, or half-open with their
    /// probe out.
    pub(crate) fn blocked(&self, now: DateTime<Utc>) -> Vec<DestinationKey> {
        self.lock()
            .iter()
            .filter(|(_, state)| match state {
                State::Closed { .. } => false,
                State::Open { until, .. }
                | State::HalfOpen {
                    probe_until: until, ..
                } => now < *until,
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// How many circuits are open or half-open, for the metrics.
    pub(crate) fn open_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|state| !matches!(state, State::Closed { .. }))
            .count()
    }
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::IntegrationId;

    fn key() -> DestinationKey {
        DestinationKey {
            integration: IntegrationId::generate(),
            destination: String::new(),
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn opens_after_the_threshold_probes_once_and_closes_on_success() {
        let breaker = Breaker::new(3, Duration::from_secs(30), Duration::from_secs(20));
        let key = key();
        assert_eq!(breaker.record(&key, false, at(0)), Transition::Unchanged);
        assert_eq!(breaker.record(&key, false, at(1)), Transition::Unchanged);
        assert!(breaker.admit(&key, at(2)).is_ok());
        assert_eq!(breaker.record(&key, false, at(2)), Transition::Opened);
        assert_eq!(breaker.admit(&key, at(3)), Err(at(32)));
        assert_eq!(breaker.blocked(at(3)), vec![key.clone()]);
        assert_eq!(breaker.open_count(), 1);
        // Cool-down over: one probe, the next waits for it.
        assert!(breaker.admit(&key, at(32)).is_ok());
        assert_eq!(breaker.admit(&key, at(33)), Err(at(52)));
        assert_eq!(breaker.record(&key, true, at(34)), Transition::Closed);
        assert!(breaker.admit(&key, at(35)).is_ok());
        assert!(breaker.blocked(at(35)).is_empty());
        assert_eq!(breaker.open_count(), 0);
    }

    #[test]
    fn a_failed_probe_doubles_the_cool_down() {
        let breaker = Breaker::new(1, Duration::from_secs(30), Duration::from_secs(20));
        let key = key();
        assert_eq!(breaker.record(&key, false, at(0)), Transition::Opened);
        assert!(breaker.admit(&key, at(30)).is_ok());
        assert_eq!(breaker.record(&key, false, at(31)), Transition::Opened);
        assert_eq!(breaker.admit(&key, at(32)), Err(at(91)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = Breaker::new(2, Duration::from_secs(30), Duration::from_secs(20));
        let key = key();
        breaker.record(&key, false, at(0));
        breaker.record(&key, true, at(1));
        assert_eq!(breaker.record(&key, false, at(2)), Transition::Unchanged);
        assert_eq!(breaker.record(&key, false, at(3)), Transition::Opened);
    }

    #[test]
    fn a_probe_not_sent_lets_the_next_one_probe() {
        let breaker = Breaker::new(1, Duration::from_secs(30), Duration::from_secs(20));
        let key = key();
        breaker.record(&key, false, at(0));
        assert!(breaker.admit(&key, at(30)).is_ok());
        breaker.probe_not_sent(&key, at(31));
        assert!(breaker.admit(&key, at(31)).is_ok());
    }

    #[test]
    fn a_threshold_of_zero_never_opens() {
        let breaker = Breaker::new(0, Duration::from_secs(30), Duration::from_secs(20));
        let key = key();
        for second in 0..100 {
            assert_eq!(
                breaker.record(&key, false, at(second)),
                Transition::Unchanged
            );
        }
        assert!(breaker.admit(&key, at(100)).is_ok());
    }
}
