//! CancelFlight: admin only; the flight is CANCELLED once, takes no new hold
//! and leaves the search, while holds already taken keep working; and its
//! FlightCancelled event is published once, after the commit.

use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;
use travel::events::bus::Bus;
use travel::pb::flight::v1 as pb;

use crate::helpers::{START_MS, TestFlight, date_of, violated_fields};

const DAY_MS: i64 = 86_400_000;

fn cancel(id: &str, reason: &str) -> pb::CancelFlightRequest {
    pb::CancelFlightRequest {
        id: id.into(),
        reason: reason.into(),
    }
}

async fn cancelled(svc: &TestFlight, id: &str, reason: &str) -> pb::Flight {
    svc.admin
        .clone()
        .cancel_flight(cancel(id, reason))
        .await
        .expect("cancel flight")
        .into_inner()
        .flight
        .expect("flight")
}

#[tokio::test]
async fn a_cancelled_flight_takes_no_new_hold_and_leaves_the_search_but_keeps_its_holds() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;
    svc.hold("held-before", &flight.id, 2).await.expect("hold");
    svc.hold("confirmed-before", &flight.id, 3).await.expect("hold");
    svc.client
        .clone()
        .confirm_seats(pb::ConfirmSeatsRequest {
            hold_id: "confirmed-before".into(),
        })
        .await
        .expect("confirm");

    let flight_now = cancelled(&svc, &flight.id, "  crew shortage ").await;

    assert_eq!(flight_now.state, pb::FlightState::Cancelled as i32);
    assert_eq!(flight_now.cancel_reason, "crew shortage");
    let refused = svc
        .hold("after", &flight.id, 1)
        .await
        .expect_err("a new hold on a cancelled flight");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        refused.get_error_details().error_info().map(|i| i.reason.clone()),
        Some("FLIGHT_CANCELLED".into())
    );
    // A retry of a hold taken before still gets its answer.
    assert_eq!(svc.hold("held-before", &flight.id, 2).await.expect("retry").seats, 2);
    let found = svc
        .anonymous
        .clone()
        .search_flights(pb::SearchFlightsRequest {
            origin: "LIS".into(),
            destination: "JFK".into(),
            departure_date: Some(date_of(START_MS + DAY_MS)),
            passengers: 1,
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("search")
        .into_inner();
    assert!(found.flights.is_empty(), "a cancelled flight is not found: {found:?}");
    // Confirmed seats stay on record; held ones can still be confirmed or released.
    svc.client
        .clone()
        .release_seats(pb::ReleaseSeatsRequest {
            hold_id: "held-before".into(),
        })
        .await
        .expect("release");
    let inventory = svc.assert_conserved(&flight.id).await;
    assert_eq!((inventory.available, inventory.held, inventory.confirmed), (7, 0, 3));
    svc.stop().await;
}

#[tokio::test]
async fn cancelling_is_for_admins_names_an_existing_flight_and_a_short_reason() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;

    let as_service = svc
        .client
        .clone()
        .cancel_flight(cancel(&flight.id, ""))
        .await
        .expect_err("service");
    let anonymous = svc
        .anonymous
        .clone()
        .cancel_flight(cancel(&flight.id, ""))
        .await
        .expect_err("nobody");
    let unknown = svc
        .admin
        .clone()
        .cancel_flight(cancel("no-such-flight", ""))
        .await
        .expect_err("unknown");
    let bad = svc
        .admin
        .clone()
        .cancel_flight(cancel("", &"x".repeat(201)))
        .await
        .expect_err("bad");

    assert_eq!(as_service.code(), Code::PermissionDenied);
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), vec!["id", "reason"]);
    let still = svc
        .anonymous
        .clone()
        .get_flight(pb::GetFlightRequest { id: flight.id.clone() })
        .await
        .expect("get")
        .into_inner()
        .flight
        .expect("flight");
    assert_eq!(still.state, pb::FlightState::Scheduled as i32);
    svc.stop().await;
}

#[tokio::test]
async fn a_flight_that_has_departed_cannot_be_cancelled_but_a_cancelled_one_stays_cancelled() {
    let svc = TestFlight::start().await;
    let flown = svc.create_flight(10, START_MS + DAY_MS).await;
    let cancelled_before = svc.create_flight(10, START_MS + DAY_MS).await;
    cancelled(&svc, &cancelled_before.id, "storm").await;

    svc.clock.advance(std::time::Duration::from_millis(2 * DAY_MS as u64));
    let mut admin = svc.client_with_token(Some(&svc.token(travel::jwt::Role::Admin, 3600)));

    let refused = admin.cancel_flight(cancel(&flown.id, "")).await.expect_err("departed");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        refused.get_error_details().error_info().map(|i| i.reason.clone()),
        Some("FLIGHT_DEPARTED".into())
    );
    let again = admin
        .cancel_flight(cancel(&cancelled_before.id, "storm"))
        .await
        .expect("a retry of a cancellation")
        .into_inner()
        .flight
        .expect("flight");
    assert_eq!(again.state, pb::FlightState::Cancelled as i32, "a retry still answers");
    svc.stop().await;
}

#[tokio::test]
async fn the_cancellation_is_published_once_as_flight_cancelled() {
    let bus = Bus::default();
    let mut events = bus.subscribe("test.flight-events", &["flight.#"]);
    let svc = TestFlight::start_with(|config| config.events.local = Some(bus.clone())).await;
    let first = svc.create_flight(10, START_MS + DAY_MS).await;
    let second = svc.create_flight(10, START_MS + 2 * DAY_MS).await;

    cancelled(&svc, &first.id, "storm").await;
    cancelled(&svc, &first.id, "storm again").await;
    cancelled(&svc, &second.id, "").await;

    // The relay publishes in the order of recording: had the second cancel of
    // the first flight recorded an event, it would come before the second flight's.
    let mut got = Vec::new();
    for _ in 0..2 {
        let delivery = events.recv().await.expect("an event");
        let message = pb::FlightCancelled::decode(delivery.event.payload.as_slice()).expect("a FlightCancelled");
        assert_eq!(delivery.event.kind, "travel.flight.v1.FlightCancelled");
        assert_eq!(delivery.event.routing_key, "flight.cancelled");
        assert_eq!(delivery.event.id, message.event_id);
        assert_eq!(
            (delivery.event.aggregate_id.as_str(), delivery.event.sequence),
            (message.flight_id.as_str(), 1)
        );
        got.push((
            message.flight_id.clone(),
            message.reason.clone(),
            message.flight_number.clone(),
        ));
        delivery.answer(travel::events::Outcome::Applied);
    }
    assert_eq!(
        got,
        vec![
            (first.id.clone(), "storm".to_owned(), "TP1234".to_owned()),
            (second.id.clone(), String::new(), "TP1234".to_owned()),
        ]
    );
    svc.stop().await;
}
