//! What the stack's tests share: the stack's settings on 127.0.0.1:0, and the
//! services started (or their databases reopened) on their own.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use travel::testing::{TestServer, test_keys};
use travel_stack::StackConfig;

/// The stack's admin account.
pub const ADMIN: &str = "admin@travel.test";
/// The admin's password.
pub const PASSWORD: &str = "a long admin password";
/// The reservation service's account with auth.
pub const SERVICE: (&str, &str) = ("reservation", "a long service secret");

/// The stack with its data under `dir`, every service on 127.0.0.1:0, holds of
/// 15 minutes, and no demo catalog.
pub fn stack_config(dir: &Path) -> StackConfig {
    let any = "127.0.0.1:0".parse().expect("address");
    StackConfig {
        data_dir: dir.to_path_buf(),
        auth_listen: any,
        flight_listen: any,
        hotel_listen: any,
        reservation_listen: any,
        auth_metrics_listen: any,
        flight_metrics_listen: any,
        hotel_metrics_listen: any,
        reservation_metrics_listen: any,
        replicas: 1,
        hold_ttl: Duration::from_secs(900),
        admin_email: ADMIN.into(),
        admin_password: PASSWORD.into(),
        service_client_id: SERVICE.0.into(),
        service_client_secret: SERVICE.1.into(),
        no_demo: true,
        telemetry: Default::default(),
    }
}

fn any_addr() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

/// The auth service alone on `database_url`, with the stack's admin: where it
/// listens, and the server (stop it to take auth down).
pub async fn start_auth(database_url: &str) -> (SocketAddr, TestServer) {
    let mut config = travel_auth::Config::new(any_addr(), database_url.to_owned());
    config.admin_email = Some(ADMIN.into());
    config.admin_password = Some(PASSWORD.into());
    let auth = travel_auth::Application::build(config).await.expect("auth");
    let addr = auth.local_addr();
    (addr, TestServer::spawn(|shutdown| auth.run_until_stopped(shutdown)))
}

/// The flight service alone on `database_url`, fetching its keys from `auth_url`.
pub async fn start_flight(database_url: &str, auth_url: String) -> (SocketAddr, TestServer) {
    let mut config = travel_flight::Config::new(any_addr(), database_url.to_owned());
    config.auth.auth_url = auth_url;
    let flight = travel_flight::Application::build(config).await.expect("flight");
    let addr = flight.local_addr();
    (addr, TestServer::spawn(|shutdown| flight.run_until_stopped(shutdown)))
}

/// The flight service's application on `database_url` (not serving), to read its store.
pub async fn open_flight(database_url: String) -> travel_flight::Application {
    let mut config = travel_flight::Config::new(any_addr(), database_url);
    config.sweep_interval = Duration::from_secs(3600);
    travel_flight::Application::build_with(
        config,
        travel_flight::Deps {
            clock: std::sync::Arc::new(travel::SystemClock),
            keys: test_keys(),
        },
    )
    .await
    .expect("open the flight database")
}

/// The hotel service's application on `database_url` (not serving), to read its store.
pub async fn open_hotel(database_url: String) -> travel_hotel::Application {
    let mut config = travel_hotel::Config::new(any_addr(), database_url);
    config.sweep_interval = Duration::from_secs(3600);
    travel_hotel::Application::build_with(
        config,
        travel_hotel::Deps {
            clock: std::sync::Arc::new(travel::SystemClock),
            keys: test_keys(),
        },
    )
    .await
    .expect("open the hotel database")
}
