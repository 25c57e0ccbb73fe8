//! The hotel service's settings: its own flags, and the kit's shared groups.

use std::net::SocketAddr;
use std::time::Duration;

use travel::config::{AuthArgs, HostArgs, parse_duration};

use crate::store;

/// The hotel service's settings: command-line flags, each with an environment twin.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "travel-hotel",
    version,
    about = "The hotel service: hotels, room search and room holds over gRPC."
)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "HOTEL_LISTEN_ADDR", default_value = "0.0.0.0:50053")]
    pub listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "HOTEL_DATABASE_URL", default_value = "sqlite://data/hotel.db?mode=rwc")]
    pub database_url: String,
    /// How long a room hold lasts unless confirmed; then its rooms go back to inventory.
    #[arg(long, env = "HOTEL_HOLD_TTL", default_value = "15m", value_parser = parse_duration)]
    pub hold_ttl: Duration,
    /// How often expired holds are swept back into inventory.
    #[arg(long, env = "HOTEL_SWEEP_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub sweep_interval: Duration,
    /// Most expired holds one sweep transaction returns (all of one room type);
    /// the sweeper commits and starts another until none is due, so it never
    /// keeps other writers waiting for long, even after an outage.
    #[arg(long, env = "HOTEL_SWEEP_BATCH", default_value_t = store::DEFAULT_SWEEP_BATCH,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sweep_batch: u32,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub host: HostArgs,
}

impl Config {
    /// Settings for a service on `listen` with the database at `database_url`, and
    /// every other setting at its default.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            database_url: database_url.into(),
            ..travel::config::defaults()
        }
    }

    /// What these settings say to the service's host.
    pub fn settings(&self) -> travel::hold::service::Settings<'_> {
        travel::hold::service::Settings {
            listen: self.listen,
            database_url: &self.database_url,
            hold_ttl: self.hold_ttl,
            sweep_interval: self.sweep_interval,
            sweep_batch: self.sweep_batch,
            auth: &self.auth,
            host: &self.host,
        }
    }
}
