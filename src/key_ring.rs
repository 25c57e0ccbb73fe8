//! The published token-verification keys, as a service sees them: fetched from
//! the auth service at start-up, cached, and fetched again
//!
//! - every `max_age` in the background, so that a key auth stops publishing
//!   (retired or compromised) stops verifying within `max_age`;
//! - when a token names a key id the cache does not know — at most once per
//!   `min_refetch` after a successful fetch, so a flood of forged key ids cannot
//!   hammer auth.
//!
//! A failed fetch does not count against `min_refetch` (a service that started
//! before auth accepts tokens as soon as auth answers); failures have their own
//! short, growing, jittered backoff instead, never above a few seconds. When auth is down, the cached keys
//! keep verifying however old they are: keys are withdrawn only by a successful
//! fetch that no longer lists them, so auth being down never takes services down.
//!
//! This module owns the cache and the fetching; when to fetch again (the rate
//! limits, the backoff and the background refresh) is in [`refresh`].

mod refresh;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::{CancellationToken, DropGuard};

use crate::discovery::{self, Target, TargetError};
use crate::jwt::{ALGORITHM, PublicKey};
use crate::pb::auth::v1::GetSigningKeysRequest;
use crate::pb::auth::v1::auth_service_client::AuthServiceClient;
use refresh::{Fetches, Outcome, refresh_periodically};

/// How long one GetSigningKeys call may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where keys come from.
#[derive(Debug)]
enum Source {
    /// The auth service's GetSigningKeys.
    Auth(AuthServiceClient<crate::telemetry::rpc::TracedChannel>),
    /// A fixed set (tests, tools).
    Fixed,
}

/// A cache of published verification keys by key id.
#[derive(Debug)]
pub struct KeyRing {
    shared: Arc<Shared>,
    /// Stops the background refresh when the ring is dropped.
    _refresher: Option<DropGuard>,
}

#[derive(Debug)]
struct Shared {
    keys: RwLock<HashMap<String, PublicKey>>,
    source: Source,
    /// Outcomes of past fetches; held across a fetch, so fetches never overlap.
    fetches: tokio::sync::Mutex<Fetches>,
    /// Tells the background refresh that a fetch finished (its next wake-up moved).
    fetched: tokio::sync::Notify,
    min_refetch: Duration,
    max_age: Duration,
}

/// Why keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The auth service did not answer, or refused.
    #[error("cannot fetch signing keys from the auth service: {0}")]
    Unavailable(#[from] tonic::Status),
    /// It took too long.
    #[error("fetching signing keys from the auth service timed out")]
    Timeout,
}

impl KeyRing {
    /// A ring holding exactly `keys`, never refetched.
    pub fn fixed(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        Self {
            shared: Arc::new(Shared {
                keys: RwLock::new(keys.into_iter().map(|k| (k.kid.clone(), k)).collect()),
                source: Source::Fixed,
                fetches: tokio::sync::Mutex::new(Fetches::default()),
                fetched: tokio::sync::Notify::new(),
                min_refetch: Duration::MAX,
                max_age: Duration::MAX,
            }),
            _refresher: None,
        }
    }

    /// A ring filled from the auth service at `target` (connected lazily: auth
    /// may start after this service; balanced over its replicas when `target`
    /// names several), refreshed in the background every `max_age`; unknown key
    /// ids cause a fetch at most once per `min_refetch`. Call
    /// [`KeyRing::refresh`] for the first fetch. Needs a Tokio runtime.
    /// A DNS name or a list is looked up again every default `--resolve-interval`.
    pub fn from_auth(target: &str, min_refetch: Duration, max_age: Duration) -> Result<Self, TargetError> {
        let resolve_interval = crate::config::AuthArgs::default().resolve_interval;
        Ok(Self::from_target(
            &target.parse()?,
            resolve_interval,
            min_refetch,
            max_age,
        ))
    }

    fn from_target(target: &Target, resolve_interval: Duration, min_refetch: Duration, max_age: Duration) -> Self {
        let channel = discovery::connect(target, resolve_interval, |endpoint| {
            endpoint.connect_timeout(Duration::from_secs(2)).timeout(FETCH_TIMEOUT)
        });
        let shared = Arc::new(Shared {
            keys: RwLock::new(HashMap::new()),
            source: Source::Auth(AuthServiceClient::new(crate::telemetry::rpc::traced(channel))),
            fetches: tokio::sync::Mutex::new(Fetches::default()),
            fetched: tokio::sync::Notify::new(),
            min_refetch,
            max_age,
        });
        let stop = CancellationToken::new();
        tokio::spawn(refresh_periodically(shared.clone(), stop.clone()));
        Self {
            shared,
            _refresher: Some(stop.drop_guard()),
        }
    }

    /// The ring a service starts with: connected to the auth service named in
    /// `args`, with the keys fetched now if auth answers (else soon after, in
    /// the background, or on first use).
    ///
    /// Fails when `args.auth_url` is not a target (the flag's parser refuses
    /// those already; settings built in code may still name one).
    pub async fn connect(args: &crate::config::AuthArgs) -> Result<Self, crate::discovery::TargetError> {
        let target = args.auth_url.parse::<Target>()?;
        let ring = Self::from_target(
            &target,
            args.resolve_interval,
            args.key_refetch_interval,
            args.key_max_age,
        );
        if let Err(e) = ring.refresh().await {
            tracing::warn!(error = %e, "starting without token signing keys; will fetch them on first use");
        }
        Ok(ring)
    }

    /// Fetches the published keys now and replaces the cache; returns how many.
    pub async fn refresh(&self) -> Result<usize, FetchError> {
        self.shared.refresh().await
    }

    /// The key with id `kid`: from the cache, or after one rate-limited fetch.
    pub async fn find(&self, kid: &str) -> Option<PublicKey> {
        let shared = &self.shared;
        if let Some(key) = shared.cached(kid) {
            return Some(key);
        }
        let mut fetches = shared.fetches.lock().await;
        // Another caller may have fetched while we waited for the lock.
        if let Some(key) = shared.cached(kid) {
            return Some(key);
        }
        if !fetches.may_refetch(shared.min_refetch) {
            return None;
        }
        if let Err(e) = shared.fetch_recorded(&mut fetches).await {
            tracing::warn!(error = %e, "unknown token key id and the keys could not be refreshed");
        }
        shared.cached(kid)
    }
}

impl Shared {
    async fn refresh(&self) -> Result<usize, FetchError> {
        let mut fetches = self.fetches.lock().await;
        self.fetch_recorded(&mut fetches).await
    }

    async fn fetch_recorded(&self, fetches: &mut Fetches) -> Result<usize, FetchError> {
        let result = self.fetch().await;
        let outcome = if result.is_ok() {
            Outcome::Fetched
        } else {
            Outcome::Failed
        };
        fetches.record(outcome, self.min_refetch);
        self.fetched.notify_one();
        result
    }

    fn cached(&self, kid: &str) -> Option<PublicKey> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<usize, FetchError> {
        let Source::Auth(client) = &self.source else {
            return Ok(self.keys.read().map(|k| k.len()).unwrap_or(0));
        };
        let mut client = client.clone();
        let request = client.get_signing_keys(GetSigningKeysRequest {});
        let response = tokio::time::timeout(FETCH_TIMEOUT, request)
            .await
            .map_err(|_| FetchError::Timeout)??
            .into_inner();
        let fetched: HashMap<String, PublicKey> = response
            .keys
            .into_iter()
            .filter(|k| k.alg == ALGORITHM)
            .filter_map(|k| PublicKey::from_bytes(k.kid, &k.public_key))
            .map(|k| (k.kid.clone(), k))
            .collect();
        let count = fetched.len();
        // Auth is the source of truth: a key it no longer publishes (retired or
        // compromised) stops verifying. An empty answer is ignored, not trusted.
        if count > 0
            && let Ok(mut keys) = self.keys.write()
        {
            let withdrawn: Vec<&String> = keys.keys().filter(|kid| !fetched.contains_key(*kid)).collect();
            if !withdrawn.is_empty() {
                tracing::info!(
                    ?withdrawn,
                    "the auth service no longer publishes these keys; they stop verifying"
                );
            }
            *keys = fetched;
        }
        tracing::debug!(keys = count, "fetched token signing keys from the auth service");
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    //! Against a fake auth service on 127.0.0.1:0 whose published keys, and
    //! whether it answers at all, the test controls; it counts the fetches.

    use std::sync::atomic::Ordering;

    use super::refresh::MAX_FAILURE_BACKOFF;
    use super::*;
    use crate::jwt::KeyPair;
    use crate::testing::FakeAuth;

    /// The fake auth, serving on a port bound before it is spawned.
    async fn fake_auth() -> (Arc<FakeAuth>, String) {
        FakeAuth::spawn().await
    }

    const MAX_AGE: Duration = Duration::from_secs(300);

    fn key(kid: &str) -> KeyPair {
        KeyPair::from_seed(kid, [kid.len() as u8; 32])
    }

    /// Polls `condition` until it holds; `false` if it still does not after a
    /// generous liveness bound (not a speed assertion).
    async fn eventually<F, Fut>(mut condition: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !condition().await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .is_ok()
    }

    #[tokio::test]
    async fn keys_are_refreshed_without_a_token_naming_an_unknown_kid() {
        // Arrange: auth publishes A and B; the ring has both.
        let (auth, url) = fake_auth().await;
        let (a, b) = (key("withdrawn"), key("kept"));
        auth.publish(&[&a, &b]);
        let ring = KeyRing::from_auth(&url, Duration::from_secs(30), Duration::from_millis(100)).expect("ring");
        ring.refresh().await.expect("first fetch");
        assert!(ring.find("withdrawn").await.is_some());

        // Act: auth withdraws A (compromised). Tokens keep naming known kids only.
        auth.publish(&[&b]);

        // Assert: within the key max age, A stops verifying; B keeps verifying.
        let withdrawn = eventually(|| async { ring.find("withdrawn").await.is_none() }).await;
        assert!(withdrawn, "a key auth withdrew still verifies");
        assert!(ring.find("kept").await.is_some());
    }

    #[tokio::test]
    async fn a_service_started_before_auth_accepts_tokens_once_auth_answers() {
        // Arrange: auth does not answer when the service starts.
        let (auth, url) = fake_auth().await;
        let a = key("first");
        auth.publish(&[&a]);
        auth.down.store(true, Ordering::SeqCst);
        let ring = KeyRing::from_auth(&url, Duration::from_secs(30), MAX_AGE).expect("ring");
        assert!(ring.refresh().await.is_err(), "auth is down at start-up");

        // Act: auth comes up.
        auth.down.store(false, Ordering::SeqCst);

        // Assert: the failed first fetch does not hold the next one back for the refetch interval.
        let found = eventually(|| async { ring.find("first").await.is_some() }).await;
        assert!(found, "tokens are refused long after auth came up");
    }

    #[tokio::test]
    async fn cached_keys_keep_verifying_while_auth_is_down_past_their_max_age() {
        // Arrange
        let (auth, url) = fake_auth().await;
        let a = key("cached");
        auth.publish(&[&a]);
        let ring = KeyRing::from_auth(&url, Duration::from_secs(30), Duration::from_millis(100)).expect("ring");
        ring.refresh().await.expect("first fetch");

        // Act: auth goes down, and the background refresh fails past the max age.
        auth.down.store(true, Ordering::SeqCst);
        let before = auth.fetches();
        let tried = eventually(|| async { auth.fetches() >= before + 2 }).await;
        assert!(tried, "the keys are refreshed in the background");

        // Assert
        assert!(
            ring.find("cached").await.is_some(),
            "auth being down must not take services down"
        );
    }

    #[tokio::test]
    async fn a_flood_of_unknown_kids_while_auth_is_down_does_not_hammer_it() {
        // Arrange
        let (auth, url) = fake_auth().await;
        auth.down.store(true, Ordering::SeqCst);
        let ring = KeyRing::from_auth(&url, Duration::from_secs(30), MAX_AGE).expect("ring");
        let _ = ring.refresh().await;
        let before = auth.fetches();

        // Act: a burst of forged key ids.
        for i in 0..50 {
            assert!(ring.find(&format!("forged-{i}")).await.is_none());
        }

        // Assert: at most a couple of fetches (the failure backoff), not one per token.
        let during = auth.fetches() - before;
        assert!(during <= 2, "{during} fetches for 50 forged tokens");
    }

    #[tokio::test]
    async fn after_many_failed_fetches_the_next_one_is_at_most_seconds_away() {
        // Arrange: auth is down when the service starts, and stays down a while.
        let (auth, url) = fake_auth().await;
        auth.down.store(true, Ordering::SeqCst);
        let ring = KeyRing::from_auth(&url, Duration::from_secs(30), MAX_AGE).expect("ring");

        // Act: many failed fetches in a row.
        for _ in 0..12 {
            assert!(ring.refresh().await.is_err());
        }

        // Assert: the ring is empty, so every token is refused until the next
        // fetch; that must be seconds after auth is back, not the refetch interval.
        let retry_at = ring.shared.fetches.lock().await.retry_at.expect("backing off");
        let wait = retry_at.saturating_duration_since(std::time::Instant::now());
        assert!(wait <= MAX_FAILURE_BACKOFF, "the next fetch is {wait:?} away");
    }
}
