//! The spans one test makes, recorded in memory: the kit's OpenTelemetry
//! layer ([`crate::telemetry::traces`]) in front of the SDK's in-memory
//! exporter, installed as this thread's subscriber. Run the test on a
//! current-thread runtime (`#[tokio::test]`, the default flavour), so that
//! every service the test spawns records here too.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt as _;

pub use opentelemetry_sdk::trace::SpanData as Span;

/// Spans being recorded, until dropped.
#[derive(Debug)]
pub struct Traces {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _installed: tracing::subscriber::DefaultGuard,
}

impl Traces {
    /// Starts recording every span of this thread.
    pub fn capture() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(crate::telemetry::traces(provider.tracer("test")));
        let installed = tracing::subscriber::set_default(subscriber);
        Self {
            exporter,
            provider,
            _installed: installed,
        }
    }

    /// The spans that have ended so far.
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap_or_default()
    }
}

/// The value of `span`'s attribute `key`, as text.
pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}
