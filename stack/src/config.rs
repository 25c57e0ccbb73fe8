//! The stack's settings: command-line flags, each with an environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use travel::config::{TelemetryArgs, parse_duration, parse_secret};

/// The stack's settings: command-line flags, each with an environment twin.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "travel-stack",
    version,
    about = "The travel platform in one process: the auth, flight, hotel and reservation services with SQLite under a data directory and a demo catalog."
)]
pub struct StackConfig {
    /// Directory for the services' SQLite files; created if missing. Data survives restarts.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Address of the auth service.
    #[arg(long, env = "STACK_AUTH_LISTEN", default_value = "127.0.0.1:50051")]
    pub auth_listen: SocketAddr,
    /// Address of the flight service.
    #[arg(long, env = "STACK_FLIGHT_LISTEN", default_value = "127.0.0.1:50052")]
    pub flight_listen: SocketAddr,
    /// Address of the hotel service.
    #[arg(long, env = "STACK_HOTEL_LISTEN", default_value = "127.0.0.1:50053")]
    pub hotel_listen: SocketAddr,
    /// Address of the reservation service.
    #[arg(long, env = "STACK_RESERVATION_LISTEN", default_value = "127.0.0.1:50054")]
    pub reservation_listen: SocketAddr,
    /// Address of the auth service's Prometheus `/metrics`.
    #[arg(long, env = "STACK_AUTH_METRICS_LISTEN", default_value = "127.0.0.1:9051")]
    pub auth_metrics_listen: SocketAddr,
    /// Address of the flight service's Prometheus `/metrics`.
    #[arg(long, env = "STACK_FLIGHT_METRICS_LISTEN", default_value = "127.0.0.1:9052")]
    pub flight_metrics_listen: SocketAddr,
    /// Address of the hotel service's Prometheus `/metrics`.
    #[arg(long, env = "STACK_HOTEL_METRICS_LISTEN", default_value = "127.0.0.1:9053")]
    pub hotel_metrics_listen: SocketAddr,
    /// Address of the reservation service's Prometheus `/metrics`.
    #[arg(long, env = "STACK_RESERVATION_METRICS_LISTEN", default_value = "127.0.0.1:9054")]
    pub reservation_metrics_listen: SocketAddr,
    /// Replicas of the flight and of the hotel service, each sharing its service's database: the
    /// first listens on --flight-listen / --hotel-listen, the others on ports the system picks
    /// (printed at start-up); the reservation service balances its calls over them.
    #[arg(long, env = "STACK_REPLICAS", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub replicas: u8,
    /// How long seat and room holds last unless confirmed.
    #[arg(long, env = "STACK_HOLD_TTL", default_value = "15m", value_parser = parse_duration)]
    pub hold_ttl: Duration,
    /// Email of the admin account (created at start-up; it loads the demo catalog).
    #[arg(long, env = "STACK_ADMIN_EMAIL", default_value = "admin@travel.local")]
    pub admin_email: String,
    /// Password of the admin account. The default is for local use only: the
    /// stack listens on 127.0.0.1.
    #[arg(
        long,
        env = "STACK_ADMIN_PASSWORD",
        default_value = "local-admin-password",
        hide_default_value = true,
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub admin_password: SecretString,
    /// Client id of the service account (the reservation service's).
    #[arg(long, env = "STACK_SERVICE_CLIENT_ID", default_value = "reservation")]
    pub service_client_id: String,
    /// Secret of the service account; the default is for local use only.
    #[arg(
        long,
        env = "STACK_SERVICE_CLIENT_SECRET",
        default_value = "local-service-secret",
        hide_default_value = true,
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub service_client_secret: SecretString,
    /// Do not load the demo catalog on first start.
    #[arg(long, env = "STACK_NO_DEMO")]
    pub no_demo: bool,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}
