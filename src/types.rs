//! Validated value types of the contracts that every service shares: instants,
//! calendar dates, money, caller-assigned hold ids, idempotency keys and counts.
//! Each `parse` accepts the proto form and refuses bad input with a message a
//! caller can act on.

use std::fmt;

use prost_types::Timestamp;

use crate::pb::common::v1 as pb;

/// An instant in UTC, with millisecond precision: the one representation of time
/// in every database (an integer of milliseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(i64);

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

const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// A calendar date without time of day or zone (a departure date, a check-in day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(time::Date);

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

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a currency code such as `EUR`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err("currency_code must be three upper-case letters (ISO 4217), for example EUR"),
        }
    }

    /// The code, for example `EUR`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

/// An amount of money in integer minor units of one currency; never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// Minor units (cents): integers, so sums are exact.
    pub amount_minor: i64,
    /// The currency the amount is in.
    pub currency: Currency,
}

impl Money {
    /// Parses a price: present, a valid currency, zero or more.
    pub fn parse(m: Option<&pb::Money>) -> Result<Self, &'static str> {
        let m = m.ok_or("is required")?;
        let currency = Currency::parse(&m.currency_code)?;
        if m.amount_minor < 0 {
            return Err("amount_minor must be zero or more");
        }
        Ok(Self {
            amount_minor: m.amount_minor,
            currency,
        })
    }

    /// This price times `n`, or `None` if it would overflow.
    pub fn times(self, n: i64) -> Option<Self> {
        Some(Self {
            amount_minor: self.amount_minor.checked_mul(n)?,
            currency: self.currency,
        })
    }
}

impl From<Money> for pb::Money {
    fn from(m: Money) -> Self {
        pb::Money {
            amount_minor: m.amount_minor,
            currency_code: m.currency.as_str().to_owned(),
        }
    }
}

/// A caller-assigned hold id (AIP-133 style): 1 to 128 characters from
/// `A-Z a-z 0-9 . _ : -`, so it is safe in logs and URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoldId(String);

impl HoldId {
    /// Parses a hold id.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        parse_token(s, 128).map(Self)
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An optional idempotency key (AIP-155): empty means none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Parses an optional request id: `None` when empty.
    pub fn parse_optional(s: &str) -> Result<Option<Self>, &'static str> {
        if s.is_empty() {
            Ok(None)
        } else {
            parse_token(s, 128).map(|s| Some(Self(s)))
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a server-assigned resource id: not empty, at most 64 safe characters.
/// A well-formed id that names nothing is the caller's NOT_FOUND, not this.
pub fn parse_id(s: &str) -> Result<String, &'static str> {
    parse_token(s, 64)
}

fn parse_token(s: &str, max: usize) -> Result<String, &'static str> {
    if s.is_empty() {
        return Err("must not be empty");
    }
    if s.len() > max {
        return Err(if max == 64 {
            "must be at most 64 characters"
        } else {
            "must be at most 128 characters"
        });
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) {
        return Err("may only contain A-Z a-z 0-9 . _ : -");
    }
    Ok(s.to_owned())
}

/// Parses a count that must lie in `min..=max`.
pub fn parse_count(n: i32, min: i32, max: i32) -> Result<u32, String> {
    if (min..=max).contains(&n) {
        Ok(n.unsigned_abs())
    } else {
        Err(format!("must be between {min} and {max}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: i32, day: i32) -> Option<pb::Date> {
        Some(pb::Date { year, month, day })
    }

    #[test]
    fn date_parse_refuses_impossible_days() {
        assert!(Date::parse(date(2027, 2, 29).as_ref()).is_err());
        assert!(Date::parse(date(2028, 2, 29).as_ref()).is_ok());
        assert!(Date::parse(date(2027, 13, 1).as_ref()).is_err());
        assert!(Date::parse(None).is_err());
    }

    #[test]
    fn dates_outside_2000_to_2100_are_refused() {
        for (y, m, d) in [(2000, 1, 1), (2030, 6, 15), (2100, 12, 31)] {
            assert!(Date::parse(date(y, m, d).as_ref()).is_ok(), "{y}-{m}-{d}");
        }
        for (y, m, d) in [(1, 1, 1), (1999, 12, 31), (2101, 1, 1), (9999, 12, 31)] {
            assert_eq!(
                Date::parse(date(y, m, d).as_ref()),
                Err("must be between 2000-01-01 and 2100-12-31"),
                "{y}-{m}-{d}"
            );
        }
    }

    #[test]
    fn dates_round_trip_through_iso_and_instants() {
        let d = Date::parse(date(2026, 12, 24).as_ref()).unwrap();
        assert_eq!(d.iso(), "2026-12-24");
        assert_eq!(Date::parse_iso("2026-12-24").unwrap(), d);
        assert_eq!(d.start().date(), d);
        assert_eq!(d.start().plus(std::time::Duration::from_secs(86_399)).date(), d);
        assert_eq!(d.days_until(d.next().unwrap()), 1);
    }

    #[test]
    fn money_refuses_negative_amounts_and_bad_currencies() {
        let m = |a, c: &str| {
            Some(pb::Money {
                amount_minor: a,
                currency_code: c.into(),
            })
        };
        assert!(Money::parse(m(100, "EUR").as_ref()).is_ok());
        assert!(Money::parse(m(-1, "EUR").as_ref()).is_err());
        assert!(Money::parse(m(1, "eur").as_ref()).is_err());
        assert!(Money::parse(m(1, "EURO").as_ref()).is_err());
    }

    #[test]
    fn hold_ids_allow_only_safe_characters() {
        assert!(HoldId::parse("res-1:flight").is_ok());
        assert!(HoldId::parse("").is_err());
        assert!(HoldId::parse("a b").is_err());
        assert!(HoldId::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn timestamps_round_trip_at_millisecond_precision() {
        let ts = Timestamp {
            seconds: 1_800_000_000,
            nanos: 123_000_000,
        };
        let i = UnixMillis::parse(Some(&ts)).unwrap();
        assert_eq!(Timestamp::from(i), ts);
        assert!(UnixMillis::parse(Some(&Timestamp { seconds: -1, nanos: 0 })).is_err());
    }
}
