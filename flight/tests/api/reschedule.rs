//! RescheduleFlight: admin only; the flight moves to its new times (and to
//! its new date in the search) while its holds stay; a retry records nothing
//! more; a cancelled or departed flight is refused; and the change is
//! published as FlightRescheduled, numbered with the flight's other events.

use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;
use travel::events::bus::Bus;
use travel::pb::flight::v1 as pb;

use crate::helpers::{START_MS, TestFlight, date_of, ts, violated_fields};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

fn reschedule(id: &str, departure_ms: i64, arrival_ms: i64, reason: &str) -> pb::RescheduleFlightRequest {
    pb::RescheduleFlightRequest {
        id: id.into(),
        departure_time: Some(ts(departure_ms)),
        arrival_time: Some(ts(arrival_ms)),
        reason: reason.into(),
    }
}

fn search(departure_ms: i64) -> pb::SearchFlightsRequest {
    pb::SearchFlightsRequest {
        origin: "LIS".into(),
        destination: "JFK".into(),
        departure_date: Some(date_of(departure_ms)),
        passengers: 1,
        page_size: 10,
        page_token: String::new(),
    }
}

fn reason_of(status: &tonic::Status) -> Option<String> {
    status.get_error_details().error_info().map(|i| i.reason.clone())
}

#[tokio::test]
async fn a_rescheduled_flight_moves_to_its_new_date_and_keeps_its_holds() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;
    svc.hold("held-before", &flight.id, 2).await.expect("hold");
    let later = START_MS + 3 * DAY_MS;

    let moved = svc
        .admin
        .clone()
        .reschedule_flight(reschedule(&flight.id, later, later + 8 * HOUR_MS, " late aircraft "))
        .await
        .expect("reschedule")
        .into_inner()
        .flight
        .expect("flight");

    assert_eq!(moved.departure_time, Some(ts(later)));
    assert_eq!(moved.arrival_time, Some(ts(later + 8 * HOUR_MS)));
    assert_eq!(moved.state, pb::FlightState::Scheduled as i32);
    assert_eq!(moved.available_seats, 8, "the hold stays");
    let on_new_date = svc
        .anonymous
        .clone()
        .search_flights(search(later))
        .await
        .expect("search");
    assert_eq!(
        on_new_date
            .into_inner()
            .flights
            .iter()
            .map(|f| f.id.clone())
            .collect::<Vec<_>>(),
        vec![flight.id.clone()]
    );
    let on_old_date = svc
        .anonymous
        .clone()
        .search_flights(search(START_MS + DAY_MS))
        .await
        .expect("search");
    assert!(on_old_date.into_inner().flights.is_empty(), "no longer on its old date");
    assert_eq!(svc.hold("held-before", &flight.id, 2).await.expect("retry").seats, 2);
    svc.assert_conserved(&flight.id).await;
    svc.stop().await;
}

#[tokio::test]
async fn rescheduling_is_for_admins_with_valid_times_on_a_flight_that_can_still_move() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;
    let cancelled = svc.create_flight(10, START_MS + DAY_MS).await;
    svc.admin
        .clone()
        .cancel_flight(pb::CancelFlightRequest {
            id: cancelled.id.clone(),
            reason: String::new(),
        })
        .await
        .expect("cancel");
    let later = START_MS + 2 * DAY_MS;

    let customer = svc
        .client_with_token(Some(&svc.token(travel::jwt::Role::Customer, 3600)))
        .reschedule_flight(reschedule(&flight.id, later, later + HOUR_MS, ""))
        .await
        .expect_err("a customer");
    assert_eq!(customer.code(), Code::PermissionDenied, "{customer:?}");
    let service = svc
        .client
        .clone()
        .reschedule_flight(reschedule(&flight.id, later, later + HOUR_MS, ""))
        .await
        .expect_err("a service account");
    assert_eq!(service.code(), Code::PermissionDenied, "{service:?}");

    let mut admin = svc.admin.clone();
    let backwards = admin
        .reschedule_flight(reschedule(&flight.id, later, later, ""))
        .await
        .expect_err("arrival not after departure");
    assert_eq!(backwards.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&backwards), vec!["arrival_time"]);
    let missing = admin
        .reschedule_flight(pb::RescheduleFlightRequest {
            id: "no such id!".into(),
            reason: "\u{7}".into(),
            ..Default::default()
        })
        .await
        .expect_err("nothing valid");
    assert_eq!(missing.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&missing);
    fields.sort();
    assert_eq!(fields, vec!["arrival_time", "departure_time", "id", "reason"]);
    let past = admin
        .reschedule_flight(reschedule(&flight.id, START_MS - HOUR_MS, START_MS, ""))
        .await
        .expect_err("a departure that has passed");
    assert_eq!(past.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&past).as_deref(), Some("DEPARTURE_IN_PAST"));
    // An unknown flight is NOT_FOUND and a cancelled one FLIGHT_CANCELLED,
    // whatever the new times (checked before them).
    for (departure, arrival) in [(later, later + HOUR_MS), (START_MS - HOUR_MS, START_MS)] {
        let unknown = admin
            .reschedule_flight(reschedule("no-such-flight", departure, arrival, ""))
            .await
            .expect_err("unknown");
        assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
        let refused = admin
            .reschedule_flight(reschedule(&cancelled.id, departure, arrival, ""))
            .await
            .expect_err("cancelled");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(reason_of(&refused).as_deref(), Some("FLIGHT_CANCELLED"));
    }

    // Once it has departed, at its time, it cannot move any more.
    svc.clock
        .advance(std::time::Duration::from_millis((DAY_MS + HOUR_MS) as u64));
    let much_later = START_MS + 5 * DAY_MS;
    let departed = svc
        .client_with_token(Some(&svc.token(travel::jwt::Role::Admin, 3600)))
        .reschedule_flight(reschedule(&flight.id, much_later, much_later + HOUR_MS, ""))
        .await
        .expect_err("departed");
    assert_eq!(departed.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&departed).as_deref(), Some("FLIGHT_DEPARTED"));
    svc.stop().await;
}

#[tokio::test]
async fn each_change_of_times_is_published_once_and_numbered_with_the_cancellation() {
    let bus = Bus::default();
    let mut events = bus.subscribe("test.flight-events", &["flight.#"]);
    let svc = TestFlight::start_with(|config| config.events.local = Some(bus.clone())).await;
    let flight = svc.create_flight(10, START_MS + DAY_MS).await;
    let later = START_MS + 2 * DAY_MS;
    let mut admin = svc.admin.clone();

    admin
        .reschedule_flight(reschedule(&flight.id, later, later + HOUR_MS, "late aircraft"))
        .await
        .expect("reschedule");
    // A retry (the same times) records no second event.
    admin
        .reschedule_flight(reschedule(&flight.id, later, later + HOUR_MS, "late aircraft"))
        .await
        .expect("retry");
    admin
        .cancel_flight(pb::CancelFlightRequest {
            id: flight.id.clone(),
            reason: "storm".into(),
        })
        .await
        .expect("cancel");

    let first = events.recv().await.expect("an event");
    assert_eq!(first.event.kind, "travel.flight.v1.FlightRescheduled");
    assert_eq!(first.event.routing_key, "flight.rescheduled");
    let moved = pb::FlightRescheduled::decode(first.event.payload.as_slice()).expect("a FlightRescheduled");
    assert_eq!(moved.event_id, first.event.id);
    assert_eq!((moved.flight_id.as_str(), moved.sequence), (flight.id.as_str(), 1));
    assert_eq!(first.event.sequence, 1);
    assert_eq!(moved.previous_departure_time, flight.departure_time);
    assert_eq!(moved.departure_time, Some(ts(later)));
    assert_eq!(moved.arrival_time, Some(ts(later + HOUR_MS)));
    assert_eq!(
        (moved.flight_number.as_str(), moved.reason.as_str()),
        ("TP1234", "late aircraft")
    );
    first.answer(travel::events::Outcome::Applied);
    // Next comes the cancellation, the flight's second event: the retry added none.
    let second = events.recv().await.expect("an event");
    assert_eq!(second.event.kind, "travel.flight.v1.FlightCancelled");
    let cancelled = pb::FlightCancelled::decode(second.event.payload.as_slice()).expect("a FlightCancelled");
    assert_eq!((cancelled.sequence, second.event.sequence), (2, 2));
    second.answer(travel::events::Outcome::Applied);
    svc.stop().await;
}
