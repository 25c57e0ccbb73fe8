//! The flight and hotel services as the saga sees them: each a part of a
//! bundle ([`BundlePart`]) that is held, then confirmed or released by the hold
//! id the reservation gave it. Every call carries the service token and a
//! deadline — what is left of the incoming call's budget, at most the per-call
//! timeout — and failures that are not refusals are retried with the kit's
//! jittered exponential backoff (safe: holds, confirms and releases are all
//! idempotent by hold id), within a retry budget and behind a circuit breaker
//! per service ([`guard`]). How one call is made: [`call`]; the two services:
//! [`flight`] and [`hotel`].

pub use crate::service_token::{Backoff as TokenBackoff, ServiceToken};

mod call;
pub mod flight;
mod guard;
pub mod hotel;

use std::time::Duration;

use futures::future::BoxFuture;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use travel::deadline::Deadline;
use travel::discovery::{self, TargetError};
use travel::retry::Backoff;
use travel::types::{HoldId, Money, UnixMillis};

use crate::domain::{Part, Reservation};

pub use flight::FlightClient;
pub use guard::{Guards, Protection};
pub use hotel::HotelClient;

/// What became of a call to a dependency, after retries.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// It succeeded.
    Done(T),
    /// The service refused (sold out, unknown id, hold expired…). Retrying the
    /// same call would not help, unless inventory comes back.
    Refused(Refusal),
    /// The service could not be reached, or did not answer, in time.
    Unreachable(Code),
}

impl<T> Outcome<T> {
    /// The outcome with `f` applied to what a success returned.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Done(t) => Outcome::Done(f(t)),
            Self::Refused(why) => Outcome::Refused(why),
            Self::Unreachable(code) => Outcome::Unreachable(code),
        }
    }

    /// The outcome's name in metrics and spans: `ok`, `refused` or `unreachable`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done(_) => "ok",
            Self::Refused(_) => "refused",
            Self::Unreachable(_) => "unreachable",
        }
    }
}

/// A refusal by the flight or hotel service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The service's message, written for people.
    pub message: String,
    /// True when the refusal is for lack of seats or rooms (ErrorInfo reason
    /// NOT_ENOUGH_SEATS or NOT_ENOUGH_ROOMS), which another saga's compensation
    /// may end.
    pub sold_out: bool,
}

impl Refusal {
    fn of(status: &Status) -> Self {
        use tonic_types::StatusExt;
        let reason = status.get_error_details().error_info().map(|i| i.reason.clone());
        Self {
            message: status.message().to_owned(),
            sold_out: matches!(reason.as_deref(), Some("NOT_ENOUGH_SEATS" | "NOT_ENOUGH_ROOMS")),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A hold just taken: its price, and when it expires unless confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The price the service gave the held seats or rooms.
    pub price: Money,
    /// When the service lets the hold go unless it is confirmed (its clock, UTC).
    pub expires: UnixMillis,
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A few attempts ([`FEW_ATTEMPTS`]), so that a service that is down fails fast.
    Few,
    /// Until it succeeds, is refused, or the deadline passes.
    UntilDeadline,
}

/// Attempts of a [`Retry::Few`] call: the first, and retries after about 50,
/// 100 and 200 ms.
pub const FEW_ATTEMPTS: u32 = 4;

/// Waits between attempts: 50 ms, doubling up to 1 s, jittered (so at most 1.5 s).
const CALL_BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(1500));

impl Retry {
    /// The kit's retry policy for this much trying.
    fn policy(self) -> Backoff {
        match self {
            Self::Few => CALL_BACKOFF.at_most(FEW_ATTEMPTS),
            Self::UntilDeadline => CALL_BACKOFF,
        }
    }
}

/// A part of a bundle as the saga drives it, at the service that owns it:
/// held, then confirmed (past the pivot) or released (compensation,
/// cancellation), each by the hold id the reservation gave it.
pub trait BundlePart: Send + Sync {
    /// Which part this is.
    fn part(&self) -> Part;

    /// Whether `r` has this part.
    fn in_bundle(&self, r: &Reservation) -> bool;

    /// Whether this service's circuit breaker is open (its cool-off not over):
    /// any call to it would fail at once, so a new bundle holds nothing.
    fn breaker_open(&self) -> bool;

    /// Holds this part of `r`, if `r` has it (a few attempts): the price the
    /// service gave the hold and when it expires.
    fn hold<'a>(&'a self, r: &'a Reservation, deadline: Deadline) -> Option<BoxFuture<'a, Outcome<Held>>>;

    /// Confirms the hold `hold_id`.
    fn confirm<'a>(&'a self, hold_id: &'a HoldId, deadline: Deadline, retry: Retry) -> BoxFuture<'a, Outcome<()>>;

    /// Releases the hold `hold_id` (or leaves a tombstone if it never arrived;
    /// a few attempts).
    fn release<'a>(&'a self, hold_id: &'a HoldId, deadline: Deadline) -> BoxFuture<'a, Outcome<()>>;
}

/// Clients of the flight and hotel services.
#[derive(Debug, Clone)]
pub struct Clients {
    flight: FlightClient,
    hotel: HotelClient,
}

impl Clients {
    /// Clients of the services at `flight_url` and `hotel_url` (each a URL,
    /// `dns:///name:port` or a list: see [`travel::discovery`]), connected lazily
    /// (a service that is down does not stop this one from starting); a DNS
    /// name or a list is looked up again every `resolve_interval`.
    pub fn connect(
        flight_url: &str,
        hotel_url: &str,
        resolve_interval: Duration,
        token: ServiceToken,
        call_timeout: Duration,
    ) -> Result<Self, TargetError> {
        let channel = |target: &str| -> Result<(Channel, discovery::Refresh), TargetError> {
            let configure = move |e: Endpoint| e.connect_timeout(call_timeout).tcp_nodelay(true);
            Ok(discovery::dial(&target.parse()?, resolve_interval, configure))
        };
        let caller = call::Caller::new(token, call_timeout);
        let (flight, flight_refresh) = channel(flight_url)?;
        let (hotel, hotel_refresh) = channel(hotel_url)?;
        Ok(Self {
            flight: FlightClient::new(flight, caller.reporting_to(flight_refresh)),
            hotel: HotelClient::new(hotel, caller.reporting_to(hotel_refresh)),
        })
    }

    /// The same clients, each dependency's calls behind its own guard from
    /// `guards` (made without, each has a default one whose metrics are
    /// registered nowhere).
    pub fn guarded(mut self, guards: Guards) -> Self {
        self.flight.guard = guards.flight;
        self.hotel.guard = guards.hotel;
        self
    }

    /// Both parts, the flight first.
    pub fn parts(&self) -> [&dyn BundlePart; 2] {
        [&self.flight, &self.hotel]
    }

    /// The flight service (the seat-retry rule holds seats again).
    pub fn flight(&self) -> &FlightClient {
        &self.flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_token_that_cannot_be_had_is_an_outage_not_a_refusal() {
        // No secret configured: the auth exchange fails before any call is made.
        let clock: travel::SharedClock = std::sync::Arc::new(travel::SystemClock);
        let token = ServiceToken::from_auth(
            "http://127.0.0.1:1",
            Duration::from_secs(10),
            "reservation",
            None,
            clock,
        )
        .unwrap();
        let clients = Clients::connect(
            "http://127.0.0.1:1",
            "http://127.0.0.1:1",
            Duration::from_secs(10),
            token,
            Duration::from_secs(1),
        )
        .unwrap();
        let hold = HoldId::parse("r-flight").unwrap();

        let outcome = clients
            .flight()
            .release(&hold, Deadline::after(Duration::from_secs(5)))
            .await;

        // Not Refused: a refused release would let a saga believe the seats were given back.
        assert_eq!(outcome, Outcome::Unreachable(Code::Unavailable));
    }

    #[tokio::test]
    async fn a_service_that_is_down_fails_fast_after_a_few_attempts() {
        // Nothing listens on a port we bound and dropped.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let clients = Clients::connect(
            &url,
            &url,
            Duration::from_secs(10),
            ServiceToken::fixed("t"),
            Duration::from_secs(5),
        )
        .unwrap();
        let hold = HoldId::parse("r-flight").unwrap();
        let outcome = clients
            .flight()
            .release(&hold, Deadline::after(Duration::from_secs(30)))
            .await;
        assert_eq!(outcome, Outcome::Unreachable(Code::Unavailable));
    }
}
