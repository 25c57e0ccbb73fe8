//! The throttle's bookkeeping for one kind of key: the failures within the
//! window and the attempts in flight of each key, and the gate they make for
//! the next attempt (open, wait for the verdicts in flight, or delayed).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use travel::types::UnixMillis;

use super::Limits;

/// Most keys kept per table by default; past it, the least recently seen keys
/// that are not in flight are dropped, down to nine tenths of the cap, never
/// the whole table.
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
    failures: VecDeque<UnixMillis>,
    /// Attempts let through and not settled yet.
    in_flight: u32,
    /// When an attempt was last let through or failed under this key.
    last_seen: Option<UnixMillis>,
}

impl Record {
    pub(super) fn forget_before(&mut self, now: UnixMillis, window: Duration) {
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.unix_millis().saturating_sub(window);
        while self.failures.front().is_some_and(|at| at.unix_millis() <= cutoff) {
            self.failures.pop_front();
        }
    }

    pub(super) fn gate(&self, allowance: u32, limits: &Limits, now: UnixMillis) -> Gate {
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

    pub(super) fn fail(&mut self, now: UnixMillis) {
        if self.failures.len() >= MAX_FAILURES {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        self.seen(now);
    }

    fn seen(&mut self, now: UnixMillis) {
        self.last_seen = Some(self.last_seen.map_or(now, |at| at.max(now)));
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
    /// Most keys kept (see [`MAX_ENTRIES`]).
    cap: usize,
}

impl<K: Hash + Eq + Clone> Table<K> {
    pub(super) fn new(allowance: u32, cap: usize) -> Self {
        Self {
            records: HashMap::new(),
            allowance,
            cap: cap.max(1),
        }
    }

    /// Whether the table holds more keys than its cap.
    pub(super) fn full(&self) -> bool {
        self.records.len() > self.cap
    }

    pub(super) fn gate(&mut self, key: &K, limits: &Limits, now: UnixMillis) -> Gate {
        match self.records.get_mut(key) {
            Some(record) => {
                record.forget_before(now, limits.window);
                record.gate(self.allowance, limits, now)
            }
            None => Gate::Open,
        }
    }

    pub(super) fn enter(&mut self, key: &K, now: UnixMillis) {
        let record = self.records.entry(key.clone()).or_default();
        record.in_flight += 1;
        record.seen(now);
    }

    pub(super) fn leave(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.in_flight = record.in_flight.saturating_sub(1);
        }
    }

    pub(super) fn fail(&mut self, key: &K, now: UnixMillis) {
        self.records.entry(key.clone()).or_default().fail(now);
    }

    pub(super) fn forgive(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.failures.clear();
        }
    }

    pub(super) fn prune(&mut self, now: UnixMillis, window: Duration) {
        self.records.retain(|_, r| {
            r.forget_before(now, window);
            !r.idle()
        });
        if !self.full() {
            return;
        }
        // Over the cap: drop the least recently seen keys not in flight, down to
        // nine tenths of the cap (so that this O(n) pass runs once per tenth of
        // the cap of new keys, not on each). Recency alone decides: a key under
        // attack now is always among the most recent.
        let keep = self.cap - self.cap / 10;
        let mut evictable: Vec<(Option<UnixMillis>, K)> = self
            .records
            .iter()
            .filter(|(_, r)| r.in_flight == 0)
            .map(|(k, r)| (r.last_seen, k.clone()))
            .collect();
        let excess = self.records.len().saturating_sub(keep).min(evictable.len());
        if excess == 0 {
            return;
        }
        if excess < evictable.len() {
            evictable.select_nth_unstable_by_key(excess, |(rank, _)| *rank);
        }
        for (_, key) in evictable.into_iter().take(excess) {
            self.records.remove(&key);
        }
        tracing::warn!(
            evicted = excess,
            entries = self.records.len(),
            "throttle table full; forgot its least recently seen keys"
        );
    }
}
