//! The seat-hold life cycle: HELD until confirmed, released or expired;
//! CONFIRMED until released; RELEASED and EXPIRED are final.

use travel::types::{HoldId, Money, UnixMillis};

pub use travel::hold::HoldState;

/// A seat hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Caller-assigned id.
    pub hold_id: HoldId,
    /// The flight; `None` for a tombstone.
    pub flight_id: Option<String>,
    /// Seats held.
    pub seats: u32,
    /// Seat price times seats, at the time of the hold.
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
        self.flight_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use travel::types::Currency;

    fn hold(state: HoldState, expires: i64) -> Hold {
        Hold {
            hold_id: HoldId::parse("h1").unwrap(),
            flight_id: Some("f1".into()),
            seats: 1,
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
}
