//! Room holds: what a hold takes (rooms of one room type on every night of a
//! stay) and the HoldRooms request; the life cycle itself is the kit's
//! (`travel::hold`).

use travel::types::HoldId;

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

/// A room hold as stored; its price is nightly price × nights × rooms, at the
/// time of the hold.
pub type Hold = travel::hold::Hold<Booking>;
