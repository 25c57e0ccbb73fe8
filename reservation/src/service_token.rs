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

use secrecy::SecretString;
use tokio::sync::{Notify, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Code, Status};
use travel::SharedClock;
use travel::deadline::Deadline;
use travel::discovery::{self, Target, TargetError};
use travel::types::UnixMillis;

mod renewal;

pub use renewal::Backoff;
use renewal::{Exchange, renew};

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
    /// When the task tries again, given the valid token that serves, if any.
    fn retry(&self, valid: Option<&Cached>) -> tokio::time::Instant {
        match valid {
            Some(_) => self.retry_at,
            None => self.retry_without_token_at,
        }
    }
}

impl ServiceToken {
    /// Always `token` (tests, tools).
    pub fn fixed(token: impl Into<String>) -> Self {
        Self(Arc::new(Source::Fixed(token.into())))
    }

    /// Tokens from the auth service at `target` (a URL, `dns:///name:port` or a
    /// list: see [`travel::discovery`]) for the service account
    /// `client_id`/`client_secret`, renewed in the background (connected
    /// lazily: auth may start later), a DNS name or a list looked up again
    /// every `resolve_interval`. Needs a Tokio runtime.
    pub fn from_auth(
        target: &str,
        resolve_interval: Duration,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        clock: SharedClock,
    ) -> Result<Self, TargetError> {
        Self::start(
            target,
            resolve_interval,
            client_id,
            client_secret,
            clock,
            Backoff::default(),
        )
    }

    /// [`ServiceToken::from_auth`] with another backoff (tests), a DNS name or
    /// a list looked up again every default `--resolve-interval`.
    #[doc(hidden)]
    pub fn from_auth_with_backoff(
        target: &str,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        clock: SharedClock,
        backoff: Backoff,
    ) -> Result<Self, TargetError> {
        let resolve_interval = travel::config::AuthArgs::default().resolve_interval;
        Self::start(target, resolve_interval, client_id, client_secret, clock, backoff)
    }

    fn start(
        target: &str,
        resolve_interval: Duration,
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        clock: SharedClock,
        backoff: Backoff,
    ) -> Result<Self, TargetError> {
        let target: Target = target.parse()?;
        let Some(client_secret) = client_secret else {
            return Ok(Self(Arc::new(Source::NoSecret)));
        };
        let (tx, rx) = watch::channel(State::default());
        let shared = Arc::new(Shared {
            state: tx,
            wake: Notify::new(),
        });
        let channel = discovery::connect(&target, resolve_interval, |e| e.connect_timeout(Duration::from_secs(2)));
        let exchange = Exchange::new(channel, client_id.into(), client_secret, clock.clone());
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
                    .filter(|f| f.retry(None) > tokio::time::Instant::now())
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
        let token = ServiceToken::from_auth(
            "http://127.0.0.1:1",
            Duration::from_secs(10),
            "reservation",
            None,
            clock,
        )
        .unwrap();
        assert_eq!(
            token.get(soon()).await.unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_renewal_task() {
        // Arrange: nothing listens on port 1; the task keeps retrying.
        let clock: SharedClock = Arc::new(travel::SystemClock);
        let token = ServiceToken::from_auth(
            "http://127.0.0.1:1",
            Duration::from_secs(10),
            "reservation",
            Some("s".into()),
            clock,
        )
        .unwrap();
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
}
