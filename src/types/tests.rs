//! The shared value types' parsing rules.

use prost_types::Timestamp;

use crate::pb::common::v1 as pb;

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
