//! One call to the flight or hotel service: the service token and the
//! deadline on every attempt, refusals told apart from outages, and outages
//! retried under the kit's backoff until the [`Retry`] says to stop or the
//! dependency's retry budget is spent. Every attempt asks the dependency's
//! circuit breaker first ([`Guard`]): while it is open, the call fails at once
//! with UNAVAILABLE and nothing is sent.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Request, Response, Status};
use travel::deadline::Deadline;
use travel::types::{Money, UnixMillis};

use super::guard::Guard;
use super::{Held, Outcome, Refusal, Retry, ServiceToken};

/// What every call shares: the token it carries and the longest it may take.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    token: ServiceToken,
    call_timeout: Duration,
}

impl Caller {
    pub(super) fn new(token: ServiceToken, call_timeout: Duration) -> Self {
        Self { token, call_timeout }
    }

    /// Sends `message` with `send`, guarded by the dependency's `guard`, until
    /// it succeeds, is refused, or `retry`, `deadline`, the retry budget or the
    /// breaker say to stop. Every failure that is not a refusal may be retried:
    /// every call the saga makes is idempotent by hold id.
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
        let mut retries = retry.policy().retries(deadline);
        loop {
            let status = match self.attempt(guard, deadline, message.clone(), &send).await {
                Ok(response) => return Outcome::Done(response),
                Err(Failed::Status(status)) => status,
                Err(Failed::BreakerOpen) => {
                    tracing::debug!("the dependency's circuit breaker is open: failing at once");
                    return Outcome::Unreachable(Code::Unavailable);
                }
            };
            if is_refusal(status.code()) {
                return Outcome::Refused(Refusal::of(&status));
            }
            let attempt = retries.attempt();
            tracing::debug!(code = ?status.code(), message = status.message(), attempt, "dependency call failed");
            // Attempts and time first: a retry that would not be made spends no budget.
            if !retries.may_retry() || !guard.may_retry() || !retries.retry().await {
                return Outcome::Unreachable(status.code());
            }
        }
    }

    /// One call, with the token and `min(remaining budget, call timeout)` as
    /// its deadline, sent along as `grpc-timeout`, if the breaker lets it through.
    async fn attempt<M, R, F, Fut>(&self, guard: &Guard, deadline: Deadline, message: M, send: &F) -> Result<R, Failed>
    where
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        // A token problem is this service's, not a refusal by flight or hotel: it is
        // retried like an outage, and the auth service's message stays in the log.
        let token = self.token.get(deadline).await.map_err(|e| {
            tracing::warn!(code = ?e.code(), message = e.message(), "cannot get a service token");
            Status::unavailable("cannot get a service token from the auth service")
        })?;
        // Measured after the token, which may have taken a call to auth.
        let timeout = deadline
            .for_call(self.call_timeout)
            .ok_or_else(|| Status::deadline_exceeded("no time left for the call"))?;
        let mut request = Request::new(message);
        request.set_timeout(timeout);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::unauthenticated("the service token is not valid metadata"))?;
        request.metadata_mut().insert("authorization", bearer);
        // Asked last, so that what came before (a token, say) cannot fail a probe.
        let permit = guard.admit().ok_or(Failed::BreakerOpen)?;
        let result = match tokio::time::timeout(timeout, send(request)).await {
            Ok(result) => result.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded("the call did not finish in time")),
        };
        guard.settle(permit, result.as_ref().err().map(Status::code));
        if result.as_ref().is_err_and(|s| s.code() == Code::Unauthenticated) {
            self.token.invalidate(&token).await;
        }
        Ok(result?)
    }
}

/// Why an attempt did not succeed.
enum Failed {
    /// The call failed, or could not be made, with this status.
    Status(Status),
    /// The dependency's breaker is open: nothing was sent.
    BreakerOpen,
}

impl From<Status> for Failed {
    fn from(status: Status) -> Self {
        Self::Status(status)
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
    async fn an_open_breaker_fails_calls_at_once_without_sending_them() {
        // Arrange: the breaker opens after three failures; retries are plentiful.
        let (guard, registry) = hotel_guard(Protection {
            retry_percent: 100,
            retry_floor_per_sec: 100,
            breaker: Settings {
                failures: 3,
                cool_off: Duration::from_secs(60),
            },
        });

        // Act: the first call's fourth attempt is refused by the open breaker.
        let (sent, outcomes) = send_calls(&guard, 3, Retry::Few, Code::Unavailable).await;

        // Assert
        assert_eq!(sent, 3, "three attempts reached the service, then none");
        assert!(outcomes.iter().all(|o| *o == Outcome::Unreachable(Code::Unavailable)));
        assert_eq!(hotel_metric(&registry, "travel_breaker_state"), 1.0);
        assert_eq!(hotel_metric(&registry, "travel_breaker_rejections_total"), 3.0);
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
