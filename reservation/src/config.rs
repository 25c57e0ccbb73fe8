//! The reservation service's settings: its own flags (the service account's
//! secret from the environment only), and the kit's shared groups.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use travel::config::{AuthArgs, EventArgs, HostArgs, parse_duration, secret_from_env};

#[cfg(feature = "crash-points")]
use crate::saga::CrashPoint;

/// Environment variable holding the service account's secret.
pub const SERVICE_SECRET_ENV: &str = "RESERVATION_SERVICE_CLIENT_SECRET";

/// The reservation service's settings: command-line flags, each with an environment twin.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "travel-reservation",
    version,
    about = "The reservation service: checkout of flights, hotel stays and bundles of both over gRPC.",
    after_help = "The service account's secret is read from RESERVATION_SERVICE_CLIENT_SECRET only (never a flag, which shows in process lists)."
)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "RESERVATION_LISTEN_ADDR", default_value = "0.0.0.0:50054")]
    pub listen: SocketAddr,
    /// Address to serve Prometheus metrics on, over HTTP at `/metrics`.
    #[arg(long, env = "RESERVATION_METRICS_LISTEN_ADDR", default_value = "0.0.0.0:9054")]
    pub metrics_listen: SocketAddr,
    /// Database URL: `sqlite://PATH?mode=rwc` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "RESERVATION_DATABASE_URL",
        default_value = "sqlite://data/reservation.db?mode=rwc"
    )]
    pub database_url: String,
    /// The flight service (seat holds): a URL (`http://host:port`),
    /// `dns:///name:port` (every address behind the name, balanced and looked up
    /// again periodically), or a comma-separated list of URLs.
    #[arg(long, env = "RESERVATION_FLIGHT_URL", default_value = "http://127.0.0.1:50052",
          value_parser = travel::discovery::target_flag)]
    pub flight_url: String,
    /// The hotel service (room holds): a URL, `dns:///name:port`, or a
    /// comma-separated list of URLs, as `--flight-url`.
    #[arg(long, env = "RESERVATION_HOTEL_URL", default_value = "http://127.0.0.1:50053",
          value_parser = travel::discovery::target_flag)]
    pub hotel_url: String,
    /// Longest one call to the flight or hotel service may take (less if the
    /// checkout's remaining budget is shorter).
    #[arg(long, env = "RESERVATION_CALL_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// Budget of a whole checkout or cancellation when the client sets no shorter deadline.
    #[arg(long, env = "RESERVATION_CHECKOUT_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub checkout_timeout: Duration,
    /// How often unfinished sagas (left by a crash or an unreachable service) are driven on.
    #[arg(long, env = "RESERVATION_RECOVERY_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub recovery_interval: Duration,
    /// How long a running saga belongs to its driver before recovery may take it
    /// over; never renewed. Must be above the checkout timeout plus twice the call
    /// timeout, the longest a driver may take (checked at start-up).
    #[arg(long, env = "RESERVATION_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,
    /// Least time both holds must have left for a checkout to pass its pivot;
    /// with less, it is refused (FAILED) rather than risk a hold expiring before
    /// it is confirmed. Must be at least lease + recovery interval + call timeout.
    #[arg(long, env = "RESERVATION_MIN_HOLD_TTL_AT_PIVOT", default_value = "5m", value_parser = parse_duration)]
    pub min_hold_ttl_at_pivot: Duration,
    /// The hold TTL of the flight and hotel services, if known: start-up then
    /// checks that it leaves a checkout the minimum at its pivot.
    #[arg(long, env = "RESERVATION_HOLD_TTL", value_parser = parse_duration)]
    pub hold_ttl: Option<Duration>,
    /// Most unfinished sagas one recovery pass drives at the same time.
    #[arg(long, env = "RESERVATION_RECOVERY_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub recovery_concurrency: u16,
    /// Calls in a row that failed after their retries (unreachable, overloaded,
    /// too slow) after which calls to the flight or hotel service fail at once
    /// with UNAVAILABLE, for `--breaker-cool-off`; then one call probes whether it
    /// is back. One replica dying does not count: its calls' retries reach another.
    #[arg(long, env = "RESERVATION_BREAKER_FAILURES", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub breaker_failures: u32,
    /// How long an open circuit breaker fails calls at once before it lets a probe through.
    #[arg(long, env = "RESERVATION_BREAKER_COOL_OFF", default_value = "5s", value_parser = parse_duration)]
    pub breaker_cool_off: Duration,
    /// Retries of failed calls to the flight or hotel service allowed, as a
    /// percentage of the calls made to it in the last 10 s (plus the floor).
    #[arg(long, env = "RESERVATION_RETRY_BUDGET_PERCENT", default_value_t = 20,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub retry_budget_percent: u8,
    /// Retries per second allowed to each of the flight and hotel services
    /// whatever the number of calls, so that a quiet service can still retry.
    #[arg(long, env = "RESERVATION_RETRY_BUDGET_FLOOR", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub retry_budget_floor: u32,
    /// Client id of this service's account on the auth service (IssueServiceToken).
    #[arg(long, env = "RESERVATION_SERVICE_CLIENT_ID", default_value = "reservation")]
    pub service_client_id: String,
    /// The service account's secret: from RESERVATION_SERVICE_CLIENT_SECRET only,
    /// never a flag; redacted in `Debug` output.
    #[arg(skip = secret_from_env(SERVICE_SECRET_ENV))]
    pub service_client_secret: Option<SecretString>,
    /// Test seam: make the saga stop dead right after persisting this step, as
    /// a crashed process would. Never set outside tests.
    #[arg(skip)]
    #[cfg(feature = "crash-points")]
    pub crash_after: Option<CrashPoint>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub host: HostArgs,
    /// The broker its events go to (ReservationConfirmed…) and FlightCancelled comes from.
    #[command(flatten)]
    pub events: EventArgs,
    /// The broker queue it takes the flight service's events from (durable; its refused
    /// messages go to `<queue>.dead`). Every replica takes from the same queue, each event
    /// going to one of them; a second deployment on the same broker needs a queue of its own.
    #[arg(long, env = "RESERVATION_EVENTS_QUEUE", default_value = crate::events::QUEUE)]
    pub events_queue: String,
}

impl Config {
    /// How the calls to the flight and hotel services are protected.
    pub fn protection(&self) -> crate::clients::Protection {
        crate::clients::Protection {
            breaker: travel::breaker::Settings {
                failures: self.breaker_failures,
                cool_off: self.breaker_cool_off,
            },
            retry_percent: self.retry_budget_percent,
            retry_floor_per_sec: self.retry_budget_floor,
        }
    }

    /// Settings for a service on `listen` with the database at `database_url`,
    /// and every other setting at its default (no service account secret).
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            listen,
            metrics_listen: travel::config::metrics_beside(listen),
            database_url: database_url.into(),
            service_client_secret: None,
            #[cfg(feature = "crash-points")]
            crash_after: None,
            ..travel::config::defaults()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_urls_take_dns_names_and_lists_and_refuse_anything_else() {
        use clap::Parser;
        let parse = |flag: &str, value: &str| Config::try_parse_from(["travel-reservation", flag, value]);
        let config = parse("--flight-url", "dns:///flight:50052").expect("a DNS target");
        assert_eq!(config.flight_url, "dns:///flight:50052");
        assert!(parse("--hotel-url", "http://hotel-0:50053,http://hotel-1:50053").is_ok());
        assert!(parse("--hotel-url", "hotel:50053").is_err());
        assert!(parse("--flight-url", "dns:///flight").is_err());
    }

    #[test]
    fn the_service_account_secret_never_shows_in_debug_output() {
        let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), "sqlite::memory:");
        config.service_client_secret = Some("a long service secret".into());
        let printed = format!("{config:?}");
        assert!(!printed.contains("a long service secret"), "{printed}");
        assert!(printed.contains("service_client_secret"), "{printed}");
    }
}
