//! Replicas locally: with `--replicas 3` the stack runs three flight and
//! three hotel services on one database each, and the reservation service
//! balances its calls over them — every replica serves some, and the
//! inventory stays exact.

use tonic::transport::Channel;
use travel::access::Bearer;
use travel::pb::flight::v1::GetFlightRequest;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::reservation_service_client::ReservationServiceClient;
use travel_stack::{Stack, StackConfig};

use crate::helpers::stack_config;
use crate::metrics::get;
use crate::shutdown::{SEATS, bundle, catalog, lazy, tokens};

/// Bundles checked out one after another.
const CHECKOUTS: usize = 20;

/// The OK answers `url`'s service counted for `method`.
async fn served(url: &str, method: &str) -> u64 {
    let (status, text) = get(url).await;
    assert_eq!(status, 200, "{url}");
    text.lines()
        .filter(|line| {
            line.starts_with("grpc_server_handled_total{")
                && line.contains("grpc_code=\"OK\"")
                && line.contains(&format!("grpc_method=\"{method}\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_of_flight_and_hotel_share_the_checkouts() {
    // Arrange
    let dir = tempfile::tempdir().expect("temp dir");
    let config = StackConfig {
        replicas: 3,
        ..stack_config(dir.path())
    };
    let stack = Stack::start(&config).await.expect("start");
    assert_eq!(stack.flight_replicas.len(), 3);
    assert_eq!(stack.hotel_replicas.len(), 3);
    let (admin, customer) = tokens(stack.auth_addr).await;
    let (flight_id, hotel_id, room_type_id) = catalog(stack.flight_addr, stack.hotel_addr, &admin).await;
    let mut reservations =
        ReservationServiceClient::with_interceptor(lazy(stack.reservation_addr), Bearer::new(Some(&customer)));

    // Act
    for i in 0..CHECKOUTS {
        let reservation = reservations
            .checkout(bundle(format!("replicas-{i}"), &flight_id, &hotel_id, &room_type_id))
            .await
            .expect("checkout")
            .into_inner()
            .reservation
            .expect("reservation");
        assert_eq!(
            reservation.state,
            pb::ReservationState::Confirmed as i32,
            "{reservation:?}"
        );
    }

    // Assert: every replica served some of the holds and confirms (each call
    // goes to one of three at random: that one gets none of 40 has odds of
    // (2/3)^40, below one in ten million), and the seats add up.
    for (service, hold, confirm) in [
        ("flight", "HoldSeats", "ConfirmSeats"),
        ("hotel", "HoldRooms", "ConfirmRooms"),
    ] {
        let urls: Vec<&String> = stack
            .metrics
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, url)| url)
            .collect();
        assert_eq!(urls.len(), 3, "{service}: one /metrics per replica");
        let mut total = 0;
        for url in urls {
            let calls = served(url, hold).await + served(url, confirm).await;
            assert!(calls > 0, "{service} replica at {url} served nothing");
            total += calls;
        }
        assert_eq!(
            total,
            2 * CHECKOUTS as u64,
            "{service}: each hold and confirm served once"
        );
    }
    let flight = FlightServiceClient::new(
        Channel::from_shared(format!("http://{}", stack.flight_replicas[2]))
            .unwrap()
            .connect_lazy(),
    )
    .get_flight(GetFlightRequest { id: flight_id })
    .await
    .expect("get flight")
    .into_inner()
    .flight
    .expect("flight");
    assert_eq!(i64::from(flight.available_seats), SEATS - CHECKOUTS as i64);
    stack.stop().await;
}
