//! The reservation service: checkout of a flight, a hotel stay, or both as one
//! bundle, composed over gRPC from the flight and hotel services as a saga that
//! never loses or oversells, with crash recovery. `Application` builds the
//! service from its `Config` for the binary, the local stack and the tests alike.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod clients;
pub mod config;
pub mod convert;
pub mod domain;
pub mod drain;
pub mod error;
pub mod events;
pub mod metrics;
pub mod recovery;
pub mod saga;
pub mod service_token;
pub mod settings;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use travel::SharedClock;
use travel::access::Authenticate;
use travel::host::ServiceHost;
use travel::key_ring::KeyRing;
use travel::pb::reservation::v1::reservation_service_server::ReservationServiceServer;

pub use clients::ServiceToken;
pub use config::{Config, SERVICE_SECRET_ENV};
pub use error::Error;
pub use recovery::Recovery;
pub use saga::CrashPoint;
pub use store::Store;

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
    host: ServiceHost,
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
    ///
    /// It binds before it calls auth: the call's local port, which the system
    /// picks, cannot then be this service's own (the stack's default ports lie
    /// in the range it picks from).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        settings::check(&config)?;
        let host = Self::host(&config).await?;
        let travel::host::Deps { clock, keys } = travel::host::Deps::production(&config.auth).await?;
        if config.service_client_secret.is_none() {
            tracing::warn!("{SERVICE_SECRET_ENV} is not set: calls to the flight and hotel services will be refused");
        }
        let service_token = ServiceToken::from_auth(
            &config.auth.auth_url,
            config.auth.resolve_interval,
            config.service_client_id.clone(),
            config.service_client_secret.clone(),
            clock.clone(),
        )?;
        let deps = Deps {
            clock,
            keys,
            service_token,
        };
        Self::assemble(host, config, deps)
    }

    /// As [`Application::build`], with the clock, the keys that verify incoming
    /// tokens, and the source of the outgoing service token given.
    pub async fn build_with(config: Config, deps: Deps) -> anyhow::Result<Self> {
        settings::check(&config)?;
        let host = Self::host(&config).await?;
        Self::assemble(host, config, deps)
    }

    /// The database, migrated, and the listeners, bound.
    async fn host(config: &Config) -> anyhow::Result<ServiceHost> {
        ServiceHost::start(
            config.listen,
            config.metrics_listen,
            &config.database_url,
            &config.host,
            travel::migrations!(),
        )
        .await
    }

    fn assemble(host: ServiceHost, config: Config, deps: Deps) -> anyhow::Result<Self> {
        let store = Store::new(host.database().clone());
        let clients = clients::Clients::connect(
            &config.flight_url,
            &config.hotel_url,
            config.auth.resolve_interval,
            deps.service_token,
            config.call_timeout,
        )?
        .guarded(clients::Guards::register(
            host.metrics(),
            deps.clock.clone(),
            config.protection(),
        )?);
        let settings = saga::Settings {
            lease: config.lease,
            call_timeout: config.call_timeout,
            min_hold_ttl_at_pivot: config.min_hold_ttl_at_pivot,
            #[cfg(feature = "crash-points")]
            crash_after: config.crash_after,
        };
        let metrics = metrics::Metrics::register(host.metrics())?;
        let saga = saga::Saga::new(store.clone(), clients, deps.clock.clone(), settings, metrics);
        let recovery = Recovery::new(
            saga.clone(),
            deps.clock.clone(),
            usize::from(config.recovery_concurrency),
        );
        let auth = travel::host::verify_tokens(deps.keys, &config.auth, deps.clock, host.metrics())?;
        Ok(Self {
            host,
            store,
            saga,
            recovery,
            auth,
            config,
        })
    }

    /// The address `/metrics` is served on (useful after binding port 0).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.host.metrics_addr()
    }

    /// The service's metrics registry (what `/metrics` serves), for tests
    /// that read a value without scraping.
    pub fn metrics(&self) -> &travel::metrics::Registry {
        self.host.metrics()
    }

    /// The URL Prometheus scrapes this service's metrics at.
    pub fn metrics_url(&self) -> String {
        travel::metrics::url(self.metrics_addr())
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
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
    /// resolves and the pre-stop delay has passed, new checkouts,
    /// cancellations and operator drives are refused with UNAVAILABLE, and
    /// the calls and sagas in flight get the drain timeout to finish (the flight and hotel services must still serve
    /// meanwhile) before the database is closed.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self {
            host,
            saga,
            recovery,
            auth,
            config,
            ..
        } = self;
        if let Some(broker) = travel::events::Broker::from_args(&config.events) {
            let relay = travel::events::relay::Relay::new(
                host.database().clone(),
                broker.clone(),
                saga.clock().clone(),
                config.events.outbox_poll_interval,
                config.events.outbox_retention,
                travel::events::relay::RelayMetrics::register(host.metrics())?,
            );
            host.spawn(|stop| relay.run(stop));
            let consumer = events::FlightEvents::new(saga.store().clone(), recovery.clone(), saga.clock().clone());
            let consumed = travel::events::consume::ConsumeMetrics::register(host.metrics())?;
            let queue = config.events_queue.clone();
            host.spawn(|stop| consumer.run(broker, queue, consumed, stop));
        }
        host.spawn(|stop| recovery.run(config.recovery_interval, stop));
        let drain = drain::Drain::new();
        let drain_timeout = config.host.server.drain_timeout;
        let api = api::ReservationApi::new(saga, config.checkout_timeout).draining_with(drain.clone());
        // Settling begins after the pre-stop delay (until then new checkouts
        // are served as usual): from then on new checkouts, cancellations and
        // drives are refused, and the connections stay open until the sagas
        // in flight are done, so that a late call on them gets a clean
        // UNAVAILABLE from the drain, not the INTERNAL that tonic gives a
        // call on a connection being closed.
        let settled = || {
            let drain = drain.clone();
            async move {
                drain.begin();
                drain.sagas_finished(drain_timeout).await;
            }
        };
        let service = ReservationServiceServer::new(api);
        Ok(host.serve_settling(service, auth, shutdown, settled).await?)
    }
}
