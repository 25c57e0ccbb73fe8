//! An attempt let through a throttle, and how its verdict (or its absence,
//! when the caller went away) is counted.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use travel::types::UnixMillis;

use super::Throttle;

/// Whether the password was right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Right: the failures it was gated by are forgiven.
    Right,
    /// Wrong: a failure for each key it was gated by.
    Wrong,
}

/// An attempt let through; report its verdict with [`Attempt::succeeded`] or
/// [`Attempt::failed`]. Dropped without one, it counts as a failure if
/// [`Attempt::checking`] was called (the password check began: the caller went
/// away while it ran), and as nothing otherwise (refused before any hashing).
#[derive(Debug)]
pub struct Attempt {
    pub(super) throttle: Throttle,
    pub(super) account: Option<String>,
    pub(super) peer: Option<IpAddr>,
    pub(super) known: bool,
    pub(super) settled: bool,
    /// Whether the password check began.
    pub(super) checking: AtomicBool,
    /// When the attempt was let through: the time of a failure counted on drop.
    pub(super) at: UnixMillis,
}

impl Attempt {
    /// The password check began (a hash was handed to the pool): from now on,
    /// dropping the attempt without a verdict counts as a failure.
    pub fn checking(&self) {
        self.checking.store(true, Ordering::SeqCst);
    }

    /// The password was right: the pair's failures are forgotten (and the
    /// account's, unless the peer was a known client already), and the peer
    /// becomes a known client of the account.
    pub fn succeeded(mut self, now: UnixMillis) {
        self.settle(Some(Verdict::Right), now);
    }

    /// The password was wrong (or, for Register, the attempt is simply counted):
    /// a failure for the account, the peer and the pair.
    pub fn failed(mut self, now: UnixMillis) {
        self.settle(Some(Verdict::Wrong), now);
    }

    fn settle(&mut self, verdict: Option<Verdict>, now: UnixMillis) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let pair = self.account.clone().zip(self.peer);
        {
            let by_pair = self.throttle.by_pair;
            let mut state = self.throttle.lock();
            if by_pair {
                if let Some(p) = &pair {
                    state.pairs.leave(p);
                }
                if let Some(p) = &self.peer {
                    state.peers.leave(p);
                }
            } else if self.known {
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
                Some(Verdict::Right) => {
                    // A known client's success leaves the account's own count
                    // alone: it is about the others, whose delay must not reset
                    // each time the owner logs in.
                    if let Some(a) = self.account.as_ref().filter(|_| !self.known && !by_pair) {
                        state.accounts.forgive(a);
                    }
                    if let Some(p) = pair {
                        state.pairs.forgive(&p);
                        if !by_pair {
                            state.known.insert(&p.0, p.1, now);
                        }
                    }
                }
                Some(Verdict::Wrong) => {
                    if let Some(a) = self.account.as_ref().filter(|_| !by_pair) {
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
        // No verdict. Once the check began, the guess was made (argon2 runs to
        // the end): a failure at the time it was let through. Before, nothing.
        let verdict = self.checking.load(Ordering::SeqCst).then_some(Verdict::Wrong);
        self.settle(verdict, self.at);
    }
}
