//! [`UnixMillis`]: an instant in UTC as milliseconds since the Unix epoch,
//! the one representation of time in every database, and its proto form.

use prost_types::Timestamp;

use super::date::{Date, UNIX_EPOCH_JULIAN_DAY};

/// An instant in UTC, with millisecond precision: the one representation of time
/// in every database (an integer of milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub(super) i64);

impl UnixMillis {
    /// The current instant from the system clock.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This instant plus `d`.
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// Parses a protobuf timestamp; refuses one outside years 1970 to 9999.
    pub fn parse(ts: Option<&Timestamp>) -> Result<Self, &'static str> {
        let ts = ts.ok_or("is required")?;
        if !(0..=253_402_300_799).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos) {
            return Err("must be a valid timestamp between 1970 and 9999");
        }
        Ok(Self(ts.seconds * 1000 + i64::from(ts.nanos / 1_000_000)))
    }

    /// The UTC calendar date of this instant.
    pub fn date(self) -> Date {
        let days = self.0.div_euclid(86_400_000);
        Date(time::Date::from_julian_day(UNIX_EPOCH_JULIAN_DAY + days as i32).unwrap_or(time::Date::MIN))
    }
}

impl From<UnixMillis> for Timestamp {
    fn from(i: UnixMillis) -> Self {
        Timestamp {
            seconds: i.0.div_euclid(1000),
            nanos: (i.0.rem_euclid(1000) * 1_000_000) as i32,
        }
    }
}
