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
pub mod signing_keys;
pub mod store;
pub mod sweeper;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use travel::access::Authenticate;
use travel::db::{Database, Migrations};
use travel::pb::auth::v1::auth_service_server::{AuthServiceServer, SERVICE_NAME};
use travel::{SharedClock, SystemClock};

pub use config::Config;
pub use error::Error;
pub use signing_keys::SigningKeys;
pub use store::Store;

use crate::client_addr::ClientAddr;
use crate::domain::password::Passwords;
use crate::domain::throttle::Throttle;
use crate::issuer::Issuer;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// An auth service that is bound, migrated and bootstrapped, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    store: Store,
    clock: SharedClock,
    keys: Arc<SigningKeys>,
    passwords: Passwords,
    config: Config,
}

impl Application {
    /// Connects the database, runs the migrations, loads (or generates) the
    /// signing keys, sets up the configured accounts, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with the clock that decides when tokens are
    /// issued and expire and when login failures are forgotten.
    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let migrations = Migrations {
            sqlite: &SQLITE_MIGRATIONS,
            postgres: &POSTGRES_MIGRATIONS,
        };
        let db = Database::connect(&config.database_url, &config.database, &migrations).await?;
        let store = Store::new(db);
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
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            store,
            clock,
            keys: Arc::new(keys),
            passwords,
            config,
        })
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
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
        let sweeper = tokio::spawn(sweeper::run(
            self.store.clone(),
            self.clock.clone(),
            self.config.sweep_interval,
        ));
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
        )
        .with_sessions(config.session_rules());
        let max = config.server.max_message_bytes;
        let service = AuthServiceServer::new(api)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let routes = tonic::service::Routes::new(service);
        let served = travel::server::serve(
            self.listener,
            routes,
            &[SERVICE_NAME],
            &config.server,
            // No auth RPC depends on the caller, and a client may send its expired
            // access token along with a Refresh: credentials are not checked here.
            Authenticate::disabled(),
            shutdown,
        )
        .await;
        sweeper.abort();
        self.store.close().await;
        Ok(served?)
    }
}
