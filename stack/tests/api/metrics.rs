//! Every service of the stack serves Prometheus metrics on its own port, and
//! the RED series count calls by the status code they ended with.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::transport::Channel;
use travel::pb::flight::v1::GetFlightRequest;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel_stack::Stack;

use crate::helpers::stack_config;

/// The body of `GET url` (`http://host:port/path`), over plain HTTP/1.1.
pub(crate) async fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_once('/').expect("a path");
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut response))
        .await
        .expect("an answer in time")
        .expect("read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_its_metrics_and_counts_calls_by_status_code() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start(&stack_config(dir.path())).await.expect("start");
    let services: Vec<&str> = stack.metrics.iter().map(|(service, _)| *service).collect();
    assert_eq!(services, ["auth", "flight", "hotel", "reservation"]);
    let flight_metrics = stack.metrics[1].1.clone();
    let mut flights = FlightServiceClient::new(
        Channel::from_shared(format!("http://{}", stack.flight_addr))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );

    // Act: two invalid calls (no id) and one for a flight that is not there.
    for _ in 0..2 {
        let refused = flights.get_flight(GetFlightRequest::default()).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    }
    let missing = flights
        .get_flight(GetFlightRequest {
            id: "no-such-flight".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // Assert
    let (status, text) = get(&flight_metrics).await;
    assert_eq!(status, 200, "{text}");
    let series = |code: &str| {
        format!(
            "grpc_server_handled_total{{grpc_code=\"{code}\",grpc_method=\"GetFlight\",grpc_service=\"travel.flight.v1.FlightService\"}}"
        )
    };
    assert!(text.contains(&format!("{} 2\n", series("InvalidArgument"))), "{text}");
    assert!(text.contains(&format!("{} 1\n", series("NotFound"))), "{text}");
    assert!(
        text.contains("grpc_server_handling_seconds_count{grpc_method=\"GetFlight\",grpc_service=\"travel.flight.v1.FlightService\"} 3\n"),
        "{text}"
    );
    assert!(text.contains("travel_db_pool_max_connections"), "{text}");
    for (service, url) in &stack.metrics {
        let (status, _) = get(url).await;
        assert_eq!(status, 200, "{service} at {url}");
    }
    let (status, _) = get(&flight_metrics.replace("/metrics", "/other")).await;
    assert_eq!(status, 404);
    stack.stop().await;
}
