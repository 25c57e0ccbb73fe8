//! Seat holds: what a hold takes (seats on one flight) and the HoldSeats
//! request; the life cycle itself is the kit's (`travel::hold`).

use travel::types::HoldId;

pub use travel::hold::HoldState;

/// A seat hold as stored.
pub type Hold = travel::hold::Hold<Seats>;

/// What a seat hold takes. Two holds are the same request when these are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seats {
    /// The flight.
    pub flight_id: String,
    /// Seats held.
    pub seats: u32,
}

/// A validated HoldSeats request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    /// Caller-assigned hold id.
    pub hold_id: HoldId,
    /// The flight.
    pub flight_id: String,
    /// Seats to hold.
    pub seats: u32,
}

impl HoldRequest {
    /// What the request asks to hold.
    pub fn booking(&self) -> Seats {
        Seats {
            flight_id: self.flight_id.clone(),
            seats: self.seats,
        }
    }
}
