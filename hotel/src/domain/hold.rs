//! The room-hold life cycle: HELD until confirmed, released or expired;
//! CONFIRMED until released; RELEASED and EXPIRED are final.

use travel::types::{HoldId, Money, UnixMillis};

use super::Stay;

pub use travel::hold::HoldState;

/// What a hold takes: `rooms` rooms of one room type on every night of a stay,
/// for `guests` people. Two holds are the same request when their bookings are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// The hotel of the room type.
    pub hotel_id: String,
    /// The room type.
    pub room_type_id: String,
    /// The nights.
    pub stay: Stay,
    /// Rooms on every night, 1 to 9.
    pub rooms: u32,
    /// People staying, 1 to 20.
    pub guests: u32,
}

/// A validated HoldRooms request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    /// Caller-assigned hold id.
    pub hold_id: HoldId,
    /// What to hold.
    pub booking: Booking,
}

/// A room hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Caller-assigned id.
    pub hold_id: HoldId,
    /// What is held; `None` for a tombstone.
    pub booking: Option<Booking>,
    /// Nightly price × nights × rooms, at the time of the hold.
    pub total_price: Money,
    /// Life-cycle state.
    pub state: HoldState,
    /// When a HELD hold stops counting.
    pub expires_at: UnixMillis,
}

impl Hold {
    /// True when the hold is HELD but its time is up at `now`.
    pub fn is_expired_at(&self, now: UnixMillis) -> bool {
        self.state == HoldState::Held && self.expires_at <= now
    }

    /// True for a release that arrived before any hold with its id.
    pub fn is_tombstone(&self) -> bool {
        self.booking.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use travel::types::{Currency, Date};

    fn hold(state: HoldState, expires: i64) -> Hold {
        let day = |iso| Date::parse_iso(iso).unwrap();
        Hold {
            hold_id: HoldId::parse("h1").unwrap(),
            booking: Some(Booking {
                hotel_id: "h".into(),
                room_type_id: "rt".into(),
                stay: Stay::new(day("2026-05-01"), day("2026-05-03")).unwrap(),
                rooms: 1,
                guests: 2,
            }),
            total_price: Money {
                amount_minor: 100,
                currency: Currency::parse("EUR").unwrap(),
            },
            state,
            expires_at: UnixMillis::from_unix_millis(expires),
        }
    }

    #[test]
    fn only_held_holds_expire_and_only_once_their_time_is_up() {
        assert!(!hold(HoldState::Held, 10).is_expired_at(UnixMillis::from_unix_millis(9)));
        assert!(hold(HoldState::Held, 10).is_expired_at(UnixMillis::from_unix_millis(10)));
        assert!(!hold(HoldState::Confirmed, 10).is_expired_at(UnixMillis::from_unix_millis(99)));
    }

    #[test]
    fn a_hold_without_a_booking_is_a_tombstone() {
        let mut h = hold(HoldState::Released, 0);
        assert!(!h.is_tombstone());
        h.booking = None;
        assert!(h.is_tombstone());
    }
}
