//! Validated value types of the contracts that every service shares: instants,
//! calendar dates, money, caller-assigned hold ids, idempotency keys and counts.
//! Each `parse` accepts the proto form and refuses bad input with a message a
//! caller can act on.

mod date;
mod ids;
mod money;
mod unix_millis;

pub use date::{DATE_OUTSIDE_WINDOW, DATE_YEARS, Date};
pub use ids::{HoldId, RequestId, parse_id};
pub use money::{Currency, Money};
pub use unix_millis::UnixMillis;

/// Parses a count that must lie in `min..=max`.
pub fn parse_count(n: i32, min: i32, max: i32) -> Result<u32, String> {
    if (min..=max).contains(&n) {
        Ok(n.unsigned_abs())
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

#[cfg(test)]
mod tests;
