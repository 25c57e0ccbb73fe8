//! The auth service: user accounts with argon2id passwords, access tokens (JWTs
//! signed with Ed25519) and rotating refresh tokens, the published signing keys,
//! and service accounts. `Application` builds the service from its `Config` for
//! the binary, the local stack and the tests alike.
#![forbid(unsafe_code)]

pub mod api;
pub mod bootstrap;
pub mod client_addr;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod issuer;
pub mod metrics;
pub mod signing_keys;
pub mod store;
pub mod sweeper;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use travel::access::Authenticate;
use travel::host::ServiceHost;
use travel::pb::auth::v1::auth_service_server::AuthServiceServer;
use travel::{SharedClock, SystemClock};

pub use config::Config;
pub use error::Error;
pub use signing_keys::SigningKeys;
pub use store::Store;

use crate::client_addr::ClientAddr;
use crate::domain::password::Passwords;
use crate::domain::throttle::Throttle;
use crate::issuer::Issuer;
use crate::metrics::AuthMetrics;

/// What the auth service depends on besides its configuration.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Decides when tokens are issued and expire and when login failures are forgotten.
    pub clock: SharedClock,
}

/// An auth service that is bound, migrated and bootstrapped, ready to run.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
    store: Store,
    clock: SharedClock,
    keys: Arc<SigningKeys>,
    passwords: Passwords,
    metrics: AuthMetrics,
    config: Config,
}

impl Application {
    /// Connects the database, runs the migrations, loads (or generates) the
    /// signing keys, sets up the configured accounts, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let clock = Arc::new(SystemClock);
        Self::build_with(config, Deps { clock }).await
    }

    /// As [`Application::build`], with the clock that decides when tokens are
    /// issued and expire and when login failures are forgotten.
    pub async fn build_with(config: Config, deps: Deps) -> anyhow::Result<Self> {
        let Deps { clock } = deps;
        let host = ServiceHost::start(
            config.listen,
            config.metrics_listen,
            &config.database_url,
            &config.host,
            travel::migrations!(),
        )
        .await?;
        let store = Store::new(host.database().clone());
        let keys = match (&config.signing_keys, &config.signing_keys_file) {
            (Some(text), _) => SigningKeys::parse(secrecy::ExposeSecret::expose_secret(text))?,
            (None, Some(path)) => SigningKeys::from_file(path)?,
            (None, None) => {
                tracing::warn!(
                    "no signing key configured: using one generated and kept in the auth database, which is \
                     for local use only; set AUTH_SIGNING_KEYS or AUTH_SIGNING_KEYS_FILE in production"
                );
                SigningKeys::generated(&store, clock.now()).await?
            }
        };
        let passwords = Passwords::new(config.hashing()).await?;
        bootstrap::normalise_emails(&store, clock.now()).await?;
        bootstrap::accounts(&config, &store, &passwords, clock.now()).await?;
        let metrics = AuthMetrics::register(host.metrics())?;
        Ok(Self {
            host,
            store,
            clock,
            keys: Arc::new(keys),
            passwords,
            metrics,
            config,
        })
    }

    /// The service's metrics registry, which `/metrics` serves.
    pub fn metrics(&self) -> &travel::metrics::Registry {
        self.host.metrics()
    }

    /// The address `/metrics` is served on (useful after binding port 0).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.host.metrics_addr()
    }

    /// The URL Prometheus scrapes this service's metrics at.
    pub fn metrics_url(&self) -> String {
        travel::metrics::url(self.metrics_addr())
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// The service's store, for tests and tools that inspect accounts.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The signing key and the published keys.
    pub fn signing_keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// Serves until `shutdown` resolves, deleting expired refresh tokens in the background.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        self.host.spawn({
            let (store, clock, interval) = (self.store.clone(), self.clock.clone(), self.config.sweep_interval);
            move |stop| sweeper::run(store, clock, interval, stop)
        });
        let config = &self.config;
        let issuer = Issuer::new(
            self.keys.clone(),
            config.issuer.clone(),
            config.audience.clone(),
            config.access_token_ttl,
            // A Login's refresh token never outlives its session.
            config.refresh_token_ttl.min(config.session_max_lifetime),
        );
        let throttles = api::Throttles {
            logins: Throttle::new(config.limits()),
            services: Throttle::per_pair(config.service_limits()),
            registers: Throttle::new(config.register_limits()),
            client_addr: ClientAddr::new(config.trusted_proxies.clone()),
        };
        let api = api::AuthApi::new(
            self.store.clone(),
            self.clock.clone(),
            self.passwords,
            issuer,
            throttles,
            self.metrics,
        )
        .with_sessions(config.session_rules());
        // No auth RPC depends on the caller, and a client may send its expired
        // access token along with a Refresh: credentials are not checked here.
        let auth = Authenticate::disabled();
        Ok(self.host.serve(AuthServiceServer::new(api), auth, shutdown).await?)
    }
}
