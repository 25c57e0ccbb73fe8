//! Throttling of password checks, in memory and per process (each replica
//! counts on its own; a restart forgets). Only FAILURES count, per account key
//! (a normalised email, or a client id), per peer (an IPv4 address or an IPv6
//! /64), and per pair of both. Each key has an allowance of free failures within
//! the window; past it, the key's next attempt waits a delay that doubles with
//! each further failure (from `first_delay` up to `max_delay`), and attempts
//! before then are refused unchecked, whether or not the account exists.
//!
//! A peer that has logged in to an account before is a *known client* of it:
//! its attempts for that account are gated by the pair's failures only, so an
//! attacker spraying wrong passwords from elsewhere delays neither the owner
//! nor, behind a shared address, the other people who logged in from it. Other
//! attempts are gated by the account and by the peer. A correct password that
//! passes its gates is always accepted.
//!
//! Attempts in flight are never counted as failures; they only make an attempt
//! that could go past an allowance wait (bounded) for their verdict, so that
//! parallel guesses cannot slip past it while parallel correct logins all pass.
//! Old entries are pruned and the tables capped, so memory stays bounded.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use travel::types::Instant;

/// Most keys kept per table; past it, entries that are not delayed are
/// dropped, and if that is not enough, everything (with a warning).
const MAX_ENTRIES: usize = 100_000;
/// Most failures remembered per key (the delay is at its maximum long before).
const MAX_FAILURES: usize = 64;
/// Longest time between two prunings of expired entries.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long a successful login makes its peer a known client of the account.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest wait for attempts in flight to settle before refusing.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// The throttle's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Free failures for one account key (and for one known client of it) within `window`.
    pub per_account: u32,
    /// Free failures from one peer within `window`.
    pub per_peer: u32,
    /// How far back failures count.
    pub window: Duration,
    /// The delay after the allowance is used up; it doubles with each further failure.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

/// Refused: too many recent failures; try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until an attempt is checked again.
    pub retry_after: Duration,
}

/// What a key's record says about a new attempt.
enum Gate {
    Open,
    /// Attempts in flight could use up the allowance: wait for their verdict.
    Wait,
    /// Delayed for this long.
    Closed(Duration),
}

/// The recent failures of one key and its attempts in flight.
#[derive(Debug, Default)]
struct Record {
    /// When each failure within the window happened, oldest first.
    failures: VecDeque<Instant>,
    /// Attempts let through and not settled yet.
    in_flight: u32,
}

impl Record {
    fn forget_before(&mut self, now: Instant, window: Duration) {
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.unix_millis().saturating_sub(window);
        while self.failures.front().is_some_and(|at| at.unix_millis() <= cutoff) {
            self.failures.pop_front();
        }
    }

    fn gate(&self, allowance: u32, limits: &Limits, now: Instant) -> Gate {
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

    fn fail(&mut self, now: Instant) {
        if self.failures.len() >= MAX_FAILURES {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
    }

    fn idle(&self) -> bool {
        self.failures.is_empty() && self.in_flight == 0
    }
}

/// The records of one kind of key.
#[derive(Debug)]
struct Table<K> {
    records: HashMap<K, Record>,
    allowance: u32,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(allowance: u32) -> Self {
        Self {
            records: HashMap::new(),
            allowance,
        }
    }

    fn gate(&mut self, key: &K, limits: &Limits, now: Instant) -> Gate {
        match self.records.get_mut(key) {
            Some(record) => {
                record.forget_before(now, limits.window);
                record.gate(self.allowance, limits, now)
            }
            None => Gate::Open,
        }
    }

    fn enter(&mut self, key: &K) {
        self.records.entry(key.clone()).or_default().in_flight += 1;
    }

    fn leave(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.in_flight = record.in_flight.saturating_sub(1);
        }
    }

    fn fail(&mut self, key: &K, now: Instant) {
        self.records.entry(key.clone()).or_default().fail(now);
    }

    fn forgive(&mut self, key: &K) {
        if let Some(record) = self.records.get_mut(key) {
            record.failures.clear();
        }
    }

    fn prune(&mut self, now: Instant, window: Duration) {
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

type Pair = (String, IpAddr);

#[derive(Debug)]
struct State {
    accounts: Table<String>,
    peers: Table<IpAddr>,
    pairs: Table<Pair>,
    /// Known clients: when each last logged in to the account.
    known: HashMap<Pair, Instant>,
    last_prune: Option<Instant>,
}

impl State {
    fn prune_if_due(&mut self, now: Instant, window: Duration) {
        let full = |n: usize| n > MAX_ENTRIES;
        let due = self
            .last_prune
            .is_none_or(|last| last.plus(PRUNE_EVERY.min(window)) <= now)
            || full(self.accounts.records.len())
            || full(self.peers.records.len())
            || full(self.pairs.records.len())
            || full(self.known.len());
        if !due {
            return;
        }
        self.accounts.prune(now, window);
        self.peers.prune(now, window);
        self.pairs.prune(now, window);
        self.known.retain(|_, at| at.plus(KNOWN_FOR) > now);
        if full(self.known.len()) {
            tracing::warn!(entries = self.known.len(), "known-client table full; forgetting it");
            self.known.clear();
        }
        self.last_prune = Some(now);
    }

    fn is_known(&self, pair: &Pair, now: Instant) -> bool {
        self.known.get(pair).is_some_and(|at| at.plus(KNOWN_FOR) > now)
    }
}

/// One throttle (a process has one for logins, one for service accounts and
/// one for Register); cheap to clone.
#[derive(Debug, Clone)]
pub struct Throttle {
    limits: Limits,
    state: Arc<Mutex<State>>,
    settled: Arc<Notify>,
}

/// An attempt let through; report its verdict with [`Attempt::succeeded`] or
/// [`Attempt::failed`]. Dropped without one (the caller went away, or checking
/// failed), it counts as nothing.
#[derive(Debug)]
pub struct Attempt {
    throttle: Throttle,
    account: Option<String>,
    peer: Option<IpAddr>,
    known: bool,
    settled: bool,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Arc::new(Mutex::new(State {
                accounts: Table::new(limits.per_account),
                peers: Table::new(limits.per_peer),
                pairs: Table::new(limits.per_account),
                known: HashMap::new(),
                last_prune: None,
            })),
            settled: Arc::new(Notify::new()),
        }
    }

    /// Lets an attempt for `account` (if counted per account) from `peer` (if
    /// known) through, or refuses it while one of its gates is delayed. Waits
    /// (at most a few seconds) while attempts in flight could use up an allowance.
    pub async fn begin(&self, account: Option<&str>, peer: Option<IpAddr>, now: Instant) -> Result<Attempt, Throttled> {
        let peer = peer.map(peer_key);
        let account = account.map(str::to_owned);
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.try_begin(account.as_ref(), peer, now) {
                Ok(Some(known)) => {
                    return Ok(Attempt {
                        throttle: self.clone(),
                        account,
                        peer,
                        known,
                        settled: false,
                    });
                }
                Ok(None) => {}
                Err(throttled) => return Err(throttled),
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return Err(Throttled {
                    retry_after: Duration::from_secs(1),
                });
            }
        }
    }

    /// Refuses, as [`Throttle::begin`] would, while a gate of `account` and
    /// `peer` is delayed; counts nothing and never waits.
    pub fn check(&self, account: Option<&str>, peer: Option<IpAddr>, now: Instant) -> Result<(), Throttled> {
        let account = account.map(str::to_owned);
        let mut state = self.lock();
        state.prune_if_due(now, self.limits.window);
        self.gates(&mut state, account.as_ref(), peer.map(peer_key), now)
            .map(|_| ())
    }

    /// `Some(known)` when let through, `None` when it must wait.
    fn try_begin(
        &self,
        account: Option<&String>,
        peer: Option<IpAddr>,
        now: Instant,
    ) -> Result<Option<bool>, Throttled> {
        let mut state = self.lock();
        state.prune_if_due(now, self.limits.window);
        let (known, wait) = self.gates(&mut state, account, peer, now)?;
        if wait {
            return Ok(None);
        }
        let pair = account.zip(peer).map(|(a, p)| (a.clone(), p));
        if known {
            if let Some(p) = &pair {
                state.pairs.enter(p);
            }
        } else {
            if let Some(a) = account {
                state.accounts.enter(a);
            }
            if let Some(p) = &peer {
                state.peers.enter(p);
            }
        }
        Ok(Some(known))
    }

    /// Whether the attempt is from a known client, and whether it must wait;
    /// refused while a gate is delayed.
    fn gates(
        &self,
        state: &mut State,
        account: Option<&String>,
        peer: Option<IpAddr>,
        now: Instant,
    ) -> Result<(bool, bool), Throttled> {
        let limits = self.limits;
        let pair = account.zip(peer).map(|(a, p)| (a.clone(), p));
        let known = pair.as_ref().is_some_and(|p| state.is_known(p, now));
        let gates = if known {
            vec![pair.as_ref().map(|p| state.pairs.gate(p, &limits, now))]
        } else {
            vec![
                account.map(|a| state.accounts.gate(a, &limits, now)),
                peer.map(|p| state.peers.gate(&p, &limits, now)),
            ]
        };
        let mut wait = false;
        let mut closed = Duration::ZERO;
        for gate in gates.into_iter().flatten() {
            match gate {
                Gate::Open => {}
                Gate::Wait => wait = true,
                Gate::Closed(d) => closed = closed.max(d),
            }
        }
        if !closed.is_zero() {
            return Err(Throttled { retry_after: closed });
        }
        Ok((known, wait))
    }

    /// How many keys (accounts, peers and pairs) are tracked.
    pub fn tracked(&self) -> usize {
        let state = self.lock();
        state.accounts.records.len() + state.peers.records.len() + state.pairs.records.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: keep using it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Attempt {
    /// The password was right: the pair's failures are forgotten (and the
    /// account's, unless the peer was a known client already), and the peer
    /// becomes a known client of the account.
    pub fn succeeded(mut self, now: Instant) {
        self.settle(Some(true), now);
    }

    /// The password was wrong (or, for Register, the attempt is simply counted):
    /// a failure for the account, the peer and the pair.
    pub fn failed(mut self, now: Instant) {
        self.settle(Some(false), now);
    }

    fn settle(&mut self, verdict: Option<bool>, now: Instant) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let pair = self.account.clone().zip(self.peer);
        {
            let mut state = self.throttle.lock();
            if self.known {
                if let Some(p) = &pair {
                    state.pairs.leave(p);
                }
            } else {
                if let Some(a) = &self.account {
                    state.accounts.leave(a);
                }
                if let Some(p) = &self.peer {
                    state.peers.leave(p);
                }
            }
            match verdict {
                Some(true) => {
                    // A known client's success leaves the account's own count
                    // alone: it is about the others, whose delay must not reset
                    // each time the owner logs in.
                    if let Some(a) = self.account.as_ref().filter(|_| !self.known) {
                        state.accounts.forgive(a);
                    }
                    if let Some(p) = pair {
                        state.pairs.forgive(&p);
                        state.known.insert(p, now);
                    }
                }
                Some(false) => {
                    if let Some(a) = &self.account {
                        state.accounts.fail(a, now);
                    }
                    if let Some(p) = &self.peer {
                        state.peers.fail(p, now);
                    }
                    if let Some(p) = &pair {
                        state.pairs.fail(p, now);
                    }
                }
                None => {}
            }
        }
        self.throttle.settled.notify_waiters();
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        // No verdict: the attempt counted as nothing. Its time is unknown here,
        // but none is needed to only take it out of flight.
        self.settle(None, Instant::from_unix_millis(0));
    }
}

/// The key a peer is counted under: its IPv4 address, or its IPv6 /64 (one
/// host usually has a whole /64 to pick addresses from).
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
