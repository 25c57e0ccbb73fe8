//! One call to the flight or hotel service: the service token and the
//! deadline on every attempt, refusals told apart from outages, and outages
//! retried under the kit's backoff until the [`Retry`] says to stop or the
//! dependency's retry budget is spent. Every call asks the dependency's
//! circuit breaker first ([`Guard`]): while it is open, the call fails at once
//! with UNAVAILABLE and nothing is sent; the breaker hears how each call ended,
//! after its retries.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Request, Response, Status};
use travel::deadline::Deadline;
use travel::discovery::Refresh;
use travel::types::{Money, UnixMillis};

use super::guard::Guard;
use super::{Held, Outcome, Refusal, Retry, ServiceToken};

/// What every call to one service shares: the token it carries, the longest
/// it may take, and whom to tell when a call could not reach a replica.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    token: ServiceToken,
    call_timeout: Duration,
    refresh: Refresh,
}

impl Caller {
    pub(super) fn new(token: ServiceToken, call_timeout: Duration) -> Self {
        Self {
            token,
            call_timeout,
            refresh: Refresh::default(),
        }
    }

    /// The same caller, asking `refresh`'s resolver to look at the replicas
    /// again whenever a call fails with UNAVAILABLE (a replica gone or stopping).
    pub(super) fn reporting_to(&self, refresh: Refresh) -> Self {
        Self {
            refresh,
            ..self.clone()
        }
    }

    /// Sends `message` with `send`, guarded by the dependency's `guard`, until
    /// it succeeds, is refused, or `retry`, `deadline` or the retry budget say
    /// to stop. Every failure that is not a refusal may be retried: every call
    /// the saga makes is idempotent by hold id.
    ///
    /// The breaker is asked once per call, not per attempt, and told how the
    /// call ended: a replica that dies fails the attempts in flight to it, but
    /// their retries go to the others (the resolver is told to look again), so
    /// the call succeeds and the breaker stays closed. Only calls that fail
    /// after their retries — the service is down, not one replica — open it.
    pub(super) async fn call<M, R, F, Fut>(
        &self,
        guard: &Guard,
        deadline: Deadline,
        retry: Retry,
        message: M,
        send: F,
    ) -> Outcome<R>
    where
        M: Clone,
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        guard.call_started();
        let Some(permit) = guard.admit() else {
            tracing::debug!("the dependency's circuit breaker is open: failing at once");
            return Outcome::Unreachable(Code::Unavailable);
        };
        // How the last attempt that reached the service ended (`Some(None)`: it
        // succeeded); `None` while none did (a token problem is ours, not its).
        let mut reached: Option<Option<Code>> = None;
        let mut retries = retry.policy().retries(deadline);
        let outcome = loop {
            let status = match self.attempt(deadline, message.clone(), &send).await {
                Ok(response) => {
                    reached = Some(None);
                    break Outcome::Done(response);
                }
                Err(failed) => {
                    if failed.sent {
                        reached = Some(Some(failed.status.code()));
                    }
                    failed.status
                }
            };
            if is_refusal(status.code()) {
                break Outcome::Refused(Refusal::of(&status));
            }
            let attempt = retries.attempt();
            tracing::debug!(code = ?status.code(), message = status.message(), attempt, "dependency call failed");
            // Attempts and time first: a retry that would not be made spends no budget.
            if !retries.may_retry() || !guard.may_retry() || !retries.retry().await {
                break Outcome::Unreachable(status.code());
            }
        };
        match reached {
            Some(code) => guard.settle(permit, code),
            None => drop(permit), // no verdict: nothing reached the service
        }
        outcome
    }

    /// One attempt, with the token and `min(remaining budget, call timeout)` as
    /// its deadline, sent along as `grpc-timeout`.
    async fn attempt<M, R, F, Fut>(&self, deadline: Deadline, message: M, send: &F) -> Result<R, Failed>
    where
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        // A token problem is this service's, not a refusal by flight or hotel: it is
        // retried like an outage, and the auth service's message stays in the log.
        let token = self.token.get(deadline).await.map_err(|e| {
            tracing::warn!(code = ?e.code(), message = e.message(), "cannot get a service token");
            Failed::unsent(Status::unavailable("cannot get a service token from the auth service"))
        })?;
        // Measured after the token, which may have taken a call to auth.
        let timeout = deadline
            .for_call(self.call_timeout)
            .ok_or_else(|| Failed::unsent(Status::deadline_exceeded("no time left for the call")))?;
        let mut request = Request::new(message);
        request.set_timeout(timeout);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| Failed::unsent(Status::unauthenticated("the service token is not valid metadata")))?;
        request.metadata_mut().insert("authorization", bearer);
        let result = match tokio::time::timeout(timeout, send(request)).await {
            Ok(result) => result.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded("the call did not finish in time")),
        };
        match result {
            Ok(response) => Ok(response),
            Err(status) => {
                if status.code() == Code::Unavailable {
                    self.refresh.now(); // a replica may be gone: look again now
                }
                if status.code() == Code::Unauthenticated {
                    self.token.invalidate(&token).await;
                }
                Err(Failed { status, sent: true })
            }
        }
    }
}

/// Why an attempt did not succeed.
struct Failed {
    /// The status it failed with.
    status: Status,
    /// Whether it was sent to the service (not stopped before, for want of a token or time).
    sent: bool,
}

impl Failed {
    fn unsent(status: Status) -> Self {
        Self { status, sent: false }
    }
}

/// Codes with which a service refuses a request on its merits: retrying the
/// same request cannot succeed.
fn is_refusal(code: Code) -> bool {
    matches!(
        code,
        Code::FailedPrecondition | Code::NotFound | Code::AlreadyExists | Code::InvalidArgument | Code::OutOfRange
    )
}

/// The price and expiry of a hold from a hold response; a response without
/// both valid is a fault of the service, treated like an outage.
pub(super) fn held<R>(
    outcome: Outcome<R>,
    hold: impl FnOnce(R) -> Option<(Option<travel::pb::common::v1::Money>, Option<prost_types::Timestamp>)>,
) -> Outcome<Held> {
    match outcome {
        Outcome::Done(response) => {
            let parsed = hold(response).and_then(|(price, expires)| {
                let price = Money::parse(price.as_ref()).ok()?;
                let expires = UnixMillis::parse(expires.as_ref()).ok()?;
                Some(Held { price, expires })
            });
            match parsed {
                Some(held) => Outcome::Done(held),
                None => {
                    tracing::error!("a hold response carried no valid price or expiry");
                    Outcome::Unreachable(Code::Internal)
                }
            }
        }
        Outcome::Refused(why) => Outcome::Refused(why),
        Outcome::Unreachable(code) => Outcome::Unreachable(code),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use travel::breaker::Settings;

    use super::*;
    use crate::clients::{Guards, Protection};

    /// The hotel's guard under `protection`, and the registry of its metrics.
    fn hotel_guard(protection: Protection) -> (Guard, prometheus::Registry) {
        let registry = prometheus::Registry::new();
        let guards = Guards::register(&registry, Arc::new(travel::SystemClock), protection).expect("register");
        (guards.hotel, registry)
    }

    fn hotel_metric(registry: &prometheus::Registry, name: &str) -> f64 {
        travel::testing::metrics::value(registry, name, &[("dependency", "hotel")])
    }

    /// Makes `calls` calls that each answer `answer`; how many attempts were sent.
    async fn send_calls(guard: &Guard, calls: usize, retry: Retry, answer: Code) -> (usize, Vec<Outcome<()>>) {
        let caller = Caller::new(ServiceToken::fixed("t"), Duration::from_secs(1));
        let sent = AtomicUsize::new(0);
        let mut outcomes = Vec::new();
        for _ in 0..calls {
            let outcome = caller
                .call(guard, Deadline::after(Duration::from_secs(30)), retry, (), |_| {
                    sent.fetch_add(1, Ordering::SeqCst);
                    async move { Err::<Response<()>, _>(Status::new(answer, "no")) }
                })
                .await;
            outcomes.push(outcome);
        }
        (sent.load(Ordering::SeqCst), outcomes)
    }

    #[tokio::test]
    async fn the_retry_budget_caps_the_retries_of_calls_that_keep_failing() {
        // Arrange: a fifth of the calls may be retried, no floor, a breaker that never opens.
        let (guard, registry) = hotel_guard(Protection {
            retry_percent: 20,
            retry_floor_per_sec: 0,
            breaker: Settings {
                failures: 1000,
                cool_off: Duration::from_secs(5),
            },
        });

        // Act: ten calls of four attempts each against a service that is down.
        let (sent, outcomes) = send_calls(&guard, 10, Retry::Few, Code::Unavailable).await;

        // Assert: ten first attempts and two retries, not forty attempts.
        assert_eq!(sent, 12);
        assert!(outcomes.iter().all(|o| *o == Outcome::Unreachable(Code::Unavailable)));
        assert_eq!(hotel_metric(&registry, "travel_retries_total"), 2.0);
        // Every call ended for lack of budget, the fifth and the tenth after their one retry.
        assert_eq!(hotel_metric(&registry, "travel_retry_budget_exhausted_total"), 10.0);
    }

    #[tokio::test]
    async fn calls_that_fail_after_their_retries_open_the_breaker_which_then_sends_nothing() {
        // Arrange: the breaker opens after three failed calls; retries are plentiful.
        let (guard, registry) = hotel_guard(Protection {
            retry_percent: 100,
            retry_floor_per_sec: 100,
            breaker: Settings {
                failures: 3,
                cool_off: Duration::from_secs(60),
            },
        });

        // Act: three calls of four attempts each fail; a fourth call follows.
        let (sent, outcomes) = send_calls(&guard, 4, Retry::Few, Code::Unavailable).await;

        // Assert
        assert_eq!(sent, 12, "three calls of four attempts reached the service, then none");
        assert!(outcomes.iter().all(|o| *o == Outcome::Unreachable(Code::Unavailable)));
        assert_eq!(hotel_metric(&registry, "travel_breaker_state"), 1.0);
        assert_eq!(hotel_metric(&registry, "travel_breaker_rejections_total"), 1.0);
    }

    #[tokio::test]
    async fn a_call_whose_retry_succeeds_leaves_the_breaker_closed() {
        // Arrange: a breaker that would open at the first failed call.
        let (guard, registry) = hotel_guard(Protection {
            breaker: Settings {
                failures: 1,
                cool_off: Duration::from_secs(60),
            },
            ..Protection::default()
        });
        let caller = Caller::new(ServiceToken::fixed("t"), Duration::from_secs(1));
        let sent = AtomicUsize::new(0);

        // Act: calls whose first attempt meets a replica that is gone, and whose
        // retry reaches another.
        for _ in 0..3 {
            let before = sent.load(Ordering::SeqCst);
            let outcome = caller
                .call(&guard, Deadline::after(Duration::from_secs(30)), Retry::Few, (), |_| {
                    let n = sent.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if n == before {
                            Err(Status::unavailable("connection reset"))
                        } else {
                            Ok(Response::new(()))
                        }
                    }
                })
                .await;
            assert_eq!(outcome, Outcome::Done(()));
        }

        // Assert: each took two attempts, and the breaker never opened.
        assert_eq!(sent.load(Ordering::SeqCst), 6);
        assert_eq!(hotel_metric(&registry, "travel_breaker_state"), 0.0);
        assert_eq!(hotel_metric(&registry, "travel_breaker_rejections_total"), 0.0);
    }

    #[tokio::test]
    async fn refusals_are_answers_and_never_open_the_breaker() {
        let (guard, registry) = hotel_guard(Protection {
            breaker: Settings {
                failures: 2,
                cool_off: Duration::from_secs(60),
            },
            ..Protection::default()
        });

        let (sent, outcomes) = send_calls(&guard, 5, Retry::Few, Code::FailedPrecondition).await;

        assert_eq!(sent, 5, "each refusal sent once, none retried");
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Refused(_))));
        assert_eq!(hotel_metric(&registry, "travel_breaker_state"), 0.0);
    }

    #[test]
    fn business_refusals_are_not_retried() {
        assert!(is_refusal(Code::FailedPrecondition));
        assert!(is_refusal(Code::NotFound));
        assert!(!is_refusal(Code::Unavailable));
        assert!(!is_refusal(Code::DeadlineExceeded));
        assert!(!is_refusal(Code::Unauthenticated));
    }
}
