//! One call to the flight or hotel service: the service token and the
//! deadline on every attempt, refusals told apart from outages, and outages
//! retried under the kit's backoff until the [`Retry`] says to stop.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Request, Response, Status};
use travel::deadline::Deadline;
use travel::types::{Money, UnixMillis};

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

    /// Sends `message` with `send` until it succeeds, is refused, or `retry`
    /// and `deadline` say to stop.
    pub(super) async fn call<M, R, F, Fut>(&self, deadline: Deadline, retry: Retry, message: M, send: F) -> Outcome<R>
    where
        M: Clone,
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let mut retries = retry.policy().retries(deadline);
        loop {
            let status = match self.attempt(deadline, message.clone(), &send).await {
                Ok(response) => return Outcome::Done(response),
                Err(status) => status,
            };
            if is_refusal(status.code()) {
                return Outcome::Refused(Refusal::of(&status));
            }
            let attempt = retries.attempt();
            tracing::debug!(code = ?status.code(), message = status.message(), attempt, "dependency call failed");
            if !retries.retry().await {
                return Outcome::Unreachable(status.code());
            }
        }
    }

    /// One call, with the token and `min(remaining budget, call timeout)` as
    /// its deadline, sent along as `grpc-timeout`.
    async fn attempt<M, R, F, Fut>(&self, deadline: Deadline, message: M, send: &F) -> Result<R, Status>
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
        let result = match tokio::time::timeout(timeout, send(request)).await {
            Ok(result) => result.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded("the call did not finish in time")),
        };
        if result.as_ref().is_err_and(|s| s.code() == Code::Unauthenticated) {
            self.token.invalidate(&token).await;
        }
        result
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
    use super::*;

    #[test]
    fn business_refusals_are_not_retried() {
        assert!(is_refusal(Code::FailedPrecondition));
        assert!(is_refusal(Code::NotFound));
        assert!(!is_refusal(Code::Unavailable));
        assert!(!is_refusal(Code::DeadlineExceeded));
        assert!(!is_refusal(Code::Unauthenticated));
    }
}
