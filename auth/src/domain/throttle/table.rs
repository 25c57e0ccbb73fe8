//! The throttle's bookkeeping for one kind of key: the failures within the
//! window and the attempts in flight of each key, and the gate they make for
//! the next attempt (open, wait for the verdicts in flight, or delayed).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use travel::types::Instant;

use super::Limits;

/// Most keys kept per table; past it, entries that are not delayed are
/// dropped, and if that is not enough, everything (with a warning).
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Most failures remembered per key (the delay is at its maximum long before).
const MAX_FAILURES: usize = 64;

/// What a key's record says about a new attempt.
pub(super) enum Gate {
    Open,
    /// Attempts in flight could use up the allowance: wait for their verdict.
    Wait,
    /// Delayed for this long.
    Closed(Duration),
}

/// The recent failures of one key and its attempts in flight.
#[derive(Debug, Default)]
pub(super) struct Record {
    /// When each failure within the window happened, oldest first.
    failures: VecDeque<Instant>,
    /// Attempts let through and not settled yet.
    in_flight: u32,
}

impl Record {
    pub(super) fn forget_before(&mut self, now: Instant, window: Duration) {
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.unix_millis().saturating_sub(window);
        while self.failures.front().is_some_and(|at| at.unix_millis() <= cutoff) {
            self.failures.pop_front();
        }
    }

    pub(super) fn gate(&self, allowance: u32, limits: &Limits, now: Instant) -> Gate {
        let failures = self.failures.len();
        let allowance = allowance.max(1) as usize;
        if failures < allowance {
            return if failures + self.in_flight as usize >= allowance {
                Gate::Wait
            } else {
                Gate::Open
            };
        }
        let doublings = u32::try_from(failures - allowance).unwrap_or(u32::MAX).min(30);
        let delay = limits.first_delay.saturating_mul(1 << doublings).min(limits.max_delay);
        let last: i64 = self.failures.back().map_or(0, |at| at.unix_millis());
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let wait = last.saturating_add(delay_ms).saturating_sub(now.unix_millis());
        if wait > 0 {
            Gate::Closed(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
        } else if self.in_flight > 0 {
            Gate::Wait // one attempt at a time past the allowance
        } else {
            Gate::Open
        }
    }

    pub(super) fn fail(&mut self, now: Instant) {
        if self.failures.len() >= MAX_FAILURES {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
    }

    pub(super) fn idle(&self) -> bool {
        self.failures.is_empty() && self.in_flight == 0
    }
}

/// The records of one kind of key.
#[derive(Debug)]
pub(super) struct Table<K> {
    pub(super) records: HashMap<K, Record>,
    allowance: u32,
}

impl<K: Hash + Eq + Clone> Table<K> {
    pub(super) fn new(allowance: u32) -> Self {
        Self {
            records: HashMap::new(),
            allowance,
        }
    }

    pub(super) fn gate(&mut self, key: &K, limits: &Limits, now: Instant) -> Gate {
        match self.records.get_mut(key) {
            Some(record) => {
                record.forget_before(now, limits.window);
                record.gate(self.allowance, limits, now)
            }
            None => Gate::Open,
        }
    }

    pub(super) fn enter(&mut self, key: &K) {
        self.records.entry(key.clone()).or_default().in_flight += 1;
    }

    pub(super) fn leave(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.in_flight = record.in_flight.saturating_sub(1);
        }
    }

    pub(super) fn fail(&mut self, key: &K, now: Instant) {
        self.records.entry(key.clone()).or_default().fail(now);
    }

    pub(super) fn forgive(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.failures.clear();
        }
    }

    pub(super) fn prune(&mut self, now: Instant, window: Duration) {
        self.records.retain(|_, r| {
            r.forget_before(now, window);
            !r.idle()
        });
        let allowance = self.allowance as usize;
        if self.records.len() > MAX_ENTRIES {
            self.records
                .retain(|_, r| r.in_flight > 0 || r.failures.len() >= allowance);
        }
        if self.records.len() > MAX_ENTRIES {
            tracing::warn!(
                entries = self.records.len(),
                "throttle table full; forgetting its failures"
            );
            self.records.retain(|_, r| r.in_flight > 0);
        }
    }
}
