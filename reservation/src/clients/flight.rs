//! The flight service as a part of a bundle: seats held, confirmed and
//! released by the reservation's flight hold id.

use futures::future::BoxFuture;
use tonic::transport::Channel;
use travel::deadline::Deadline;
use travel::pb::flight::v1 as pb;
use travel::pb::flight::v1::flight_service_client::FlightServiceClient;
use travel::telemetry::rpc::{TracedChannel, traced};
use travel::types::HoldId;

use super::call::{Caller, held};
use super::guard::Guard;
use super::{BundlePart, Held, Outcome, Retry};
use crate::domain::{FlightBooking, Part, Reservation};

/// The client of the flight service.
#[derive(Debug, Clone)]
pub struct FlightClient {
    client: FlightServiceClient<TracedChannel>,
    caller: Caller,
    /// The flight service's breaker and retry budget, shared by every call to it.
    pub(super) guard: Guard,
}

impl FlightClient {
    pub(super) fn new(channel: Channel, caller: Caller) -> Self {
        Self {
            client: FlightServiceClient::new(traced(channel)),
            caller,
            guard: Guard::unregistered(Part::Flight),
        }
    }

    /// Holds the flight part's seats; the price the flight service gave them
    /// and when the hold expires.
    pub async fn hold_seats(&self, booking: &FlightBooking, deadline: Deadline) -> Outcome<Held> {
        let message = pb::HoldSeatsRequest {
            hold_id: booking.hold_id.to_string(),
            flight_id: booking.flight_id.clone(),
            seats: i32::try_from(booking.seats).unwrap_or(i32::MAX),
        };
        let outcome = self
            .caller
            .call(&self.guard, deadline, Retry::Few, message, |r| {
                let mut c = self.client.clone();
                async move { c.hold_seats(r).await }
            })
            .await;
        held(outcome, |r| r.hold.map(|h| (h.total_price, h.expires_at)))
    }
}

impl BundlePart for FlightClient {
    fn part(&self) -> Part {
        Part::Flight
    }

    fn in_bundle(&self, r: &Reservation) -> bool {
        r.flight.is_some()
    }

    fn breaker_open(&self) -> bool {
        self.guard.breaker_open()
    }

    fn hold<'a>(&'a self, r: &'a Reservation, deadline: Deadline) -> Option<BoxFuture<'a, Outcome<Held>>> {
        let booking = r.flight.as_ref()?;
        Some(Box::pin(self.hold_seats(booking, deadline)))
    }

    fn confirm<'a>(&'a self, hold_id: &'a HoldId, deadline: Deadline, retry: Retry) -> BoxFuture<'a, Outcome<()>> {
        let message = pb::ConfirmSeatsRequest {
            hold_id: hold_id.to_string(),
        };
        Box::pin(async move {
            let outcome = self.caller.call(&self.guard, deadline, retry, message, |r| {
                let mut c = self.client.clone();
                async move { c.confirm_seats(r).await }
            });
            outcome.await.map(drop)
        })
    }

    fn release<'a>(&'a self, hold_id: &'a HoldId, deadline: Deadline) -> BoxFuture<'a, Outcome<()>> {
        let message = pb::ReleaseSeatsRequest {
            hold_id: hold_id.to_string(),
        };
        Box::pin(async move {
            let outcome = self.caller.call(&self.guard, deadline, Retry::Few, message, |r| {
                let mut c = self.client.clone();
                async move { c.release_seats(r).await }
            });
            outcome.await.map(drop)
        })
    }
}
