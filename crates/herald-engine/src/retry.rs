//! What a retryable failure turns into: the next attempt time, or the end of the schedule.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::RetrySchedule;
use rand::Rng;

/// The longest a destination's Retry-After may push an attempt back.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The time of the next attempt after `attempts_made` attempts in this cycle, or `None` when
/// the schedule is exhausted. The schedule's delay gets ±10% jitter so that a burst of failures
/// does not retry in lockstep; a Retry-After from the destination is a floor.
pub fn next_attempt_at(
    schedule: &RetrySchedule,
    attempts_made: u32,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let delay = schedule.delay_after(attempts_made)?;
    let jittered = delay.mul_f64(rand::thread_rng().gen_range(0.9..=1.1));
    let wait = jittered.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
    Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule::parse("10s,1m").unwrap()
    }

    #[test]
    fn follows_the_schedule_with_bounded_jitter_then_stops() {
        let now = Utc::now();
        for _ in 0..50 {
            let at = next_attempt_at(&schedule(), 1, None, now).unwrap();
            let wait = (at - now).num_milliseconds();
            assert!((9_000..=11_000).contains(&wait), "{wait}");
        }
        assert!(next_attempt_at(&schedule(), 2, None, now).is_some());
        assert_eq!(next_attempt_at(&schedule(), 3, None, now), None);
    }

    #[test]
    fn retry_after_is_a_floor_and_is_capped() {
        let now = Utc::now();
        let at = next_attempt_at(&schedule(), 1, Some(Duration::from_secs(120)), now).unwrap();
        assert_eq!((at - now).num_seconds(), 120);
        let at = next_attempt_at(&schedule(), 1, Some(Duration::from_secs(1)), now).unwrap();
        assert!((at - now).num_seconds() >= 9);
        let at =
            next_attempt_at(&schedule(), 1, Some(Duration::from_secs(10 * 86_400)), now).unwrap();
        assert_eq!((at - now).num_hours(), 24);
    }
}
