//! Reading stored values back into domain types. A stored value that fails its
//! type's rules is corrupt data: it surfaces as a storage error (a bare INTERNAL
//! to callers, the detail logged), never as a panic.

use crate::types::{Currency, Date, Money};

/// The error for a stored `what` that is not valid.
pub fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("stored {what} is not valid"))
}

/// The error for a price computed from stored values that overflows.
pub fn overflow() -> sqlx::Error {
    sqlx::Error::Protocol("price overflow".into())
}

/// A stored count (seats, rooms, capacity).
pub fn count(n: i64, what: &str) -> Result<u32, sqlx::Error> {
    u32::try_from(n).map_err(|_| corrupt(what))
}

/// A stored amount and currency code.
pub fn money(amount_minor: i64, currency: &str) -> Result<Money, sqlx::Error> {
    let currency = Currency::parse(currency).map_err(|_| corrupt("currency"))?;
    Ok(Money { amount_minor, currency })
}

/// A stored `YYYY-MM-DD` date.
pub fn date(iso: &str) -> Result<Date, sqlx::Error> {
    Date::parse_iso(iso).map_err(|_| corrupt("date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        assert!(count(-1, "seats").is_err());
        assert!(money(100, "euro").is_err());
        assert!(date("2026-02-30").is_err());
        assert_eq!(count(3, "seats").ok(), Some(3));
    }
}
