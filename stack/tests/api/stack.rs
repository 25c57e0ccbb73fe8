//! The local stack end to end: it starts every service, loads the demo catalog
//! once, serves it, and keeps its data across a restart.

use std::time::Duration;

use tonic::transport::Channel;
use travel::pb::flight::v1::{SearchFlightsRequest, flight_service_client::FlightServiceClient};
use travel::pb::hotel::v1::{SearchHotelsRequest, hotel_service_client::HotelServiceClient};
use travel::types::UnixMillis;
use travel_stack::{RunningStack, Stack, StackConfig};

use crate::helpers::stack_config;

fn config(dir: &std::path::Path) -> StackConfig {
    StackConfig {
        no_demo: false,
        ..stack_config(dir)
    }
}

async fn client<T>(addr: std::net::SocketAddr, make: fn(Channel) -> T) -> T {
    make(
        Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect"),
    )
}

/// Flights LIS→JFK tomorrow and Lisbon offers for two nights from tomorrow.
async fn demo_counts(stack: &RunningStack) -> (usize, usize) {
    let tomorrow = UnixMillis::now().plus(Duration::from_secs(86_400)).date();
    let after = UnixMillis::now().plus(Duration::from_secs(3 * 86_400)).date();
    let mut flights = client(stack.flight_addr, FlightServiceClient::new).await;
    let found = flights
        .search_flights(SearchFlightsRequest {
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_date: Some(tomorrow.into()),
            passengers: 1,
            ..Default::default()
        })
        .await
        .expect("search")
        .into_inner();
    let mut hotels = client(stack.hotel_addr, HotelServiceClient::new).await;
    let offers = hotels
        .search_hotels(SearchHotelsRequest {
            city: "lisbon".into(),
            check_in: Some(tomorrow.into()),
            check_out: Some(after.into()),
            guests: 2,
            rooms: 1,
            ..Default::default()
        })
        .await
        .expect("search")
        .into_inner();
    (found.flights.len(), offers.offers.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_serves_the_demo_catalog_and_keeps_it_across_restarts() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();

    // Act: first start loads the catalog.
    let first = Stack::start(&config(dir.path())).await.expect("first start");
    let demo = first.demo.clone().expect("demo catalog loaded");
    let before = demo_counts(&first).await;
    first.stop().await;

    // Act: second start on the same data.
    let second = Stack::start(&config(dir.path())).await.expect("second start");
    let after = demo_counts(&second).await;
    second.stop().await;

    // Assert
    assert!(demo.flights >= 20 && demo.hotels >= 6, "{demo:?}");
    assert_eq!(before.0, 1, "LIS→JFK flies once a day");
    assert!(
        before.1 >= 3,
        "Lisbon has at least three hotels with double rooms: {before:?}"
    );
    assert_eq!(after, before, "the catalog is loaded once and kept");
    assert!(dir.path().join("flight.db").exists() && dir.path().join("hotel.db").exists());
}
