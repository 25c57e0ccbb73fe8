//! Proto ⇄ domain conversions of the hotel service: requests are parsed into
//! validated domain values (every problem reported as a field violation), and
//! domain values are turned back into their proto messages.

use travel::Violations;
use travel::page;
use travel::pb::common::v1 as common;
use travel::pb::hotel::v1 as pb;
use travel::types::{Date, HoldId, RequestId, parse_count, parse_id};

use crate::domain::{
    Address, Booking, City, Cursor, Hold, HoldRequest, Hotel, MAX_GUESTS, MAX_GUESTS_PER_ROOM, MAX_ROOMS,
    MAX_TOTAL_ROOMS, Name, NewHotel, NewRoomType, Offer, RoomType, Search, Stay, nightly_price,
};

impl TryFrom<pb::CreateHotelRequest> for NewHotel {
    type Error = Violations;

    fn try_from(r: pb::CreateHotelRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let name = v.check("name", Name::parse(&r.name));
        let city = v.check("city", City::parse(&r.city));
        let address = v.check("address", Address::parse(&r.address));
        let request_id = v.check("request_id", RequestId::parse_optional(&r.request_id));
        let (Some(name), Some(city), Some(address), Some(request_id)) = (name, city, address, request_id) else {
            return Err(v);
        };
        Ok(NewHotel {
            name,
            city,
            address,
            request_id,
        })
    }
}

impl TryFrom<pb::AddRoomTypeRequest> for NewRoomType {
    type Error = Violations;

    fn try_from(r: pb::AddRoomTypeRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let hotel_id = v.check("hotel_id", parse_id(&r.hotel_id));
        let name = v.check("name", Name::parse(&r.name));
        let max_guests = v.check("max_guests", parse_count(r.max_guests, 1, MAX_GUESTS_PER_ROOM));
        let total_rooms = v.check("total_rooms", parse_count(r.total_rooms, 1, MAX_TOTAL_ROOMS));
        let nightly_price = v.check("nightly_price", nightly_price(r.nightly_price.as_ref()));
        let request_id = v.check("request_id", RequestId::parse_optional(&r.request_id));
        let (Some(hotel_id), Some(name), Some(max_guests), Some(total_rooms), Some(nightly_price), Some(request_id)) =
            (hotel_id, name, max_guests, total_rooms, nightly_price, request_id)
        else {
            return Err(v);
        };
        Ok(NewRoomType {
            hotel_id,
            name,
            max_guests,
            total_rooms,
            nightly_price,
            request_id,
        })
    }
}

/// Parses check-in and check-out into a stay, recording what is wrong with either.
fn stay(v: &mut Violations, check_in: Option<&common::Date>, check_out: Option<&common::Date>) -> Option<Stay> {
    let check_in = v.check("check_in", Date::parse(check_in));
    let check_out = v.check("check_out", Date::parse(check_out));
    v.check("check_out", Stay::new(check_in?, check_out?))
}

impl TryFrom<pb::SearchHotelsRequest> for Search {
    type Error = Violations;

    fn try_from(r: pb::SearchHotelsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let city = v.check("city", City::parse(&r.city));
        let stay = stay(&mut v, r.check_in.as_ref(), r.check_out.as_ref());
        let guests = v.check("guests", parse_count(r.guests, 1, MAX_GUESTS));
        let rooms = v.check(
            "rooms",
            parse_count(if r.rooms == 0 { 1 } else { r.rooms }, 1, MAX_ROOMS),
        );
        let page_size = v.check("page_size", page::page_size(r.page_size));
        let (Some(city), Some(stay), Some(guests), Some(rooms), Some(page_size)) =
            (city, stay, guests, rooms, page_size)
        else {
            return Err(v);
        };
        let mut search = Search {
            city,
            stay,
            guests,
            rooms,
            page_size,
            after: None,
        };
        search.after = match page::decode_token(&r.page_token, search.fingerprint()) {
            Ok(cursor) => cursor
                .map(|c| Cursor::decode(&c).ok_or_else(page_token_violation))
                .transpose()?,
            Err(why) => return Err(Violations::one("page_token", why)),
        };
        Ok(search)
    }
}

fn page_token_violation() -> Violations {
    Violations::one("page_token", "is not a page token returned by this query")
}

/// The next-page token for a search page that ended at `next`.
pub fn next_page_token(search: &Search, next: Option<&Cursor>) -> String {
    next.map(|c| page::encode_token(search.fingerprint(), &c.encode()))
        .unwrap_or_default()
}

impl TryFrom<pb::HoldRoomsRequest> for HoldRequest {
    type Error = Violations;

    fn try_from(r: pb::HoldRoomsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let hold_id = v.check("hold_id", HoldId::parse(&r.hold_id));
        let hotel_id = v.check("hotel_id", parse_id(&r.hotel_id));
        let room_type_id = v.check("room_type_id", parse_id(&r.room_type_id));
        let stay = stay(&mut v, r.check_in.as_ref(), r.check_out.as_ref());
        let rooms = v.check("rooms", parse_count(r.rooms, 1, MAX_ROOMS));
        let guests = v.check("guests", parse_count(r.guests, 1, MAX_GUESTS));
        let (Some(hold_id), Some(hotel_id), Some(room_type_id), Some(stay), Some(rooms), Some(guests)) =
            (hold_id, hotel_id, room_type_id, stay, rooms, guests)
        else {
            return Err(v);
        };
        Ok(HoldRequest {
            hold_id,
            booking: Booking {
                hotel_id,
                room_type_id,
                stay,
                rooms,
                guests,
            },
        })
    }
}

/// Parses the hold id of a confirm or release.
pub fn hold_id(raw: &str) -> Result<HoldId, Violations> {
    HoldId::parse(raw).map_err(|why| Violations::one("hold_id", why))
}

/// Parses the hotel id of a GetHotel.
pub fn hotel_id(raw: &str) -> Result<String, Violations> {
    parse_id(raw).map_err(|why| Violations::one("id", why))
}

fn int32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<Hotel> for pb::Hotel {
    fn from(h: Hotel) -> Self {
        pb::Hotel {
            id: h.id,
            name: h.name,
            city: h.city,
            address: h.address,
            room_types: h.room_types.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<RoomType> for pb::RoomType {
    fn from(r: RoomType) -> Self {
        pb::RoomType {
            id: r.id,
            hotel_id: r.hotel_id,
            name: r.name,
            max_guests: int32(r.max_guests),
            total_rooms: int32(r.total_rooms),
            nightly_price: Some(r.nightly_price.into()),
        }
    }
}

impl From<Offer> for pb::HotelOffer {
    fn from(o: Offer) -> Self {
        pb::HotelOffer {
            hotel: Some(o.hotel.into()),
            room_type: Some(o.room_type.into()),
            nights: int32(o.nights),
            total_price: Some(o.total_price.into()),
            available_rooms: int32(o.available_rooms),
        }
    }
}

/// A room hold as the contract shows it (a tombstone has no booking).
pub fn room_hold(h: Hold) -> pb::RoomHold {
    let mut hold = pb::RoomHold {
        hold_id: h.hold_id.as_str().to_owned(),
        total_price: Some(h.total_price.into()),
        state: pb::HoldState::from(h.state).into(),
        expires_at: Some(h.expires_at.into()),
        ..Default::default()
    };
    if let Some(b) = h.booking {
        hold.hotel_id = b.hotel_id;
        hold.room_type_id = b.room_type_id;
        hold.check_in = Some(b.stay.check_in().into());
        hold.check_out = Some(b.stay.check_out().into());
        hold.rooms = int32(b.rooms);
        hold.guests = int32(b.guests);
    }
    hold
}
