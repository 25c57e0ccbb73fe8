//! The renewal task behind a [`ServiceToken`](super::ServiceToken): the
//! exchange with the auth service, when to make it (half a token's life, never
//! two within a second), and the backoff after failures — the kit's policy,
//! with a long cap while a valid token serves and a short one once none does.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::transport::Channel;
use travel::SharedClock;
use travel::pb::auth::v1::IssueServiceTokenRequest;
use travel::pb::auth::v1::auth_service_client::AuthServiceClient;
use travel::retry;
use travel::telemetry::rpc::{TracedChannel, traced};
use travel::types::UnixMillis;

use super::{Cached, Failure, Shared};

/// How long one IssueServiceToken call may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Wait after a first failure; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between attempts while a valid token still serves.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest wait between attempts while no valid token exists (every call fails meanwhile).
const MAX_BACKOFF_WITHOUT_TOKEN: Duration = Duration::from_secs(5);
/// Least time between two successful exchanges (a service refusing every token
/// must not turn into a stream of exchanges).
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest the task sleeps before looking at the clock again.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// How the renewal task backs off after failed exchanges (the defaults in
/// production; tests shorten or stretch them).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait after a first failure; it doubles with each failure in a row.
    pub first: Duration,
    /// Longest wait between attempts while a valid token still serves.
    pub max: Duration,
    /// Longest wait between attempts while no valid token exists.
    pub max_without_token: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: FIRST_BACKOFF,
            max: MAX_BACKOFF,
            max_without_token: MAX_BACKOFF_WITHOUT_TOKEN,
        }
    }
}

impl Backoff {
    /// The kit's policy while a valid token still serves.
    fn with_token(&self) -> retry::Backoff {
        retry::Backoff::new(self.first, self.max)
    }

    /// The kit's policy once no valid token exists.
    fn without_token(&self) -> retry::Backoff {
        retry::Backoff::new(self.first, self.max_without_token)
    }
}

/// The renewal task: an exchange whenever no valid token exists or the current
/// one has reached half its life, with backoff after failures, until `stop`.
pub(super) async fn renew(exchange: Exchange, shared: Arc<Shared>, stop: CancellationToken, schedule: Backoff) {
    let mut failures = 0_u32;
    let mut last_success: Option<tokio::time::Instant> = None;
    loop {
        let wait = {
            let state = shared.state.borrow();
            let now = exchange.clock.now();
            // Never two exchanges within MIN_INTERVAL, even for a token that
            // was refused or came with a very short life.
            let spaced = last_success.map_or(Duration::ZERO, |at| {
                (at + MIN_INTERVAL).saturating_duration_since(tokio::time::Instant::now())
            });
            let valid = state.current.as_ref().filter(|c| c.expires_at > now);
            let by_token = match &state.current {
                Some(c) => until(c.renew_at, now).max(spaced),
                // None: start-up, or the token was refused.
                None => spaced,
            };
            let by_failure = state.failure.as_ref().map_or(Duration::ZERO, |f| {
                f.retry(valid).saturating_duration_since(tokio::time::Instant::now())
            });
            // Wake when the token expires, too: the long backoff then ends.
            let by_expiry = valid.map_or(MAX_SLEEP, |c| until(c.expires_at, now).max(Duration::from_millis(1)));
            by_token.max(by_failure).min(by_expiry).min(MAX_SLEEP)
        };
        if !wait.is_zero() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = shared.wake.notified() => continue,
                () = tokio::time::sleep(wait) => continue,
            }
        }
        let result = tokio::select! {
            () = stop.cancelled() => return,
            result = exchange.fetch() => result,
        };
        match result {
            Ok(fresh) => {
                tracing::info!(client_id = %exchange.client_id, "obtained a service token from the auth service");
                failures = 0;
                last_success = Some(tokio::time::Instant::now());
                shared.state.send_modify(|state| {
                    state.current = Some(fresh);
                    state.failure = None;
                    state.attempts += 1;
                });
            }
            Err(status) => {
                failures = failures.saturating_add(1);
                let now = exchange.clock.now();
                let valid = shared
                    .state
                    .borrow()
                    .current
                    .as_ref()
                    .is_some_and(|c| c.expires_at > now);
                let policy = if valid {
                    schedule.with_token()
                } else {
                    schedule.without_token()
                };
                let delay = policy.wait(failures);
                // Should the token expire or be refused meanwhile: the short cap.
                let delay_without_token = if valid {
                    schedule.without_token().wait(failures)
                } else {
                    delay
                };
                if valid {
                    tracing::warn!(code = ?status.code(), error = %status.message(), retry_in = ?delay, "cannot renew the service token; the current one serves until it expires");
                } else {
                    tracing::warn!(code = ?status.code(), error = %status.message(), retry_in = ?delay, "cannot get a service token; calls to flight and hotel fail meanwhile");
                }
                shared.state.send_modify(|state| {
                    state.failure = Some(Failure {
                        code: status.code(),
                        message: status.message().to_owned(),
                        retry_at: tokio::time::Instant::now() + delay,
                        retry_without_token_at: tokio::time::Instant::now() + delay_without_token,
                    });
                    state.attempts += 1;
                });
            }
        }
    }
}

/// Time from `now` until `at`, zero if it has passed.
fn until(at: UnixMillis, now: UnixMillis) -> Duration {
    Duration::from_millis(u64::try_from(at.unix_millis() - now.unix_millis()).unwrap_or(0))
}

#[derive(Debug)]
pub(super) struct Exchange {
    client: AuthServiceClient<TracedChannel>,
    client_id: String,
    client_secret: SecretString,
    clock: SharedClock,
}

impl Exchange {
    /// IssueServiceToken calls to the auth service over `channel` (connected
    /// lazily) for the account `client_id`.
    pub(super) fn new(channel: Channel, client_id: String, client_secret: SecretString, clock: SharedClock) -> Self {
        Self {
            client: AuthServiceClient::new(traced(channel)),
            client_id,
            client_secret,
            clock,
        }
    }

    pub(super) async fn fetch(&self) -> Result<Cached, Status> {
        let now = self.clock.now();
        let mut request = tonic::Request::new(IssueServiceTokenRequest {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.expose_secret().to_owned(),
        });
        request.set_timeout(EXCHANGE_TIMEOUT);
        let mut client = self.client.clone();
        let response = tokio::time::timeout(EXCHANGE_TIMEOUT, client.issue_service_token(request))
            .await
            .map_err(|_| Status::deadline_exceeded("the auth service did not answer in time"))??
            .into_inner();
        let expires_at = UnixMillis::parse(response.access_token_expires_at.as_ref())
            .map_err(|_| Status::internal("the auth service sent a token without a valid expiry"))?;
        let life = until(expires_at, now);
        if life.is_zero() || response.access_token.is_empty() {
            return Err(Status::internal(
                "the auth service sent a token that is already expired",
            ));
        }
        Ok(Cached {
            token: response.access_token,
            renew_at: now.plus(life / 2),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jittered_backoff_never_exceeds_its_cap() {
        for _ in 0..200 {
            let d = retry::Backoff::new(Duration::from_secs(3600), MAX_BACKOFF_WITHOUT_TOKEN).wait(1);
            assert!(
                d <= MAX_BACKOFF_WITHOUT_TOKEN && d >= MAX_BACKOFF_WITHOUT_TOKEN / 3,
                "{d:?}"
            );
        }
    }
}
