//! The hotel domain: validated values (names, cities, counts, stays), the
//! catalog of hotels and room types, searches and their offers, and the
//! room-hold life cycle.

mod hold;
mod search;
mod stay;

pub use hold::{Booking, Hold, HoldRequest, HoldState};
pub use search::{Cursor, Offer, Search};
pub use stay::{MAX_NIGHTS, Stay};

use travel::types::{Money, RequestId};

/// Most rooms one hold or one search may ask for.
pub const MAX_ROOMS: i32 = 9;
/// Most guests one hold or one search may be for.
pub const MAX_GUESTS: i32 = 20;
/// Most guests one room may sleep.
pub const MAX_GUESTS_PER_ROOM: i32 = 10;
/// Most rooms a room type may have.
pub const MAX_TOTAL_ROOMS: i32 = 1000;
/// Highest nightly price, in minor units: low enough that a stay's total
/// (price × 30 nights × 9 rooms) cannot overflow a 64-bit integer.
pub const MAX_NIGHTLY_PRICE_MINOR: i64 = 1_000_000_000_000_000;

/// Trims `s` and checks its length in characters and that it has no control characters.
fn text(s: &str, min: usize, max: usize) -> Result<String, String> {
    let s = s.trim();
    let len = s.chars().count();
    if len < min || len > max {
        return Err(if min == 0 {
            format!("must be at most {max} characters")
        } else {
            format!("must be {min} to {max} characters")
        });
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(s.to_owned())
}

/// A display name (of a hotel or a room type): 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        text(s, 1, 200).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A city as given (1 to 100 characters, trimmed), matched ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City(String);

impl City {
    /// Parses a city.
    pub fn parse(s: &str) -> Result<Self, String> {
        text(s, 1, 100).map(Self)
    }

    /// The city as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form searches match on: lower case, so that "Lisbon" finds "LISBON".
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A street address: up to 300 characters, trimmed; may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    /// Parses an address.
    pub fn parse(s: &str) -> Result<Self, String> {
        text(s, 0, 300).map(Self)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a nightly price: a valid [`Money`] of at most [`MAX_NIGHTLY_PRICE_MINOR`].
pub fn nightly_price(m: Option<&travel::pb::common::v1::Money>) -> Result<Money, String> {
    travel::hold::unit_price(m, MAX_NIGHTLY_PRICE_MINOR)
}

/// A hotel to add to the catalog, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHotel {
    /// Display name.
    pub name: Name,
    /// City, as given.
    pub city: City,
    /// Street address, possibly empty.
    pub address: Address,
    /// Idempotency key, if the caller sent one.
    pub request_id: Option<RequestId>,
}

impl NewHotel {
    /// A fingerprint of everything but the request id, to tell a retry from a
    /// different request sent under the same id.
    pub fn fingerprint(&self) -> String {
        let parts = [self.name.as_str(), self.city.as_str(), self.address.as_str()];
        format!("{:016x}", travel::page::fingerprint(&parts))
    }
}

/// A room type to add to a hotel, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoomType {
    /// The hotel (well-formed; it may not exist).
    pub hotel_id: String,
    /// Display name.
    pub name: Name,
    /// Guests one room sleeps.
    pub max_guests: u32,
    /// Rooms of this type.
    pub total_rooms: u32,
    /// Price of one room for one night.
    pub nightly_price: Money,
    /// Idempotency key, if the caller sent one.
    pub request_id: Option<RequestId>,
}

impl NewRoomType {
    /// A fingerprint of everything but the request id (see [`NewHotel::fingerprint`]).
    pub fn fingerprint(&self) -> String {
        format!(
            "{:016x}",
            travel::page::fingerprint(&[
                &self.hotel_id,
                self.name.as_str(),
                &self.max_guests.to_string(),
                &self.total_rooms.to_string(),
                &self.nightly_price.amount_minor.to_string(),
                self.nightly_price.currency.as_str(),
            ])
        )
    }
}

/// A hotel in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotel {
    /// Server-assigned id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// City as given.
    pub city: String,
    /// Street address.
    pub address: String,
    /// Its room types in the order they were added (empty where not loaded).
    pub room_types: Vec<RoomType>,
}

/// A kind of room in a hotel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomType {
    /// Server-assigned id.
    pub id: String,
    /// The hotel it belongs to.
    pub hotel_id: String,
    /// Display name.
    pub name: String,
    /// Guests one room sleeps.
    pub max_guests: u32,
    /// Rooms of this type; every night starts with all of them available.
    pub total_rooms: u32,
    /// Price of one room for one night.
    pub nightly_price: Money,
}

impl RoomType {
    /// True when `rooms` rooms of this type together sleep `guests` people.
    pub fn sleeps(&self, rooms: u32, guests: u32) -> bool {
        u64::from(self.max_guests) * u64::from(rooms) >= u64::from(guests)
    }

    /// The price of `rooms` rooms for `nights` nights, or `None` on overflow.
    pub fn stay_price(&self, nights: u32, rooms: u32) -> Option<Money> {
        self.nightly_price
            .times(i64::from(nights).checked_mul(i64::from(rooms))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use travel::types::Currency;

    fn room_type(max_guests: u32, price: i64) -> RoomType {
        RoomType {
            id: "rt".into(),
            hotel_id: "h".into(),
            name: "Double".into(),
            max_guests,
            total_rooms: 3,
            nightly_price: Money {
                amount_minor: price,
                currency: Currency::parse("EUR").unwrap(),
            },
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(Name::parse("  Grand Hotel ").unwrap().as_str(), "Grand Hotel");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"é".repeat(200)).is_ok());
        assert!(Name::parse(&"é".repeat(201)).is_err());
        assert!(Name::parse("Tab\there").is_err());
    }

    #[test]
    fn cities_match_ignoring_case_but_keep_their_spelling() {
        let city = City::parse("São Paulo").unwrap();
        assert_eq!(city.as_str(), "São Paulo");
        assert_eq!(city.key(), City::parse("SÃO PAULO").unwrap().key());
    }

    #[test]
    fn addresses_may_be_empty_but_not_too_long() {
        assert_eq!(Address::parse("").unwrap().as_str(), "");
        assert!(Address::parse(&"x".repeat(301)).is_err());
    }

    #[test]
    fn rooms_together_must_sleep_the_guests() {
        let double = room_type(2, 100);
        assert!(double.sleeps(1, 2));
        assert!(!double.sleeps(1, 3));
        assert!(double.sleeps(2, 3));
    }

    #[test]
    fn stay_price_is_nightly_price_times_nights_times_rooms() {
        assert_eq!(
            room_type(2, 12_345).stay_price(3, 2).map(|m| m.amount_minor),
            Some(74_070)
        );
        assert_eq!(room_type(2, i64::MAX).stay_price(2, 1), None);
    }

    #[test]
    fn nightly_prices_are_capped_so_that_totals_cannot_overflow() {
        let money = |amount_minor| travel::pb::common::v1::Money {
            amount_minor,
            currency_code: "EUR".into(),
        };
        assert!(nightly_price(Some(&money(MAX_NIGHTLY_PRICE_MINOR))).is_ok());
        assert!(nightly_price(Some(&money(MAX_NIGHTLY_PRICE_MINOR + 1))).is_err());
        assert!(nightly_price(Some(&money(-1))).is_err());
        let nights_times_rooms = i64::from(MAX_NIGHTS) * i64::from(MAX_ROOMS);
        assert!(MAX_NIGHTLY_PRICE_MINOR.checked_mul(nights_times_rooms).is_some());
    }
}
