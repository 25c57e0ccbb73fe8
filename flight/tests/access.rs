//! Who may call what on the flight service: searches and gets are open to
//! anonymous callers; creating flights needs the admin role; holds, confirms and
//! releases need a service account. No or bad credentials are UNAUTHENTICATED,
//! the wrong role PERMISSION_DENIED.

mod common;

use common::{START_MS, TestFlight, date_of, flight_request, sign};
use tonic::Code;
use travel::pb::flight::v1 as pb;
use travel::token::{KeyPair, Role};
use travel::types::Instant;

const DAY_MS: i64 = 86_400_000;

fn search() -> pb::SearchFlightsRequest {
    pb::SearchFlightsRequest {
        origin: "LIS".into(),
        destination: "JFK".into(),
        departure_date: Some(date_of(START_MS + DAY_MS)),
        passengers: 1,
        ..Default::default()
    }
}

fn hold(id: &str, flight_id: &str) -> pb::HoldSeatsRequest {
    pb::HoldSeatsRequest {
        hold_id: id.into(),
        flight_id: flight_id.into(),
        seats: 1,
    }
}

#[tokio::test]
async fn anonymous_callers_can_search_and_get_flights() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;
    let mut anonymous = svc.anonymous.clone();

    let found = anonymous
        .search_flights(search())
        .await
        .expect("anonymous search")
        .into_inner();
    let got = anonymous
        .get_flight(pb::GetFlightRequest { id: flight.id.clone() })
        .await;

    assert_eq!(found.flights.len(), 1);
    assert!(got.is_ok(), "{got:?}");
}

#[tokio::test]
async fn each_rpc_refuses_callers_without_the_role_it_needs() {
    let svc = TestFlight::start().await;
    let flight = svc.create_flight(5, START_MS + DAY_MS).await;
    let customer = svc.client_with_token(Some(&svc.token(Role::Customer, 600)));
    let create = || flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 5);

    let cases = [
        (
            "anonymous CreateFlight",
            svc.anonymous.clone().create_flight(create()).await.err(),
            Code::Unauthenticated,
        ),
        (
            "customer CreateFlight",
            customer.clone().create_flight(create()).await.err(),
            Code::PermissionDenied,
        ),
        (
            "service CreateFlight",
            svc.client.clone().create_flight(create()).await.err(),
            Code::PermissionDenied,
        ),
        (
            "anonymous HoldSeats",
            svc.anonymous.clone().hold_seats(hold("a", &flight.id)).await.err(),
            Code::Unauthenticated,
        ),
        (
            "customer HoldSeats",
            customer.clone().hold_seats(hold("b", &flight.id)).await.err(),
            Code::PermissionDenied,
        ),
        (
            "admin HoldSeats",
            svc.admin.clone().hold_seats(hold("c", &flight.id)).await.err(),
            Code::PermissionDenied,
        ),
        (
            "customer ConfirmSeats",
            customer
                .clone()
                .confirm_seats(pb::ConfirmSeatsRequest { hold_id: "a".into() })
                .await
                .err(),
            Code::PermissionDenied,
        ),
        (
            "anonymous ReleaseSeats",
            svc.anonymous
                .clone()
                .release_seats(pb::ReleaseSeatsRequest { hold_id: "a".into() })
                .await
                .err(),
            Code::Unauthenticated,
        ),
    ];

    for (name, err, code) in cases {
        assert_eq!(err.map(|s| s.code()), Some(code), "{name}");
    }
    let inv = svc.assert_conserved(&flight.id).await;
    assert_eq!(inv.available, 5, "no refused call took a seat");
    let released = svc
        .store
        .release(&travel::types::HoldId::parse("a").unwrap(), Instant::now())
        .await
        .unwrap();
    assert!(released.is_none(), "the refused release left no tombstone");
}

#[tokio::test]
async fn bad_credentials_are_refused_even_where_anonymous_callers_are_welcome() {
    let svc = TestFlight::start().await;
    let stranger = KeyPair::from_seed("test-key", [7; 32]); // the trusted kid, another key
    let unknown_kid = KeyPair::from_seed("other-key", [42; 32]);
    let expired = svc.token(Role::Admin, -60);

    let tokens = [
        ("garbage", "not-a-jwt".to_owned()),
        ("expired", expired),
        (
            "signed by an unpublished key",
            sign(&stranger, &svc.clock, Role::Admin, 600),
        ),
        ("unknown kid", sign(&unknown_kid, &svc.clock, Role::Admin, 600)),
    ];
    for (name, token) in tokens {
        let err = svc
            .client_with_token(Some(&token))
            .search_flights(search())
            .await
            .expect_err(name);
        assert_eq!(err.code(), Code::Unauthenticated, "{name}");
    }
    let fine = svc
        .client_with_token(Some(&svc.token(Role::Customer, 600)))
        .search_flights(search())
        .await;
    assert!(fine.is_ok(), "a valid customer token searches: {fine:?}");
}

#[tokio::test]
async fn a_token_expires_by_the_services_clock() {
    let svc = TestFlight::start().await;
    let token = svc.token(Role::Admin, 120);
    let admin = svc.client_with_token(Some(&token));
    let create = || flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 5);
    assert!(admin.clone().create_flight(create()).await.is_ok());

    svc.clock.advance(std::time::Duration::from_secs(120 + 31)); // past exp and the 30 s leeway

    let err = admin.clone().create_flight(create()).await.expect_err("expired");
    assert_eq!(err.code(), Code::Unauthenticated);
}
