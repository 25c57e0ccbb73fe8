//! The host of a hold-inventory service — flight's seats, hotel's rooms: one
//! [`Application`], generic over the service's [`Inventory`], that binds,
//! migrates, verifies tokens, sweeps expired holds back to inventory in the
//! background, counts holds ([`HoldMetrics`]) and keeps the gauge of what is
//! still on sale, relays the outbox of a service that publishes events, and
//! serves the service's API, with one [`Config`] whose
//! flags the two services share under their own environment names. A service
//! brings its names, its store, its API and its migrations; the rest is
//! written once here.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::Duration;

use crate::SharedClock;
use crate::access::Authenticate;
use crate::config::{AuthArgs, EventArgs, HostArgs, parse_duration};
use crate::db::{Database, Migrations};
use crate::hold::HoldMetrics;
use crate::hold::store::{DEFAULT_SWEEP_BATCH, HoldStore};
use crate::host::{Deps, GrpcService, ServiceHost};
use crate::metrics::Registry;
use crate::types::UnixMillis;

/// A hold-inventory service's settings: command-line flags, each with an
/// environment twin named by the service (`FLIGHT_HOLD_TTL`, `HOTEL_HOLD_TTL`…).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = I::BINARY, version, about = I::ABOUT)]
pub struct Config<I: Inventory> {
    /// Address to listen on for gRPC.
    #[arg(long, env = I::LISTEN_ENV, default_value = I::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Address to serve Prometheus metrics on, over HTTP at `/metrics`.
    #[arg(long, env = I::METRICS_LISTEN_ENV, default_value = I::DEFAULT_METRICS_LISTEN)]
    pub metrics_listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = I::DATABASE_URL_ENV, default_value = I::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// How long a hold lasts unless confirmed; then what it holds goes back to inventory.
    #[arg(long, env = I::HOLD_TTL_ENV, default_value = "15m", value_parser = parse_duration)]
    pub hold_ttl: Duration,
    /// How often expired holds are swept back into inventory.
    #[arg(long, env = I::SWEEP_INTERVAL_ENV, default_value = "5s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Most expired holds one sweep transaction returns (all of one flight, or
    /// of one room type); the sweeper commits and starts another until none is
    /// due, so it never keeps other writers waiting for long, even after an outage.
    #[arg(long, env = I::SWEEP_BATCH_ENV, default_value_t = DEFAULT_SWEEP_BATCH,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sweep_batch: u32,
    /// How often the gauge of what is still on sale (seats, room-nights) is
    /// recounted from the database for `/metrics`.
    #[arg(long, env = I::INVENTORY_METRICS_INTERVAL_ENV, default_value = "15s", value_parser = parse_duration)]
    pub inventory_metrics_interval: Duration,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub host: HostArgs,
    /// The service's event settings (the flight service's broker; none for the hotel service).
    #[command(flatten)]
    pub events: I::Events,
    #[arg(skip)]
    inventory: PhantomData<I>,
}

impl<I: Inventory> Config<I> {
    /// Settings for a service on `listen` with the database at `database_url`,
    /// and every other setting at its default.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            metrics_listen: crate::config::metrics_beside(listen),
            database_url: database_url.into(),
            ..crate::config::defaults()
        }
    }
}

/// A hold-inventory service: what is its own.
pub trait Inventory: Debug + Clone + Send + Sync + 'static {
    /// What one hold unit is called in log lines: `seat`, `room`.
    const UNIT: &'static str;
    /// The binary's name, for `--help` and `--version`.
    const BINARY: &'static str;
    /// What the binary does, for `--help`.
    const ABOUT: &'static str;
    /// The environment twin of `--listen`.
    const LISTEN_ENV: &'static str;
    /// The default of `--listen`.
    const DEFAULT_LISTEN: &'static str;
    /// The environment twin of `--metrics-listen`.
    const METRICS_LISTEN_ENV: &'static str;
    /// The default of `--metrics-listen`.
    const DEFAULT_METRICS_LISTEN: &'static str;
    /// The environment twin of `--database-url`.
    const DATABASE_URL_ENV: &'static str;
    /// The default of `--database-url`.
    const DEFAULT_DATABASE_URL: &'static str;
    /// The environment twin of `--hold-ttl`.
    const HOLD_TTL_ENV: &'static str;
    /// The environment twin of `--sweep-interval`.
    const SWEEP_INTERVAL_ENV: &'static str;
    /// The environment twin of `--sweep-batch`.
    const SWEEP_BATCH_ENV: &'static str;
    /// The environment twin of `--inventory-metrics-interval`.
    const INVENTORY_METRICS_INTERVAL_ENV: &'static str;
    /// The name and help of the gauge of what is still on sale
    /// (`travel_flight_seats_available`): never labelled by flight or hotel.
    const AVAILABLE_GAUGE: (&'static str, &'static str);
    /// The service's store.
    type Store: HoldStore<Error: Display> + Clone + Debug + Send + Sync + 'static;
    /// The service's generated gRPC server, over its API.
    type Server: GrpcService + Send;
    /// Its event flags: [`EventArgs`] if it publishes events, [`NoEvents`] if not.
    type Events: clap::Args + clap::FromArgMatches + Clone + Debug + Send + Sync + 'static;

    /// The event settings of a service that publishes events (its outbox is
    /// then relayed); `None` for one that publishes none.
    fn events(events: &Self::Events) -> Option<&EventArgs>;

    /// The service's embedded migrations (`travel::migrations!()`).
    fn migrations() -> &'static Migrations;
    /// The store over the migrated database, counting holds into `metrics`.
    fn open(db: Database, metrics: HoldMetrics) -> Self::Store;
    /// The API over `store`, with holds lasting `hold_ttl` by `clock`.
    fn api(store: Self::Store, clock: SharedClock, hold_ttl: Duration) -> Self::Server;
    /// What is still on sale at `now`, summed over the catalog: the gauge's value.
    fn available(
        store: &Self::Store,
        now: UnixMillis,
    ) -> impl Future<Output = Result<i64, <Self::Store as HoldStore>::Error>> + Send;
}

/// The event flags of a hold-inventory service that publishes no events: none.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NoEvents {}

/// A hold-inventory service that is bound and migrated, ready to run.
#[derive(Debug)]
pub struct Application<I: Inventory> {
    host: ServiceHost,
    store: I::Store,
    clock: SharedClock,
    auth: Authenticate,
    /// What is still on sale, recounted in the background.
    available: prometheus::IntGauge,
    config: Config<I>,
}

impl<I: Inventory> Application<I> {
    /// Connects the database, runs the migrations, binds the listener, and
    /// fetches the token signing keys from the auth service (if auth is not up
    /// yet, they are fetched when the first token arrives).
    ///
    /// It binds before it calls auth: the call's local port, which the system
    /// picks, cannot then be this service's own (the stack's default ports lie
    /// in the range it picks from).
    pub async fn build(config: Config<I>) -> anyhow::Result<Self> {
        let host = Self::host(&config).await?;
        let deps = Deps::production(&config.auth).await?;
        Self::assemble(host, config, deps)
    }

    /// As [`Application::build`], with the clock that decides when holds and
    /// tokens expire, and the keys that verify tokens.
    pub async fn build_with(config: Config<I>, deps: Deps) -> anyhow::Result<Self> {
        let host = Self::host(&config).await?;
        Self::assemble(host, config, deps)
    }

    /// The database, migrated, and the listeners, bound.
    async fn host(config: &Config<I>) -> anyhow::Result<ServiceHost> {
        ServiceHost::start(
            config.listen,
            config.metrics_listen,
            &config.database_url,
            &config.host,
            I::migrations(),
        )
        .await
    }

    fn assemble(host: ServiceHost, config: Config<I>, deps: Deps) -> anyhow::Result<Self> {
        let auth = crate::host::verify_tokens(deps.keys, &config.auth, deps.clock.clone(), host.metrics())?;
        let holds = HoldMetrics::register(host.metrics())?;
        let (name, help) = I::AVAILABLE_GAUGE;
        let available = prometheus::IntGauge::new(name, help)?;
        host.metrics().register(Box::new(available.clone()))?;
        Ok(Self {
            store: I::open(host.database().clone(), holds),
            host,
            clock: deps.clock,
            auth,
            available,
            config,
        })
    }

    /// The service's metrics registry, which `/metrics` serves.
    pub fn metrics(&self) -> &Registry {
        self.host.metrics()
    }

    /// The address `/metrics` is served on (useful after binding port 0).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.host.metrics_addr()
    }

    /// The URL Prometheus scrapes this service's metrics at.
    pub fn metrics_url(&self) -> String {
        crate::metrics::url(self.metrics_addr())
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// The service's store, for tests and tools that inspect inventory.
    pub fn store(&self) -> &I::Store {
        &self.store
    }

    /// Serves until `shutdown` resolves, sweeping expired holds in the
    /// background and, for a service that publishes events, relaying its outbox.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self {
            host,
            store,
            clock,
            auth,
            available,
            config,
        } = self;
        let (interval, batch, hold_ttl) = (config.sweep_interval, config.sweep_batch, config.hold_ttl);
        host.spawn({
            let (store, clock) = (store.clone(), clock.clone());
            move |stop| async move {
                let expire = |now| crate::hold::store::expire_due_batch(&store, now, batch);
                crate::background::sweep_expired_holds(interval, stop, clock, I::UNIT, expire).await;
            }
        });
        if let Some(events) = I::events(&config.events)
            && let Some(broker) = crate::events::Broker::from_args(events)
        {
            let relay = crate::events::relay::Relay::new(
                host.database().clone(),
                broker,
                clock.clone(),
                events.outbox_poll_interval,
                events.outbox_retention,
                crate::events::relay::RelayMetrics::register(host.metrics())?,
            );
            host.spawn(|stop| relay.run(stop));
        }
        host.spawn({
            let (store, clock, interval) = (store.clone(), clock.clone(), config.inventory_metrics_interval);
            move |stop| async move {
                let (store, clock, available) = (&store, &clock, &available);
                crate::background::every(interval, stop, move || async move {
                    match I::available(store, clock.now()).await {
                        Ok(n) => available.set(n),
                        Err(e) => tracing::warn!(error = %e, "counting the inventory on sale failed; will retry"),
                    }
                })
                .await;
            }
        });
        Ok(host.serve(I::api(store, clock, hold_ttl), auth, shutdown).await?)
    }
}
