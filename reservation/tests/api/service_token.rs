//! The production token path: the reservation service gets its service token
//! from the auth service (client credentials, IssueServiceToken) and the flight
//! and hotel services accept it.

use std::sync::Arc;

use travel::Clock;
use travel::testing::TEST_KID;
use travel_reservation::ServiceToken;

use crate::helpers;
use crate::helpers::{START_MS, World, checkout, flight_only, state};

/// `test_key`'s seed ([42; 32]) in base64url, so that auth signs with the key the services trust.
const TEST_SEED_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio";
const SECRET: &str = "service-secret-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_works_with_a_service_token_from_the_auth_service() {
    // Arrange: auth with the reservation service account, signing with the test key.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let (auth_url, auth_server, _auth_db) = helpers::start_auth(|auth_config| {
        auth_config.signing_keys = Some(format!("{TEST_KID}={TEST_SEED_B64}").into());
        auth_config.service_client_secret = Some(SECRET.into());
    })
    .await;

    let clock = world.clock.clone();
    let mut config = world.bare_config();
    config.flight_url = world.flight.url.clone();
    config.hotel_url = world.hotel.url.clone();
    let token = ServiceToken::from_auth(
        &auth_url,
        std::time::Duration::from_secs(10),
        "reservation",
        Some(SECRET.into()),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let app = world.build(config, token.clone()).await.unwrap();
    let addr = app.local_addr();
    let server = helpers::Server::spawn(|shutdown| app.run_until_stopped(shutdown));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let customer_token = helpers::user_token(&clock, "user-a", travel::jwt::Role::Customer);
    let customer = travel::pb::reservation::v1::reservation_service_client::ReservationServiceClient::with_interceptor(
        channel,
        travel::testing::Bearer::new(Some(&customer_token)),
    );

    // Act
    let booked = checkout(&customer, flight_only("req-1", &flight, 1)).await.unwrap();

    // Assert
    assert_eq!(state(&booked), travel::pb::reservation::v1::ReservationState::Confirmed);
    assert_eq!(world.flight.inventory(&flight).await, (9, 0, 1));
    let issued = token
        .get(travel::deadline::Deadline::after(std::time::Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(
        token
            .get(travel::deadline::Deadline::after(std::time::Duration::from_secs(5)))
            .await
            .unwrap(),
        issued,
        "the token is cached"
    );
    assert!(clock.now().unix_millis() >= START_MS);
    server.stop().await;
    auth_server.stop().await;
}
