//! The production token path: the reservation service gets its service token
//! from the auth service (client credentials, IssueServiceToken) and the flight
//! and hotel services accept it.

mod common;

use std::sync::Arc;

use common::{START_MS, World, checkout, flight_only, state};
use travel::key_ring::KeyRing;
use travel::testing::{TEST_KID, test_key};
use travel::types::UnixMillis;
use travel::{Clock, ManualClock};
use travel_reservation::{Application, Config, Deps, ServiceToken};

/// `test_key`'s seed ([42; 32]) in base64url, so that auth signs with the key the services trust.
const TEST_SEED_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio";
const SECRET: &str = "service-secret-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkout_works_with_a_service_token_from_the_auth_service() {
    // Arrange: auth with the reservation service account, signing with the test key.
    let world = World::start().await;
    let flight = world.flight.create(10, "EUR").await;
    let auth_db = travel::testing::TestDatabase::new("auth").await;
    let mut auth_config = travel_auth::Config::new("127.0.0.1:0".parse().unwrap(), auth_db.url.clone());
    auth_config.signing_keys = Some(format!("{TEST_KID}={TEST_SEED_B64}"));
    auth_config.service_client_secret = Some(SECRET.into());
    let auth_clock = ManualClock::new(UnixMillis::from_unix_millis(START_MS));
    let auth = travel_auth::Application::build_with(
        auth_config,
        travel_auth::Deps {
            clock: Arc::new(auth_clock),
        },
    )
    .await
    .unwrap();
    let auth_url = format!("http://{}", auth.local_addr());
    let (stop_auth, auth_stopped) = tokio::sync::oneshot::channel::<()>();
    let auth_server = tokio::spawn(auth.run_until_stopped(async {
        let _ = auth_stopped.await;
    }));

    let clock = world.clock.clone();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), world.db.url.clone());
    config.flight_url = world.flight.url.clone();
    config.hotel_url = world.hotel.url.clone();
    let token =
        ServiceToken::from_auth(&auth_url, "reservation", Some(SECRET.into()), Arc::new(clock.clone())).unwrap();
    let deps = Deps {
        clock: Arc::new(clock.clone()),
        keys: Arc::new(KeyRing::fixed([test_key().public()])),
        service_token: token.clone(),
    };
    let app = Application::build_with(config, deps).await.unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let customer_token = common::user_token(&clock, "user-a", travel::jwt::Role::Customer);
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
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    let _ = stop_auth.send(());
    auth_server.await.unwrap().unwrap();
}
