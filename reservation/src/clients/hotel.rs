//! The hotel service as a part of a bundle: rooms held, confirmed and
//! released by the reservation's hotel hold id.

use futures::future::BoxFuture;
use tonic::transport::Channel;
use travel::deadline::Deadline;
use travel::pb::hotel::v1 as pb;
use travel::pb::hotel::v1::hotel_service_client::HotelServiceClient;
use travel::telemetry::rpc::{TracedChannel, traced};
use travel::types::HoldId;

use super::call::{Caller, held};
use super::guard::Guard;
use super::{BundlePart, Held, Outcome, Retry};
use crate::domain::{HotelBooking, Part, Reservation};

/// The client of the hotel service.
#[derive(Debug, Clone)]
pub struct HotelClient {
    client: HotelServiceClient<TracedChannel>,
    caller: Caller,
    /// The hotel service's breaker and retry budget, shared by every call to it.
    pub(super) guard: Guard,
}

impl HotelClient {
    pub(super) fn new(channel: Channel, caller: Caller) -> Self {
        Self {
            client: HotelServiceClient::new(traced(channel)),
            caller,
            guard: Guard::unregistered(Part::Hotel),
        }
    }

    /// Holds the hotel part's rooms; the price the hotel service gave them
    /// and when the hold expires.
    pub async fn hold_rooms(&self, booking: &HotelBooking, deadline: Deadline) -> Outcome<Held> {
        let message = pb::HoldRoomsRequest {
            hold_id: booking.hold_id.to_string(),
            room_type_id: booking.room_type_id.clone(),
            check_in: Some(booking.check_in.into()),
            check_out: Some(booking.check_out.into()),
            rooms: i32::try_from(booking.rooms).unwrap_or(i32::MAX),
            hotel_id: booking.hotel_id.clone(),
            guests: i32::try_from(booking.guests).unwrap_or(i32::MAX),
        };
        let outcome = self
            .caller
            .call(&self.guard, deadline, Retry::Few, message, |r| {
                let mut c = self.client.clone();
                async move { c.hold_rooms(r).await }
            })
            .await;
        held(outcome, |r| r.hold.map(|h| (h.total_price, h.expires_at)))
    }
}

impl BundlePart for HotelClient {
    fn part(&self) -> Part {
        Part::Hotel
    }

    fn in_bundle(&self, r: &Reservation) -> bool {
        r.hotel.is_some()
    }

    fn breaker_open(&self) -> bool {
        self.guard.breaker_open()
    }

    fn hold<'a>(&'a self, r: &'a Reservation, deadline: Deadline) -> Option<BoxFuture<'a, Outcome<Held>>> {
        let booking = r.hotel.as_ref()?;
        Some(Box::pin(self.hold_rooms(booking, deadline)))
    }

    fn confirm<'a>(&'a self, hold_id: &'a HoldId, deadline: Deadline, retry: Retry) -> BoxFuture<'a, Outcome<()>> {
        let message = pb::ConfirmRoomsRequest {
            hold_id: hold_id.to_string(),
        };
        Box::pin(async move {
            let outcome = self.caller.call(&self.guard, deadline, retry, message, |r| {
                let mut c = self.client.clone();
                async move { c.confirm_rooms(r).await }
            });
            outcome.await.map(drop)
        })
    }

    fn release<'a>(&'a self, hold_id: &'a HoldId, deadline: Deadline) -> BoxFuture<'a, Outcome<()>> {
        let message = pb::ReleaseRoomsRequest {
            hold_id: hold_id.to_string(),
        };
        Box::pin(async move {
            let outcome = self.caller.call(&self.guard, deadline, Retry::Few, message, |r| {
                let mut c = self.client.clone();
                async move { c.release_rooms(r).await }
            });
            outcome.await.map(drop)
        })
    }
}
