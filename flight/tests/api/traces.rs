//! The flight service's spans, recorded in memory (`travel::testing::traces`).

use std::sync::Arc;

use travel::jwt::Role;
use travel::pb::flight::v1 as pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::testing::traces::{Traces, attribute, traceparent};
use travel::testing::{START_MS, TestDatabase, TestServer, bearer_as, manual_clock, test_keys};
use travel::{Clock, types::UnixMillis};
use travel_flight::{Application, Config, Deps};

#[tokio::test]
async fn a_store_operation_is_a_db_span_in_the_calls_trace_below_its_server_span() {
    // Arrange: spans recorded from before the service starts; a flight; a
    // call that carries the caller's trace context.
    let traces = Traces::capture();
    let db = TestDatabase::new("flight").await;
    let system = if db.is_postgres() { "postgresql" } else { "sqlite" };
    let clock = manual_clock();
    let config = Config::new("127.0.0.1:0".parse().expect("addr"), db.url.clone());
    let deps = Deps {
        clock: Arc::new(clock.clone()),
        keys: test_keys(),
    };
    let app = Application::build_with(config, deps).await.expect("build");
    let channel = travel::testing::connect(app.local_addr()).await;
    let _server = TestServer::spawn(|shutdown| app.run_until_stopped(shutdown));
    let client = |role| FlightServiceClient::with_interceptor(channel.clone(), bearer_as(Some(role), clock.now()));
    let departure = UnixMillis::from_unix_millis(START_MS + 86_400_000);
    let flight = client(Role::Admin)
        .create_flight(pb::CreateFlightRequest {
            flight_number: "TP1234".into(),
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_time: Some(departure.into()),
            arrival_time: Some(departure.plus(std::time::Duration::from_secs(7 * 3600)).into()),
            seat_price: Some(travel::pb::common::v1::Money {
                amount_minor: 12_000,
                currency_code: "EUR".into(),
            }),
            capacity: 5,
            request_id: String::new(),
        })
        .await
        .expect("create flight")
        .into_inner()
        .flight
        .expect("flight");
    let (trace_id, caller) = traceparent();
    let mut request = tonic::Request::new(pb::HoldSeatsRequest {
        hold_id: "h1".into(),
        flight_id: flight.id,
        seats: 1,
    });
    request
        .metadata_mut()
        .insert("traceparent", caller.parse().expect("metadata"));

    // Act
    client(Role::Service).hold_seats(request).await.expect("hold");

    // Assert: the server span continues the caller's trace, and the store's
    // span, which names the database, is its child.
    let spans = traces
        .trace_below(trace_id, "travel.flight.v1.FlightService/HoldSeats")
        .await;
    let server = spans
        .iter()
        .find(|s| s.name == "travel.flight.v1.FlightService/HoldSeats")
        .expect("the call's server span");
    assert_eq!(format!("00-{trace_id}-{}-01", server.parent_span_id), caller);
    assert_eq!(attribute(server, "rpc.grpc.status_code").as_deref(), Some("0"));
    let db = spans
        .iter()
        .find(|s| s.name == "flight.hold_seats")
        .expect("a span for the store operation");
    assert_eq!(attribute(db, "db.system").as_deref(), Some(system));
    assert_eq!(attribute(db, "db.operation.name").as_deref(), Some("flight.hold_seats"));
    assert_eq!(db.parent_span_id, server.span_context.span_id());
}
