//! JSON log lines that lead to the trace: each one carries the `trace_id` and
//! `span_id` of the span it was written in, as the OTLP collector and trace
//! viewers show them (32 and 16 lowercase hex digits), when traces are on.

use std::fmt;

use opentelemetry::trace::TraceContextExt as _;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::registry::LookupSpan;

/// tracing-subscriber's JSON line, with `"trace_id"` and `"span_id"` first
/// when the event happened inside a span that OpenTelemetry records.
///
/// Where the ids come from: on entering a span, the OpenTelemetry layer makes
/// the span's context the thread's current one (context activation), so the
/// current context is that of the innermost traced span.
#[derive(Debug)]
pub struct JsonWithTraceIds {
    inner: Format<Json>,
}

impl Default for JsonWithTraceIds {
    fn default() -> Self {
        Self {
            inner: tracing_subscriber::fmt::format().json(),
        }
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let current = opentelemetry::Context::current();
        let span = current.span();
        let ids = span.span_context();
        if !ids.is_valid() {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        // The inner line is one JSON object: open it with the ids.
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{}\",\"span_id\":\"{}\",{rest}",
                ids.trace_id(),
                ids.span_id()
            ),
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Log lines written to memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_json_line_in_a_traced_span_carries_its_trace_and_span_ids() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::registry()
            .with(crate::telemetry::traces(provider.tracer("test")))
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(JsonWithTraceIds::default())
                    .with_writer(move || writer.clone()),
            );

        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any span");
            tracing::info_span!("travel.work").in_scope(|| tracing::info!(answer = 42, "inside"));
        });

        let _ = provider.force_flush();
        let span = exporter.get_finished_spans().unwrap().pop().expect("one span");
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let parsed: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
        assert_eq!(parsed.len(), 2, "{text}");
        assert!(parsed[0].get("trace_id").is_none(), "{text}");
        assert_eq!(parsed[1]["trace_id"], span.span_context.trace_id().to_string());
        assert_eq!(parsed[1]["span_id"], span.span_context.span_id().to_string());
        assert_eq!(parsed[1]["fields"]["answer"], 42);
    }
}
