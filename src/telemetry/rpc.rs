//! Every gRPC call observed, in and out: a tower layer on the server
//! ([`ObserveLayer`]) makes one `server` span per call — with the semantic
//! conventions' `rpc.*` attributes, the peer, and the caller's W3C trace
//! context as its parent — and records the RED series ([`RpcMetrics`]); a
//! wrapper around client channels ([`traced`]) makes one `client` span per
//! outgoing call and sends the trace context along with it.
//!
//! The status code of a call is in the response headers when the call failed
//! at once (a trailers-only response), in the trailers otherwise: both are
//! read, so the span and the series end when the status is sent. A call
//! whose response was dropped before its status (the client went away) counts
//! as CANCELLED.
//!
//! Label values are bounded: a method the contracts do not name counts as
//! `unknown` (a client can send any path).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tonic::Code;
use tracing::Instrument as _;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::metrics::RpcMetrics;
use crate::telemetry::propagation;

/// The name of a gRPC status code as Prometheus dashboards know it (grpc-go's
/// `codes.Code.String()`: `OK`, `InvalidArgument`…).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Whether `code` is the server's fault, which marks a server span as an
/// error (the semantic conventions' rule; a client error such as
/// INVALID_ARGUMENT is the server doing its job).
pub fn server_fault(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// A method of the contracts: its service, its name, and the span name
/// `service/method`.
#[derive(Debug)]
struct Method {
    service: String,
    name: String,
    span_name: String,
}

/// Every method the platform serves or calls, by request path
/// (`/travel.flight.v1.FlightService/GetFlight`): those of `proto/`, health
/// and reflection.
static METHODS: LazyLock<HashMap<String, Method>> = LazyLock::new(|| {
    use prost::Message as _;
    let sets = [
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashMap::new();
    for set in sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
            continue;
        };
        for file in &set.file {
            for service in &file.service {
                let full = match file.package() {
                    "" => service.name().to_owned(),
                    package => format!("{package}.{}", service.name()),
                };
                for method in &service.method {
                    let span_name = format!("{full}/{}", method.name());
                    methods.insert(
                        format!("/{span_name}"),
                        Method {
                            service: full.clone(),
                            name: method.name().to_owned(),
                            span_name,
                        },
                    );
                }
            }
        }
    }
    methods
});

/// The unknown method: what any other path is counted as.
static UNKNOWN: LazyLock<Method> = LazyLock::new(|| Method {
    service: "unknown".to_owned(),
    name: "unknown".to_owned(),
    span_name: "unknown".to_owned(),
});

fn method_of(path: &str) -> &'static Method {
    METHODS.get(path).unwrap_or(&UNKNOWN)
}

/// The status code in `headers` (`grpc-status`), if there is one.
fn status_in(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.parse().ok()?))
}

/// Observes every call a server handles: the kit installs it outermost, so
/// that what the layers inside refuse (a bad token) is observed too.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: RpcMetrics,
}

impl ObserveLayer {
    /// Records the RED series in `metrics`.
    pub fn new(metrics: RpcMetrics) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: Some(self.metrics.clone()),
        }
    }
}

/// The service [`ObserveLayer`] wraps around the server's routes, and
/// [`traced`] around a client's channel.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    /// The server's RED series; `None` on a client.
    metrics: Option<RpcMetrics>,
}

/// A client channel whose every call is a `client` span that carries the
/// trace context to the server.
pub type TracedChannel = Observe<tonic::transport::Channel>;

/// `channel`, with every call traced: what every client of the platform
/// calls through.
pub fn traced(channel: tonic::transport::Channel) -> TracedChannel {
    Observe {
        inner: channel,
        metrics: None,
    }
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for Observe<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Body,
{
    type Response = http::Response<Observed<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let method = method_of(request.uri().path());
        let span = match self.metrics {
            Some(_) => server_span(method, &request),
            None => client_span(method, &mut request),
        };
        let future = span.in_scope(|| self.inner.call(request)).instrument(span.clone());
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = future.await?;
            let call = Call {
                method,
                started,
                span,
                metrics,
                done: false,
            };
            let (parts, body) = response.into_parts();
            let call = match status_in(&parts.headers) {
                Some(code) => {
                    call.finish(code);
                    None
                }
                None => Some(call),
            };
            Ok(http::Response::from_parts(parts, Observed { inner: body, call }))
        })
    }
}

/// The span of a call `request` makes to this server, its parent the trace
/// context the caller sent.
fn server_span<B>(method: &Method, request: &http::Request<B>) -> tracing::Span {
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = %method.span_name,
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = %method.service,
        rpc.method = %method.name,
        rpc.grpc.status_code = Empty,
        client.address = Empty,
        client.port = Empty,
    );
    let peer = request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr());
    if let Some(peer) = peer {
        span.record("client.address", tracing::field::display(peer.ip()));
        span.record("client.port", i64::from(peer.port()));
    }
    let parent = propagation::extract(request.headers());
    if opentelemetry::trace::TraceContextExt::span(&parent)
        .span_context()
        .is_valid()
    {
        // Fails only once the span has started, which it has not.
        let _ = span.set_parent(parent);
    }
    span
}

/// The span of a call this process makes with `request`, whose headers get
/// its trace context.
fn client_span<B>(method: &Method, request: &mut http::Request<B>) -> tracing::Span {
    let span = tracing::info_span!(
        "grpc.client",
        otel.name = %method.span_name,
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = %method.service,
        rpc.method = %method.name,
        rpc.grpc.status_code = Empty,
        server.address = Empty,
        server.port = Empty,
    );
    if let Some(host) = request.uri().host() {
        span.record("server.address", host);
    }
    if let Some(port) = request.uri().port_u16() {
        span.record("server.port", i64::from(port));
    }
    propagation::inject(&span.context(), request.headers_mut());
    span
}

/// A call until its status is known: then its span ends and, on a server,
/// the series count it.
struct Call {
    method: &'static Method,
    started: Instant,
    span: tracing::Span,
    metrics: Option<RpcMetrics>,
    done: bool,
}

impl Call {
    fn finish(mut self, code: Code) {
        self.record(code);
        self.done = true;
    }

    fn record(&self, code: Code) {
        self.span.record("rpc.grpc.status_code", code as i32);
        match &self.metrics {
            Some(metrics) => {
                if server_fault(code) {
                    self.span.record("otel.status_code", "ERROR");
                }
                let (service, method) = (self.method.service.as_str(), self.method.name.as_str());
                metrics
                    .handled
                    .with_label_values(&[service, method, code_name(code)])
                    .inc();
                metrics
                    .handling
                    .with_label_values(&[service, method])
                    .observe(self.started.elapsed().as_secs_f64());
            }
            None if code != Code::Ok => {
                self.span.record("otel.status_code", "ERROR");
            }
            None => {}
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            self.record(Code::Cancelled);
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends its call when the trailers (with the status)
    /// go through.
    pub struct Observed<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for Observed<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|t| status_in(t).unwrap_or(Code::Unknown)),
            // The body failed, or ended without a status: no answer the
            // client could read.
            Poll::Ready(Some(Err(_)) | None) => Some(Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(call) = this.call.take()
        {
            call.finish(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::{BodyExt as _, StreamBody};
    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;
    use crate::metrics::Registry;
    use crate::testing::traces::{Traces, attribute, traceparent};

    type Frames = StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    /// A response with one message and then trailers with `code`.
    fn answered(code: Code) -> http::Response<Frames> {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", (code as i32).into());
        let frames = vec![
            Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\0"))),
            Ok(Frame::trailers(trailers)),
        ];
        http::Response::new(StreamBody::new(futures::stream::iter(frames)))
    }

    /// A trailers-only response: the status in the headers, no body.
    fn refused(code: Code) -> http::Response<Frames> {
        let mut response = http::Response::new(StreamBody::new(futures::stream::iter(Vec::new())));
        response.headers_mut().insert("grpc-status", (code as i32).into());
        response
    }

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).expect("request")
    }

    fn handled(registry: &Registry, service: &str, method: &str, code: &str) -> u64 {
        registry
            .gather()
            .iter()
            .filter(|family| family.name() == "grpc_server_handled_total")
            .flat_map(|family| family.get_metric())
            .filter(|metric| {
                let labels: Vec<(&str, &str)> = metric.get_label().iter().map(|l| (l.name(), l.value())).collect();
                labels.contains(&("grpc_service", service))
                    && labels.contains(&("grpc_method", method))
                    && labels.contains(&("grpc_code", code))
            })
            .map(|metric| metric.get_counter().get_value() as u64)
            .sum()
    }

    async fn observe(
        response: fn() -> http::Response<Frames>,
    ) -> (
        Registry,
        Observe<
            impl tower::Service<
                http::Request<()>,
                Response = http::Response<Frames>,
                Error = Infallible,
                Future: Send + 'static,
            >,
        >,
    ) {
        let registry = Registry::new();
        let layer = ObserveLayer::new(RpcMetrics::register(&registry).expect("register"));
        let inner = tower::service_fn(move |_: http::Request<()>| async move { Ok::<_, Infallible>(response()) });
        (registry, layer.layer(inner))
    }

    const GET_FLIGHT: &str = "/travel.flight.v1.FlightService/GetFlight";

    #[tokio::test]
    async fn an_immediate_error_counts_by_the_code_in_the_headers() {
        let (registry, mut service) = observe(|| refused(Code::InvalidArgument)).await;
        let response = service.ready().await.unwrap().call(request(GET_FLIGHT)).await.unwrap();
        drop(response);
        assert_eq!(
            handled(
                &registry,
                "travel.flight.v1.FlightService",
                "GetFlight",
                "InvalidArgument"
            ),
            1
        );
        assert_eq!(
            handled(&registry, "travel.flight.v1.FlightService", "GetFlight", "Canceled"),
            0
        );
    }

    #[tokio::test]
    async fn an_answer_counts_by_the_code_in_the_trailers_once_they_are_sent() {
        let (registry, mut service) = observe(|| answered(Code::Ok)).await;
        let response = service.ready().await.unwrap().call(request(GET_FLIGHT)).await.unwrap();
        assert_eq!(
            handled(&registry, "travel.flight.v1.FlightService", "GetFlight", "OK"),
            0,
            "not before the trailers"
        );
        let collected = response.into_body().collect().await.unwrap();
        assert!(collected.trailers().is_some());
        assert_eq!(
            handled(&registry, "travel.flight.v1.FlightService", "GetFlight", "OK"),
            1
        );
    }

    #[tokio::test]
    async fn an_answer_dropped_before_its_status_counts_as_cancelled() {
        let (registry, mut service) = observe(|| answered(Code::Ok)).await;
        let response = service.ready().await.unwrap().call(request(GET_FLIGHT)).await.unwrap();
        drop(response);
        assert_eq!(
            handled(&registry, "travel.flight.v1.FlightService", "GetFlight", "Canceled"),
            1
        );
        assert_eq!(
            handled(&registry, "travel.flight.v1.FlightService", "GetFlight", "OK"),
            0
        );
    }

    #[tokio::test]
    async fn a_path_the_contracts_do_not_name_is_counted_as_unknown() {
        let (registry, mut service) = observe(|| refused(Code::Unimplemented)).await;
        for path in ["/travel.flight.v1.FlightService/Nope", "/made.up.Service/AnyId-1234"] {
            drop(service.ready().await.unwrap().call(request(path)).await.unwrap());
        }
        assert_eq!(handled(&registry, "unknown", "unknown", "Unimplemented"), 2);
    }

    #[tokio::test]
    async fn the_server_span_continues_the_callers_trace_and_carries_the_status() {
        let traces = Traces::capture();
        let (trace_id, traceparent) = traceparent();
        let (_registry, mut service) = observe(|| refused(Code::Internal)).await;
        let mut call = request(GET_FLIGHT);
        call.headers_mut()
            .insert("traceparent", traceparent.parse().expect("header value"));
        drop(service.ready().await.unwrap().call(call).await.unwrap());

        let spans = traces.trace(trace_id);
        let [span] = spans.as_slice() else {
            panic!("one span in the trace: {spans:?}");
        };
        assert_eq!(span.name, "travel.flight.v1.FlightService/GetFlight");
        assert_eq!(format!("00-{trace_id}-{}-01", span.parent_span_id), traceparent);
        assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Server);
        assert_eq!(attribute(span, "rpc.system").as_deref(), Some("grpc"));
        assert_eq!(attribute(span, "rpc.method").as_deref(), Some("GetFlight"));
        assert_eq!(attribute(span, "rpc.grpc.status_code").as_deref(), Some("13"));
        assert!(
            matches!(span.status, opentelemetry::trace::Status::Error { .. }),
            "{:?}",
            span.status
        );
    }

    #[tokio::test]
    async fn a_client_call_sends_the_current_trace_context() {
        let traces = Traces::capture();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let recorder = seen.clone();
        let inner = tower::service_fn(move |request: http::Request<()>| {
            let traceparent = request.headers().get("traceparent").cloned();
            *recorder.lock().unwrap() = traceparent;
            async move { Ok::<_, Infallible>(refused(Code::Ok)) }
        });
        let mut client = Observe { inner, metrics: None };
        let (trace_id, traceparent) = traceparent();
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", traceparent.parse().expect("header value"));
        let parent = tracing::info_span!("saga.step");
        parent.set_parent(propagation::extract(&headers)).expect("not started");
        async {
            drop(client.ready().await.unwrap().call(request(GET_FLIGHT)).await.unwrap());
        }
        .instrument(parent)
        .await;

        let spans = traces.trace(trace_id);
        let client_span = spans
            .iter()
            .find(|s| s.span_kind == opentelemetry::trace::SpanKind::Client)
            .expect("client span");
        let step = spans.iter().find(|s| s.name == "saga.step").expect("parent span");
        assert_eq!(client_span.parent_span_id, step.span_context.span_id());
        let sent = seen.lock().unwrap().clone().expect("a traceparent was sent");
        assert_eq!(
            sent.to_str().unwrap(),
            format!("00-{trace_id}-{}-01", client_span.span_context.span_id())
        );
    }
}
