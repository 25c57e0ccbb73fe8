//! SearchHotels in SQL: the room types of a city free on every night of a stay,
//! cheapest stay first, one keyset page at a time.

use sqlx::FromRow;
use tracing::Instrument as _;
use travel::stored::{count, overflow};

use super::{RoomTypeRow, Store};
use crate::domain::{Cursor, Hotel, Offer, Search};
use crate::error::Error;

#[derive(FromRow)]
struct OfferRow {
    hotel_name: String,
    city: String,
    address: String,
    #[sqlx(flatten)]
    room_type: RoomTypeRow,
    available_rooms: i64,
}

impl Store {
    /// One page of a search, and the cursor of the next page if there is one.
    ///
    /// A room type matches when its rooms can sleep the guests, it has at least
    /// the rooms wanted, and no night of the stay has a `room_nights` row with
    /// fewer rooms free (a night without a row has all of them free).
    pub async fn search(&self, search: &Search) -> Result<(Vec<Offer>, Option<Cursor>), Error> {
        let nights = search.stay.nights();
        let (after_total, after_hotel, after_room_type) = match &search.after {
            Some(c) => (c.total_minor, c.hotel_id.clone(), c.room_type_id.clone()),
            None => (-1, String::new(), String::new()),
        };
        let rows: Vec<OfferRow> = sqlx::query_as(
            "SELECT * FROM ( \
               SELECT r.id, r.hotel_id, r.name, r.max_guests, r.total_rooms, r.price_minor, r.currency, \
                 h.name AS hotel_name, h.city, h.address, \
                 r.price_minor * $5 AS total_minor, \
                 COALESCE((SELECT MIN(n.available) FROM room_nights n \
                           WHERE n.room_type_id = r.id AND n.night >= $2 AND n.night < $3), \
                          r.total_rooms) AS available_rooms \
               FROM room_types r JOIN hotels h ON h.id = r.hotel_id \
               WHERE h.city_key = $1 AND r.max_guests * $4 >= $6 AND r.total_rooms >= $4 \
                 AND NOT EXISTS (SELECT 1 FROM room_nights n WHERE n.room_type_id = r.id \
                                 AND n.night >= $2 AND n.night < $3 AND n.available < $4) \
             ) offers \
             WHERE total_minor > $7 OR (total_minor = $7 AND (hotel_id > $8 OR (hotel_id = $8 AND id > $9))) \
             ORDER BY total_minor, hotel_id, id LIMIT $10",
        )
        .bind(search.city.key())
        .bind(search.stay.check_in().iso())
        .bind(search.stay.check_out().iso())
        .bind(i64::from(search.rooms))
        .bind(i64::from(nights) * i64::from(search.rooms))
        .bind(i64::from(search.guests))
        .bind(after_total)
        .bind(after_hotel)
        .bind(after_room_type)
        .bind(i64::from(search.page_size) + 1)
        .fetch_all(self.db.pool())
        .instrument(self.db.span("hotel.search_hotels"))
        .await?;
        let mut offers = rows
            .into_iter()
            .map(|row| row.into_offer(nights, search.rooms))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if offers.len() > search.page_size as usize {
            offers.truncate(search.page_size as usize);
            offers.last().map(Offer::cursor)
        } else {
            None
        };
        Ok((offers, next))
    }
}

impl OfferRow {
    fn into_offer(self, nights: u32, rooms: u32) -> Result<Offer, Error> {
        let room_type = self.room_type.into_domain()?;
        Ok(Offer {
            hotel: Hotel {
                id: room_type.hotel_id.clone(),
                name: self.hotel_name,
                city: self.city,
                address: self.address,
                room_types: Vec::new(),
            },
            total_price: room_type.stay_price(nights, rooms).ok_or_else(overflow)?,
            available_rooms: count(self.available_rooms, "availability")?,
            nights,
            room_type,
        })
    }
}
