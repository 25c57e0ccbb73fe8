//! Prometheus metrics: each service's own [`Registry`], served as text on
//! `/metrics` over HTTP on its own port ([`serve`]); the RED series of every
//! call ([`RpcMetrics`], recorded by [`crate::telemetry::rpc`]); the database
//! pool's gauges ([`PoolMetrics`]). Domain metrics are registered by the
//! service that owns them, into the registry its host gives it.
//!
//! Conventions: base units in names (`_seconds`), `_total` on counters, label
//! values from small fixed sets — never an id.

use std::net::SocketAddr;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use prometheus::{Registry, Result};

/// Latency buckets, in seconds, of every duration histogram: from 5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The RED series of the calls a server handles, named as grpc-ecosystem's
/// go-grpc-prometheus names them, so that existing dashboards work:
/// `grpc_server_handled_total{grpc_service, grpc_method, grpc_code}` and the
/// `grpc_server_handling_seconds{grpc_service, grpc_method}` histogram.
#[derive(Debug, Clone)]
pub struct RpcMetrics {
    pub(crate) handled: IntCounterVec,
    pub(crate) handling: HistogramVec,
}

impl RpcMetrics {
    /// Registers the series in `registry`.
    pub fn register(registry: &Registry) -> Result<Self> {
        let handled = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "Calls completed by the server, by service, method and gRPC status code.",
            ),
            &["grpc_service", "grpc_method", "grpc_code"],
        )?;
        let handling = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "Time from a call's arrival until its status was sent, by service and method.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["grpc_service", "grpc_method"],
        )?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(handling.clone()))?;
        Ok(Self { handled, handling })
    }
}

/// The database pool's gauges, read at each scrape:
/// `travel_db_pool_connections{state="in_use"|"idle"}` and
/// `travel_db_pool_max_connections`. How long callers waited for a write
/// transaction is `travel_db_write_wait_seconds` (see [`crate::db`]).
#[derive(Debug)]
pub struct PoolMetrics {
    pool: sqlx::AnyPool,
    connections: IntGaugeVec,
    max: IntGauge,
    descs: Vec<Desc>,
}

impl PoolMetrics {
    /// The gauges of `pool`, which holds at most `max_connections`.
    pub fn new(pool: sqlx::AnyPool, max_connections: u32) -> Result<Self> {
        let connections = IntGaugeVec::new(
            Opts::new(
                "travel_db_pool_connections",
                "Open database connections, in use by a call or idle in the pool.",
            ),
            &["state"],
        )?;
        let max = IntGauge::new(
            "travel_db_pool_max_connections",
            "Most database connections the pool opens; callers wait beyond it.",
        )?;
        max.set(i64::from(max_connections));
        let descs = connections.desc().into_iter().chain(max.desc()).cloned().collect();
        Ok(Self {
            pool,
            connections,
            max,
            descs,
        })
    }
}

impl Collector for PoolMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let size = i64::from(self.pool.size());
        let idle = i64::try_from(self.pool.num_idle()).unwrap_or(i64::MAX).min(size);
        self.connections.with_label_values(&["in_use"]).set(size - idle);
        self.connections.with_label_values(&["idle"]).set(idle);
        let mut families = self.connections.collect();
        families.extend(self.max.collect());
        families
    }
}

/// Serves `registry` as Prometheus text on `GET /metrics` (anything else is
/// 404) on `listener`, until `stop` is cancelled.
pub async fn serve(listener: TcpListener, registry: Registry, stop: CancellationToken) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move { render(&registry) }
        }),
    );
    let addr = listener.local_addr().ok();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!(error = %e, addr = ?addr, "the /metrics server stopped");
    }
}

/// The text exposition of `registry`, or 500 if it cannot be encoded.
fn render(registry: &Registry) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    match TextEncoder::new().encode_to_string(&registry.gather()) {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The URL at which a `/metrics` server bound to `addr` is scraped.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/metrics")
}
