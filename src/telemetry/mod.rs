//! Telemetry set-up: logs on stderr (text, or JSON with the `trace_id` and
//! `span_id` of the current span), filtered by `RUST_LOG` (default `info`), and
//! OpenTelemetry traces exported over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
//! set, with the standard `OTEL_*` variables (`OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG`, parent-based always-on by default,
//! `OTEL_BSP_*`). With neither set, no OpenTelemetry layer is installed: spans
//! stay plain `tracing` spans, nothing is exported and nothing is propagated.
//!
//! The spans themselves come from [`rpc`] (one per call, in and out), the
//! saga and the stores; [`propagation`] carries W3C trace context in gRPC
//! metadata; the metrics are in [`crate::metrics`].

pub mod logs;
pub mod propagation;
pub mod rpc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryArgs};

/// The targets whose spans go to OpenTelemetry: the platform's own crates
/// (`travel`, `travel_auth`, …), at INFO and above. Not the transport's
/// (h2, hyper, tonic): their spans are noise, and the exporter's own calls
/// would otherwise trace themselves.
const TRACED_TARGETS: &str = "travel";

/// The tracer provider, while traces are exported; [`Telemetry::shutdown`]
/// sends what is still buffered.
#[derive(Debug, Default)]
#[must_use = "call shutdown() at the end, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes the spans still buffered and stops the exporter (bounded by
    /// the SDK's export timeout). Runs on a blocking thread: the batch
    /// processor's shutdown waits for its export thread.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = stopped {
                tracing::warn!(error = %e, "could not flush the last spans to the OTLP collector");
            }
        }
    }
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built from the `OTEL_EXPORTER_OTLP_*` settings.
    #[error("cannot set up the OTLP trace exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// Installs the global subscriber for a process named `service_name` (the
/// resource's `service.name` unless `OTEL_SERVICE_NAME` or
/// `OTEL_RESOURCE_ATTRIBUTES` names one). Call it inside the Tokio runtime
/// (the exporter's gRPC client needs it). A second call (tests) installs
/// nothing and exports nothing.
pub fn init(args: &TelemetryArgs, service_name: &'static str) -> Result<Telemetry, TelemetryError> {
    let provider = if otlp_configured() {
        Some(provider(service_name)?)
    } else {
        None
    };
    let otel = provider.as_ref().map(|p| traces(p.tracer(service_name)));
    let installed = tracing_subscriber::registry()
        .with(otel)
        .with(log_lines(args.log_format))
        .try_init()
        .is_ok();
    if !installed {
        return Ok(Telemetry::default());
    }
    if provider.is_some() {
        tracing::info!("exporting traces over OTLP/gRPC");
    }
    Ok(Telemetry { provider })
}

/// The OpenTelemetry layer over `tracer`, for the platform's own spans. Tests
/// put it in front of the SDK's in-memory exporter.
pub fn traces<S, T>(tracer: T) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    T: opentelemetry::trace::Tracer + Send + Sync + 'static,
    T::Span: Send + Sync,
{
    let only_ours: tracing_subscriber::filter::Targets = [(TRACED_TARGETS, tracing::Level::INFO)].into_iter().collect();
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // What a trace viewer needs, not the tracing crate's bookkeeping
        // (source locations, targets, busy/idle nanoseconds on every span).
        .with_threads(false)
        .with_location(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(only_ours)
}

/// Log lines on stderr in `format`, filtered by `RUST_LOG` (default `info`).
fn log_lines<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines
            .json()
            .event_format(logs::JsonWithTraceIds::default())
            .with_filter(filter)
            .boxed(),
    }
}

/// Whether an OTLP endpoint for traces is configured.
fn otlp_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// A tracer provider exporting in batches over OTLP/gRPC, with the sampler
/// from `OTEL_TRACES_SAMPLER` (the SDK reads it; parent-based always-on by
/// default) and the resource from the environment.
fn provider(service_name: &'static str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
    let mut resource = Resource::builder();
    if !service_name_configured() {
        resource = resource.with_service_name(service_name);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// Whether the environment names the service (`OTEL_SERVICE_NAME`, or
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`).
fn service_name_configured() -> bool {
    std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES")
            .is_ok_and(|v| v.split(',').any(|kv| kv.trim_start().starts_with("service.name=")))
}
