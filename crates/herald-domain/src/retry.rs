//! The retry schedule: configuration data, not code.

use std::time::Duration;

use crate::duration;

/// Delays between attempts. Its length is the number of retries after the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// Svix's schedule, proven in production: eight attempts over about 32 hours.
    pub const DEFAULT: &'static str = "5s,5m,30m,2h,5h,10h,10h";

    /// Parses comma-separated delays such as `5s,5m,30m`. An empty string means no retries.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Ok(Self(Vec::new()));
        }
        raw.split(',')
            .map(duration::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Total attempts a delivery gets: the first one plus one per retry.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.0.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The delay before the next attempt, after `attempts_made` attempts of this cycle have failed,
    /// or `None` when the schedule is exhausted.
    pub fn delay_after(&self, attempts_made: u32) -> Option<Duration> {
        let index = usize::try_from(attempts_made).ok()?.checked_sub(1)?;
        self.0.get(index).copied()
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::parse(Self::DEFAULT).expect("the default schedule parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_gives_eight_attempts() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.max_attempts(), 8);
        assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(schedule.delay_after(8), None);
    }

    #[test]
    fn empty_schedule_means_a_single_attempt() {
        let schedule = RetrySchedule::parse("").unwrap();
        assert_eq!(schedule.max_attempts(), 1);
        assert_eq!(schedule.delay_after(1), None);
    }

    #[test]
    fn bad_entries_are_rejected() {
        assert!(RetrySchedule::parse("5s,,5m").is_err());
        assert!(RetrySchedule::parse("5s,soon").is_err());
    }
}
