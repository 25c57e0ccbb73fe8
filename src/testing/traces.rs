//! The spans the tests make, recorded in memory: the kit's OpenTelemetry
//! layer ([`crate::telemetry::traces`]) in front of the SDK's in-memory
//! exporter, installed as the process's global subscriber the first time a
//! test asks for it.
//!
//! Global, not per thread: a span entered on another thread (sqlx's SQLite
//! workers enter the span of each command they run) is closed through that
//! thread's default subscriber, so with a thread-local one it would never
//! close, and tracing's per-callsite interest cache would race between tests.
//! Tests run in parallel and share the recorder, so each test starts its own
//! trace ([`traceparent`]) and reads only that trace ([`Traces::trace`]).

use std::sync::OnceLock;

use opentelemetry::trace::{TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt as _;

pub use opentelemetry_sdk::trace::SpanData as Span;

/// The process's span recorder.
#[derive(Debug, Clone)]
pub struct Traces {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

static RECORDER: OnceLock<Traces> = OnceLock::new();

impl Traces {
    /// The recorder, installed as the global subscriber on first use.
    ///
    /// # Panics
    /// If another global subscriber was installed first (a test bug).
    pub fn capture() -> Self {
        RECORDER
            .get_or_init(|| {
                let exporter = InMemorySpanExporter::default();
                let provider = SdkTracerProvider::builder()
                    .with_simple_exporter(exporter.clone())
                    .build();
                let subscriber = tracing_subscriber::registry().with(crate::telemetry::traces(provider.tracer("test")));
                tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in tests");
                Self { exporter, provider }
            })
            .clone()
    }

    /// Every span of every test that has ended so far.
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// The spans of trace `trace_id` once its span named `root` has ended and
    /// no more have ended for a few polls (bounded: 10 s). Why wait: a span
    /// may end a moment after the call's answer (sqlx's worker thread lets go
    /// of a query's span after sending its rows), and the spans of another
    /// service in the trace end on their own (they are below the caller's only
    /// through the trace context, not in-process).
    pub async fn trace_below(&self, trace_id: TraceId, root: &str) -> Vec<SpanData> {
        let mut seen = 0;
        let mut stable = 0;
        for _ in 0..500 {
            let spans = self.trace(trace_id);
            if spans.iter().any(|s| s.name == root) {
                stable = if spans.len() == seen { stable + 1 } else { 0 };
                if stable >= 3 {
                    return spans;
                }
            }
            seen = spans.len();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.trace(trace_id)
    }

    /// The spans of trace `trace_id` that have ended so far.
    pub fn trace(&self, trace_id: TraceId) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace_id)
            .collect()
    }
}

/// A new trace, as a caller would start it: its id, and the `traceparent`
/// header value of its (remote, sampled) root span.
pub fn traceparent() -> (TraceId, String) {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("random bytes");
    let (trace, span) = bytes.split_at(16);
    let trace: [u8; 16] = trace.try_into().expect("16 bytes");
    let span_hex: String = span.iter().map(|b| format!("{b:02x}")).collect();
    let trace_id = TraceId::from_bytes(trace);
    (trace_id, format!("00-{trace_id}-{span_hex}-01"))
}

/// The value of `span`'s attribute `key`, as text.
pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}
