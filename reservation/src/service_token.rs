//! The service token the reservation service sends to the flight and hotel
//! services (which require the service role for holds, confirms and releases):
//! in production, a client-credentials exchange with the auth service
//! (`IssueServiceToken`); in tests, a fixed token.
//!
//! A background task owns the exchange: it fetches a token at start-up, renews
//! it from half its life, and backs off (with jitter) when auth fails, so an
//! outage shorter than half a token's life goes unnoticed. The backoff grows
//! to 30 s while a valid token serves, but once none is left (it expired or
//! was refused) the next attempt is at most 5 s after the last failure. Calls never wait
//! for a renewal while the current token is valid: they read it from a
//! `watch` channel. Only when no valid token exists (start-up, expiry, a token
//! a service refused) does a call wait — for the task's next attempt, at most
//! until its own deadline — and while the task is backing off after a failure,
//! calls fail at once with UNAVAILABLE instead of queueing. The task stops
//! when the last handle is dropped.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use travel::SharedClock;
use travel::deadline::Deadline;
use travel::pb::auth::v1::IssueServiceTokenRequest;
use travel::pb::auth::v1::auth_service_client::AuthServiceClient;
use travel::types::UnixMillis;

/// Where outgoing calls get their bearer token.
#[derive(Debug, Clone)]
pub struct ServiceToken(Arc<Source>);

#[derive(Debug)]
enum Source {
    Fixed(String),
    /// No secret configured: nothing to ask auth with.
    NoSecret,
    Auth(Renewal),
}

/// The handle on the renewal task.
#[derive(Debug)]
struct Renewal {
    state: watch::Receiver<State>,
    shared: Arc<Shared>,
    clock: SharedClock,
    /// Stops the task when the last handle is dropped.
    _stop: DropGuard,
}

/// What the task and the handles share.
#[derive(Debug)]
struct Shared {
    state: watch::Sender<State>,
    /// Asks the task to look again: the token reached half its life, or was refused.
    wake: Notify,
}

#[derive(Debug, Clone, Default)]
struct State {
    current: Option<Cached>,
    /// Attempts finished so far, successful or not: what a waiting call watches.
    attempts: u64,
    /// The last attempt's failure, until an attempt succeeds.
    failure: Option<Failure>,
}

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    /// From when to renew it: half its life.
    renew_at: UnixMillis,
    /// When it stops being accepted; until then it serves while renewing fails.
    expires_at: UnixMillis,
}

#[derive(Debug, Clone)]
struct Failure {
    code: Code,
    message: String,
    /// The task's next attempt while a valid token serves.
    retry_at: tokio::time::Instant,
    /// Its next attempt once no valid token is left (the token expired or was
    /// refused since): at most the short cap after the failure. Until then,
    /// calls without a valid token fail at once.
    retry_without_token_at: tokio::time::Instant,
}

impl Failure {
    /// When the task tries again, depending on whether a valid token serves.
    fn retry(&self, token_valid: bool) -> tokio::time::Instant {
        if token_valid {
            self.retry_at
        } else {
            self.retry_without_token_at
        }
    }
}

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

impl ServiceToken {
    /// Always `token` (tests, tools).
    pub fn fixed(token: impl Into<String>) -> Self {
        Self(Arc::new(Source::Fixed(token.into())))
    }

    /// Tokens from the auth service at `url` for the service account
    /// `client_id`/`client_secret`, renewed in the background (connected
    /// lazily: auth may start later). Needs a Tokio runtime.
    pub fn from_auth(
        url: &str,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        clock: SharedClock,
    ) -> Result<Self, tonic::transport::Error> {
        Self::from_auth_with_backoff(url, client_id, client_secret, clock, Backoff::default())
    }

    /// [`ServiceToken::from_auth`] with another backoff (tests).
    #[doc(hidden)]
    pub fn from_auth_with_backoff(
        url: &str,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        clock: SharedClock,
        backoff: Backoff,
    ) -> Result<Self, tonic::transport::Error> {
        let endpoint = Endpoint::from_shared(url.to_owned())?.connect_timeout(Duration::from_secs(2));
        let Some(client_secret) = client_secret else {
            return Ok(Self(Arc::new(Source::NoSecret)));
        };
        let (tx, rx) = watch::channel(State::default());
        let shared = Arc::new(Shared {
            state: tx,
            wake: Notify::new(),
        });
        let exchange = Exchange {
            client: AuthServiceClient::new(endpoint.connect_lazy()),
            client_id: client_id.into(),
            client_secret,
            clock: clock.clone(),
        };
        let stop = CancellationToken::new();
        tokio::spawn(renew(exchange, shared.clone(), stop.clone(), backoff));
        Ok(Self(Arc::new(Source::Auth(Renewal {
            state: rx,
            shared,
            clock,
            _stop: stop.drop_guard(),
        }))))
    }

    /// A token to send now: the current one at once while it is valid; else
    /// the outcome of the renewal task's next attempt, waited for until
    /// `deadline` at most (UNAVAILABLE then, or at once while the task is
    /// backing off after a failure).
    pub async fn get(&self, deadline: Deadline) -> Result<String, Status> {
        let renewal = match &*self.0 {
            Source::Fixed(token) => return Ok(token.clone()),
            Source::NoSecret => {
                return Err(Status::unauthenticated(
                    "no service account secret configured (RESERVATION_SERVICE_CLIENT_SECRET)",
                ));
            }
            Source::Auth(renewal) => renewal,
        };
        let mut state = renewal.state.clone();
        loop {
            let seen = {
                let now = renewal.clock.now();
                let current = state.borrow_and_update();
                if let Some(c) = current.current.as_ref().filter(|c| c.expires_at > now) {
                    if c.renew_at <= now {
                        renewal.shared.wake.notify_one();
                    }
                    return Ok(c.token.clone());
                }
                if let Some(f) = current
                    .failure
                    .as_ref()
                    .filter(|f| f.retry(false) > tokio::time::Instant::now())
                {
                    return Err(Status::new(f.code, f.message.clone()));
                }
                current.attempts
            };
            renewal.shared.wake.notify_one();
            let attempt = async {
                while state.borrow().attempts == seen {
                    if state.changed().await.is_err() {
                        return false;
                    }
                }
                true
            };
            match tokio::time::timeout_at(deadline.instant(), attempt).await {
                Ok(true) => {}
                Ok(false) => return Err(Status::unavailable("the service token renewal has stopped")),
                Err(_) => {
                    return Err(Status::unavailable(
                        "no service token could be had from the auth service within the call's deadline",
                    ));
                }
            }
        }
    }

    /// Forgets `token` after a service refused it, so that the next call waits
    /// for a new one.
    pub async fn invalidate(&self, token: &str) {
        if let Source::Auth(renewal) = &*self.0 {
            renewal.shared.state.send_if_modified(|state| {
                let refused = state.current.as_ref().is_some_and(|c| c.token == token);
                if refused {
                    state.current = None;
                }
                refused
            });
            renewal.shared.wake.notify_one();
        }
    }
}

/// The renewal task: an exchange whenever no valid token exists or the current
/// one has reached half its life, with backoff after failures, until `stop`.
async fn renew(exchange: Exchange, shared: Arc<Shared>, stop: CancellationToken, schedule: Backoff) {
    let mut backoff = schedule.first;
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
                f.retry(valid.is_some())
                    .saturating_duration_since(tokio::time::Instant::now())
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
                backoff = schedule.first;
                last_success = Some(tokio::time::Instant::now());
                shared.state.send_modify(|state| {
                    state.current = Some(fresh);
                    state.failure = None;
                    state.attempts += 1;
                });
            }
            Err(status) => {
                let now = exchange.clock.now();
                let valid = shared
                    .state
                    .borrow()
                    .current
                    .as_ref()
                    .is_some_and(|c| c.expires_at > now);
                let cap = if valid {
                    schedule.max
                } else {
                    schedule.max_without_token
                };
                let delay = within(backoff, cap);
                // Should the token expire or be refused meanwhile: the short cap.
                let delay_without_token = if valid {
                    within(backoff, schedule.max_without_token)
                } else {
                    delay
                };
                backoff = (backoff * 2).min(cap);
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

/// `backoff`, jittered (50% to 150%) but never beyond `cap`.
fn within(backoff: Duration, cap: Duration) -> Duration {
    crate::clients::jitter(backoff.min(cap * 2 / 3))
}

/// Time from `now` until `at`, zero if it has passed.
fn until(at: UnixMillis, now: UnixMillis) -> Duration {
    Duration::from_millis(u64::try_from(at.unix_millis() - now.unix_millis()).unwrap_or(0))
}

#[derive(Debug)]
struct Exchange {
    client: AuthServiceClient<Channel>,
    client_id: String,
    client_secret: SecretString,
    clock: SharedClock,
}

impl Exchange {
    async fn fetch(&self) -> Result<Cached, Status> {
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

    fn soon() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    #[tokio::test]
    async fn a_fixed_token_is_always_the_same() {
        let token = ServiceToken::fixed("t1");
        token.invalidate("t1").await;
        assert_eq!(token.get(soon()).await.unwrap(), "t1");
    }

    #[tokio::test]
    async fn without_a_secret_no_token_is_asked_for() {
        let clock: SharedClock = Arc::new(travel::SystemClock);
        let token = ServiceToken::from_auth("http://127.0.0.1:1", "reservation", None, clock).unwrap();
        assert_eq!(
            token.get(soon()).await.unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_renewal_task() {
        // Arrange: nothing listens on port 1; the task keeps retrying.
        let clock: SharedClock = Arc::new(travel::SystemClock);
        let token = ServiceToken::from_auth("http://127.0.0.1:1", "reservation", Some("s".into()), clock).unwrap();
        let Source::Auth(renewal) = &*token.0 else {
            panic!("a renewing token")
        };
        let task_side = Arc::downgrade(&renewal.shared);

        // Act
        drop(token);

        // Assert: the task let go of what it shares with the handles (a liveness bound).
        let stopped = tokio::time::timeout(Duration::from_secs(10), async {
            while task_side.upgrade().is_some() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        assert!(stopped.is_ok(), "the renewal task outlived its handles");
    }

    #[test]
    fn a_jittered_backoff_never_exceeds_its_cap() {
        for _ in 0..200 {
            let d = within(Duration::from_secs(3600), MAX_BACKOFF_WITHOUT_TOKEN);
            assert!(
                d <= MAX_BACKOFF_WITHOUT_TOKEN && d >= MAX_BACKOFF_WITHOUT_TOKEN / 3,
                "{d:?}"
            );
        }
    }
}
