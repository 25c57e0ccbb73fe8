//! The service host: what every service does around its own API. It connects
//! the database and runs the service's embedded migrations ([`migrations!`]),
//! binds the listener, serves the API with the message limits, health,
//! reflection and the kit's layers (`server.rs`), runs the service's
//! background tasks and, on shutdown, stops them (a [`CancellationToken`],
//! waited for with a [`TaskTracker`]) once the service's work in flight has
//! settled and the connections have drained, then closes the database.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::SharedClock;
use crate::access::Authenticate;
use crate::config::{AuthArgs, HostArgs, ServerArgs};
use crate::db::{Database, Migrations};
use crate::key_ring::KeyRing;
use crate::metrics::{Registry, RpcMetrics};
use crate::server::ServeError;
use crate::telemetry::rpc::ObserveLayer;

/// The service's embedded migrations, `migrations/sqlite` and
/// `migrations/postgres` under the calling crate, as a `&'static Migrations`
/// for [`ServiceHost::start`]. The calling crate depends on `sqlx` (whose
/// `migrate!` embeds the files at compile time).
#[macro_export]
macro_rules! migrations {
    () => {{
        static SQLITE: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/sqlite");
        static POSTGRES: ::sqlx::migrate::Migrator = ::sqlx::migrate!("migrations/postgres");
        static MIGRATIONS: $crate::db::Migrations = $crate::db::Migrations {
            sqlite: &SQLITE,
            postgres: &POSTGRES,
        };
        &MIGRATIONS
    }};
}

/// A generated gRPC server of one of the contracts, which the host serves.
pub trait GrpcService: NamedService {
    /// The server with its messages limited to `max_message_bytes` both ways,
    /// as routes.
    fn into_routes(self, max_message_bytes: usize) -> Routes;
}

macro_rules! grpc_services {
    ($($server:path => $api:path),* $(,)?) => {$(
        impl<T: $api> GrpcService for $server {
            fn into_routes(self, max_message_bytes: usize) -> Routes {
                Routes::new(
                    self.max_decoding_message_size(max_message_bytes)
                        .max_encoding_message_size(max_message_bytes),
                )
            }
        }
    )*};
}

grpc_services! {
    crate::pb::auth::v1::auth_service_server::AuthServiceServer<T> =>
        crate::pb::auth::v1::auth_service_server::AuthService,
    crate::pb::flight::v1::flight_service_server::FlightServiceServer<T> =>
        crate::pb::flight::v1::flight_service_server::FlightService,
    crate::pb::hotel::v1::hotel_service_server::HotelServiceServer<T> =>
        crate::pb::hotel::v1::hotel_service_server::HotelService,
    crate::pb::reservation::v1::reservation_service_server::ReservationServiceServer<T> =>
        crate::pb::reservation::v1::reservation_service_server::ReservationService,
}

/// What a service that verifies tokens depends on besides its settings (the
/// flight and hotel services'; tests give their own).
#[derive(Debug, Clone)]
pub struct Deps {
    /// Decides when holds and tokens expire.
    pub clock: SharedClock,
    /// Verifies the tokens of incoming calls.
    pub keys: Arc<KeyRing>,
}

impl Deps {
    /// The production ones: the system clock, and the signing keys fetched from
    /// the auth service named in `auth` (if auth is not up yet, they are
    /// fetched when the first token arrives).
    pub async fn production(auth: &AuthArgs) -> Result<Self, crate::discovery::TargetError> {
        Ok(Self {
            clock: Arc::new(crate::SystemClock),
            keys: Arc::new(KeyRing::connect(auth).await?),
        })
    }
}

/// Token verification as every service that checks callers sets it up: with
/// `keys`, the expectations of `auth`, and `clock`, counting refusals in the
/// service's `registry` (`travel_token_refusals_total`).
pub fn verify_tokens(
    keys: Arc<KeyRing>,
    auth: &AuthArgs,
    clock: SharedClock,
    registry: &Registry,
) -> crate::metrics::Result<Authenticate> {
    let refusals = crate::access::TokenRefusals::register(registry)?;
    Ok(Authenticate::new(keys, auth.expectations(), clock, refusals))
}

/// A service's database and listener, ready to serve, with its background tasks.
#[derive(Debug)]
pub struct ServiceHost {
    listener: TcpListener,
    listen: SocketAddr,
    metrics_listener: TcpListener,
    metrics_listen: SocketAddr,
    metrics: Registry,
    rpc_metrics: RpcMetrics,
    database: Database,
    server: ServerArgs,
    stop_tasks: CancellationToken,
    tasks: TaskTracker,
}

impl ServiceHost {
    /// Binds `listen` for gRPC and `metrics_listen` for Prometheus's
    /// `/metrics`, then connects the database at `database_url` and brings its
    /// schema up to date with `migrations`.
    ///
    /// Binding comes first, at once: while the migrations run, an outgoing
    /// connection on this machine (a client polling for the service, another
    /// service calling auth) could otherwise be given this service's port as
    /// its local port — the stack's default ports lie in Linux's ephemeral
    /// range — and the bind would fail with "address in use". Connections that
    /// arrive meanwhile wait in the listen backlog until the service serves.
    pub async fn start(
        listen: SocketAddr,
        metrics_listen: SocketAddr,
        database_url: &str,
        args: &HostArgs,
        migrations: &Migrations,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for gRPC on {listen}: {e}"))?;
        let metrics_listener = TcpListener::bind(metrics_listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for /metrics on {metrics_listen}: {e}"))?;
        let database = Database::connect(database_url, &args.database, migrations).await?;
        let metrics = Registry::new();
        let rpc_metrics = RpcMetrics::register(&metrics)?;
        database.register_metrics(&metrics)?;
        Ok(Self {
            listener,
            listen,
            metrics_listener,
            metrics_listen,
            metrics,
            rpc_metrics,
            database,
            server: args.server.clone(),
            stop_tasks: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }

    /// The migrated database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The address the service listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.listen)
    }

    /// The address `/metrics` is served on.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_listener.local_addr().unwrap_or(self.metrics_listen)
    }

    /// The service's metrics registry: the service registers its own domain
    /// metrics here; `/metrics` serves it with the RED series and the pool's.
    pub fn metrics(&self) -> &Registry {
        &self.metrics
    }

    /// Runs a background task from now on; it must end once the token it is
    /// given is cancelled, which happens on shutdown (see [`crate::background`]).
    pub fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.stop_tasks.clone()));
    }

    /// Serves `service`, every call passing through `auth`, until `shutdown`
    /// resolves; then drains (see [`crate::server::serve_settling`]), stops the
    /// background tasks and closes the database.
    pub async fn serve<S: GrpcService>(
        self,
        service: S,
        auth: Authenticate,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        self.serve_settling(service, auth, shutdown, || std::future::ready(()))
            .await
    }

    /// As [`ServiceHost::serve`], with the settling phase of
    /// [`crate::server::serve_settling`]: once `shutdown` resolves, the
    /// connections stay open until `settled()` resolves (the service's own work
    /// in flight is done); it is awaited again after the server stopped (which
    /// it may do early, on a transport error) and before the background tasks
    /// stop and the database closes.
    pub async fn serve_settling<S, Settled, SettledFut>(
        self,
        service: S,
        auth: Authenticate,
        shutdown: impl Future<Output = ()> + Send,
        settled: Settled,
    ) -> Result<(), ServeError>
    where
        S: GrpcService,
        Settled: Fn() -> SettledFut,
        SettledFut: Future<Output = ()> + Send,
    {
        let routes = service.into_routes(self.server.max_message_bytes);
        let (metrics_listener, registry) = (self.metrics_listener, self.metrics);
        self.tasks.spawn(crate::metrics::serve(
            metrics_listener,
            registry,
            self.stop_tasks.clone(),
        ));
        let layers = crate::server::Layers {
            observe: ObserveLayer::new(self.rpc_metrics),
            shed: crate::shed::ShedLayer::new(self.server.max_concurrent_calls),
            auth,
        };
        let served = crate::server::Served {
            routes,
            names: &[S::NAME],
            database: self.database.clone(),
        };
        let served =
            crate::server::serve_settling(self.listener, served, &self.server, layers, shutdown, settled()).await;
        settled().await;
        self.stop_tasks.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.database.close().await;
        served
    }
}
