//! A throttle's tables (accounts, peers, pairs, known clients) and their
//! periodic pruning.

use std::net::IpAddr;
use std::time::Duration;

use travel::types::UnixMillis;

use super::known::{Caps, Known};
use super::table::{Gate, Table};
use super::{Limits, Throttled};

/// Longest time between two prunings of expired entries.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long a successful login makes its peer a known client of the account.
pub(super) const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

pub(super) type Pair = (String, IpAddr);

/// The tables of one throttle, behind its lock.
#[derive(Debug)]
pub(super) struct State {
    pub(super) accounts: Table<String>,
    pub(super) peers: Table<IpAddr>,
    pub(super) pairs: Table<Pair>,
    /// Known clients: when each last logged in to the account (bounded on insert).
    pub(super) known: Known,
    last_prune: Option<UnixMillis>,
}

impl State {
    pub(super) fn new(limits: Limits, caps: Caps) -> Self {
        Self {
            accounts: Table::new(limits.per_account, caps.entries),
            peers: Table::new(limits.per_peer, caps.entries),
            pairs: Table::new(limits.per_account, caps.entries),
            known: Known::new(caps),
            last_prune: None,
        }
    }

    pub(super) fn prune_if_due(&mut self, now: UnixMillis, window: Duration) {
        let due = self
            .last_prune
            .is_none_or(|last| last.plus(PRUNE_EVERY.min(window)) <= now)
            || self.accounts.full()
            || self.peers.full()
            || self.pairs.full();
        if !due {
            return;
        }
        self.accounts.prune(now, window);
        self.peers.prune(now, window);
        self.pairs.prune(now, window);
        self.known.prune(now, KNOWN_FOR);
        self.last_prune = Some(now);
    }

    pub(super) fn is_known(&self, pair: &Pair, now: UnixMillis) -> bool {
        self.known
            .last(&pair.0, pair.1)
            .is_some_and(|at| at.plus(KNOWN_FOR) > now)
    }

    /// Whether the attempt is from a known client, and whether it must wait;
    /// refused while a gate is delayed.
    /// A throttle made `by_pair` gates by the pair and the peer only.
    pub(super) fn gates(
        &mut self,
        limits: &Limits,
        by_pair: bool,
        account: Option<&String>,
        peer: Option<IpAddr>,
        now: UnixMillis,
    ) -> Result<(bool, bool), Throttled> {
        let state = self;
        let limits = *limits;
        let pair = account.zip(peer).map(|(a, p)| (a.clone(), p));
        let known = !by_pair && pair.as_ref().is_some_and(|p| state.is_known(p, now));
        let gates = if by_pair {
            vec![
                pair.as_ref().map(|p| state.pairs.gate(p, &limits, now)),
                peer.map(|p| state.peers.gate(&p, &limits, now)),
            ]
        } else if known {
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
}
