//! The documented boundaries of the shared types, fed through SearchFlights
//! (dates) and CreateFlight (money).

use travel::pb::common::v1::Money;
use travel::pb::flight::v1::{CreateFlightRequest, SearchFlightsRequest};

use super::flight::{TOP_SEAT_PRICE, create, date, search};
use super::{LETTERS3, Row, row};
use crate::contracts::calls::Call;

const YEAR: &str = "2000 to 2100: with month and day, a date from 2000-01-01 through 2100-12-31.";
const MONTH: &str = "1 to 12.";
const DAY: &str = "1 to the last day of the month in that year (28, 29, 30 or 31).";
const AMOUNT: &str = "0 to 9223372036854775807, unless the field that holds the Money says less.";

fn on(year: i32, month: i32, day: i32) -> Call {
    Call::SearchFlights(SearchFlightsRequest {
        departure_date: date(year, month, day),
        ..search()
    })
}

fn price(amount_minor: i64, currency_code: &str) -> Call {
    Call::CreateFlight(CreateFlightRequest {
        seat_price: Some(Money {
            amount_minor,
            currency_code: currency_code.into(),
        }),
        ..create()
    })
}

pub fn rows() -> Vec<Row> {
    let d = |name: &str| format!("travel.common.v1.Date.{name}");
    let m = |name: &str| format!("travel.common.v1.Money.{name}");
    let v = "departure_date";
    vec![
        row(d("year"), YEAR, v, on(2000, 1, 1), on(1999, 12, 31)),
        row(d("year"), YEAR, v, on(2100, 12, 31), on(2101, 1, 1)),
        row(d("year"), YEAR, v, on(2030, 1, 1), on(1, 1, 1)),
        row(d("year"), YEAR, v, on(2030, 1, 1), on(9999, 12, 31)),
        row(d("month"), MONTH, v, on(2030, 1, 1), on(2030, 0, 1)),
        row(d("month"), MONTH, v, on(2030, 12, 1), on(2030, 13, 1)),
        row(d("day"), DAY, v, on(2030, 1, 1), on(2030, 1, 0)),
        row(d("day"), DAY, v, on(2030, 1, 31), on(2030, 1, 32)),
        row(d("day"), DAY, v, on(2030, 4, 30), on(2030, 4, 31)),
        row(d("day"), DAY, v, on(2028, 2, 29), on(2030, 2, 29)),
        row(d("day"), DAY, v, on(2030, 2, 28), on(2100, 2, 29)),
        row(
            m("amount_minor"),
            AMOUNT,
            "seat_price",
            price(0, "EUR"),
            price(-1, "EUR"),
        ),
        // No int64 is past 9223372036854775807, and seat_price says less (its
        // own rows check that cap): the top a request can reach, then the
        // most negative amount.
        row(
            m("amount_minor"),
            AMOUNT,
            "seat_price",
            price(TOP_SEAT_PRICE, "EUR"),
            price(i64::MIN, "EUR"),
        ),
        row(
            m("currency_code"),
            LETTERS3,
            "seat_price",
            price(1, "USD"),
            price(1, "usd"),
        ),
        row(
            m("currency_code"),
            LETTERS3,
            "seat_price",
            price(1, "XYZ"),
            price(1, "EURO"),
        ),
        row(
            m("currency_code"),
            LETTERS3,
            "seat_price",
            price(1, "JPY"),
            price(1, ""),
        ),
    ]
}
