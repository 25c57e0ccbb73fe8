//! Load shedding: a service runs at most `--max-concurrent-calls` calls at
//! once — for the whole service, over every connection — and refuses the next
//! one at once with RESOURCE_EXHAUSTED and a retry delay, so that overload
//! cannot grow a queue, or memory, without bound. Health checks are never
//! shed: a probe must see the service as it is, not as busy.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::Code;
use tonic::codegen::http;
use tonic_types::{ErrorDetails, StatusExt as _};

/// How long a refused caller is told to wait before trying again.
pub const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The limit every service installs (in `server::Layers`).
#[derive(Debug, Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    /// At most `max_calls` calls at once (at least one).
    pub fn new(max_calls: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_calls.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

/// The service [`ShedLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

/// The refusal of a call beyond the limit.
fn overloaded() -> tonic::Status {
    tonic::Status::with_error_details(
        Code::ResourceExhausted,
        "the service is at capacity; retry shortly",
        ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
    )
}

impl<S, B> tower::Service<http::Request<B>> for Shed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path().starts_with("/grpc.health.v1.Health/") {
            return Box::pin(self.inner.call(request));
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let call = self.inner.call(request);
                Box::pin(async move {
                    let answered = call.await;
                    drop(permit);
                    answered
                })
            }
            Err(_) => Box::pin(std::future::ready(Ok(overloaded().into_http()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer as _, Service as _, ServiceExt as _};

    use super::*;

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).expect("request")
    }

    fn code(response: &http::Response<tonic::body::Body>) -> Option<Code> {
        tonic::Status::from_header_map(response.headers()).map(|s| s.code())
    }

    #[tokio::test]
    async fn a_call_beyond_the_limit_is_refused_at_once_and_a_health_check_never_is() {
        // Two calls held in the handler; the limit is two.
        let (release, released) = tokio::sync::watch::channel(false);
        let inner = tower::service_fn(move |_: http::Request<()>| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                Ok::<_, Infallible>(http::Response::new(tonic::body::Body::empty()))
            }
        });
        let mut service = ShedLayer::new(2).layer(inner);
        let path = "/travel.flight.v1.FlightService/GetFlight";
        let first = tokio::spawn(service.ready().await.unwrap().call(request(path)));
        let second = tokio::spawn(service.ready().await.unwrap().call(request(path)));

        let third = service.ready().await.unwrap().call(request(path)).await.unwrap();
        assert_eq!(code(&third), Some(Code::ResourceExhausted));
        let status = tonic::Status::from_header_map(third.headers()).expect("status");
        let retry = status.get_error_details().retry_info().and_then(|r| r.retry_delay);
        assert_eq!(retry, Some(RETRY_AFTER));

        // A health check is served even now (it waits in the handler like the others).
        let health = tokio::spawn(
            service
                .ready()
                .await
                .unwrap()
                .call(request("/grpc.health.v1.Health/Check")),
        );
        release.send(true).unwrap();
        for held in [first, second, health] {
            assert_eq!(code(&held.await.unwrap().unwrap()), None, "answered by the handler");
        }

        // Capacity is back once the calls have answered.
        let again = service.ready().await.unwrap().call(request(path)).await.unwrap();
        assert_eq!(code(&again), None);
    }
}
