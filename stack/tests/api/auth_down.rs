//! Token verification is local: with the auth service stopped, a running flight
//! service still accepts the tokens auth issued and still refuses bad ones.

use tonic::Code;
use tonic::transport::Channel;
use travel::access::Bearer;
use travel::jwt::{KeyPair, Role};
use travel::pb::auth::v1::{LoginRequest, auth_service_client::AuthServiceClient};
use travel::pb::common::v1::Money;
use travel::pb::flight::v1::{CreateFlightRequest, flight_service_client::FlightServiceClient};
use travel::testing::{TestDatabase, connect as channel, sign_token};
use travel::types::UnixMillis;

use crate::helpers::{ADMIN, PASSWORD, start_auth, start_flight};

fn new_flight() -> CreateFlightRequest {
    let departure = UnixMillis::now().plus(std::time::Duration::from_secs(7 * 86_400));
    CreateFlightRequest {
        flight_number: "TP1".into(),
        origin: "LIS".into(),
        destination: "JFK".into(),
        departure_time: Some(departure.into()),
        arrival_time: Some(departure.plus(std::time::Duration::from_secs(8 * 3600)).into()),
        seat_price: Some(Money {
            amount_minor: 10_000,
            currency_code: "EUR".into(),
        }),
        capacity: 10,
        request_id: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_flight_service_keeps_verifying_tokens_while_auth_is_down() {
    // Arrange: auth, then flight fetching auth's keys at start-up.
    let (auth_db, flight_db) = (TestDatabase::new("auth").await, TestDatabase::new("flight").await);
    let (auth_addr, auth_server) = start_auth(&auth_db.url).await;
    let (flight_addr, flight_server) = start_flight(&flight_db.url, format!("http://{auth_addr}")).await;

    let token = AuthServiceClient::new(channel(auth_addr).await)
        .login(LoginRequest {
            email: ADMIN.into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("admin login")
        .into_inner()
        .access_token;
    let flights = channel(flight_addr).await;
    let as_admin = FlightServiceClient::with_interceptor(flights.clone(), Bearer::new(Some(&token)));
    as_admin
        .clone()
        .create_flight(new_flight())
        .await
        .expect("accepted while auth is up");

    // Act: stop auth.
    auth_server.stop().await;
    assert!(
        Channel::from_shared(format!("http://{auth_addr}"))
            .unwrap()
            .connect()
            .await
            .is_err(),
        "auth is down"
    );

    // Assert: the valid token still works; bad ones are still refused.
    let created = as_admin.clone().create_flight(new_flight()).await;
    assert!(
        created.is_ok(),
        "a valid token is accepted while auth is down: {created:?}"
    );
    let stranger = KeyPair::generate("never-published").expect("random key");
    let tampered = {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[2] = "AAAA";
        parts.join(".")
    };
    for (name, bad) in [
        (
            "forged with an unknown key",
            sign_token(&stranger, UnixMillis::now(), Role::Admin, 600),
        ),
        ("tampered signature", tampered),
        ("alg none", "eyJhbGciOiJub25lIiwia2lkIjoiayJ9.e30.".to_owned()),
    ] {
        let client = FlightServiceClient::with_interceptor(flights.clone(), Bearer::new(Some(&bad)));
        let err = client.clone().create_flight(new_flight()).await.expect_err(name);
        assert_eq!(err.code(), Code::Unauthenticated, "{name}");
    }

    flight_server.stop().await;
}
