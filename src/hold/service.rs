//! The host of a hold-inventory service — flight's seats, hotel's rooms: one
//! [`Application`], generic over the service's [`Inventory`], that binds,
//! migrates, verifies tokens, sweeps expired holds back to inventory in the
//! background and serves the service's API. A service brings its settings,
//! its store, its API and its migrations; the rest is written once here.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use crate::SharedClock;
use crate::access::Authenticate;
use crate::config::{AuthArgs, HostArgs};
use crate::db::{Database, Migrations};
use crate::hold::store::HoldStore;
use crate::host::{Deps, GrpcService, ServiceHost};

/// What a hold-inventory service's settings say to its host.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Address to listen on for gRPC.
    pub listen: SocketAddr,
    /// The database URL.
    pub database_url: &'a str,
    /// How long a hold lasts unless confirmed.
    pub hold_ttl: Duration,
    /// How often expired holds are swept back into inventory.
    pub sweep_interval: Duration,
    /// Most expired holds one sweep transaction returns.
    pub sweep_batch: u32,
    /// Token verification.
    pub auth: &'a AuthArgs,
    /// The database pool, the server's limits, logging.
    pub host: &'a HostArgs,
}

/// A hold-inventory service: what is its own.
pub trait Inventory: 'static {
    /// What one hold unit is called in log lines: `seat`, `room`.
    const UNIT: &'static str;
    /// The service's command-line settings.
    type Config: Debug + Send + Sync + 'static;
    /// The service's store.
    type Store: HoldStore<Error: Display> + Clone + Debug + Send + Sync + 'static;
    /// The service's generated gRPC server, over its API.
    type Server: GrpcService + Send;

    /// The service's embedded migrations (`travel::migrations!()`).
    fn migrations() -> &'static Migrations;
    /// What `config` says to the host.
    fn settings(config: &Self::Config) -> Settings<'_>;
    /// The store over the migrated database.
    fn open(db: Database) -> Self::Store;
    /// The API over `store`, with holds lasting `hold_ttl` by `clock`.
    fn api(store: Self::Store, clock: SharedClock, hold_ttl: Duration) -> Self::Server;
}

/// A hold-inventory service that is bound and migrated, ready to run.
#[derive(Debug)]
pub struct Application<I: Inventory> {
    host: ServiceHost,
    store: I::Store,
    clock: SharedClock,
    auth: Authenticate,
    config: I::Config,
}

impl<I: Inventory> Application<I> {
    /// Connects the database, runs the migrations, binds the listener, and
    /// fetches the token signing keys from the auth service (if auth is not up
    /// yet, they are fetched when the first token arrives).
    pub async fn build(config: I::Config) -> anyhow::Result<Self> {
        let deps = Deps::production(I::settings(&config).auth).await?;
        Self::build_with(config, deps).await
    }

    /// As [`Application::build`], with the clock that decides when holds and
    /// tokens expire, and the keys that verify tokens.
    pub async fn build_with(config: I::Config, deps: Deps) -> anyhow::Result<Self> {
        let settings = I::settings(&config);
        let host = ServiceHost::start(settings.listen, settings.database_url, settings.host, I::migrations()).await?;
        let auth = crate::host::verify_tokens(deps.keys, settings.auth, deps.clock.clone());
        Ok(Self {
            store: I::open(host.database().clone()),
            host,
            clock: deps.clock,
            auth,
            config,
        })
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// The service's store, for tests and tools that inspect inventory.
    pub fn store(&self) -> &I::Store {
        &self.store
    }

    /// Serves until `shutdown` resolves, sweeping expired holds in the background.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self {
            host,
            store,
            clock,
            auth,
            config,
        } = self;
        let settings = I::settings(&config);
        let (interval, batch, hold_ttl) = (settings.sweep_interval, settings.sweep_batch, settings.hold_ttl);
        host.spawn({
            let (store, clock) = (store.clone(), clock.clone());
            move |stop| async move {
                let expire = |now| crate::hold::store::expire_due_batch(&store, now, batch);
                crate::background::sweep_expired_holds(interval, stop, clock, I::UNIT, expire).await;
            }
        });
        Ok(host.serve(I::api(store, clock, hold_ttl), auth, shutdown).await?)
    }
}
