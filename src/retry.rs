//! The one retry policy of the platform: exponential backoff with jitter, at
//! most so many attempts and never past a deadline. Callers that loop (the
//! reservation service's calls to flight and hotel, its seat retries) run
//! [`Retries`]; callers that schedule their next attempt in the background
//! (the key ring's refetch, the service token's renewal) ask [`Backoff::wait`]
//! for the wait after so many failures in a row.

use std::time::Duration;

use crate::deadline::Deadline;

/// Exponential backoff with jitter: after the n-th failure in a row the pause
/// is `first · 2^(n−1)`, at most two thirds of `max`, spread by jitter from 50%
/// to 150%, so that the wait never exceeds `max` and callers retrying together
/// do not march in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Pause after a first failure; it doubles with each failure in a row.
    pub first: Duration,
    /// Longest wait, jitter included.
    pub max: Duration,
    /// Most attempts in all, the first included (`None`: until the deadline).
    pub attempts: Option<u32>,
}

impl Backoff {
    /// From `first`, doubling, waits never longer than `max`; no attempt limit.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            attempts: None,
        }
    }

    /// The same, but at most `attempts` attempts in all.
    pub const fn at_most(self, attempts: u32) -> Self {
        Self {
            attempts: Some(attempts),
            ..self
        }
    }

    /// The pause after `failures` failures in a row (1 after the first), before jitter.
    pub fn pause(&self, failures: u32) -> Duration {
        let doublings = 2_u32.checked_pow(failures.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first.saturating_mul(doublings).min(self.max * 2 / 3)
    }

    /// The wait after `failures` failures in a row: the pause, jittered.
    pub fn wait(&self, failures: u32) -> Duration {
        jitter(self.pause(failures))
    }

    /// A run of attempts under this policy that ends by `deadline`.
    pub fn retries(self, deadline: Deadline) -> Retries {
        Retries {
            backoff: self,
            deadline,
            failures: 0,
        }
    }
}

/// One run of attempts: after each failure, [`Retries::retry`] waits before the
/// next attempt, or says that none is left.
#[derive(Debug, Clone)]
pub struct Retries {
    backoff: Backoff,
    deadline: Deadline,
    failures: u32,
}

impl Retries {
    /// The attempt being made: 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.failures + 1
    }

    /// The pause before the next attempt, should this one fail (before jitter).
    pub fn next_pause(&self) -> Duration {
        self.backoff.pause(self.failures + 1)
    }

    /// Whether another attempt may follow the one being made: one is left and
    /// the deadline has not passed. (Callers that spend a retry budget ask
    /// first, so that a retry that would not be made spends nothing.)
    pub fn may_retry(&self) -> bool {
        let used_up = self.backoff.attempts.is_some_and(|n| self.failures + 1 >= n);
        !used_up && !self.deadline.is_past()
    }

    /// After the attempt being made failed: false at once if every attempt was
    /// made or the deadline has passed; else waits (until the deadline at
    /// most) and returns true for the next attempt.
    pub async fn retry(&mut self) -> bool {
        let may = self.may_retry();
        self.failures += 1;
        if !may {
            return false;
        }
        tokio::time::sleep(self.backoff.wait(self.failures).min(self.deadline.remaining())).await;
        true
    }
}

/// Between 50% and 150% of `d`, so that many callers retrying do not march in step.
pub fn jitter(d: Duration) -> Duration {
    let mut byte = [0u8; 2];
    let random = getrandom::fill(&mut byte).map_or(500, |()| u32::from(u16::from_le_bytes(byte)) % 1000);
    d * (500 + random) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(50) && d < Duration::from_millis(150),
                "{d:?}"
            );
        }
    }

    #[test]
    fn the_pause_doubles_up_to_two_thirds_of_the_longest_wait() {
        let backoff = Backoff::new(50 * MS, 1500 * MS);
        let pauses: Vec<Duration> = (1..=7).map(|n| backoff.pause(n)).collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000].map(|ms| ms * MS));
        assert_eq!(backoff.pause(u32::MAX), 1000 * MS, "no overflow after many failures");
    }

    #[test]
    fn a_wait_never_exceeds_the_longest() {
        let backoff = Backoff::new(Duration::from_secs(3600), Duration::from_secs(5));
        for n in 1..200 {
            let d = backoff.wait(n);
            assert!(d <= Duration::from_secs(5) && d >= Duration::from_secs(5) / 3, "{d:?}");
        }
    }

    #[tokio::test]
    async fn a_run_stops_after_its_attempts() {
        let mut retries = Backoff::new(10 * MS, 150 * MS)
            .at_most(3)
            .retries(Deadline::after(Duration::from_secs(60)));
        assert_eq!(retries.attempt(), 1);
        assert_eq!(retries.next_pause(), 10 * MS);
        assert!(retries.retry().await);
        assert_eq!((retries.attempt(), retries.next_pause()), (2, 20 * MS));
        assert!(retries.retry().await);
        assert!(!retries.may_retry(), "the third attempt is the last");
        assert!(!retries.retry().await, "three attempts in all");
    }

    #[tokio::test]
    async fn a_run_stops_at_its_deadline_and_never_sleeps_past_it() {
        // The wait is at least 500 ms; the deadline 100 ms away.
        let deadline = Deadline::after(100 * MS);
        let mut retries = Backoff::new(Duration::from_secs(1), Duration::from_secs(30)).retries(deadline);
        let started = tokio::time::Instant::now();
        assert!(retries.retry().await, "time was left");
        let slept = started.elapsed();
        assert!(
            slept < 400 * MS,
            "slept until the deadline, not the whole wait: {slept:?}"
        );
        assert!(!retries.retry().await, "the deadline passed");
    }
}
