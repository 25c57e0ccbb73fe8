//! The hotel service: hotels and their room types, room search over every night
//! of a stay, and room holds that expire unless confirmed. `Application` builds
//! the service from its `Config` for the binary, the local stack and the tests alike.
#![forbid(unsafe_code)]

pub mod api;
pub mod convert;
pub mod domain;
pub mod error;
pub mod store;
pub mod sweeper;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use travel::access::Authenticate;
use travel::config::{AuthArgs, DatabaseArgs, ServerArgs, TelemetryArgs, parse_duration};
use travel::db::{Database, Migrations};
use travel::key_ring::KeyRing;
use travel::pb::hotel::v1::hotel_service_server::{HotelServiceServer, SERVICE_NAME};
use travel::{SharedClock, SystemClock};

pub use error::Error;
pub use store::Store;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The hotel service's settings: command-line flags, each with an environment twin.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "travel-hotel",
    version,
    about = "The hotel service: hotels, room search and room holds over gRPC."
)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "HOTEL_LISTEN_ADDR", default_value = "0.0.0.0:50053")]
    pub listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "HOTEL_DATABASE_URL", default_value = "sqlite://data/hotel.db?mode=rwc")]
    pub database_url: String,
    /// How long a room hold lasts unless confirmed; then its rooms go back to inventory.
    #[arg(long, env = "HOTEL_HOLD_TTL", default_value = "15m", value_parser = parse_duration)]
    pub hold_ttl: Duration,
    /// How often expired holds are swept back into inventory.
    #[arg(long, env = "HOTEL_SWEEP_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Most expired holds one sweep transaction returns (all of one room type);
    /// the sweeper commits and starts another until none is due, so it never
    /// keeps other writers waiting for long, even after an outage.
    #[arg(long, env = "HOTEL_SWEEP_BATCH", default_value_t = store::DEFAULT_SWEEP_BATCH,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sweep_batch: u32,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

impl Config {
    /// Settings for a service on `listen` with the database at `database_url`, and
    /// every other setting at its default.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            database_url: database_url.into(),
            ..travel::config::defaults()
        }
    }
}

/// A hotel service that is bound and migrated, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    store: Store,
    clock: SharedClock,
    auth: Authenticate,
    config: Config,
}

impl Application {
    /// Connects the database, runs the migrations, binds the listener, and
    /// fetches the token signing keys from the auth service (if auth is not up
    /// yet, they are fetched when the first token arrives).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let keys = Arc::new(KeyRing::connect(&config.auth).await?);
        Self::build_with(config, Arc::new(SystemClock), keys).await
    }

    /// As [`Application::build`], with the clock that decides when holds and
    /// tokens expire, and the keys that verify tokens.
    pub async fn build_with(config: Config, clock: SharedClock, keys: Arc<KeyRing>) -> anyhow::Result<Self> {
        let migrations = Migrations {
            sqlite: &SQLITE_MIGRATIONS,
            postgres: &POSTGRES_MIGRATIONS,
        };
        let db = Database::connect(&config.database_url, &config.database, &migrations).await?;
        let listener = TcpListener::bind(config.listen).await?;
        let auth = Authenticate::new(keys, config.auth.expectations(), clock.clone());
        Ok(Self {
            listener,
            store: Store::new(db),
            clock,
            auth,
            config,
        })
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// The service's store, for tests and tools that inspect inventory.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` resolves, sweeping expired holds in the background.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(sweeper::run(
            self.store.clone(),
            self.clock.clone(),
            self.config.sweep_interval,
            self.config.sweep_batch,
        ));
        let api = api::HotelApi::new(self.store.clone(), self.clock, self.config.hold_ttl);
        let max = self.config.server.max_message_bytes;
        let service = HotelServiceServer::new(api)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let routes = tonic::service::Routes::new(service);
        let served = travel::server::serve(
            self.listener,
            routes,
            &[SERVICE_NAME],
            &self.config.server,
            self.auth,
            shutdown,
        )
        .await;
        sweeper.abort();
        self.store.close().await;
        Ok(served?)
    }
}
