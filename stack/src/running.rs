//! The stack while it serves: its services in tiers, stopped in the reverse
//! order of their start, and the banner it prints.

use std::future::Future;
use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::demo;

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
    /// Where each flight replica listens (the first is `flight_addr`).
    pub flight_replicas: Vec<SocketAddr>,
    /// Where each hotel replica listens (the first is `hotel_addr`).
    pub hotel_replicas: Vec<SocketAddr>,
    /// Where the reservation service listens.
    pub reservation_addr: SocketAddr,
    /// Each service's Prometheus `/metrics` URL, in the order they started.
    pub metrics: Vec<(&'static str, String)>,
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
    pub(crate) fn new() -> Self {
        let unbound = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            tiers: Vec::new(),
            auth_addr: unbound,
            flight_addr: unbound,
            hotel_addr: unbound,
            flight_replicas: Vec::new(),
            hotel_replicas: Vec::new(),
            reservation_addr: unbound,
            metrics: Vec::new(),
            demo: None,
        }
    }

    /// Starts a tier of services that depend on those started before: the
    /// signal that stops it.
    pub(crate) fn tier(&mut self) -> CancellationToken {
        let tier = Tier::default();
        let stop = tier.stop.clone();
        self.tiers.push(tier);
        stop
    }

    /// Runs a service in the last tier.
    pub(crate) fn spawn(&mut self, service: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
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
        for (service, replicas) in [("flight", &self.flight_replicas), ("hotel", &self.hotel_replicas)] {
            if replicas.len() > 1 {
                let all: Vec<String> = replicas.iter().map(ToString::to_string).collect();
                out.push_str(&format!("  {service} replicas: {}\n", all.join(", ")));
            }
        }
        out.push_str("\nPrometheus metrics:\n");
        for (service, url) in &self.metrics {
            out.push_str(&format!("  {service:<11} {url}\n"));
        }
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
