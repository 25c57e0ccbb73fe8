//! Migrations run at start-up: several replicas of each service starting at
//! once on one new database (PostgreSQL when TRAVEL_TEST_POSTGRES_URL is set,
//! as in a cluster where a Deployment's pods start together) all come up,
//! serve, and see one schema.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use travel::testing::{TestDatabase, TestServer, manual_clock, test_keys};

use crate::shutdown::lazy;

/// Replicas of each service that start at once.
const REPLICAS: usize = 4;

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

/// Starts [`REPLICAS`] replicas with `start` (each on its own task, so that
/// their migrations race) and asserts each comes up and reports SERVING.
async fn all_come_up<F, Fut>(service: &str, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<(SocketAddr, TestServer)>> + Send + 'static,
{
    let mut starting = JoinSet::new();
    for _ in 0..REPLICAS {
        starting.spawn(start());
    }
    let mut replicas = Vec::new();
    while let Some(started) = starting.join_next().await {
        let started = started.expect("a replica's start-up task");
        replicas.push(started.unwrap_or_else(|e| panic!("a {service} replica did not come up: {e:#}")));
    }
    assert_eq!(replicas.len(), REPLICAS);
    for (addr, _) in &replicas {
        let health = HealthClient::new(lazy(*addr))
            .check(HealthCheckRequest { service: String::new() })
            .await
            .expect("health");
        assert_eq!(
            health.into_inner().status,
            ServingStatus::Serving as i32,
            "{service} at {addr}"
        );
    }
    for (_, server) in replicas {
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_replicas_of_every_service_starting_at_once_on_one_new_database_all_come_up() {
    let auth_db = TestDatabase::new("auth").await;
    let url = auth_db.url.clone();
    all_come_up("auth", move || {
        let config = travel_auth::Config::new(any(), url.clone());
        async move {
            let deps = travel_auth::Deps {
                clock: Arc::new(manual_clock()),
            };
            let app = travel_auth::Application::build_with(config, deps).await?;
            let addr = app.local_addr();
            Ok((addr, TestServer::spawn(|stop| app.run_until_stopped(stop))))
        }
    })
    .await;

    let flight_db = TestDatabase::new("flight").await;
    let url = flight_db.url.clone();
    all_come_up("flight", move || {
        let config = travel_flight::Config::new(any(), url.clone());
        async move {
            let deps = travel_flight::Deps {
                clock: Arc::new(manual_clock()),
                keys: test_keys(),
            };
            let app = travel_flight::Application::build_with(config, deps).await?;
            let addr = app.local_addr();
            Ok((addr, TestServer::spawn(|stop| app.run_until_stopped(stop))))
        }
    })
    .await;

    let hotel_db = TestDatabase::new("hotel").await;
    let url = hotel_db.url.clone();
    all_come_up("hotel", move || {
        let config = travel_hotel::Config::new(any(), url.clone());
        async move {
            let deps = travel_hotel::Deps {
                clock: Arc::new(manual_clock()),
                keys: test_keys(),
            };
            let app = travel_hotel::Application::build_with(config, deps).await?;
            let addr = app.local_addr();
            Ok((addr, TestServer::spawn(|stop| app.run_until_stopped(stop))))
        }
    })
    .await;

    let reservation_db = TestDatabase::new("reservation").await;
    let url = reservation_db.url.clone();
    all_come_up("reservation", move || {
        let config = travel_reservation::Config::new(any(), url.clone());
        async move {
            let deps = travel_reservation::Deps {
                clock: Arc::new(manual_clock()),
                keys: test_keys(),
                service_token: travel_reservation::ServiceToken::fixed("a token"),
            };
            let app = travel_reservation::Application::build_with(config, deps).await?;
            let addr = app.local_addr();
            Ok((addr, TestServer::spawn(|stop| app.run_until_stopped(stop))))
        }
    })
    .await;
}
