//! The reservation service: checkout of a flight, a hotel stay, or both as one
//! bundle, composed over gRPC from the flight and hotel services as a saga that
//! never loses or oversells, with crash recovery. `Application` builds the
//! service from its `Config` for the binary, the local stack and the tests alike.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod clients;
pub mod convert;
pub mod domain;
pub mod drain;
pub mod error;
pub mod recovery;
pub mod saga;
pub mod service_token;
pub mod settings;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use travel::access::Authenticate;
use travel::config::{AuthArgs, DatabaseArgs, ServerArgs, TelemetryArgs, parse_duration};
use travel::db::{Database, Migrations};
use travel::key_ring::KeyRing;
use travel::pb::reservation::v1::reservation_service_server::{ReservationServiceServer, SERVICE_NAME};
use travel::{SharedClock, SystemClock};

pub use clients::ServiceToken;
pub use error::Error;
pub use recovery::Recovery;
pub use saga::CrashPoint;
pub use store::Store;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Environment variable holding the service account's secret.
pub const SERVICE_SECRET_ENV: &str = "RESERVATION_SERVICE_CLIENT_SECRET";

/// The reservation service's settings: command-line flags, each with an environment twin.
#[derive(Clone, clap::Parser)]
#[command(
    name = "travel-reservation",
    version,
    about = "The reservation service: checkout of flights, hotel stays and bundles of both over gRPC.",
    after_help = "The service account's secret is read from RESERVATION_SERVICE_CLIENT_SECRET only (never a flag, which shows in process lists)."
)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "RESERVATION_LISTEN_ADDR", default_value = "0.0.0.0:50054")]
    pub listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "RESERVATION_DATABASE_URL",
        default_value = "sqlite://data/reservation.db?mode=rwc"
    )]
    pub database_url: String,
    /// URL of the flight service (seat holds).
    #[arg(long, env = "RESERVATION_FLIGHT_URL", default_value = "http://127.0.0.1:50052")]
    pub flight_url: String,
    /// URL of the hotel service (room holds).
    #[arg(long, env = "RESERVATION_HOTEL_URL", default_value = "http://127.0.0.1:50053")]
    pub hotel_url: String,
    /// Longest one call to the flight or hotel service may take (less if the
    /// checkout's remaining budget is shorter).
    #[arg(long, env = "RESERVATION_CALL_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// Budget of a whole checkout or cancellation when the client sets no shorter deadline.
    #[arg(long, env = "RESERVATION_CHECKOUT_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub checkout_timeout: Duration,
    /// How often unfinished sagas (left by a crash or an unreachable service) are driven on.
    #[arg(long, env = "RESERVATION_RECOVERY_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub recovery_interval: Duration,
    /// How long a running saga belongs to its driver before recovery may take it
    /// over; never renewed. Must be above the checkout timeout plus twice the call
    /// timeout, the longest a driver may take (checked at start-up).
    #[arg(long, env = "RESERVATION_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,
    /// Least time both holds must have left for a checkout to pass its pivot;
    /// with less, it is refused (FAILED) rather than risk a hold expiring before
    /// it is confirmed. Must be at least lease + recovery interval + call timeout.
    #[arg(long, env = "RESERVATION_MIN_HOLD_TTL_AT_PIVOT", default_value = "5m", value_parser = parse_duration)]
    pub min_hold_ttl_at_pivot: Duration,
    /// The hold TTL of the flight and hotel services, if known: start-up then
    /// checks that it leaves a checkout the minimum at its pivot.
    #[arg(long, env = "RESERVATION_HOLD_TTL", value_parser = parse_duration)]
    pub hold_ttl: Option<Duration>,
    /// Most unfinished sagas one recovery pass drives at the same time.
    #[arg(long, env = "RESERVATION_RECOVERY_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub recovery_concurrency: u16,
    /// Client id of this service's account on the auth service (IssueServiceToken).
    #[arg(long, env = "RESERVATION_SERVICE_CLIENT_ID", default_value = "reservation")]
    pub service_client_id: String,
    /// The service account's secret: from RESERVATION_SERVICE_CLIENT_SECRET only, never a flag.
    #[arg(skip = std::env::var(SERVICE_SECRET_ENV).ok().filter(|s| !s.is_empty()))]
    pub service_client_secret: Option<String>,
    /// Test seam: make the saga stop dead right after persisting this step, as
    /// a crashed process would. Only with the `crash-points` feature (tests).
    #[cfg(feature = "crash-points")]
    #[arg(skip)]
    pub crash_after: Option<CrashPoint>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &self.database_url)
            .field("flight_url", &self.flight_url)
            .field("hotel_url", &self.hotel_url)
            .field("call_timeout", &self.call_timeout)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("recovery_interval", &self.recovery_interval)
            .field("lease", &self.lease)
            .field("min_hold_ttl_at_pivot", &self.min_hold_ttl_at_pivot)
            .field("hold_ttl", &self.hold_ttl)
            .field("recovery_concurrency", &self.recovery_concurrency)
            .field("service_client_id", &self.service_client_id)
            .field(
                "service_client_secret",
                &self.service_client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Settings for a service on `listen` with the database at `database_url`,
    /// and every other setting at its default (no service account secret).
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            database_url: database_url.into(),
            service_client_secret: None,
            #[cfg(feature = "crash-points")]
            crash_after: None,
            ..travel::config::defaults()
        }
    }
}

/// What the service depends on besides its configuration.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Decides when leases run out and tokens expire.
    pub clock: SharedClock,
    /// Verifies the tokens of incoming calls.
    pub keys: Arc<KeyRing>,
    /// The token sent to the flight and hotel services.
    pub service_token: ServiceToken,
}

/// A reservation service that is bound and migrated, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    store: Store,
    saga: saga::Saga,
    recovery: Recovery,
    auth: Authenticate,
    config: Config,
}

impl Application {
    /// Connects the database, runs the migrations, binds the listener, fetches
    /// the token signing keys from the auth service (if auth is not up yet,
    /// they are fetched when the first token arrives), and gets service tokens
    /// from it with the configured client credentials.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        settings::check(&config)?;
        let clock: SharedClock = Arc::new(SystemClock);
        let keys = Arc::new(KeyRing::connect(&config.auth).await?);
        if config.service_client_secret.is_none() {
            tracing::warn!("{SERVICE_SECRET_ENV} is not set: calls to the flight and hotel services will be refused");
        }
        let service_token = ServiceToken::from_auth(
            &config.auth.auth_url,
            config.service_client_id.clone(),
            config.service_client_secret.clone(),
            clock.clone(),
        )?;
        Self::build_with(
            config,
            Deps {
                clock,
                keys,
                service_token,
            },
        )
        .await
    }

    /// As [`Application::build`], with the clock, the keys that verify incoming
    /// tokens, and the source of the outgoing service token given.
    pub async fn build_with(config: Config, deps: Deps) -> anyhow::Result<Self> {
        settings::check(&config)?;
        let migrations = Migrations {
            sqlite: &SQLITE_MIGRATIONS,
            postgres: &POSTGRES_MIGRATIONS,
        };
        let db = Database::connect(&config.database_url, &config.database, &migrations).await?;
        let store = Store::new(db);
        let clients = clients::Clients::connect(
            &config.flight_url,
            &config.hotel_url,
            deps.service_token,
            config.call_timeout,
        )?;
        let settings = saga::Settings {
            lease: config.lease,
            call_timeout: config.call_timeout,
            min_hold_ttl_at_pivot: config.min_hold_ttl_at_pivot,
            #[cfg(feature = "crash-points")]
            crash_after: config.crash_after,
        };
        let saga = saga::Saga::new(store.clone(), clients, deps.clock.clone(), settings);
        let recovery = Recovery::new(
            saga.clone(),
            deps.clock.clone(),
            usize::from(config.recovery_concurrency),
        );
        let listener = TcpListener::bind(config.listen).await?;
        let auth = Authenticate::new(deps.keys, config.auth.expectations(), deps.clock);
        Ok(Self {
            listener,
            store,
            saga,
            recovery,
            auth,
            config,
        })
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// The service's store, for tests and tools that inspect reservations.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The recovery of unfinished sagas, to run a pass on demand
    /// (`recovery().run_once()`): tests trigger it instead of waiting for the timer.
    pub fn recovery(&self) -> Recovery {
        self.recovery.clone()
    }

    /// One recovery pass now.
    pub async fn recover_once(&self) -> Result<recovery::Pass, Error> {
        self.recovery.run_once().await
    }

    /// Serves until `shutdown` resolves, with a recovery pass at start-up and
    /// then every recovery interval in the background. Once `shutdown`
    /// resolves, new checkouts, cancellations and operator drives are refused
    /// with UNAVAILABLE, and the calls and sagas in flight get the drain
    /// timeout to finish (the flight and hotel services must still serve
    /// meanwhile) before the database is closed.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let recovery = tokio::spawn(self.recovery.clone().run(self.config.recovery_interval));
        let drain = drain::Drain::new();
        let drain_timeout = self.config.server.drain_timeout;
        let began = drain.clone();
        let shutdown = async move {
            shutdown.await;
            began.begin();
        };
        let api = api::ReservationApi::new(self.saga, self.config.checkout_timeout).draining_with(drain.clone());
        let max = self.config.server.max_message_bytes;
        let service = ReservationServiceServer::new(api)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
        let routes = tonic::service::Routes::new(service);
        // The connections stay open until the sagas in flight are done: a
        // late call on them gets a clean UNAVAILABLE from the drain, not the
        // INTERNAL that tonic gives a call on a connection being closed.
        let settled = {
            let drain = drain.clone();
            async move { drain.sagas_finished(drain_timeout).await }
        };
        let served = travel::server::serve_settling(
            self.listener,
            routes,
            &[SERVICE_NAME],
            &self.config.server,
            self.auth,
            shutdown,
            settled,
        )
        .await;
        drain.sagas_finished(drain_timeout).await;
        recovery.abort();
        self.store.close().await;
        Ok(served?)
    }
}
