//! The local stack: starts every service of the platform in one process on its
//! default port, with one SQLite file per service under a data directory, loads
//! the demo catalog on first start, and stops them all together.
#![forbid(unsafe_code)]

pub mod demo;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use travel::db::parse_duration;
use travel::telemetry::TelemetryArgs;

/// The stack's settings: command-line flags, each with an environment twin.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "travel-stack",
    version,
    about = "The travel platform in one process: the flight and hotel services with SQLite under a data directory and a demo catalog."
)]
pub struct StackConfig {
    /// Directory for the services' SQLite files; created if missing. Data survives restarts.
    #[arg(long, env = "STACK_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Address of the flight service.
    #[arg(long, env = "STACK_FLIGHT_LISTEN", default_value = "127.0.0.1:50052")]
    pub flight_listen: SocketAddr,
    /// Address of the hotel service.
    #[arg(long, env = "STACK_HOTEL_LISTEN", default_value = "127.0.0.1:50053")]
    pub hotel_listen: SocketAddr,
    /// How long seat and room holds last unless confirmed.
    #[arg(long, env = "STACK_HOLD_TTL", default_value = "15m", value_parser = parse_duration)]
    pub hold_ttl: Duration,
    /// Do not load the demo catalog on first start.
    #[arg(long, env = "STACK_NO_DEMO")]
    pub no_demo: bool,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// The running services.
#[derive(Debug)]
pub struct Stack {
    flight: travel_flight::Application,
    hotel: travel_hotel::Application,
    demo: Option<demo::Loaded>,
}

impl Stack {
    /// Opens the databases, binds every service, and loads the demo catalog if this
    /// data directory has none yet. The services are serving when this returns.
    pub async fn start(config: &StackConfig) -> anyhow::Result<RunningStack> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
        let mut flight_config =
            travel_flight::Config::new(config.flight_listen, sqlite_url(&config.data_dir, "flight"));
        flight_config.hold_ttl = config.hold_ttl;
        let mut hotel_config = travel_hotel::Config::new(config.hotel_listen, sqlite_url(&config.data_dir, "hotel"));
        hotel_config.hold_ttl = config.hold_ttl;
        let stack = Stack {
            flight: travel_flight::Application::build(flight_config)
                .await
                .context("cannot start the flight service")?,
            hotel: travel_hotel::Application::build(hotel_config)
                .await
                .context("cannot start the hotel service")?,
            demo: None,
        };
        let mut running = stack.spawn();
        if !config.no_demo {
            let loaded = demo::load(&config.data_dir, running.flight_addr, running.hotel_addr).await;
            match loaded {
                Ok(loaded) => running.demo = Some(loaded),
                Err(e) => {
                    running.stop().await;
                    return Err(e.context("cannot load the demo catalog"));
                }
            }
        }
        Ok(running)
    }

    fn spawn(self) -> RunningStack {
        let stop = CancellationToken::new();
        let flight_addr = self.flight.local_addr();
        let hotel_addr = self.hotel.local_addr();
        let tasks = vec![
            tokio::spawn(self.flight.run_until_stopped(stop.clone().cancelled_owned())),
            tokio::spawn(self.hotel.run_until_stopped(stop.clone().cancelled_owned())),
        ];
        RunningStack {
            stop,
            tasks,
            flight_addr,
            hotel_addr,
            demo: self.demo,
        }
    }
}

/// The stack while it serves.
#[derive(Debug)]
pub struct RunningStack {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Where the flight service listens.
    pub flight_addr: SocketAddr,
    /// Where the hotel service listens.
    pub hotel_addr: SocketAddr,
    /// What the demo catalog holds, if it was loaded.
    pub demo: Option<demo::Loaded>,
}

impl RunningStack {
    /// Serves until `shutdown` resolves (or a service fails), then stops every service.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let failed = tokio::select! {
            () = shutdown => None,
            finished = first_finished(&mut self.tasks) => Some(finished),
        };
        self.stop.cancel();
        let mut outcome = Ok(());
        if let Some((index, result)) = failed {
            self.tasks.swap_remove(index); // already finished: must not be awaited again
            outcome = match result {
                Ok(Ok(())) => Err(anyhow::anyhow!("a service stopped unexpectedly")),
                Ok(Err(e)) => Err(e),
                Err(join) => Err(anyhow::anyhow!("a service crashed: {join}")),
            };
        }
        for task in self.tasks.drain(..) {
            let result = match task.await {
                Ok(result) => result,
                Err(join) => Err(anyhow::anyhow!("a service crashed: {join}")),
            };
            if let (Err(e), true) = (result, outcome.is_ok()) {
                outcome = Err(e);
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
            "travel stack is up\n  flight   {}   travel.flight.v1.FlightService\n  hotel    {}   travel.hotel.v1.HotelService\n",
            self.flight_addr, self.hotel_addr
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

/// Waits for the first of the tasks to finish: its index and result.
async fn first_finished(
    tasks: &mut [tokio::task::JoinHandle<anyhow::Result<()>>],
) -> (usize, Result<anyhow::Result<()>, tokio::task::JoinError>) {
    std::future::poll_fn(|cx| {
        for (i, task) in tasks.iter_mut().enumerate() {
            if let std::task::Poll::Ready(result) = std::pin::Pin::new(task).poll(cx) {
                return std::task::Poll::Ready((i, result));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// The SQLite URL of `service`'s database in `dir`.
fn sqlite_url(dir: &Path, service: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(format!("{service}.db")).display())
}
