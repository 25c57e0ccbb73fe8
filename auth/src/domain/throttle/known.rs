//! Known clients: when each peer last logged in to each account, bounded three
//! ways so that no one can flush the others' entries wholesale — at most a few
//! peers per account and accounts per peer (the oldest of that account or peer
//! make room), and at most a cap in all (the least recently seen go first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use travel::types::UnixMillis;

/// Most peers remembered per account by default (its most recent ones).
pub(super) const MAX_PEERS_PER_ACCOUNT: usize = 32;
/// Most accounts remembered per peer by default (a shared address: an office, a NAT).
pub(super) const MAX_ACCOUNTS_PER_PEER: usize = 1024;

/// The bounds of the known-client table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Caps {
    /// Pairs in all.
    pub(super) entries: usize,
    /// Peers per account.
    pub(super) per_account: usize,
    /// Accounts per peer.
    pub(super) per_peer: usize,
}

/// When each peer last logged in to each account, indexed both ways.
#[derive(Debug)]
pub(super) struct Known {
    by_account: HashMap<String, HashMap<IpAddr, UnixMillis>>,
    by_peer: HashMap<IpAddr, HashMap<String, UnixMillis>>,
    len: usize,
    caps: Caps,
}

impl Known {
    pub(super) fn new(caps: Caps) -> Self {
        Self {
            by_account: HashMap::new(),
            by_peer: HashMap::new(),
            len: 0,
            caps: Caps {
                entries: caps.entries.max(1),
                per_account: caps.per_account.max(1),
                per_peer: caps.per_peer.max(1),
            },
        }
    }

    /// How many pairs are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// When `peer` last logged in to `account`, if it is remembered.
    pub(super) fn last(&self, account: &str, peer: IpAddr) -> Option<UnixMillis> {
        self.by_account.get(account)?.get(&peer).copied()
    }

    /// Remembers that `peer` logged in to `account` at `now`, making room first.
    pub(super) fn insert(&mut self, account: &str, peer: IpAddr, now: UnixMillis) {
        if self.last(account, peer).is_none() {
            let peers = self.by_account.get(account).map_or(0, HashMap::len);
            if peers >= self.caps.per_account
                && let Some(oldest) = oldest(&self.by_account[account])
            {
                self.remove(account, oldest);
            }
            let accounts = self.by_peer.get(&peer).map_or(0, HashMap::len);
            if accounts >= self.caps.per_peer
                && let Some(oldest) = oldest(&self.by_peer[&peer])
            {
                self.remove(&oldest, peer);
            }
            self.len += 1;
        }
        self.by_account.entry(account.to_owned()).or_default().insert(peer, now);
        self.by_peer.entry(peer).or_default().insert(account.to_owned(), now);
        if self.len > self.caps.entries {
            self.evict();
        }
    }

    /// Forgets the pairs last seen `known_for` or longer before `now`.
    pub(super) fn prune(&mut self, now: UnixMillis, known_for: Duration) {
        let fresh = |at: &mut UnixMillis| at.plus(known_for) > now;
        self.by_account.retain(|_, peers| {
            peers.retain(|_, at| fresh(at));
            !peers.is_empty()
        });
        self.by_peer.retain(|_, accounts| {
            accounts.retain(|_, at| fresh(at));
            !accounts.is_empty()
        });
        self.len = self.by_account.values().map(HashMap::len).sum();
    }

    fn remove(&mut self, account: &str, peer: IpAddr) {
        let mut removed = false;
        if let Some(peers) = self.by_account.get_mut(account) {
            removed = peers.remove(&peer).is_some();
            if peers.is_empty() {
                self.by_account.remove(account);
            }
        }
        if let Some(accounts) = self.by_peer.get_mut(&peer) {
            accounts.remove(account);
            if accounts.is_empty() {
                self.by_peer.remove(&peer);
            }
        }
        if removed {
            self.len -= 1;
        }
    }

    /// Over the cap: forgets the least recently seen pairs, down to nine tenths
    /// of the cap (one O(n) pass per tenth of the cap of new pairs).
    fn evict(&mut self) {
        let keep = self.caps.entries - self.caps.entries / 10;
        let mut all: Vec<(UnixMillis, String, IpAddr)> = self
            .by_account
            .iter()
            .flat_map(|(a, peers)| peers.iter().map(move |(p, at)| (*at, a.clone(), *p)))
            .collect();
        let excess = all.len().saturating_sub(keep);
        if excess == 0 {
            return;
        }
        if excess < all.len() {
            all.select_nth_unstable_by_key(excess, |(at, _, _)| *at);
        }
        for (_, account, peer) in all.into_iter().take(excess) {
            self.remove(&account, peer);
        }
        tracing::warn!(
            evicted = excess,
            entries = self.len,
            "known-client table full; forgot its least recently seen clients"
        );
    }
}

/// The key seen longest ago.
fn oldest<K: Clone>(entries: &HashMap<K, UnixMillis>) -> Option<K> {
    entries.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone())
}
