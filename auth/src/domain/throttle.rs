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
//! A throttle made with [`Throttle::per_pair`] (service accounts) never gates
//! by the account alone: only by the pair and by the peer, so that wrong
//! secrets from one address are delayed while the real service, from another
//! address, is never refused (a new replica's address, a restarted process).
//!
//! Attempts in flight are never counted as failures; they only make an attempt
//! that could go past an allowance wait (bounded) for their verdict, so that
//! parallel guesses cannot slip past it while parallel correct logins all pass.
//! An attempt dropped without a verdict after its password check began (the
//! client cancelled while argon2 ran) counts as a failure: cancelling cannot
//! buy uncounted guesses.
//! Old entries are pruned and the tables capped, so memory stays bounded: past
//! a cap the least recently seen entries are dropped, never a whole table, and
//! known clients are also capped per account and per peer, so that one client
//! logging in from very many addresses (or to very many accounts) cannot flush
//! the others' known-client protection.

mod attempt;
mod known;
mod state;
mod table;

use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use travel::types::UnixMillis;

pub use attempt::Attempt;
use known::{Caps, MAX_ACCOUNTS_PER_PEER, MAX_PEERS_PER_ACCOUNT};
use state::State;
use table::MAX_ENTRIES;

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

/// The default bounds of the tables.
const CAPS: Caps = Caps {
    entries: MAX_ENTRIES,
    per_account: MAX_PEERS_PER_ACCOUNT,
    per_peer: MAX_ACCOUNTS_PER_PEER,
};

/// What a throttle gates an attempt by (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gating {
    /// By the account and the peer, or by the pair for a known client (logins, Register).
    ByAccount,
    /// By the pair and the peer, never by the account alone (service accounts).
    ByPair,
}

/// One throttle (a process has one for logins, one for service accounts and
/// one for Register); cheap to clone.
#[derive(Debug, Clone)]
pub struct Throttle {
    limits: Limits,
    /// Gated per pair and per peer only, never per account (see [`Throttle::per_pair`]).
    by_pair: bool,
    state: Arc<Mutex<State>>,
    settled: Arc<Notify>,
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: Limits) -> Self {
        Self::build(limits, Gating::ByAccount)
    }

    /// A throttle that gates each attempt by its (account, peer) pair, with the
    /// `per_account` allowance, and by its peer, with `per_peer`; never by the
    /// account alone. A request without a peer counts under the unspecified address.
    pub fn per_pair(limits: Limits) -> Self {
        Self::build(limits, Gating::ByPair)
    }

    fn build(limits: Limits, gating: Gating) -> Self {
        Self::with_caps(limits, gating, CAPS)
    }

    /// A throttle whose tables are bounded by `caps` (the tests' small ones).
    fn with_caps(limits: Limits, gating: Gating, caps: Caps) -> Self {
        Self {
            limits,
            by_pair: gating == Gating::ByPair,
            state: Arc::new(Mutex::new(State::new(limits, caps))),
            settled: Arc::new(Notify::new()),
        }
    }

    /// Lets an attempt for `account` (if counted per account) from `peer` (if
    /// known) through, or refuses it while one of its gates is delayed. Waits
    /// (at most a few seconds) while attempts in flight could use up an allowance.
    pub async fn begin(
        &self,
        account: Option<&str>,
        peer: Option<IpAddr>,
        now: UnixMillis,
    ) -> Result<Attempt, Throttled> {
        let peer = self.peer_key(peer);
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
                        checking: AtomicBool::new(false),
                        at: now,
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
    pub fn check(&self, account: Option<&str>, peer: Option<IpAddr>, now: UnixMillis) -> Result<(), Throttled> {
        let account = account.map(str::to_owned);
        let mut state = self.lock();
        state.prune_if_due(now, self.limits.window);
        state
            .gates(&self.limits, self.by_pair, account.as_ref(), self.peer_key(peer), now)
            .map(|_| ())
    }

    fn peer_key(&self, peer: Option<IpAddr>) -> Option<IpAddr> {
        let unspecified = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        let peer = if self.by_pair { peer.or(Some(unspecified)) } else { peer };
        peer.map(peer_key)
    }

    /// `Some(known)` when let through, `None` when it must wait.
    fn try_begin(
        &self,
        account: Option<&String>,
        peer: Option<IpAddr>,
        now: UnixMillis,
    ) -> Result<Option<bool>, Throttled> {
        let mut state = self.lock();
        state.prune_if_due(now, self.limits.window);
        let (known, wait) = state.gates(&self.limits, self.by_pair, account, peer, now)?;
        if wait {
            return Ok(None);
        }
        let pair = account.zip(peer).map(|(a, p)| (a.clone(), p));
        if self.by_pair {
            if let Some(p) = &pair {
                state.pairs.enter(p, now);
            }
            if let Some(p) = &peer {
                state.peers.enter(p, now);
            }
        } else if known {
            if let Some(p) = &pair {
                state.pairs.enter(p, now);
            }
        } else {
            if let Some(a) = account {
                state.accounts.enter(a, now);
            }
            if let Some(p) = &peer {
                state.peers.enter(p, now);
            }
        }
        Ok(Some(known))
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
