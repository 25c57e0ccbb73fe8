//! The life cycle every inventory hold shares, seats and rooms alike: HELD until
//! confirmed, released or expired; CONFIRMED until released; RELEASED and
//! EXPIRED are final. The hold as stored ([`Hold`]), its refusals
//! ([`HoldError`]), its counters ([`HoldMetrics`]), and in [`store`] the
//! statements both hold stores run.

mod error;
mod metrics;
pub mod service;
pub mod store;
mod stored;

pub use error::{HoldError, Holds, Refusal, refused};
pub use metrics::HoldMetrics;
pub use stored::StoredHold;

use crate::types::{HoldId, Money, UnixMillis};

/// Where a hold is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    /// Inventory taken, waiting for confirm or release, until the hold expires.
    Held,
    /// Inventory sold.
    Confirmed,
    /// Inventory given back on request (or a tombstone: released before it was held).
    Released,
    /// Inventory given back because the hold was not confirmed in time.
    Expired,
}

impl HoldState {
    /// The state as stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "HELD",
            Self::Confirmed => "CONFIRMED",
            Self::Released => "RELEASED",
            Self::Expired => "EXPIRED",
        }
    }

    /// Reads a stored state.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HELD" => Some(Self::Held),
            "CONFIRMED" => Some(Self::Confirmed),
            "RELEASED" => Some(Self::Released),
            "EXPIRED" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// Each service's contract has its own `HoldState` enum with the same values.
macro_rules! into_proto {
    ($($proto:ty),*) => {$(
        impl From<HoldState> for $proto {
            fn from(s: HoldState) -> Self {
                match s {
                    HoldState::Held => Self::Held,
                    HoldState::Confirmed => Self::Confirmed,
                    HoldState::Released => Self::Released,
                    HoldState::Expired => Self::Expired,
                }
            }
        }
    )*};
}

into_proto!(crate::pb::flight::v1::HoldState, crate::pb::hotel::v1::HoldState);

/// Parses the unit price of what holds take (a seat, a room for a night): a
/// valid [`Money`] of at most `max_minor`, a cap low enough that a hold's total
/// (unit price × units × nights) cannot overflow.
pub fn unit_price(m: Option<&crate::pb::common::v1::Money>, max_minor: i64) -> Result<Money, String> {
    let price = Money::parse(m)?;
    if price.amount_minor > max_minor {
        return Err(format!("amount_minor must be at most {max_minor}"));
    }
    Ok(price)
}

/// A hold as stored. `B` is what a live hold takes: seats on a flight, rooms of
/// a room type on some nights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold<B> {
    /// Caller-assigned id.
    pub hold_id: HoldId,
    /// What is held; `None` for a tombstone.
    pub booking: Option<B>,
    /// The price of what is held, at the time of the hold.
    pub total_price: Money,
    /// Life-cycle state.
    pub state: HoldState,
    /// When a HELD hold stops counting.
    pub expires_at: UnixMillis,
}

impl<B: PartialEq> Hold<B> {
    /// True when the hold is HELD but its time is up at `now`.
    pub fn is_expired_at(&self, now: UnixMillis) -> bool {
        self.state == HoldState::Held && self.expires_at <= now
    }

    /// True for a release that arrived before any hold with its id.
    pub fn is_tombstone(&self) -> bool {
        self.booking.is_none()
    }

    /// The answer to a hold request for `wanted` that found this hold under its
    /// id: the hold itself when it is a retry of the same request and still
    /// live, else why not.
    pub fn answer_retry(self, wanted: &B, holds: Holds) -> Result<Self, HoldError> {
        let refusal = match self.state {
            _ if self.booking.as_ref() != Some(wanted) => {
                if self.is_tombstone() {
                    Refusal::Released
                } else {
                    Refusal::IdInUse
                }
            }
            HoldState::Held | HoldState::Confirmed => return Ok(self),
            HoldState::Released => Refusal::Released,
            HoldState::Expired => Refusal::Expired,
        };
        Err(holds.refuse(refusal, &self.hold_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Currency;

    const HOLDS: Holds = Holds {
        noun: "seat hold",
        units: "seats",
        domain: "flight.travel",
    };

    fn hold(state: HoldState, expires: i64) -> Hold<&'static str> {
        Hold {
            hold_id: HoldId::parse("h1").unwrap(),
            booking: Some("one seat on f1"),
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

    #[test]
    fn a_retry_gets_its_hold_back_and_anything_else_a_refusal() {
        let refusal = |h: Hold<&'static str>, wanted| h.answer_retry(&wanted, HOLDS).map_err(|e| e.refusal);
        assert!(refusal(hold(HoldState::Confirmed, 0), "one seat on f1").is_ok());
        assert_eq!(refusal(hold(HoldState::Held, 0), "two seats"), Err(Refusal::IdInUse));
        assert_eq!(
            refusal(hold(HoldState::Expired, 0), "one seat on f1"),
            Err(Refusal::Expired)
        );
        let mut tombstone = hold(HoldState::Released, 0);
        tombstone.booking = None;
        assert_eq!(refusal(tombstone, "one seat on f1"), Err(Refusal::Released));
    }

    #[test]
    fn states_round_trip_through_storage() {
        for s in [
            HoldState::Held,
            HoldState::Confirmed,
            HoldState::Released,
            HoldState::Expired,
        ] {
            assert_eq!(HoldState::parse(s.as_str()), Some(s));
        }
        assert_eq!(HoldState::parse("nope"), None);
    }
}
