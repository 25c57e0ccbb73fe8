//! Health that tells the truth: readiness follows the database (NOT_SERVING
//! while it is unreachable, SERVING when it is back) while liveness stays
//! SERVING; on stop, readiness turns NOT_SERVING and calls are still served
//! for the pre-stop delay.

use std::sync::Arc;
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use travel::testing::proxy::Proxy;
use travel::testing::{TestDatabase, TestServer, manual_clock, test_keys};
use travel_flight::{Application, Config, Deps};

const FLIGHT: &str = "travel.flight.v1.FlightService";

async fn status(health: &mut HealthClient<tonic::transport::Channel>, service: &str) -> ServingStatus {
    let answer = health
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health answers")
        .into_inner();
    ServingStatus::try_from(answer.status).expect("a known status")
}

/// Polls (bounded: 20 s) until `service`'s health is `wanted`.
async fn until(health: &mut HealthClient<tonic::transport::Channel>, service: &str, wanted: ServingStatus) {
    for _ in 0..400 {
        if status(health, service).await == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{service:?} never became {wanted:?}");
}

async fn build(database_url: String, adjust: impl FnOnce(&mut Config)) -> Application {
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), database_url);
    adjust(&mut config);
    let deps = Deps {
        clock: Arc::new(manual_clock()),
        keys: test_keys(),
    };
    Application::build_with(config, deps).await.expect("build")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_liveness_does_not() {
    // Arrange: PostgreSQL behind a proxy the test can cut (SQLite is a file:
    // it has no outage to simulate, so this runs in the PostgreSQL suite).
    let db = TestDatabase::new("flight").await;
    let Some(server) = db.postgres_address() else {
        eprintln!("skipped on SQLite: needs TRAVEL_TEST_POSTGRES_URL");
        return;
    };
    let proxy = Proxy::start(server).await;
    let url = db.url_at(proxy.addr()).expect("a PostgreSQL URL");
    let app = build(url, |config| {
        config.host.server.health_check_interval = Duration::from_millis(100);
        config.host.database.database_busy_timeout = Duration::from_secs(1);
    })
    .await;
    let channel = travel::testing::connect(app.local_addr()).await;
    let _server = TestServer::spawn(|shutdown| app.run_until_stopped(shutdown));
    let mut health = HealthClient::new(channel);
    assert_eq!(status(&mut health, FLIGHT).await, ServingStatus::Serving);

    // Act: the database goes away.
    proxy.cut();

    // Assert: not ready, still alive.
    until(&mut health, FLIGHT, ServingStatus::NotServing).await;
    assert_eq!(status(&mut health, "").await, ServingStatus::NotServing);
    assert_eq!(status(&mut health, "liveness").await, ServingStatus::Serving);

    // Act: it comes back.
    proxy.restore();

    // Assert
    until(&mut health, FLIGHT, ServingStatus::Serving).await;
    assert_eq!(status(&mut health, "").await, ServingStatus::Serving);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stop_readiness_turns_not_serving_and_calls_are_served_through_the_pre_stop_delay() {
    // Arrange
    let db = TestDatabase::new("flight").await;
    let app = build(db.url.clone(), |config| {
        config.host.server.pre_stop_delay = Duration::from_secs(3);
    })
    .await;
    let channel = travel::testing::connect(app.local_addr()).await;
    let server = TestServer::spawn(|shutdown| app.run_until_stopped(shutdown));
    let mut health = HealthClient::new(channel.clone());
    let mut flights = travel::pb::flight::v1::flight_service_client::FlightServiceClient::new(channel);

    // Act: stop, in the background.
    let stopping = tokio::spawn(server.stop());

    // Assert: readiness goes first; liveness stays; a call still gets its own answer.
    until(&mut health, FLIGHT, ServingStatus::NotServing).await;
    assert_eq!(status(&mut health, "liveness").await, ServingStatus::Serving);
    let missing = flights
        .get_flight(travel::pb::flight::v1::GetFlightRequest {
            id: "no-such-flight".into(),
        })
        .await
        .expect_err("no such flight");
    assert_eq!(
        missing.code(),
        tonic::Code::NotFound,
        "served, not refused: {missing:?}"
    );
    stopping
        .await
        .expect("the service stops cleanly after the delay and the drain");
}
