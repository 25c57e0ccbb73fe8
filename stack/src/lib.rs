//! The local stack: starts every service of the platform in one process on its
//! default port, with one SQLite file per service under a data directory, loads
//! the demo catalog on first start, and stops them in the reverse order:
//! reservation first, auth last.
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod running;

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use secrecy::ExposeSecret;

pub use config::StackConfig;
pub use running::RunningStack;

/// Starts the stack.
#[derive(Debug)]
pub struct Stack;

/// Test seams of the stack; `Seams::default()` is the real wiring.
#[derive(Default)]
pub struct Seams {
    /// Maps the (first) flight replica's address to the one the reservation
    /// service dials for it: a test puts a proxy there, to hold calls in flight.
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
        // Held until just before each service binds: the default ports lie in
        // Linux's ephemeral range, and an outgoing connection of a service that
        // started first (to auth, for keys) must not take one as its own port.
        let mut reserved = Reserved::hold([config.flight_listen, config.hotel_listen, config.reservation_listen]);
        let mut running = RunningStack::new();
        let stop_auth = running.tier();

        let mut auth_config = travel_auth::Config::new(config.auth_listen, sqlite_url(&config.data_dir, "auth"));
        auth_config.metrics_listen = config.auth_metrics_listen;
        auth_config.admin_email = Some(config.admin_email.clone());
        auth_config.admin_password = Some(config.admin_password.clone());
        auth_config.service_client_id = config.service_client_id.clone();
        auth_config.service_client_secret = Some(config.service_client_secret.clone());
        let auth = travel_auth::Application::build(auth_config)
            .await
            .context("cannot start the auth service")?;
        running.auth_addr = auth.local_addr();
        running.metrics.push(("auth", auth.metrics_url()));
        running.spawn(auth.run_until_stopped(stop_auth.cancelled_owned()));

        let auth_args = travel::config::AuthArgs {
            auth_url: format!("http://{}", dial(running.auth_addr)),
            ..travel::config::AuthArgs::default()
        };
        // Without a broker, the services' events go through this bus, in process.
        // Its consumers' queues are declared before any service can publish,
        // so an event published before the reservation service has subscribed
        // waits in the outbox instead of going to nobody.
        let bus = travel::events::bus::Bus::default();
        bus.declare(travel_reservation::events::QUEUE, travel_reservation::events::PATTERNS);
        let started = async {
            let mut flights = Vec::new();
            let mut hotels = Vec::new();
            for replica in 0..config.replicas {
                // The first replica on the configured addresses; the others on any free port.
                let (flight_at, hotel_at) = match replica {
                    0 => (
                        (config.flight_listen, config.flight_metrics_listen),
                        (config.hotel_listen, config.hotel_metrics_listen),
                    ),
                    _ => (
                        (any_port(config.flight_listen), any_port(config.flight_metrics_listen)),
                        (any_port(config.hotel_listen), any_port(config.hotel_metrics_listen)),
                    ),
                };
                let mut flight_config = travel_flight::Config::new(flight_at.0, sqlite_url(&config.data_dir, "flight"));
                flight_config.metrics_listen = flight_at.1;
                flight_config.hold_ttl = config.hold_ttl;
                flight_config.auth = auth_args.clone();
                flight_config.events.local = Some(bus.clone());
                let mut hotel_config = travel_hotel::Config::new(hotel_at.0, sqlite_url(&config.data_dir, "hotel"));
                hotel_config.metrics_listen = hotel_at.1;
                hotel_config.hold_ttl = config.hold_ttl;
                hotel_config.auth = auth_args.clone();
                reserved.release(flight_config.listen);
                flights.push(
                    travel_flight::Application::build(flight_config)
                        .await
                        .context("cannot start the flight service")?,
                );
                reserved.release(hotel_config.listen);
                hotels.push(
                    travel_hotel::Application::build(hotel_config)
                        .await
                        .context("cannot start the hotel service")?,
                );
            }
            anyhow::Ok((flights, hotels))
        };
        let (flights, hotels) = match started.await {
            Ok(apps) => apps,
            Err(e) => {
                running.stop().await;
                return Err(e);
            }
        };
        running.flight_replicas = flights.iter().map(|app| app.local_addr()).collect();
        running.hotel_replicas = hotels.iter().map(|app| app.local_addr()).collect();
        running.flight_addr = running.flight_replicas[0];
        running.hotel_addr = running.hotel_replicas[0];
        for flight in &flights {
            running.metrics.push(("flight", flight.metrics_url()));
        }
        for hotel in &hotels {
            running.metrics.push(("hotel", hotel.metrics_url()));
        }
        let stop_inventory = running.tier();
        for flight in flights {
            running.spawn(flight.run_until_stopped(stop_inventory.clone().cancelled_owned()));
        }
        for hotel in hotels {
            running.spawn(hotel.run_until_stopped(stop_inventory.clone().cancelled_owned()));
        }

        let mut reservation_config =
            travel_reservation::Config::new(config.reservation_listen, sqlite_url(&config.data_dir, "reservation"));
        // One URL per replica: a list, which the reservation service balances over.
        let urls = |addrs: &[SocketAddr]| {
            addrs
                .iter()
                .map(|addr| format!("http://{}", dial(*addr)))
                .collect::<Vec<_>>()
        };
        let mut flight_urls = urls(&running.flight_replicas);
        if let (Some(route), Some(first)) = (seams.flight_route, flight_urls.first_mut()) {
            *first = format!("http://{}", route(dial(running.flight_addr)));
        }
        reservation_config.flight_url = flight_urls.join(",");
        reservation_config.hotel_url = urls(&running.hotel_replicas).join(",");
        reservation_config.metrics_listen = config.reservation_metrics_listen;
        reservation_config.hold_ttl = Some(config.hold_ttl); // checked against its lease at start-up
        reservation_config.auth = auth_args.clone();
        reservation_config.events.local = Some(bus);
        reservation_config.service_client_id = config.service_client_id.clone();
        reservation_config.service_client_secret = Some(config.service_client_secret.clone());
        reserved.release(config.reservation_listen);
        let reservation = match travel_reservation::Application::build(reservation_config).await {
            Ok(app) => app,
            Err(e) => {
                running.stop().await;
                return Err(e.context("cannot start the reservation service"));
            }
        };
        running.reservation_addr = reservation.local_addr();
        running.metrics.push(("reservation", reservation.metrics_url()));
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
                config.admin_password.expose_secret(),
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

/// The address to dial for a service listening on `addr` (an unspecified
/// address means this machine).
fn dial(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// `addr` with its port left to the system (a replica after the first).
fn any_port(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), 0)
}

/// The SQLite URL of `service`'s database in `dir`.
fn sqlite_url(dir: &Path, service: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(format!("{service}.db")).display())
}

/// Listeners bound on fixed addresses of services that have not started yet
/// (port 0 needs none), each let go just before its service binds it: while a
/// port is bound, the kernel gives it to no outgoing connection. One that
/// cannot be bound now is left for its service to report.
#[derive(Debug)]
struct Reserved(Vec<(SocketAddr, std::net::TcpListener)>);

impl Reserved {
    fn hold(addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        let held = addrs
            .into_iter()
            .filter(|addr| addr.port() != 0)
            .filter_map(|addr| std::net::TcpListener::bind(addr).ok().map(|l| (addr, l)))
            .collect();
        Self(held)
    }

    fn release(&mut self, addr: SocketAddr) {
        self.0.retain(|(held, _)| *held != addr);
    }
}
