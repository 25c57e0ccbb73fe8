//! The tonic `FlightService`: checks access, converts proto ⇄ domain, calls the store.

use std::time::Duration;

use tonic::{Request, Response, Status};
use travel::SharedClock;
use travel::access::{Requirement, check};
use travel::pb::flight::v1 as pb;
use travel::pb::flight::v1::flight_service_server::FlightService;

use crate::convert::{self, next_page_token};
use crate::domain::{HoldRequest, NewFlight, Search};
use crate::error::Error;
use crate::store::Store;

/// The gRPC face of the flight service.
#[derive(Debug)]
pub struct FlightApi {
    store: Store,
    clock: SharedClock,
    hold_ttl: Duration,
}

impl FlightApi {
    /// A service over `store`, with holds lasting `hold_ttl` by `clock`.
    pub fn new(store: Store, clock: SharedClock, hold_ttl: Duration) -> Self {
        Self { store, clock, hold_ttl }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl FlightService for FlightApi {
    async fn create_flight(&self, request: Request<pb::CreateFlightRequest>) -> Reply<pb::CreateFlightResponse> {
        check(&request, Requirement::Admin)?;
        let new = NewFlight::try_from(request.into_inner())?;
        let now = self.clock.now();
        // A retry of a request already served returns its flight, even once it has departed.
        if new.departure <= now && !self.store.request_seen(new.request_id.as_ref()).await? {
            return Err(Error::DepartureInPast.into());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let flight = self.store.create_flight(&new, &id, now).await?;
        Ok(Response::new(pb::CreateFlightResponse {
            flight: Some(flight.into()),
        }))
    }

    async fn cancel_flight(&self, request: Request<pb::CancelFlightRequest>) -> Reply<pb::CancelFlightResponse> {
        check(&request, Requirement::Admin)?;
        let (id, reason) = convert::cancel_flight(request.get_ref())?;
        let event_id = uuid::Uuid::now_v7().to_string();
        let flight = self
            .store
            .cancel_flight(&id, &reason, self.clock.now(), |flight, sequence| {
                convert::flight_cancelled(flight, event_id, sequence)
            })
            .await?;
        Ok(Response::new(pb::CancelFlightResponse {
            flight: Some(flight.into()),
        }))
    }

    async fn reschedule_flight(
        &self,
        request: Request<pb::RescheduleFlightRequest>,
    ) -> Reply<pb::RescheduleFlightResponse> {
        check(&request, Requirement::Admin)?;
        let (id, change) = convert::reschedule_flight(request.get_ref())?;
        let now = self.clock.now();
        let event_id = uuid::Uuid::now_v7().to_string();
        let flight = self
            .store
            .reschedule_flight(&id, &change, now, |previous, flight, sequence| {
                convert::flight_rescheduled(previous, flight, &change.reason, now, event_id, sequence)
            })
            .await?;
        Ok(Response::new(pb::RescheduleFlightResponse {
            flight: Some(flight.into()),
        }))
    }

    async fn get_flight(&self, request: Request<pb::GetFlightRequest>) -> Reply<pb::GetFlightResponse> {
        check(&request, Requirement::Anyone)?;
        let id = convert::flight_id(&request.into_inner().id)?;
        let flight = self.store.get_flight(&id).await?;
        Ok(Response::new(pb::GetFlightResponse {
            flight: Some(flight.into()),
        }))
    }

    async fn search_flights(&self, request: Request<pb::SearchFlightsRequest>) -> Reply<pb::SearchFlightsResponse> {
        check(&request, Requirement::Anyone)?;
        let search = Search::try_from(request.into_inner())?;
        let (flights, next) = self.store.search(&search).await?;
        Ok(Response::new(pb::SearchFlightsResponse {
            next_page_token: next_page_token(&search, next.as_ref()),
            flights: flights.into_iter().map(Into::into).collect(),
        }))
    }

    async fn hold_seats(&self, request: Request<pb::HoldSeatsRequest>) -> Reply<pb::HoldSeatsResponse> {
        check(&request, Requirement::Service)?;
        let hold = HoldRequest::try_from(request.into_inner())?;
        let hold = self.store.hold(&hold, self.clock.now(), self.hold_ttl).await?;
        Ok(Response::new(pb::HoldSeatsResponse {
            hold: Some(convert::seat_hold(hold)),
        }))
    }

    async fn confirm_seats(&self, request: Request<pb::ConfirmSeatsRequest>) -> Reply<pb::ConfirmSeatsResponse> {
        check(&request, Requirement::Service)?;
        let hold_id = convert::hold_id(&request.into_inner().hold_id)?;
        let hold = self.store.confirm(&hold_id, self.clock.now()).await?;
        Ok(Response::new(pb::ConfirmSeatsResponse {
            hold: Some(convert::seat_hold(hold)),
        }))
    }

    async fn release_seats(&self, request: Request<pb::ReleaseSeatsRequest>) -> Reply<pb::ReleaseSeatsResponse> {
        check(&request, Requirement::Service)?;
        let hold_id = convert::hold_id(&request.into_inner().hold_id)?;
        let hold = self.store.release(&hold_id, self.clock.now()).await?;
        Ok(Response::new(pb::ReleaseSeatsResponse {
            hold: hold.map(convert::seat_hold),
        }))
    }
}
