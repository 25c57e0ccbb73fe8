//! Catalog set-up for the suites that book a hotel through the hotel service's
//! API: one hotel with one double room type, created as the admin.

use super::Authed;
use crate::pb::common::v1::Money;
use crate::pb::hotel::v1 as pb;
use crate::pb::hotel::v1::hotel_service_client::HotelServiceClient;

/// Creates, through `admin` (a client signed in as an admin), the hotel `name`
/// in `city` with one room type "Double" of `rooms` rooms sleeping 2 at
/// `nightly_price` a night: (hotel id, room type id).
///
/// # Panics
/// When the hotel service refuses either call.
pub async fn hotel_with_one_room_type(
    admin: &HotelServiceClient<Authed>,
    name: &str,
    city: &str,
    rooms: i32,
    nightly_price: Money,
) -> (String, String) {
    let mut admin = admin.clone();
    let hotel = admin
        .create_hotel(pb::CreateHotelRequest {
            name: name.into(),
            city: city.into(),
            address: String::new(),
            request_id: String::new(),
        })
        .await
        .expect("create hotel")
        .into_inner()
        .hotel
        .expect("hotel in response");
    let room_type = admin
        .add_room_type(pb::AddRoomTypeRequest {
            hotel_id: hotel.id.clone(),
            name: "Double".into(),
            max_guests: 2,
            total_rooms: rooms,
            nightly_price: Some(nightly_price),
            request_id: String::new(),
        })
        .await
        .expect("add room type")
        .into_inner()
        .room_type
        .expect("room type in response");
    (hotel.id, room_type.id)
}
