//! The hotel service: hotels and their room types, room search over every night
//! of a stay, and room holds that expire unless confirmed. `Application` builds
//! the service from its `Config` for the binary, the local stack and the tests alike.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;

use travel::SharedClock;
use travel::access::Authenticate;
use travel::host::ServiceHost;
use travel::pb::hotel::v1::hotel_service_server::HotelServiceServer;

pub use config::Config;
pub use error::Error;
pub use store::Store;
pub use travel::host::Deps;

/// A hotel service that is bound and migrated, ready to run.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
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
        let deps = Deps::production(&config.auth).await?;
        Self::build_with(config, deps).await
    }

    /// As [`Application::build`], with the clock that decides when holds and
    /// tokens expire, and the keys that verify tokens.
    pub async fn build_with(config: Config, deps: Deps) -> anyhow::Result<Self> {
        let host = ServiceHost::start(
            config.listen,
            &config.database_url,
            &config.database,
            &config.server,
            travel::migrations!(),
        )
        .await?;
        let auth = travel::host::verify_tokens(deps.keys, &config.auth, deps.clock.clone());
        Ok(Self {
            store: Store::new(host.database().clone()),
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
    pub fn store(&self) -> &Store {
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
        host.spawn({
            let (store, clock, batch) = (store.clone(), clock.clone(), config.sweep_batch);
            move |stop| async move {
                let expire = |now| store.expire_due_batch(now, batch);
                travel::background::sweep_expired_holds(config.sweep_interval, stop, clock, "room", expire).await;
            }
        });
        let api = api::HotelApi::new(store, clock, config.hold_ttl);
        Ok(host.serve(HotelServiceServer::new(api), auth, shutdown).await?)
    }
}
