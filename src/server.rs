//! Server bootstrap shared by every service: the gRPC server with explicit
//! limits, `grpc.health.v1.Health`, server reflection (v1 and v1alpha, so that
//! grpcurl 1.8 works; with the `google.rpc` error details), and graceful shutdown — health turns NOT_SERVING first,
//! then in-flight calls get a bounded time to finish.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

use crate::access::Authenticate;
use crate::config::ServerArgs;
use crate::db::{Database, Reachability};
use crate::shed::ShedLayer;
use crate::telemetry::rpc::ObserveLayer;

/// What reflection publishes besides the `google.rpc` error details: the
/// contracts and health.
const DESCRIPTOR_SETS: [&[u8]; 2] = [crate::pb::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET];

/// The `google.rpc` error-detail messages (`BadRequest`, `ErrorInfo`,
/// `RetryInfo`…) and `google.rpc.Status`, with the files they import, so that
/// grpcurl prints a status's details as text, not as a base64 blob. They come
/// from tonic-types (what the services build their details with), whose set
/// names the two files without their directory: they are published under
/// their standard paths, `google/rpc/status.proto` and
/// `google/rpc/error_details.proto`, as clients expect.
fn error_detail_descriptors() -> Result<prost_types::FileDescriptorSet, prost::DecodeError> {
    use prost::Message;
    let mut set = prost_types::FileDescriptorSet::decode(tonic_types::pb::FILE_DESCRIPTOR_SET)?;
    for file in &mut set.file {
        if file.package() == "google.rpc" && !file.name().contains('/') {
            file.name = Some(format!("google/rpc/{}", file.name()));
        }
    }
    Ok(set)
}

/// The tower layers every call passes through, outermost first.
#[derive(Debug, Clone)]
pub struct Layers {
    /// The span and the RED series of the call (outermost, so that what the
    /// layers inside refuse is observed too).
    pub observe: ObserveLayer,
    /// Load shedding: at most `--max-concurrent-calls` at once.
    pub shed: ShedLayer,
    /// Bearer-token verification.
    pub auth: Authenticate,
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The reflection service could not be built from the descriptor set.
    #[error("cannot build server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The `google.rpc` descriptors of tonic-types could not be read.
    #[error("cannot read the google.rpc descriptors: {0}")]
    Descriptors(#[from] prost::DecodeError),
    /// The transport failed.
    #[error("gRPC transport error: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// What a service serves: its own gRPC services as `routes`, their full
/// names (the health entries of readiness), and the database whose health
/// its readiness follows.
#[derive(Debug)]
pub struct Served<'a> {
    /// The service's own gRPC services.
    pub routes: Routes,
    /// Their full names (`travel.flight.v1.FlightService`).
    pub names: &'a [&'a str],
    /// The service's database.
    pub database: Database,
}

/// The health entry of liveness: SERVING while the process serves at all,
/// whatever its database does, so that a liveness probe does not restart a
/// service for a database outage.
pub const LIVENESS: &str = "liveness";

/// Serves `served` on `listener`, with health and reflection, every call
/// passing through the kit's `layers` (observation, load shedding, bearer-token
/// verification) and limits, until `shutdown` resolves; then stops in phases.
///
/// Health: the readiness entries (`""` and each service's name) are SERVING
/// while the database answers (checked every `args.health_check_interval`)
/// and the service is not stopping; `liveness` is SERVING throughout.
///
/// Stopping: once `shutdown` resolves, readiness turns NOT_SERVING and the
/// service keeps serving as usual for `args.pre_stop_delay` (load balancers
/// take it out meanwhile). Then it settles: every connection keeps being
/// served until `settled` resolves (the service's own work in flight is done;
/// `settled` is first polled now, so a service begins refusing new work of
/// its own there), and only then are the connections closed (HTTP/2 GOAWAY)
/// and drained. Why: a client's new call on a connection that has received
/// GOAWAY fails in tonic with INTERNAL, not a retryable UNAVAILABLE. Settling
/// and the drain together take at most `args.drain_timeout`.
pub async fn serve_settling(
    listener: TcpListener,
    served: Served<'_>,
    args: &ServerArgs,
    layers: Layers,
    shutdown: impl Future<Output = ()> + Send,
    settled: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let Served {
        routes,
        names: service_names,
        database,
    } = served;
    let (health, health_service) = tonic_health::server::health_reporter();
    let mut reflection = tonic_reflection::server::Builder::configure();
    let mut reflection_alpha = tonic_reflection::server::Builder::configure();
    for set in DESCRIPTOR_SETS {
        reflection = reflection.register_encoded_file_descriptor_set(set);
        reflection_alpha = reflection_alpha.register_encoded_file_descriptor_set(set);
    }
    let details = error_detail_descriptors()?;
    reflection = reflection.register_file_descriptor_set(details.clone());
    reflection_alpha = reflection_alpha.register_file_descriptor_set(details);
    for name in service_names.iter().copied().chain(["grpc.health.v1.Health"]) {
        reflection = reflection.with_service_name(name);
        reflection_alpha = reflection_alpha.with_service_name(name);
    }
    let routes = routes
        .add_service(health_service)
        .add_service(reflection.build_v1()?)
        .add_service(reflection_alpha.build_v1alpha()?);

    // The caller built the database before calling: the service is ready now.
    health.set_service_status(LIVENESS, ServingStatus::Serving).await;
    let readiness = Readiness::new(health, service_names);
    readiness.publish().await;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = Server::builder()
        .concurrency_limit_per_connection(args.max_concurrent_calls_per_connection)
        .max_concurrent_streams(args.max_concurrent_streams)
        .timeout(args.request_timeout)
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_connection_age(args.max_connection_age)
        .max_connection_age_grace(args.max_connection_age_grace)
        .layer(layers.observe)
        .layer(layers.shed)
        .layer(layers.auth)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
            let _ = stop_rx.await;
        });
    tokio::pin!(server);
    let watching = readiness.watch(&database, args.health_check_interval);
    tokio::pin!(watching);

    tokio::select! {
        result = &mut server => return Ok(result?),
        () = shutdown => {}
        () = &mut watching => {}
    }
    tracing::info!(services = ?service_names, pre_stop_delay = ?args.pre_stop_delay, "shutting down: health NOT_SERVING");
    readiness.stop().await;
    tokio::select! {
        result = &mut server => return Ok(result?),
        () = tokio::time::sleep(args.pre_stop_delay) => {}
    }
    tracing::info!(services = ?service_names, "draining in-flight calls");
    let deadline = tokio::time::Instant::now() + args.drain_timeout;
    tokio::select! {
        result = &mut server => return Ok(result?),
        settling = tokio::time::timeout_at(deadline, settled) => {
            if settling.is_err() {
                tracing::warn!(services = ?service_names, timeout = ?args.drain_timeout, "work in flight did not settle within the drain timeout");
            }
        }
    }
    let _ = stop_tx.send(());
    // Whatever is left of the drain timeout, and a moment for the answers of
    // calls that just settled to be written.
    let rest = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(Duration::from_millis(500));
    match tokio::time::timeout(rest, server).await {
        Ok(result) => Ok(result?),
        Err(_) => {
            tracing::warn!(services = ?service_names, timeout = ?args.drain_timeout, "drain timed out; stopping with calls in flight");
            Ok(())
        }
    }
}

/// The readiness entries: SERVING while the database answers and the service
/// is not stopping.
struct Readiness<'a> {
    health: tonic_health::server::HealthReporter,
    names: &'a [&'a str],
    database_up: AtomicBool,
    stopping: AtomicBool,
}

impl<'a> Readiness<'a> {
    fn new(health: tonic_health::server::HealthReporter, names: &'a [&'a str]) -> Self {
        Self {
            health,
            names,
            database_up: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
        }
    }

    async fn publish(&self) {
        let ready = self.database_up.load(Ordering::SeqCst) && !self.stopping.load(Ordering::SeqCst);
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.health.set_service_status("", status).await;
        for name in self.names {
            self.health.set_service_status(*name, status).await;
        }
    }

    async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.publish().await;
    }

    /// Checks `database` every `interval`, forever, publishing what changes.
    async fn watch(&self, database: &Database, interval: Duration) {
        let interval = interval.max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(interval).await;
            let up = match tokio::time::timeout(interval, database.ping()).await {
                Ok(Reachability::Up) => true,
                Ok(Reachability::Down) | Err(_) => false,
                // Busy says nothing new: keep what was known.
                Ok(Reachability::Busy) => continue,
            };
            let was = self.database_up.swap(up, Ordering::SeqCst);
            if was != up {
                if up {
                    tracing::info!(services = ?self.names, "the database answers again: SERVING");
                } else {
                    tracing::warn!(services = ?self.names, "the database does not answer: NOT_SERVING");
                }
                self.publish().await;
            }
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM: the shutdown future of the binaries.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
