//! Room search: the validated query, its page cursor, and the offers it finds.

use travel::types::Money;

use super::{City, Hotel, RoomType, Stay};

/// A validated SearchHotels request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// City, matched by its [`City::key`].
    pub city: City,
    /// The nights wanted.
    pub stay: Stay,
    /// People staying.
    pub guests: u32,
    /// Rooms wanted on every night.
    pub rooms: u32,
    /// Offers per page.
    pub page_size: u32,
    /// Where this page starts; `None` for the first page.
    pub after: Option<Cursor>,
}

impl Search {
    /// The query's fingerprint, which binds page tokens to it (the page size may change between pages).
    pub fn fingerprint(&self) -> u64 {
        travel::page::fingerprint(&[
            "hotels",
            &self.city.key(),
            &self.stay.check_in().iso(),
            &self.stay.check_out().iso(),
            &self.guests.to_string(),
            &self.rooms.to_string(),
        ])
    }
}

/// Where a search page starts: after this offer in (total price, hotel id, room type id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Total price of the last offer of the previous page, in minor units.
    pub total_minor: i64,
    /// Hotel id of that offer.
    pub hotel_id: String,
    /// Room type id of that offer.
    pub room_type_id: String,
}

impl Cursor {
    /// The cursor's text inside a page token.
    pub fn encode(&self) -> String {
        format!("{}|{}|{}", self.total_minor, self.hotel_id, self.room_type_id)
    }

    /// Reads [`Cursor::encode`]'s text.
    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '|');
        let total_minor = parts.next()?.parse().ok()?;
        let hotel_id = parts.next()?.to_owned();
        let room_type_id = parts.next()?.to_owned();
        Some(Self {
            total_minor,
            hotel_id,
            room_type_id,
        })
    }
}

/// A room type free on every night of a searched stay, with the stay's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The hotel, without its room types.
    pub hotel: Hotel,
    /// The room type on offer.
    pub room_type: RoomType,
    /// Nights in the stay.
    pub nights: u32,
    /// Nightly price × nights × rooms.
    pub total_price: Money,
    /// The fewest rooms of this type free on any night of the stay.
    pub available_rooms: u32,
}

impl Offer {
    /// The cursor of a page that ends with this offer.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            total_minor: self.total_price.amount_minor,
            hotel_id: self.hotel.id.clone(),
            room_type_id: self.room_type.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use travel::types::Date;

    fn search(city: &str, guests: u32, page_size: u32) -> Search {
        let day = |iso| Date::parse_iso(iso).unwrap();
        Search {
            city: City::parse(city).unwrap(),
            stay: Stay::new(day("2026-05-01"), day("2026-05-04")).unwrap(),
            guests,
            rooms: 1,
            page_size,
            after: None,
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            total_minor: 36_000,
            hotel_id: "h-1".into(),
            room_type_id: "rt-2".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("garbage"), None);
        assert_eq!(Cursor::decode("12|h-1"), None);
    }

    #[test]
    fn fingerprints_ignore_city_case_and_page_size_but_not_the_query() {
        assert_eq!(
            search("Lisbon", 2, 10).fingerprint(),
            search("LISBON", 2, 50).fingerprint()
        );
        assert_ne!(
            search("Lisbon", 2, 10).fingerprint(),
            search("Lisbon", 3, 10).fingerprint()
        );
        assert_ne!(
            search("Lisbon", 2, 10).fingerprint(),
            search("Porto", 2, 10).fingerprint()
        );
    }
}
