//! A circuit breaker for one dependency. After `failures` failures in a row
//! that are the dependency's fault it opens: calls are refused at once, without
//! reaching the dependency, for a cool-off. Then it is half open and lets one
//! call through as a probe: success closes it, failure opens it for another
//! cool-off. What counts as the dependency's fault is the caller's decision
//! ([`Permit::record`]); a business refusal is an answer, so it counts as
//! health. Time comes from the injectable clock, so tests move a manual clock
//! instead of sleeping through the cool-off.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock::SharedClock;
use crate::types::UnixMillis;

/// When a breaker opens, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Failures in a row that open the breaker (at least 1).
    pub failures: u32,
    /// How long it stays open before it lets a probe through.
    pub cool_off: Duration,
}

/// Where a breaker stands, as its metric shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go through.
    Closed,
    /// Calls are refused at once.
    Open,
    /// The cool-off is over: the next call goes through as a probe (or one is
    /// already on its way, and the others are refused).
    HalfOpen,
}

impl State {
    /// The value of a `…_breaker_state` gauge: 0 closed, 1 open, 2 half open.
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::Open => 1,
            Self::HalfOpen => 2,
        }
    }
}

/// A circuit breaker, shared by every call to one dependency.
#[derive(Debug)]
pub struct Breaker {
    settings: Settings,
    clock: SharedClock,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inner {
    Closed { failures: u32 },
    Open { until: UnixMillis },
    HalfOpen { probing: bool },
}

impl Breaker {
    /// A closed breaker that opens as `settings` say, timed by `clock`.
    pub fn new(settings: Settings, clock: SharedClock) -> Self {
        Self {
            settings,
            clock,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    /// Where the breaker stands now (an open one whose cool-off is over is half open).
    pub fn state(&self) -> State {
        match self.current() {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// Leave to make one call, or `None` if the breaker is open (or half open
    /// with its probe already on its way): then the call must fail at once.
    pub fn admit(&self) -> Option<Permit<'_>> {
        let mut inner = self.lock();
        *inner = self.after_cool_off(*inner);
        let probe = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { .. } | Inner::HalfOpen { probing: true } => return None,
            Inner::HalfOpen { probing: false } => {
                *inner = Inner::HalfOpen { probing: true };
                true
            }
        };
        Some(Permit {
            breaker: self,
            probe,
            settled: false,
        })
    }

    fn current(&self) -> Inner {
        let mut inner = self.lock();
        *inner = self.after_cool_off(*inner);
        *inner
    }

    /// `inner`, half open if it was open and its cool-off is over.
    fn after_cool_off(&self, inner: Inner) -> Inner {
        match inner {
            Inner::Open { until } if self.clock.now() >= until => Inner::HalfOpen { probing: false },
            other => other,
        }
    }

    fn settle(&self, probe: bool, verdict: Option<bool>) {
        let mut inner = self.lock();
        *inner = match (*inner, probe, verdict) {
            // A call admitted while closed counts only while still closed: a late
            // answer must not close a breaker that opened meanwhile, nor reopen one.
            (Inner::Closed { .. }, false, Some(true)) => Inner::Closed { failures: 0 },
            (Inner::Closed { failures }, false, Some(false)) => {
                let failures = failures.saturating_add(1);
                if failures >= self.settings.failures.max(1) {
                    self.open()
                } else {
                    Inner::Closed { failures }
                }
            }
            (Inner::HalfOpen { probing: true }, true, Some(true)) => Inner::Closed { failures: 0 },
            (Inner::HalfOpen { probing: true }, true, Some(false)) => self.open(),
            // A probe that ended without a verdict (its call was dropped) lets the next one through.
            (Inner::HalfOpen { probing: true }, true, None) => Inner::HalfOpen { probing: false },
            (other, _, _) => other,
        };
    }

    fn open(&self) -> Inner {
        tracing::warn!(cool_off = ?self.settings.cool_off, "circuit breaker opened");
        Inner::Open {
            until: self.clock.now().plus(self.settings.cool_off),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is one small value, always whole: a panic elsewhere cannot tear it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Leave for one call; [`Permit::record`] says how it went. Dropped without a
/// verdict (the call was cancelled, or failed before reaching the dependency),
/// it changes nothing, except that a probe lets the next one through.
#[derive(Debug)]
#[must_use = "a permit records how its call went"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl Permit<'_> {
    /// The call got an answer (`healthy`, a refusal included) or failed by the
    /// dependency's fault (`!healthy`).
    pub fn record(mut self, healthy: bool) {
        self.settled = true;
        self.breaker.settle(self.probe, Some(healthy));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.probe, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    const COOL_OFF: Duration = Duration::from_secs(5);

    fn breaker() -> (Breaker, ManualClock) {
        let clock = ManualClock::new(UnixMillis::from_unix_millis(1_000_000));
        let settings = Settings {
            failures: 3,
            cool_off: COOL_OFF,
        };
        (Breaker::new(settings, Arc::new(clock.clone())), clock)
    }

    fn fail(b: &Breaker, times: u32) {
        for _ in 0..times {
            b.admit().expect("admitted").record(false);
        }
    }

    #[test]
    fn it_opens_after_so_many_failures_in_a_row_and_then_refuses_at_once() {
        let (b, _) = breaker();
        fail(&b, 2);
        assert_eq!(b.state(), State::Closed);
        fail(&b, 1);
        assert_eq!(b.state(), State::Open);
        assert!(b.admit().is_none(), "refused while open");
    }

    #[test]
    fn an_answer_between_failures_starts_the_count_again() {
        let (b, _) = breaker();
        fail(&b, 2);
        b.admit().expect("admitted").record(true);
        fail(&b, 2);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn after_the_cool_off_one_probe_goes_through_and_its_success_closes_it() {
        let (b, clock) = breaker();
        fail(&b, 3);
        clock.advance(COOL_OFF);
        assert_eq!(b.state(), State::HalfOpen);
        let probe = b.admit().expect("the probe");
        assert!(b.admit().is_none(), "one probe at a time");
        probe.record(true);
        assert_eq!(b.state(), State::Closed);
        let (first, second) = (b.admit(), b.admit());
        assert!(first.is_some() && second.is_some(), "closed: every call goes through");
    }

    #[test]
    fn a_failed_probe_opens_it_for_another_cool_off() {
        let (b, clock) = breaker();
        fail(&b, 3);
        clock.advance(COOL_OFF);
        b.admit().expect("the probe").record(false);
        assert_eq!(b.state(), State::Open);
        clock.advance(COOL_OFF - Duration::from_millis(1));
        assert!(b.admit().is_none(), "still cooling off");
        clock.advance(Duration::from_millis(1));
        let _probe = b.admit().expect("the next probe");
        assert!(b.admit().is_none(), "one probe at a time");
    }

    #[test]
    fn a_probe_dropped_without_a_verdict_lets_the_next_one_through() {
        let (b, clock) = breaker();
        fail(&b, 3);
        clock.advance(COOL_OFF);
        drop(b.admit().expect("the probe"));
        let _probe = b.admit().expect("the next probe");
        assert!(b.admit().is_none(), "one probe at a time");
    }

    #[test]
    fn a_late_answer_does_not_close_a_breaker_that_opened_meanwhile() {
        let (b, _) = breaker();
        let slow = b.admit().expect("admitted");
        fail(&b, 3);
        slow.record(true);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn the_gauge_values_are_zero_one_two() {
        assert_eq!(
            [State::Closed, State::Open, State::HalfOpen].map(State::gauge),
            [0, 1, 2]
        );
    }
}
