//! The bench's flags.

use std::path::PathBuf;
use std::time::Duration;

use travel::config::parse_duration;

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A bare tonic health server the bench starts in its own process: the baseline of every ratio.
    Ceiling,
    /// The flight service's own health check, through the kit's layers.
    Health,
    /// GetFlight of one of the bench's flights.
    GetFlight,
    /// SearchFlights that finds 10 flights.
    SearchFlights,
    /// SearchHotels that finds 10 stays.
    SearchHotels,
    /// HoldSeats then ReleaseSeats, as the service account (one "call" is the pair).
    HoldRelease,
    /// A bundled checkout (one seat, one room-night) on plentiful inventory: little contention.
    Checkout,
    /// Bundled checkouts on 5 seats and 5 rooms: many buyers for little inventory.
    CheckoutContended,
    /// 90 % searches and gets, 9 % checkouts, 1 % cancellations.
    Mixed,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 9] = [
        Self::Ceiling,
        Self::Health,
        Self::GetFlight,
        Self::SearchFlights,
        Self::SearchHotels,
        Self::HoldRelease,
        Self::Checkout,
        Self::CheckoutContended,
        Self::Mixed,
    ];

    /// Its name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ceiling => "ceiling",
            Self::Health => "health",
            Self::GetFlight => "get-flight",
            Self::SearchFlights => "search-flights",
            Self::SearchHotels => "search-hotels",
            Self::HoldRelease => "hold-release",
            Self::Checkout => "checkout",
            Self::CheckoutContended => "checkout-contended",
            Self::Mixed => "mixed",
        }
    }

    /// Whether it books (and so runs with `--checkout-callers`).
    pub fn books(self) -> bool {
        matches!(self, Self::Checkout | Self::CheckoutContended | Self::Mixed)
    }
}

/// Load generator for the travel platform. Starts the four services itself (SQLite in a
/// temporary directory, from the binaries next to this one) unless given their endpoints;
/// runs each scenario after a warm-up; prints a progress line, then a Markdown table with
/// throughput, latency percentiles, errors by gRPC status code and the ratio of each
/// scenario's throughput to the `ceiling` of the same run, and each service process's memory.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "travel-bench", version)]
pub struct Args {
    /// Scenarios to run, comma-separated (default: all). The ceiling always runs first.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenarios: Vec<Scenario>,
    /// How long each scenario is measured.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How long each scenario runs before measuring starts (not recorded).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// HTTP/2 connections the callers share.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub connections: u16,
    /// Closed loop, read scenarios: callers per connection, each one call after another
    /// (16 connections × 16 = 256 calls in flight, as `h2load -c16 -m16`).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub streams: u16,
    /// Closed loop, booking scenarios: callers, each one checkout after another.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub checkout_callers: u16,
    /// Open loop instead: this many calls a second, each scenario, whatever the answers'
    /// latency; latency counts from when each call was due, so stalls are not hidden.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate: Option<u32>,
    /// Run against this auth service (with --flight, --hotel, --reservation) instead of
    /// starting the services.
    #[arg(long, requires_all = ["flight", "hotel", "reservation"])]
    pub auth: Option<String>,
    /// The flight service to run against.
    #[arg(long, requires = "auth")]
    pub flight: Option<String>,
    /// The hotel service to run against.
    #[arg(long, requires = "auth")]
    pub hotel: Option<String>,
    /// The reservation service to run against.
    #[arg(long, requires = "auth")]
    pub reservation: Option<String>,
    /// Start the services on PostgreSQL instead of SQLite: an admin URL of the server
    /// (`postgres://user@host:port/postgres`); the bench creates a fresh database for each
    /// service there and drops them when it ends.
    #[arg(long, env = "BENCH_POSTGRES_URL", conflicts_with = "auth")]
    pub postgres: Option<String>,
    /// With --postgres: also run `pgbench -b simple-update` against the same server, for
    /// as long as a scenario and with as many clients as --checkout-callers, and report
    /// the checkout's throughput as a ratio to its tps (needs `pgbench` on the PATH).
    #[arg(long, requires = "postgres")]
    pub pgbench: bool,
    /// Admin account (given endpoints: one the auth service has; otherwise created).
    #[arg(long, env = "BENCH_ADMIN_EMAIL", default_value = "admin@bench.local")]
    pub admin_email: String,
    /// Its password.
    #[arg(
        long,
        env = "BENCH_ADMIN_PASSWORD",
        default_value = "bench-admin-password",
        hide_env_values = true
    )]
    pub admin_password: String,
    /// Service account the hold-release scenario calls as.
    #[arg(long, env = "BENCH_SERVICE_CLIENT_ID", default_value = "reservation")]
    pub service_client_id: String,
    /// Its secret.
    #[arg(
        long,
        env = "BENCH_SERVICE_CLIENT_SECRET",
        default_value = "bench-service-secret",
        hide_env_values = true
    )]
    pub service_client_secret: String,
    /// Where the service binaries are (default: the directory of this one).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Where the services the bench starts write their logs (`travel-<service>.log`).
    #[arg(long, default_value = ".")]
    pub logs: PathBuf,
    /// Where to write the report as JSON.
    #[arg(long, default_value = "bench-report.json")]
    pub json: PathBuf,
    /// Where to write the report as Markdown (it is printed too).
    #[arg(long, default_value = "bench-report.md")]
    pub markdown: PathBuf,
}

impl Args {
    /// The scenarios to run: the ceiling first, then the chosen ones in their order.
    pub fn plan(&self) -> Vec<Scenario> {
        let mut plan: Vec<Scenario> = if self.scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            self.scenarios.clone()
        };
        plan.retain(|s| *s != Scenario::Ceiling);
        plan.sort();
        plan.dedup();
        plan.insert(0, Scenario::Ceiling);
        plan
    }
}
