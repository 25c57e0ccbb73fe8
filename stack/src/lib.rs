//! The local stack: starts every service of the platform in one process on its
//! default port, with one SQLite file per service under a data directory, loads
//! the demo catalog on first start, and stops them in the reverse order:
//! reservation first, auth last.
#![forbid(unsafe_code)]

pub mod demo;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use travel::config::{TelemetryArgs, parse_duration};

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
        hide_default_value = true
    )]
    pub admin_password: String,
    /// Client id of the service account (the reservation service's).
    #[arg(long, env = "STACK_SERVICE_CLIENT_ID", default_value = "reservation")]
    pub service_client_id: String,
    /// Secret of the service account; the default is for local use only.
    #[arg(
        long,
        env = "STACK_SERVICE_CLIENT_SECRET",
        default_value = "local-service-secret",
        hide_default_value = true
    )]
    pub service_client_secret: String,
    /// Do not load the demo catalog on first start.
    #[arg(long, env = "STACK_NO_DEMO")]
    pub no_demo: bool,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Starts the stack.
#[derive(Debug)]
pub struct Stack;

/// Test seams of the stack; `Seams::default()` is the real wiring.
#[derive(Default)]
pub struct Seams {
    /// Maps the flight service's address to the one the reservation service
    /// dials for it: a test puts a proxy there, to hold calls in flight.
    pub flight_route: Option<Box<dyn FnOnce(SocketAddr) -> SocketAddr + Send>>,
}

impl std::fmt::Debug for Seams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seams")
            .field("flight_route", &self.flight_route.is_some())
            .finish()
    }
}

impl Stack {
    /// Opens the databases and starts every service — auth first, since the
    /// others fetch its signing keys at start-up — then loads the demo catalog
    /// if this data directory has none yet, through the admin path. Every
    /// service is serving when this returns.
    pub async fn start(config: &StackConfig) -> anyhow::Result<RunningStack> {
        Self::start_with(config, Seams::default()).await
    }

    /// As [`Stack::start`], with test seams.
    pub async fn start_with(config: &StackConfig, seams: Seams) -> anyhow::Result<RunningStack> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
        let mut running = RunningStack::new();
        let stop_auth = running.tier();

        let mut auth_config = travel_auth::Config::new(config.auth_listen, sqlite_url(&config.data_dir, "auth"));
        auth_config.admin_email = Some(config.admin_email.clone());
        auth_config.admin_password = Some(config.admin_password.clone());
        auth_config.service_client_id = config.service_client_id.clone();
        auth_config.service_client_secret = Some(config.service_client_secret.clone());
        let auth = travel_auth::Application::build(auth_config)
            .await
            .context("cannot start the auth service")?;
        running.auth_addr = auth.local_addr();
        running.spawn(auth.run_until_stopped(stop_auth.cancelled_owned()));

        let auth_args = travel::config::AuthArgs {
            auth_url: format!("http://{}", dial(running.auth_addr)),
            ..travel::config::AuthArgs::default()
        };
        let mut flight_config =
            travel_flight::Config::new(config.flight_listen, sqlite_url(&config.data_dir, "flight"));
        flight_config.hold_ttl = config.hold_ttl;
        flight_config.auth = auth_args.clone();
        let mut hotel_config = travel_hotel::Config::new(config.hotel_listen, sqlite_url(&config.data_dir, "hotel"));
        hotel_config.hold_ttl = config.hold_ttl;
        hotel_config.auth = auth_args.clone();
        let started = async {
            let flight = travel_flight::Application::build(flight_config)
                .await
                .context("cannot start the flight service")?;
            let hotel = travel_hotel::Application::build(hotel_config)
                .await
                .context("cannot start the hotel service")?;
            anyhow::Ok((flight, hotel))
        };
        let (flight, hotel) = match started.await {
            Ok(apps) => apps,
            Err(e) => {
                running.stop().await;
                return Err(e);
            }
        };
        running.flight_addr = flight.local_addr();
        running.hotel_addr = hotel.local_addr();
        let stop_inventory = running.tier();
        running.spawn(flight.run_until_stopped(stop_inventory.clone().cancelled_owned()));
        running.spawn(hotel.run_until_stopped(stop_inventory.cancelled_owned()));

        let mut reservation_config =
            travel_reservation::Config::new(config.reservation_listen, sqlite_url(&config.data_dir, "reservation"));
        let flight_route = seams.flight_route.unwrap_or_else(|| Box::new(|addr| addr));
        reservation_config.flight_url = format!("http://{}", flight_route(dial(running.flight_addr)));
        reservation_config.hotel_url = format!("http://{}", dial(running.hotel_addr));
        reservation_config.hold_ttl = Some(config.hold_ttl); // checked against its lease at start-up
        reservation_config.auth = auth_args.clone();
        reservation_config.service_client_id = config.service_client_id.clone();
        reservation_config.service_client_secret = Some(config.service_client_secret.clone().into());
        let reservation = match travel_reservation::Application::build(reservation_config).await {
            Ok(app) => app,
            Err(e) => {
                running.stop().await;
                return Err(e.context("cannot start the reservation service"));
            }
        };
        running.reservation_addr = reservation.local_addr();
        let stop_reservation = running.tier();
        running.spawn(reservation.run_until_stopped(stop_reservation.cancelled_owned()));

        if !config.no_demo {
            let endpoints = demo::Endpoints {
                auth: dial(running.auth_addr),
                flight: dial(running.flight_addr),
                hotel: dial(running.hotel_addr),
            };
            match demo::load(
                &config.data_dir,
                &endpoints,
                &config.admin_email,
                &config.admin_password,
            )
            .await
            {
                Ok(loaded) => running.demo = Some(loaded),
                Err(e) => {
                    running.stop().await;
                    return Err(e.context("cannot load the demo catalog"));
                }
            }
        }
        Ok(running)
    }
}

/// The stack while it serves.
#[derive(Debug)]
pub struct RunningStack {
    /// The services in the order they started, each tier depending on the ones
    /// before it (auth; flight and hotel; reservation): stopped in reverse.
    tiers: Vec<Tier>,
    /// Where the auth service listens.
    pub auth_addr: SocketAddr,
    /// Where the flight service listens.
    pub flight_addr: SocketAddr,
    /// Where the hotel service listens.
    pub hotel_addr: SocketAddr,
    /// Where the reservation service listens.
    pub reservation_addr: SocketAddr,
    /// What the demo catalog holds, if it was loaded.
    pub demo: Option<demo::Loaded>,
}

/// Services started together and stopped together.
#[derive(Debug, Default)]
struct Tier {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl RunningStack {
    fn new() -> Self {
        let unbound = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            tiers: Vec::new(),
            auth_addr: unbound,
            flight_addr: unbound,
            hotel_addr: unbound,
            reservation_addr: unbound,
            demo: None,
        }
    }

    /// Starts a tier of services that depend on those started before: the
    /// signal that stops it.
    fn tier(&mut self) -> CancellationToken {
        let tier = Tier::default();
        let stop = tier.stop.clone();
        self.tiers.push(tier);
        stop
    }

    /// Runs a service in the last tier.
    fn spawn(&mut self, service: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
        if let Some(tier) = self.tiers.last_mut() {
            tier.tasks.push(tokio::spawn(service));
        }
    }

    /// Serves until `shutdown` resolves (or a service fails), then stops the
    /// services in the reverse order of their start, each tier once the one
    /// after it has stopped: reservation first (it drains its calls and lets its
    /// sagas finish, within its drain timeout, while flight and hotel still
    /// serve them), then flight and hotel, then auth.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let failed = tokio::select! {
            () = shutdown => None,
            finished = first_finished(&mut self.tiers) => Some(finished),
        };
        let mut outcome = Ok(());
        if let Some((tier, index, result)) = failed {
            self.tiers[tier].tasks.swap_remove(index); // already finished: must not be awaited again
            outcome = match result {
                Ok(Ok(())) => Err(anyhow::anyhow!("a service stopped unexpectedly")),
                Ok(Err(e)) => Err(e),
                Err(join) => Err(anyhow::anyhow!("a service crashed: {join}")),
            };
        }
        for tier in self.tiers.drain(..).rev() {
            tier.stop.cancel();
            for task in tier.tasks {
                let result = match task.await {
                    Ok(result) => result,
                    Err(join) => Err(anyhow::anyhow!("a service crashed: {join}")),
                };
                if let (Err(e), true) = (result, outcome.is_ok()) {
                    outcome = Err(e);
                }
            }
        }
        outcome
    }

    /// Stops every service and waits for them.
    pub async fn stop(self) {
        let _ = self.run_until(std::future::ready(())).await;
    }

    /// What to print on start: endpoints and a command to paste.
    pub fn banner(&self) -> String {
        let mut out = format!(
            "travel stack is up\n  auth     {}   travel.auth.v1.AuthService\n  flight   {}   travel.flight.v1.FlightService\n  hotel    {}   travel.hotel.v1.HotelService\n  reservation {} travel.reservation.v1.ReservationService\n",
            self.auth_addr, self.flight_addr, self.hotel_addr, self.reservation_addr
        );
        if let Some(demo) = &self.demo {
            out.push_str(&format!(
                "\nTry it (demo catalog loaded: {} flights, {} hotels):\n  grpcurl -plaintext -d '{{\"origin\":\"LIS\",\"destination\":\"JFK\",\"departure_date\":{{\"year\":{},\"month\":{},\"day\":{}}},\"passengers\":1}}' {} travel.flight.v1.FlightService/SearchFlights\n",
                demo.flights, demo.hotels, demo.example_date.0, demo.example_date.1, demo.example_date.2, self.flight_addr
            ));
        }
        out.push_str("\nPress Ctrl-C to stop.");
        out
    }
}

/// Waits for the first of the services to finish: its tier, index and result.
async fn first_finished(tiers: &mut [Tier]) -> (usize, usize, Result<anyhow::Result<()>, tokio::task::JoinError>) {
    std::future::poll_fn(|cx| {
        for (t, tier) in tiers.iter_mut().enumerate() {
            for (i, task) in tier.tasks.iter_mut().enumerate() {
                if let std::task::Poll::Ready(result) = std::pin::Pin::new(task).poll(cx) {
                    return std::task::Poll::Ready((t, i, result));
                }
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// The address to dial for a service listening on `addr` (an unspecified
/// address means this machine).
fn dial(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// The SQLite URL of `service`'s database in `dir`.
fn sqlite_url(dir: &Path, service: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(format!("{service}.db")).display())
}
