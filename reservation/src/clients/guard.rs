//! What stands between the saga and one dependency (the flight or the hotel
//! service), shared by every call to it: its circuit breaker
//! ([`travel::breaker`]) and its retry budget (tower's `TpsBudget`: retries may
//! add at most a share of the calls made in the last ten seconds, plus a small
//! floor per second, so that an outage is not multiplied by retries), and the
//! metrics that show them, each by `dependency`:
//! `travel_breaker_state` (0 closed, 1 open, 2 half open, as of the last call),
//! `travel_breaker_rejections_total`, `travel_retries_total` and
//! `travel_retry_budget_exhausted_total`.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use tonic::Code;
use tower::retry::budget::{Budget as _, TpsBudget};
use travel::SharedClock;
use travel::breaker::{self, Breaker, Permit};

use crate::domain::Part;

/// How the calls to each dependency are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// When a dependency's breaker opens, and for how long.
    pub breaker: breaker::Settings,
    /// Retries allowed, as a percentage of the calls (0 to 100).
    pub retry_percent: u8,
    /// Retries allowed per second whatever the number of calls, so that a
    /// service making few calls can still retry.
    pub retry_floor_per_sec: u32,
}

impl Default for Protection {
    /// The defaults declared with the service's flags (`--breaker-*`, `--retry-budget-*`).
    fn default() -> Self {
        travel::config::defaults::<crate::Config>().protection()
    }
}

/// How long a call's deposit in the retry budget counts.
const BUDGET_WINDOW: Duration = Duration::from_secs(10);

/// The guards of both dependencies.
#[derive(Debug, Clone)]
pub struct Guards {
    pub(super) flight: Guard,
    pub(super) hotel: Guard,
}

impl Guards {
    /// A guard per dependency as `protection` says, timed by `clock`, with
    /// their metrics registered in `registry`.
    pub fn register(registry: &Registry, clock: SharedClock, protection: Protection) -> prometheus::Result<Self> {
        let metrics = Metrics::new()?;
        metrics.register(registry)?;
        Ok(Self {
            flight: Guard::new(Part::Flight, &metrics, clock.clone(), protection),
            hotel: Guard::new(Part::Hotel, &metrics, clock, protection),
        })
    }
}

/// The breaker and the retry budget of one dependency (cheap to clone: shared).
#[derive(Debug, Clone)]
pub(super) struct Guard(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    breaker: Breaker,
    budget: TpsBudget,
    state: IntGauge,
    rejections: IntCounter,
    retries: IntCounter,
    exhausted: IntCounter,
}

impl Guard {
    fn new(part: Part, metrics: &Metrics, clock: SharedClock, protection: Protection) -> Self {
        let dependency = [part.name()];
        Self(Arc::new(Inner {
            breaker: Breaker::new(protection.breaker, clock),
            budget: TpsBudget::new(
                BUDGET_WINDOW,
                protection.retry_floor_per_sec,
                f32::from(protection.retry_percent) / 100.0,
            ),
            state: metrics.state.with_label_values(&dependency),
            rejections: metrics.rejections.with_label_values(&dependency),
            retries: metrics.retries.with_label_values(&dependency),
            exhausted: metrics.exhausted.with_label_values(&dependency),
        }))
    }

    /// The default guard of `part`, on the system clock, its metrics
    /// registered nowhere: for clients made without [`Guards`].
    pub(super) fn unregistered(part: Part) -> Self {
        let metrics = Metrics::new().expect("the metrics' names and labels are valid");
        Self::new(part, &metrics, Arc::new(travel::SystemClock), Protection::default())
    }

    /// Whether the breaker is open, its cool-off not over (half open is not:
    /// a probe may go through).
    pub(super) fn breaker_open(&self) -> bool {
        self.0.breaker.state() == travel::breaker::State::Open
    }

    /// A new call starts: it adds to what retries may spend.
    pub(super) fn call_started(&self) {
        self.0.budget.deposit();
    }

    /// Leave to send one attempt, or `None` if the breaker refuses it (counted).
    pub(super) fn admit(&self) -> Option<Permit<'_>> {
        let permit = self.0.breaker.admit();
        if permit.is_none() {
            self.0.rejections.inc();
        }
        self.show_state();
        permit
    }

    /// The attempt `permit` let through ended with `code` (`None`: success).
    pub(super) fn settle(&self, permit: Permit<'_>, code: Option<Code>) {
        match code {
            Some(Code::Cancelled) => drop(permit), // no verdict: the call was dropped, not failed
            Some(code) => permit.record(!is_fault(code)),
            None => permit.record(true),
        }
        self.show_state();
    }

    /// Whether the budget allows one more attempt of a failed call (counted either way).
    pub(super) fn may_retry(&self) -> bool {
        let allowed = self.0.budget.withdraw();
        if allowed {
            self.0.retries.inc();
        } else {
            self.0.exhausted.inc();
        }
        allowed
    }

    fn show_state(&self) {
        self.0.state.set(self.0.breaker.state().gauge());
    }
}

/// Codes that are the dependency's fault (down, overloaded, too slow, broken),
/// which count towards opening its breaker. Any other answer (a refusal, or a
/// token problem of ours) shows that it is there.
fn is_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Internal | Code::Unknown
    )
}

/// The four series, labelled by dependency.
struct Metrics {
    state: IntGaugeVec,
    rejections: IntCounterVec,
    retries: IntCounterVec,
    exhausted: IntCounterVec,
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let by = &["dependency"];
        Ok(Self {
            state: IntGaugeVec::new(
                Opts::new(
                    "travel_breaker_state",
                    "Circuit breaker of a dependency, as of the last call to it: 0 closed, 1 open, 2 half open.",
                ),
                by,
            )?,
            rejections: IntCounterVec::new(
                Opts::new(
                    "travel_breaker_rejections_total",
                    "Calls to a dependency failed at once with UNAVAILABLE because its circuit breaker was open.",
                ),
                by,
            )?,
            retries: IntCounterVec::new(
                Opts::new(
                    "travel_retries_total",
                    "Retries of failed calls to a dependency that its retry budget allowed.",
                ),
                by,
            )?,
            exhausted: IntCounterVec::new(
                Opts::new(
                    "travel_retry_budget_exhausted_total",
                    "Failed calls to a dependency not retried because its retry budget was spent.",
                ),
                by,
            )?,
        })
    }

    fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.state.clone()))?;
        registry.register(Box::new(self.rejections.clone()))?;
        registry.register(Box::new(self.retries.clone()))?;
        registry.register(Box::new(self.exhausted.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(retry_percent: u8, retry_floor_per_sec: u32) -> (Guard, Registry) {
        let registry = Registry::new();
        let protection = Protection {
            retry_percent,
            retry_floor_per_sec,
            ..Protection::default()
        };
        let guards = Guards::register(&registry, Arc::new(travel::SystemClock), protection).expect("register");
        (guards.hotel, registry)
    }

    #[tokio::test]
    async fn the_budget_allows_retries_for_a_fifth_of_the_calls() {
        let (guard, registry) = guard(20, 0);

        let allowed = (0..50)
            .filter(|_| {
                guard.call_started();
                guard.may_retry()
            })
            .count();

        assert_eq!(allowed, 10, "one retry per five calls");
        let value = |name| travel::testing::metrics::value(&registry, name, &[("dependency", "hotel")]);
        assert_eq!(value("travel_retries_total"), 10.0);
        assert_eq!(value("travel_retry_budget_exhausted_total"), 40.0);
    }

    #[tokio::test]
    async fn without_calls_only_the_floor_may_be_spent() {
        let (guard, _) = guard(20, 1);

        let allowed = (0..100).filter(|_| guard.may_retry()).count();

        // The floor is per second, over the budget's ten-second window.
        assert_eq!(allowed, 10);
    }

    #[test]
    fn outages_count_against_the_breaker_and_answers_do_not() {
        assert!(is_fault(Code::Unavailable));
        assert!(is_fault(Code::DeadlineExceeded));
        assert!(!is_fault(Code::FailedPrecondition), "sold out is an answer");
        assert!(!is_fault(Code::NotFound));
        assert!(!is_fault(Code::Unauthenticated), "our token, not their fault");
    }

    #[test]
    fn an_open_breaker_is_counted_and_shown() {
        let (guard, registry) = guard(20, 10);
        for _ in 0..5 {
            let permit = guard.admit().expect("closed");
            guard.settle(permit, Some(Code::Unavailable));
        }

        assert!(guard.admit().is_none());

        let value = |name| travel::testing::metrics::value(&registry, name, &[("dependency", "hotel")]);
        assert_eq!(value("travel_breaker_state"), 1.0);
        assert_eq!(value("travel_breaker_rejections_total"), 1.0);
    }
}
