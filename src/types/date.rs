//! [`Date`]: a calendar date within [`DATE_YEARS`], and its proto form.

use std::fmt;

use super::UnixMillis;

use crate::pb::common::v1 as pb;

pub(super) const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// A calendar date without time of day or zone (a departure date, a check-in day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub(super) time::Date);

/// Years a request may name a date in: 2000-01-01 through 2100-12-31, inclusive.
/// Anything outside is a typo or a probe, not a trip.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// What is wrong with a date (or an instant's date) outside [`DATE_YEARS`].
pub const DATE_OUTSIDE_WINDOW: &str = "must be between 2000-01-01 and 2100-12-31";

impl Date {
    /// Parses the contract's `Date` message: every field required and valid,
    /// and the date from 2000-01-01 to 2100-12-31 ([`DATE_YEARS`]).
    pub fn parse(d: Option<&pb::Date>) -> Result<Self, &'static str> {
        let d = d.ok_or("is required")?;
        if !DATE_YEARS.contains(&d.year) {
            return Err(DATE_OUTSIDE_WINDOW);
        }
        let month = u8::try_from(d.month)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok())
            .ok_or("month must be between 1 and 12")?;
        let day = u8::try_from(d.day).map_err(|_| "day is not valid for the month")?;
        time::Date::from_calendar_date(d.year, month, day)
            .map(Self)
            .map_err(|_| "day is not valid for the month")
    }

    /// True when this date lies in [`DATE_YEARS`], the window requests may name.
    pub fn in_window(self) -> bool {
        DATE_YEARS.contains(&self.0.year())
    }

    /// Parses the `YYYY-MM-DD` form the databases store.
    pub fn parse_iso(s: &str) -> Result<Self, &'static str> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, &format)
            .map(Self)
            .map_err(|_| "is not a YYYY-MM-DD date")
    }

    /// The `YYYY-MM-DD` form, which sorts like the dates it names.
    pub fn iso(self) -> String {
        let (y, m, d) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// The day after.
    pub fn next(self) -> Option<Self> {
        self.0.next_day().map(Self)
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        i64::from(later.0.to_julian_day() - self.0.to_julian_day())
    }

    /// The first instant of this day, UTC.
    pub fn start(self) -> UnixMillis {
        UnixMillis(i64::from(self.0.to_julian_day() - UNIX_EPOCH_JULIAN_DAY) * 86_400_000)
    }
}

impl From<Date> for pb::Date {
    fn from(d: Date) -> Self {
        pb::Date {
            year: d.0.year(),
            month: i32::from(u8::from(d.0.month())),
            day: i32::from(d.0.day()),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}
