//! The flight and hotel services as the saga sees them. Every call carries the
//! service token and a deadline — what is left of the incoming call's budget,
//! at most the per-call timeout — and failures that are not refusals are
//! retried with jittered exponential backoff (safe: holds, confirms and
//! releases are all idempotent by hold id).

pub use crate::service_token::{Backoff as TokenBackoff, ServiceToken};

use std::future::Future;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Response, Status};
use travel::deadline::Deadline;
use travel::pb::flight::v1 as flight;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::pb::hotel::v1 as hotel;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::types::{HoldId, Money, UnixMillis};

use crate::domain::{FlightBooking, HotelBooking};
use crate::store::Part;

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
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Clients of the flight and hotel services.
#[derive(Debug, Clone)]
pub struct Clients {
    flight: FlightServiceClient<Channel>,
    hotel: HotelServiceClient<Channel>,
    token: ServiceToken,
    call_timeout: Duration,
}

impl Clients {
    /// Clients of the services at `flight_url` and `hotel_url`, connected lazily
    /// (a service that is down does not stop this one from starting).
    pub fn connect(
        flight_url: &str,
        hotel_url: &str,
        token: ServiceToken,
        call_timeout: Duration,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = |url: &str| {
            Endpoint::from_shared(url.to_owned())
                .map(|e| e.connect_timeout(call_timeout).tcp_nodelay(true).connect_lazy())
        };
        Ok(Self {
            flight: FlightServiceClient::new(channel(flight_url)?),
            hotel: HotelServiceClient::new(channel(hotel_url)?),
            token,
            call_timeout,
        })
    }

    /// Holds the flight part's seats; the price the flight service gave them
    /// and when the hold expires.
    pub async fn hold_seats(&self, booking: &FlightBooking, deadline: Deadline) -> Outcome<Held> {
        let message = flight::HoldSeatsRequest {
            hold_id: booking.hold_id.to_string(),
            flight_id: booking.flight_id.clone(),
            seats: i32::try_from(booking.seats).unwrap_or(i32::MAX),
        };
        let outcome = self
            .call(deadline, Retry::Few, message, |r| {
                let mut c = self.flight.clone();
                async move { c.hold_seats(r).await }
            })
            .await;
        held(outcome, |r| r.hold.map(|h| (h.total_price, h.expires_at)))
    }

    /// Holds the hotel part's rooms; the price the hotel service gave them
    /// and when the hold expires.
    pub async fn hold_rooms(&self, booking: &HotelBooking, deadline: Deadline) -> Outcome<Held> {
        let message = hotel::HoldRoomsRequest {
            hold_id: booking.hold_id.to_string(),
            room_type_id: booking.room_type_id.clone(),
            check_in: Some(booking.check_in.into()),
            check_out: Some(booking.check_out.into()),
            rooms: i32::try_from(booking.rooms).unwrap_or(i32::MAX),
            hotel_id: booking.hotel_id.clone(),
            guests: i32::try_from(booking.guests).unwrap_or(i32::MAX),
        };
        let outcome = self
            .call(deadline, Retry::Few, message, |r| {
                let mut c = self.hotel.clone();
                async move { c.hold_rooms(r).await }
            })
            .await;
        held(outcome, |r| r.hold.map(|h| (h.total_price, h.expires_at)))
    }

    /// Confirms a part's hold.
    pub async fn confirm(&self, part: Part, hold_id: &HoldId, deadline: Deadline, retry: Retry) -> Outcome<()> {
        let hold_id = hold_id.to_string();
        match part {
            Part::Flight => {
                let message = flight::ConfirmSeatsRequest { hold_id };
                let outcome = self.call(deadline, retry, message, |r| {
                    let mut c = self.flight.clone();
                    async move { c.confirm_seats(r).await }
                });
                done(outcome.await)
            }
            Part::Hotel => {
                let message = hotel::ConfirmRoomsRequest { hold_id };
                let outcome = self.call(deadline, retry, message, |r| {
                    let mut c = self.hotel.clone();
                    async move { c.confirm_rooms(r).await }
                });
                done(outcome.await)
            }
        }
    }

    /// Releases a part's hold (or leaves a tombstone if it never arrived).
    pub async fn release(&self, part: Part, hold_id: &HoldId, deadline: Deadline) -> Outcome<()> {
        let hold_id = hold_id.to_string();
        match part {
            Part::Flight => {
                let message = flight::ReleaseSeatsRequest { hold_id };
                let outcome = self.call(deadline, Retry::Few, message, |r| {
                    let mut c = self.flight.clone();
                    async move { c.release_seats(r).await }
                });
                done(outcome.await)
            }
            Part::Hotel => {
                let message = hotel::ReleaseRoomsRequest { hold_id };
                let outcome = self.call(deadline, Retry::Few, message, |r| {
                    let mut c = self.hotel.clone();
                    async move { c.release_rooms(r).await }
                });
                done(outcome.await)
            }
        }
    }

    /// Sends `message` with `send` until it succeeds, is refused, or `retry`
    /// and `deadline` say to stop.
    async fn call<M, R, F, Fut>(&self, deadline: Deadline, retry: Retry, message: M, send: F) -> Outcome<R>
    where
        M: Clone,
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let status = match self.attempt(deadline, message.clone(), &send).await {
                Ok(response) => return Outcome::Done(response),
                Err(status) => status,
            };
            if is_refusal(status.code()) {
                return Outcome::Refused(Refusal::of(&status));
            }
            tracing::debug!(code = ?status.code(), message = status.message(), attempt, "dependency call failed");
            if (retry == Retry::Few && attempt >= FEW_ATTEMPTS) || deadline.is_past() {
                return Outcome::Unreachable(status.code());
            }
            tokio::time::sleep(jitter(backoff).min(deadline.remaining())).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    /// One call, with the token and `min(remaining budget, call timeout)` as
    /// its deadline, sent along as `grpc-timeout`.
    async fn attempt<M, R, F, Fut>(&self, deadline: Deadline, message: M, send: &F) -> Result<R, Status>
    where
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Status>>,
    {
        // A token problem is this service's, not a refusal by flight or hotel: it is
        // retried like an outage, and the auth service's message stays in the log.
        let token = self.token.get(deadline).await.map_err(|e| {
            tracing::warn!(code = ?e.code(), message = e.message(), "cannot get a service token");
            Status::unavailable("cannot get a service token from the auth service")
        })?;
        // Measured after the token, which may have taken a call to auth.
        let timeout = deadline
            .for_call(self.call_timeout)
            .ok_or_else(|| Status::deadline_exceeded("no time left for the call"))?;
        let mut request = Request::new(message);
        request.set_timeout(timeout);
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::unauthenticated("the service token is not valid metadata"))?;
        request.metadata_mut().insert("authorization", bearer);
        let result = match tokio::time::timeout(timeout, send(request)).await {
            Ok(result) => result.map(Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded("the call did not finish in time")),
        };
        if result.as_ref().is_err_and(|s| s.code() == Code::Unauthenticated) {
            self.token.invalidate(&token).await;
        }
        result
    }
}

/// Codes with which a service refuses a request on its merits: retrying the
/// same request cannot succeed.
fn is_refusal(code: Code) -> bool {
    matches!(
        code,
        Code::FailedPrecondition | Code::NotFound | Code::AlreadyExists | Code::InvalidArgument | Code::OutOfRange
    )
}

/// Between 50% and 150% of `d`, so that many callers retrying do not march in step.
pub(crate) fn jitter(d: Duration) -> Duration {
    let random = (uuid::Uuid::new_v4().as_u128() % 1000) as u32;
    d * (500 + random) / 1000
}

/// The price and expiry of a hold from a hold response; a response without
/// both valid is a fault of the service, treated like an outage.
fn held<R>(
    outcome: Outcome<R>,
    hold: impl FnOnce(R) -> Option<(Option<travel::pb::common::v1::Money>, Option<prost_types::Timestamp>)>,
) -> Outcome<Held> {
    match outcome {
        Outcome::Done(response) => {
            let parsed = hold(response).and_then(|(price, expires)| {
                let price = Money::parse(price.as_ref()).ok()?;
                let expires = UnixMillis::parse(expires.as_ref()).ok()?;
                Some(Held { price, expires })
            });
            match parsed {
                Some(held) => Outcome::Done(held),
                None => {
                    tracing::error!("a hold response carried no valid price or expiry");
                    Outcome::Unreachable(Code::Internal)
                }
            }
        }
        Outcome::Refused(why) => Outcome::Refused(why),
        Outcome::Unreachable(code) => Outcome::Unreachable(code),
    }
}

fn done<R>(outcome: Outcome<R>) -> Outcome<()> {
    match outcome {
        Outcome::Done(_) => Outcome::Done(()),
        Outcome::Refused(why) => Outcome::Refused(why),
        Outcome::Unreachable(code) => Outcome::Unreachable(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_refusals_are_not_retried() {
        assert!(is_refusal(Code::FailedPrecondition));
        assert!(is_refusal(Code::NotFound));
        assert!(!is_refusal(Code::Unavailable));
        assert!(!is_refusal(Code::DeadlineExceeded));
        assert!(!is_refusal(Code::Unauthenticated));
    }

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(50) && d < Duration::from_millis(150),
                "{d:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_service_token_that_cannot_be_had_is_an_outage_not_a_refusal() {
        // No secret configured: the auth exchange fails before any call is made.
        let clock: travel::SharedClock = std::sync::Arc::new(travel::SystemClock);
        let token = ServiceToken::from_auth("http://127.0.0.1:1", "reservation", None, clock).unwrap();
        let clients = Clients::connect(
            "http://127.0.0.1:1",
            "http://127.0.0.1:1",
            token,
            Duration::from_secs(1),
        )
        .unwrap();
        let hold = HoldId::parse("r-flight").unwrap();

        let outcome = clients
            .release(Part::Flight, &hold, Deadline::after(Duration::from_secs(5)))
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
        let clients = Clients::connect(&url, &url, ServiceToken::fixed("t"), Duration::from_secs(5)).unwrap();
        let hold = HoldId::parse("r-flight").unwrap();
        let outcome = clients
            .release(Part::Flight, &hold, Deadline::after(Duration::from_secs(30)))
            .await;
        assert_eq!(outcome, Outcome::Unreachable(Code::Unavailable));
    }
}
