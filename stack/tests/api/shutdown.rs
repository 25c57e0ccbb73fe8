//! Stopping the stack with checkouts in flight: the reservation service stops
//! first and lets its sagas finish while the flight and hotel services still
//! serve, so every checkout in flight completes; a call that arrives once the
//! stop began is refused with UNAVAILABLE at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use travel::access::Bearer;
use travel::pb::auth::v1::{LoginRequest, RegisterRequest, auth_service_client::AuthServiceClient};
use travel::pb::common::v1::Money;
use travel::pb::flight::v1::{CreateFlightRequest, flight_service_client::FlightServiceClient};
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::pb::reservation::v1 as pb;
use travel::pb::reservation::v1::reservation_service_client::ReservationServiceClient;
use travel::testing::hotel_with_one_room_type;
use travel::testing::proxy::Gate;
use travel::types::{Date, UnixMillis};
use travel_stack::{Seams, Stack};

use crate::helpers::{ADMIN, PASSWORD, open_flight, open_hotel, stack_config as config};

/// Checkouts in flight when the stop begins.
const IN_FLIGHT: usize = 50;
pub(crate) const SEATS: i64 = 60;
pub(crate) const ROOMS: i64 = 60;

type Reservations = ReservationServiceClient<InterceptedService<Channel, Bearer>>;

pub(crate) fn lazy(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_lazy()
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(euros(amount_minor))
}

fn euros(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "EUR".into(),
    }
}

/// An admin token and a customer token from the stack's auth service.
pub(crate) async fn tokens(auth: SocketAddr) -> (String, String) {
    let mut client = AuthServiceClient::new(lazy(auth));
    let login = |email: &str, password: &str| LoginRequest {
        email: email.into(),
        password: password.into(),
    };
    let admin = client.login(login(ADMIN, PASSWORD)).await.expect("admin login");
    client
        .register(RegisterRequest {
            email: "traveller@travel.test".into(),
            password: "a long customer password".into(),
            request_id: String::new(),
        })
        .await
        .expect("register");
    let customer = client
        .login(login("traveller@travel.test", "a long customer password"))
        .await
        .expect("customer login");
    (admin.into_inner().access_token, customer.into_inner().access_token)
}

/// A flight with [`SEATS`] seats and a room type with [`ROOMS`] rooms, created
/// by the admin: (flight id, hotel id, room type id).
pub(crate) async fn catalog(flight: SocketAddr, hotel: SocketAddr, admin: &str) -> (String, String, String) {
    let departure = UnixMillis::now().plus(Duration::from_secs(7 * 86_400));
    let flight = FlightServiceClient::with_interceptor(lazy(flight), Bearer::new(Some(admin)))
        .create_flight(CreateFlightRequest {
            flight_number: "TP9".into(),
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_time: Some(departure.into()),
            arrival_time: Some(departure.plus(Duration::from_secs(8 * 3600)).into()),
            seat_price: eur(10_000),
            capacity: SEATS as i32,
            request_id: String::new(),
        })
        .await
        .expect("create flight")
        .into_inner()
        .flight
        .expect("flight")
        .id;
    let hotels = HotelServiceClient::with_interceptor(lazy(hotel), Bearer::new(Some(admin)));
    let (hotel, room_type) =
        hotel_with_one_room_type(&hotels, "Hotel Shutdown", "New York", ROOMS as i32, euros(9_000)).await;
    (flight, hotel, room_type)
}

pub(crate) fn nights() -> (Date, Date) {
    let check_in = UnixMillis::now().plus(Duration::from_secs(30 * 86_400));
    (check_in.date(), check_in.plus(Duration::from_secs(2 * 86_400)).date())
}

/// A bundle of one seat on `flight_id` and one room of `room_type_id` for
/// two guests on [`nights`].
pub(crate) fn bundle(request_id: String, flight_id: &str, hotel_id: &str, room_type_id: &str) -> pb::CheckoutRequest {
    let (check_in, check_out) = nights();
    pb::CheckoutRequest {
        request_id,
        flight: Some(pb::FlightSelection {
            flight_id: flight_id.to_owned(),
            seats: 1,
        }),
        hotel: Some(pb::HotelSelection {
            hotel_id: hotel_id.to_owned(),
            room_type_id: room_type_id.to_owned(),
            check_in: Some(check_in.into()),
            check_out: Some(check_out.into()),
            rooms: 1,
            guests: 2,
        }),
    }
}

/// Pending reservations, as the admin lists them.
async fn pending(admin: &Reservations) -> usize {
    let listed = admin
        .clone()
        .list_reservations(pb::ListReservationsRequest {
            page_size: 100,
            page_token: String::new(),
        })
        .await
        .expect("list reservations")
        .into_inner();
    listed
        .reservations
        .iter()
        .filter(|r| r.state == pb::ReservationState::Pending as i32)
        .count()
}

/// True once the reservation service has begun to stop: its health is
/// NOT_SERVING, or it no longer takes connections.
async fn stopping(reservation: SocketAddr) -> bool {
    let checked = HealthClient::new(lazy(reservation))
        .check(HealthCheckRequest { service: String::new() })
        .await;
    match checked {
        Ok(response) => response.into_inner().status != ServingStatus::Serving as i32,
        Err(_) => true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_does_not_drop_calls_in_flight() {
    // Arrange: the stack, with the reservation service's calls to the flight
    // service held at a gate, so that checkouts stay in flight until it opens.
    let dir = tempfile::tempdir().expect("temp dir");
    let route: Arc<std::sync::Mutex<Option<Gate>>> = Arc::default();
    let seams = Seams {
        flight_route: Some(Box::new({
            let route = route.clone();
            move |flight| {
                let gate = Gate::start(flight);
                let addr = gate.addr();
                *route.lock().expect("the gate") = Some(gate);
                addr
            }
        })),
    };
    let stack = Stack::start_with(&config(dir.path()), seams).await.expect("start");
    let gate = route.lock().expect("the gate").take().expect("the gate is in place");
    let (auth, flight, hotel, reservation) = (
        stack.auth_addr,
        stack.flight_addr,
        stack.hotel_addr,
        stack.reservation_addr,
    );
    let (admin_token, customer_token) = tokens(auth).await;
    let (flight_id, hotel_id, room_type_id) = catalog(flight, hotel, &admin_token).await;
    let (check_in, _) = nights();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(stack.run_until(async {
        let _ = stopped.await;
    }));
    let customer = ReservationServiceClient::with_interceptor(lazy(reservation), Bearer::new(Some(&customer_token)));
    let admin = ReservationServiceClient::with_interceptor(lazy(reservation), Bearer::new(Some(&admin_token)));
    let checkouts: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let mut customer = customer.clone();
            let request = bundle(format!("shutdown-{i}"), &flight_id, &hotel_id, &room_type_id);
            tokio::spawn(async move { customer.checkout(request).await })
        })
        .collect();
    while pending(&admin).await < IN_FLIGHT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Act: stop the stack while every checkout waits at the gate; once the
    // stop has begun, try one more checkout, then let the calls through.
    let stopping_since = std::time::Instant::now();
    let _ = stop.send(());
    while !stopping(reservation).await {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A late checkout on a new connection, and one on the connection the
    // checkouts in flight use: both are refused with a clean UNAVAILABLE (the
    // connections stay open until the sagas in flight are done; a call on a
    // connection closed with GOAWAY would get INTERNAL from tonic).
    let late_request = |request_id: &str| {
        let mut request = tonic::Request::new(pb::CheckoutRequest {
            request_id: request_id.into(),
            flight: Some(pb::FlightSelection {
                flight_id: flight_id.clone(),
                seats: 1,
            }),
            hotel: None,
        });
        request.set_timeout(Duration::from_secs(10));
        request
    };
    let mut fresh = ReservationServiceClient::with_interceptor(lazy(reservation), Bearer::new(Some(&customer_token)));
    let late = fresh.checkout(late_request("after-the-stop")).await;
    let late_on_open = customer
        .clone()
        .checkout(late_request("after-the-stop-open-connection"))
        .await;
    gate.open();
    let mut answers = Vec::new();
    for checkout in checkouts {
        answers.push(checkout.await.expect("checkout task"));
    }
    running.await.expect("stack task").expect("the stack stopped cleanly");
    // Every service drains within its drain timeout; the whole stop, the
    // reservation service's drain included, took less than one of them.
    let drain_timeout = travel::config::ServerArgs::default().drain_timeout;
    let stopped_after = stopping_since.elapsed();
    println!("the stack stopped {stopped_after:?} after the signal, {IN_FLIGHT} checkouts in flight");
    assert!(
        stopped_after < drain_timeout,
        "the stack took {stopped_after:?} to stop, more than the drain timeout of {drain_timeout:?}"
    );

    // Assert: every checkout in flight was confirmed; the late one was refused.
    for (i, answer) in answers.iter().enumerate() {
        let reservation = match answer {
            Ok(response) => response.get_ref().reservation.clone().expect("reservation"),
            Err(status) => panic!(
                "checkout {i} in flight at the stop failed: {:?} {}; all: {:?}",
                status.code(),
                status.message(),
                answers
                    .iter()
                    .map(|a| a.as_ref().map(|_| ()).map_err(|s| s.code()))
                    .collect::<Vec<_>>()
            ),
        };
        assert_eq!(
            reservation.state,
            pb::ReservationState::Confirmed as i32,
            "checkout {i}: {reservation:?}"
        );
    }
    for (which, late) in [("a new connection", late), ("an open connection", late_on_open)] {
        match late {
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "the late call on {which}: {status:?}"),
            Ok(response) => panic!("a checkout on {which} after the stop began was served: {response:?}"),
        }
    }

    // Assert: inventory is conserved — exactly one seat and one room per night
    // confirmed for each checkout, nothing left held.
    let db = |service: &str| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(format!("{service}.db")).display()
        )
    };
    let flights = open_flight(db("flight")).await;
    let seats = flights.store().inventory(&flight_id).await.expect("seat inventory");
    let booked = IN_FLIGHT as i64;
    assert_eq!(
        (seats.capacity, seats.available, seats.held, seats.confirmed),
        (SEATS, SEATS - booked, 0, booked)
    );
    let hotels = open_hotel(db("hotel")).await;
    for night in [check_in, check_in.next().expect("the second night")] {
        let rooms = hotels
            .store()
            .inventory(&room_type_id, night)
            .await
            .expect("room inventory");
        assert_eq!(
            (rooms.total_rooms, rooms.available, rooms.held, rooms.confirmed),
            (ROOMS, ROOMS - booked, 0, booked),
            "night {night:?}"
        );
    }
}
