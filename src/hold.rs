//! The life cycle every inventory hold shares, seats and rooms alike: HELD until
//! confirmed, released or expired; CONFIRMED until released; RELEASED and
//! EXPIRED are final.

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

#[cfg(test)]
mod tests {
    use super::*;

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
