//! The tonic `HotelService`: checks access, converts proto ⇄ domain, calls the store.

use std::time::Duration;

use tonic::{Request, Response, Status};
use travel::SharedClock;
use travel::access::{Requirement, check};
use travel::pb::hotel::v1 as pb;
use travel::pb::hotel::v1::hotel_service_server::HotelService;

use crate::convert::{self, next_page_token};
use crate::domain::{HoldRequest, NewHotel, NewRoomType, Search};
use crate::store::Store;

/// The gRPC face of the hotel service.
#[derive(Debug)]
pub struct HotelApi {
    store: Store,
    clock: SharedClock,
    hold_ttl: Duration,
}

impl HotelApi {
    /// A service over `store`, with holds lasting `hold_ttl` by `clock`.
    pub fn new(store: Store, clock: SharedClock, hold_ttl: Duration) -> Self {
        Self { store, clock, hold_ttl }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl HotelService for HotelApi {
    async fn create_hotel(&self, request: Request<pb::CreateHotelRequest>) -> Reply<pb::CreateHotelResponse> {
        check(&request, Requirement::Admin)?;
        let new = NewHotel::try_from(request.into_inner())?;
        let id = uuid::Uuid::now_v7().to_string();
        let hotel = self.store.create_hotel(&new, &id, self.clock.now()).await?;
        Ok(Response::new(pb::CreateHotelResponse {
            hotel: Some(hotel.into()),
        }))
    }

    async fn add_room_type(&self, request: Request<pb::AddRoomTypeRequest>) -> Reply<pb::AddRoomTypeResponse> {
        check(&request, Requirement::Admin)?;
        let new = NewRoomType::try_from(request.into_inner())?;
        let id = uuid::Uuid::now_v7().to_string();
        let room_type = self.store.add_room_type(&new, &id, self.clock.now()).await?;
        Ok(Response::new(pb::AddRoomTypeResponse {
            room_type: Some(room_type.into()),
        }))
    }

    async fn get_hotel(&self, request: Request<pb::GetHotelRequest>) -> Reply<pb::GetHotelResponse> {
        check(&request, Requirement::Anyone)?;
        let id = convert::hotel_id(&request.into_inner().id)?;
        let hotel = self.store.get_hotel(&id).await?;
        Ok(Response::new(pb::GetHotelResponse {
            hotel: Some(hotel.into()),
        }))
    }

    async fn search_hotels(&self, request: Request<pb::SearchHotelsRequest>) -> Reply<pb::SearchHotelsResponse> {
        check(&request, Requirement::Anyone)?;
        let search = Search::try_from(request.into_inner())?;
        let (offers, next) = self.store.search(&search).await?;
        Ok(Response::new(pb::SearchHotelsResponse {
            next_page_token: next_page_token(&search, next.as_ref()),
            offers: offers.into_iter().map(Into::into).collect(),
        }))
    }

    async fn hold_rooms(&self, request: Request<pb::HoldRoomsRequest>) -> Reply<pb::HoldRoomsResponse> {
        check(&request, Requirement::Service)?;
        let hold = HoldRequest::try_from(request.into_inner())?;
        let hold = self.store.hold(&hold, self.clock.now(), self.hold_ttl).await?;
        Ok(Response::new(pb::HoldRoomsResponse {
            hold: Some(convert::room_hold(hold)),
        }))
    }

    async fn confirm_rooms(&self, request: Request<pb::ConfirmRoomsRequest>) -> Reply<pb::ConfirmRoomsResponse> {
        check(&request, Requirement::Service)?;
        let hold_id = convert::hold_id(&request.into_inner().hold_id)?;
        let hold = self.store.confirm(&hold_id, self.clock.now()).await?;
        Ok(Response::new(pb::ConfirmRoomsResponse {
            hold: Some(convert::room_hold(hold)),
        }))
    }

    async fn release_rooms(&self, request: Request<pb::ReleaseRoomsRequest>) -> Reply<pb::ReleaseRoomsResponse> {
        check(&request, Requirement::Service)?;
        let hold_id = convert::hold_id(&request.into_inner().hold_id)?;
        let hold = self.store.release(&hold_id, self.clock.now()).await?;
        Ok(Response::new(pb::ReleaseRoomsResponse {
            hold: hold.map(convert::room_hold),
        }))
    }
}
