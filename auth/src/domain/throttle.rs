//! Login throttling, in memory and per process (each replica counts on its own;
//! a restart forgets). Failures are counted per account key
//! (a normalised email) and per peer (an IPv4 address or an IPv6 /64); once a
//! key reaches its limit within the window, attempts for it are refused for the
//! lockout, whether or not the account exists. An attempt counts as a failure
//! from the moment it starts, so parallel guesses cannot slip past the limit; a
//! success takes its count back and clears the account's failures. Old entries
//! are pruned, and the tables are capped, so memory stays bounded.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use travel::types::Instant;

/// Most keys kept per table; past it, entries that are not locked out are
/// dropped, and if that is not enough, everything (with a warning).
const MAX_ENTRIES: usize = 100_000;
/// Longest time between two prunings of expired entries.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The throttle's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures for one account key within `window` that trigger a lockout.
    pub per_account: u32,
    /// Failures from one peer within `window` that trigger a lockout.
    pub per_peer: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a locked-out key is refused.
    pub lockout: Duration,
}

/// Refused: too many recent failures; try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until attempts are accepted again.
    pub retry_after: Duration,
}

/// The recent failures of one key, and its lockout.
#[derive(Debug, Default)]
struct Record {
    /// When each failure within the window happened, oldest first.
    failures: VecDeque<Instant>,
    /// Refused until then.
    locked_until: Option<Instant>,
}

impl Record {
    fn forget_before(&mut self, now: Instant, window: Duration) {
        let window = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.unix_millis().saturating_sub(window);
        while self.failures.front().is_some_and(|at| at.unix_millis() <= cutoff) {
            self.failures.pop_front();
        }
        if self.locked_until.is_some_and(|until| until <= now) {
            self.locked_until = None;
        }
    }

    fn count(&mut self, now: Instant, limit: u32, lockout: Duration) {
        self.failures.push_back(now);
        if self.failures.len() >= limit as usize {
            self.locked_until = Some(now.plus(lockout));
        }
    }

    /// Takes back one counted attempt; a lockout no longer justified is lifted.
    fn undo(&mut self, limit: u32) {
        self.failures.pop_back();
        if self.failures.len() < limit as usize {
            self.locked_until = None;
        }
    }
}

/// The records of one kind of key.
#[derive(Debug)]
struct Table<K> {
    records: HashMap<K, Record>,
    limit: u32,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(limit: u32) -> Self {
        Self {
            records: HashMap::new(),
            limit: limit.max(1),
        }
    }

    /// Until when `key` is locked out, if it is at `now`.
    fn locked(&mut self, key: &K, now: Instant, window: Duration) -> Option<Instant> {
        let record = self.records.get_mut(key)?;
        record.forget_before(now, window);
        record.locked_until
    }

    fn count(&mut self, key: &K, now: Instant, lockout: Duration) {
        let limit = self.limit;
        self.records.entry(key.clone()).or_default().count(now, limit, lockout);
    }

    fn undo(&mut self, key: &K) {
        let limit = self.limit;
        if let Some(record) = self.records.get_mut(key) {
            record.undo(limit);
        }
    }

    fn prune(&mut self, now: Instant, window: Duration) {
        self.records.retain(|_, r| {
            r.forget_before(now, window);
            !r.failures.is_empty() || r.locked_until.is_some()
        });
        if self.records.len() > MAX_ENTRIES {
            self.records.retain(|_, r| r.locked_until.is_some());
        }
        if self.records.len() > MAX_ENTRIES {
            tracing::warn!(
                entries = self.records.len(),
                "login throttle table full of lockouts; forgetting them all"
            );
            self.records.clear();
        }
    }
}

#[derive(Debug)]
struct State {
    accounts: Table<String>,
    peers: Table<IpAddr>,
    last_prune: Option<Instant>,
}

impl State {
    fn prune_if_due(&mut self, now: Instant, window: Duration) {
        let due = self
            .last_prune
            .is_none_or(|last| last.plus(PRUNE_EVERY.min(window)) <= now)
            || self.accounts.records.len() > MAX_ENTRIES
            || self.peers.records.len() > MAX_ENTRIES;
        if due {
            self.accounts.prune(now, window);
            self.peers.prune(now, window);
            self.last_prune = Some(now);
        }
    }
}

/// The login throttle of one process; cheap to clone.
#[derive(Debug, Clone)]
pub struct Throttle {
    limits: Limits,
    state: Arc<Mutex<State>>,
}

/// An attempt let through: report its success with [`Throttle::succeeded`].
#[derive(Debug)]
pub struct Attempt {
    account: Option<String>,
    peer: Option<IpAddr>,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Arc::new(Mutex::new(State {
                accounts: Table::new(limits.per_account),
                peers: Table::new(limits.per_peer),
                last_prune: None,
            })),
        }
    }

    /// Lets an attempt for `account` (if counted per account) from `peer` (if
    /// known) through, counting it as a failure until it succeeds, or refuses it
    /// while either is locked out.
    pub fn begin(&self, account: Option<&str>, peer: Option<IpAddr>, now: Instant) -> Result<Attempt, Throttled> {
        let Limits { window, lockout, .. } = self.limits;
        let peer = peer.map(peer_key);
        let account = account.map(str::to_owned);
        let mut state = self.lock();
        state.prune_if_due(now, window);
        let locked = [
            account.as_ref().and_then(|a| state.accounts.locked(a, now, window)),
            peer.and_then(|p| state.peers.locked(&p, now, window)),
        ];
        if let Some(until) = locked.into_iter().flatten().max() {
            let wait = u64::try_from(until.unix_millis().saturating_sub(now.unix_millis())).unwrap_or(0);
            return Err(Throttled {
                retry_after: Duration::from_millis(wait),
            });
        }
        if let Some(a) = &account {
            state.accounts.count(a, now, lockout);
        }
        if let Some(p) = &peer {
            state.peers.count(p, now, lockout);
        }
        Ok(Attempt { account, peer })
    }

    /// The attempt succeeded: the account's failures are forgotten, and the
    /// peer's count of this attempt is taken back.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut state = self.lock();
        if let Some(account) = &attempt.account {
            state.accounts.records.remove(account);
        }
        if let Some(peer) = attempt.peer {
            state.peers.undo(&peer);
        }
    }

    /// How many keys (accounts and peers) are tracked.
    pub fn tracked(&self) -> usize {
        let state = self.lock();
        state.accounts.records.len() + state.peers.records.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: keep using it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn throttle(per_account: u32, per_peer: u32) -> Throttle {
        Throttle::new(Limits {
            per_account,
            per_peer,
            window: 15 * MINUTE,
            lockout: 15 * MINUTE,
        })
    }

    fn at(minutes: u32) -> Instant {
        Instant::from_unix_millis(0).plus(MINUTE * minutes)
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn an_account_is_locked_after_its_limit_of_failures_then_released_after_the_lockout() {
        let t = throttle(3, 100);
        for _ in 0..3 {
            assert!(t.begin(Some("a@x.io"), PEER, at(0)).is_ok());
        }
        let refused = t.begin(Some("a@x.io"), PEER, at(1)).unwrap_err();
        assert_eq!(refused.retry_after, 14 * MINUTE);
        assert!(
            t.begin(Some("b@x.io"), PEER, at(1)).is_ok(),
            "other accounts are unaffected"
        );
        assert!(
            t.begin(Some("a@x.io"), PEER, at(15)).is_ok(),
            "released after the lockout"
        );
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let t = throttle(3, 100);
        t.begin(Some("a@x.io"), None, at(0)).unwrap();
        t.begin(Some("a@x.io"), None, at(1)).unwrap();
        assert!(
            t.begin(Some("a@x.io"), None, at(16)).is_ok(),
            "the first two are forgotten"
        );
        assert!(t.begin(Some("a@x.io"), None, at(17)).is_ok());
    }

    #[test]
    fn a_success_clears_the_account_and_takes_back_its_peer_count() {
        let t = throttle(3, 3);
        t.begin(Some("a@x.io"), PEER, at(0)).unwrap();
        t.begin(Some("a@x.io"), PEER, at(0)).unwrap();
        let third = t.begin(Some("a@x.io"), PEER, at(0)).unwrap();
        t.succeeded(third);
        assert!(
            t.begin(Some("a@x.io"), PEER, at(0)).is_ok(),
            "account and peer unlocked"
        );
    }

    #[test]
    fn a_peer_is_locked_across_accounts() {
        let t = throttle(100, 3);
        for who in ["a@x.io", "b@x.io", "c@x.io"] {
            t.begin(Some(who), PEER, at(0)).unwrap();
        }
        assert!(t.begin(Some("d@x.io"), PEER, at(0)).is_err());
        let other: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        assert!(
            t.begin(Some("d@x.io"), other, at(0)).is_ok(),
            "other peers are unaffected"
        );
    }

    #[test]
    fn ipv6_peers_are_counted_by_their_slash_64() {
        let t = throttle(100, 2);
        t.begin(Some("a@x.io"), Some("2001:db8::1".parse().unwrap()), at(0))
            .unwrap();
        t.begin(Some("b@x.io"), Some("2001:db8::2".parse().unwrap()), at(0))
            .unwrap();
        assert!(
            t.begin(Some("c@x.io"), Some("2001:db8::3".parse().unwrap()), at(0))
                .is_err()
        );
        assert!(
            t.begin(Some("c@x.io"), Some("2001:db8:0:1::3".parse().unwrap()), at(0))
                .is_ok()
        );
    }

    #[test]
    fn expired_entries_are_pruned() {
        let t = throttle(5, 20);
        for i in 0..50 {
            t.begin(Some(&format!("user{i}@x.io")), None, at(0)).unwrap();
        }
        assert_eq!(t.tracked(), 50);
        t.begin(Some("late@x.io"), None, at(60)).unwrap();
        assert_eq!(t.tracked(), 1, "only the new attempt is left");
    }
}
