//! The published token-verification keys, as a service sees them: fetched from
//! the auth service at start-up, cached, and fetched again only when a token
//! names a key id the cache does not know — at most once per `min_refetch`, so a
//! flood of forged key ids cannot hammer auth. When auth is down, tokens signed
//! by cached keys keep verifying.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::pb::auth::v1::GetSigningKeysRequest;
use crate::pb::auth::v1::auth_service_client::AuthServiceClient;
use crate::token::{ALGORITHM, PublicKey};

/// Where keys come from.
#[derive(Debug)]
enum Source {
    /// The auth service's GetSigningKeys.
    Auth(AuthServiceClient<Channel>),
    /// A fixed set (tests, tools).
    Fixed,
}

/// A cache of published verification keys by key id.
#[derive(Debug)]
pub struct KeyRing {
    keys: RwLock<HashMap<String, PublicKey>>,
    source: Source,
    /// When the last fetch was attempted; serialises fetches.
    last_fetch: tokio::sync::Mutex<Option<std::time::Instant>>,
    min_refetch: Duration,
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
            keys: RwLock::new(keys.into_iter().map(|k| (k.kid.clone(), k)).collect()),
            source: Source::Fixed,
            last_fetch: tokio::sync::Mutex::new(None),
            min_refetch: Duration::MAX,
        }
    }

    /// A ring filled from the auth service at `url` (connected lazily: auth may
    /// start after this service).
    pub fn from_auth(url: &str, min_refetch: Duration) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(Self {
            keys: RwLock::new(HashMap::new()),
            source: Source::Auth(AuthServiceClient::new(channel)),
            last_fetch: tokio::sync::Mutex::new(None),
            min_refetch,
        })
    }

    /// The ring a service starts with: connected to the auth service named in
    /// `args`, with the keys fetched now if auth answers (else on first use).
    pub async fn connect(args: &crate::access::AuthArgs) -> Result<Self, tonic::transport::Error> {
        let ring = Self::from_auth(&args.auth_url, args.key_refetch_interval)?;
        if let Err(e) = ring.refresh().await {
            tracing::warn!(error = %e, "starting without token signing keys; will fetch them on first use");
        }
        Ok(ring)
    }

    /// Fetches the published keys now and replaces the cache; returns how many.
    pub async fn refresh(&self) -> Result<usize, FetchError> {
        let mut last = self.last_fetch.lock().await;
        *last = Some(std::time::Instant::now());
        self.fetch().await
    }

    /// The key with id `kid`: from the cache, or after one rate-limited fetch.
    pub async fn find(&self, kid: &str) -> Option<PublicKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        let mut last = self.last_fetch.lock().await;
        // Another caller may have fetched while we waited for the lock.
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refetch) {
            return None;
        }
        *last = Some(std::time::Instant::now());
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "unknown token key id and the keys could not be refreshed");
        }
        self.cached(kid)
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
        let response = tokio::time::timeout(Duration::from_secs(5), request)
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
            *keys = fetched;
        }
        tracing::info!(keys = count, "fetched token signing keys from the auth service");
        Ok(count)
    }
}
