//! Who may call what on the flight service: searches and gets are open to
//! anonymous callers; creating flights needs the admin role; holds, confirms and
//! releases need a service account. No or bad credentials are UNAUTHENTICATED,
//! the wrong role PERMISSION_DENIED.

use tonic::Code;
use travel::Clock;
use travel::jwt::{Claims, KeyPair, Role};
use travel::pb::flight::v1 as pb;

use crate::helpers::{START_MS, TestFlight, date_of, flight_request, sign};

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
    // Had the refused release recorded a tombstone, a hold under its id would be refused.
    let late = svc.hold("a", &flight.id, 1).await;
    assert!(late.is_ok(), "the refused release left no tombstone: {late:?}");
}

/// Base64url without padding, as JWTs use.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn forged_and_bad_tokens_are_unauthenticated_even_where_anonymous_callers_are_welcome() {
    let svc = TestFlight::start().await;
    let now = svc.clock.now().unix_millis() / 1000;
    let claims = |role| Claims {
        iss: "travel-auth".into(),
        aud: "travel".into(),
        sub: "mallory".into(),
        role,
        iat: now,
        exp: now + 600,
    };
    let signed = |f: fn(&mut Claims)| {
        let mut c = claims(Role::Admin);
        f(&mut c);
        svc.key.sign(&c)
    };
    let payload = b64(&serde_json::to_vec(&claims(Role::Admin)).unwrap());
    // HS256 keyed with the trusted *public* key: the classic algorithm-confusion forgery.
    let hs256 = {
        use hmac::Mac;
        let input = format!("{}.{payload}", b64(br#"{"alg":"HS256","typ":"JWT","kid":"test-key"}"#));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&svc.key.public().to_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    };
    let tampered = {
        // A customer's genuine token with its role rewritten to admin.
        let genuine = svc.token(Role::Customer, 600);
        let parts: Vec<&str> = genuine.split('.').collect();
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let unpublished = KeyPair::from_seed("test-key", [7; 32]); // the trusted kid, another key
    let unknown_kid = KeyPair::from_seed("other-key", [42; 32]);

    let tokens = [
        (
            "alg none",
            format!("{}.{payload}.", b64(br#"{"alg":"none","kid":"test-key"}"#)),
        ),
        ("HS256 keyed with the public key", hs256),
        ("expired", svc.token(Role::Admin, -60)),
        ("wrong issuer", signed(|c| c.iss = "evil-auth".into())),
        ("wrong audience", signed(|c| c.aud = "another-platform".into())),
        ("unknown kid", sign(&unknown_kid, &svc.clock, Role::Admin, 600)),
        ("tampered payload", tampered),
        (
            "signed by an unpublished key",
            sign(&unpublished, &svc.clock, Role::Admin, 600),
        ),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (name, token) in tokens {
        let client = svc.client_with_token(Some(&token));
        let search = client.clone().search_flights(search()).await.expect_err(name);
        assert_eq!(search.code(), Code::Unauthenticated, "search with {name}");
        let create = client
            .clone()
            .create_flight(flight_request("TP1", "LIS", "JFK", START_MS, 5))
            .await;
        assert_eq!(
            create.map_err(|s| s.code()).err(),
            Some(Code::Unauthenticated),
            "create with {name}"
        );
    }
    let fine = svc
        .client_with_token(Some(&svc.token(Role::Customer, 600)))
        .search_flights(search())
        .await;
    assert!(fine.is_ok(), "a valid customer token searches: {fine:?}");
}

#[tokio::test]
async fn tokens_from_both_keys_are_accepted_during_a_rotation() {
    use std::sync::Arc;
    let old = travel::testing::test_key();
    let new = KeyPair::from_seed("next-key", [9; 32]);
    let svc =
        TestFlight::start_with_keys(Arc::new(travel::key_ring::KeyRing::fixed([new.public(), old.public()]))).await;

    for key in [&old, &new] {
        let admin = svc.client_with_token(Some(&sign(key, &svc.clock, Role::Admin, 600)));
        let created = admin
            .clone()
            .create_flight(flight_request("TP1", "LIS", "JFK", START_MS + DAY_MS, 5))
            .await;
        assert!(
            created.is_ok(),
            "a token signed by {} is accepted: {created:?}",
            key.kid()
        );
    }
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
