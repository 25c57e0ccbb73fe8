//! The documented boundaries of the flight service's requests.

use prost_types::Timestamp;
use travel::pb::common::v1::{Date, Money};
use travel::pb::flight::v1::{
    CancelFlightRequest, ConfirmSeatsRequest, CreateFlightRequest, GetFlightRequest, HoldSeatsRequest,
    ReleaseSeatsRequest, RescheduleFlightRequest, SearchFlightsRequest,
};

use super::{DATE, HOLD_ID, ID, KEY, LETTERS3, PAGE_SIZE, Row, fresh, ints, longest, row, token};
use crate::contracts::calls::Call;

const P: &str = "travel.flight.v1.";
/// The first second of the date window: 2000-01-01T00:00:00Z.
const FIRST_SECOND: i64 = 946_684_800;
/// The last second of the date window: 2100-12-31T23:59:59Z.
const LAST_SECOND: i64 = 4_133_980_799;
/// CancelFlightRequest.reason's and RescheduleFlightRequest.reason's rule.
const REASON: &str = "empty, or up to 200 characters (Unicode code points) once white space at either end \
     is trimmed, none of them a control character.";
/// 2030-01-01T10:00:00Z.
const DEPARTURE: i64 = 1_893_492_000;

const FLIGHT_NUMBER: &str = "two of A-Z a-z 0-9, at least one of them a letter (the airline), then 1 to 4 \
     digits 0-9; white space at either end is ignored and letters are upper-cased.";
const DESTINATION: &str = "exactly three upper-case letters A-Z, other than origin.";
const DEPARTURE_TIME: &str = "a Timestamp from 2000-01-01T00:00:00Z through 2100-12-31T23:59:59.999999999Z \
     (its UTC date within the window of Date); required.";
const ARRIVAL_TIME: &str = "a Timestamp from 2000-01-01T00:00:00Z through 2100-12-31T23:59:59.999999999Z \
     (its UTC date within the window of Date), later than departure_time once both are cut to the \
     millisecond; required.";
const SEAT_PRICE: &str = "a valid Money (see Money) with amount_minor at most 1000000000000000 (10^15); required.";
/// The highest seat price the rule allows.
pub const TOP_SEAT_PRICE: i64 = 1_000_000_000_000_000;
const PAGE_TOKEN: &str = "empty (the first page), or the next_page_token of a previous response to the same search.";

pub fn ts(seconds: i64, nanos: i32) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos })
}

pub fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: "EUR".into(),
    })
}

pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A valid CreateFlight.
pub fn create() -> CreateFlightRequest {
    CreateFlightRequest {
        flight_number: "TP1234".into(),
        origin: "LIS".into(),
        destination: "JFK".into(),
        departure_time: ts(DEPARTURE, 0),
        arrival_time: ts(DEPARTURE + 8 * 3600, 0),
        seat_price: eur(10_000),
        capacity: 100,
        request_id: String::new(),
    }
}

/// A valid SearchFlights.
pub fn search() -> SearchFlightsRequest {
    SearchFlightsRequest {
        origin: "LIS".into(),
        destination: "JFK".into(),
        departure_date: date(2030, 1, 1),
        passengers: 1,
        page_size: 0,
        page_token: String::new(),
    }
}

fn hold() -> HoldSeatsRequest {
    HoldSeatsRequest {
        hold_id: fresh(16),
        flight_id: "no-such-flight".into(),
        seats: 1,
    }
}

fn flight_number(n: &str) -> CreateFlightRequest {
    CreateFlightRequest {
        flight_number: n.into(),
        ..create()
    }
}

fn airports(origin: &str, destination: &str) -> CreateFlightRequest {
    CreateFlightRequest {
        origin: origin.into(),
        destination: destination.into(),
        ..create()
    }
}

fn times(departure: Option<Timestamp>, arrival: Option<Timestamp>) -> CreateFlightRequest {
    CreateFlightRequest {
        departure_time: departure,
        arrival_time: arrival,
        ..create()
    }
}

fn create_rows() -> Vec<Row> {
    let f = |name: &str| format!("{P}CreateFlightRequest.{name}");
    let pair =
        |name: &'static str, rule, ok, bad| row(f(name), rule, name, Call::CreateFlight(ok), Call::CreateFlight(bad));
    let number = |ok, bad| pair("flight_number", FLIGHT_NUMBER, flight_number(ok), flight_number(bad));
    let departure = |ok, bad| pair("departure_time", DEPARTURE_TIME, ok, bad);
    let arrival = |ok, bad| pair("arrival_time", ARRIVAL_TIME, ok, bad);
    // A departure in the window but in the past is FAILED_PRECONDITION
    // (DEPARTURE_IN_PAST): not malformed, so it passes as "accepted" here.
    let (first, later, last) = (
        ts(FIRST_SECOND, 0),
        ts(FIRST_SECOND + 3600, 0),
        ts(LAST_SECOND, 999_999_999),
    );
    let mut rows = vec![
        number("TP1234", "TP12345"),
        number("TP1", "TP"),
        number("U21", "121"),
        number(" tp12 ", "T-12"),
        number("tp12", "T\u{c9}12"),
        pair("origin", LETTERS3, airports("OPO", "JFK"), airports("opo", "JFK")),
        pair("origin", LETTERS3, airports("LIS", "JFK"), airports("LISB", "JFK")),
        pair(
            "destination",
            DESTINATION,
            airports("LIS", "JFK"),
            airports("LIS", "LIS"),
        ),
        pair(
            "destination",
            DESTINATION,
            airports("LIS", "JFK"),
            airports("LIS", "JF"),
        ),
        departure(times(first, later), times(ts(FIRST_SECOND - 1, 999_999_999), later)),
        departure(times(first, later), times(ts(0, 0), later)),
        departure(
            times(ts(FIRST_SECOND, 999_999_999), later),
            times(ts(FIRST_SECOND, 1_000_000_000), later),
        ),
        departure(times(ts(LAST_SECOND - 1, 0), last), times(ts(LAST_SECOND + 1, 0), last)),
        departure(create(), times(None, later)),
        arrival(
            times(ts(DEPARTURE, 0), ts(DEPARTURE, 1_000_000)),
            times(ts(DEPARTURE, 0), ts(DEPARTURE, 999_999)),
        ),
        arrival(times(first, last), times(first, ts(LAST_SECOND + 1, 0))),
        arrival(
            times(ts(DEPARTURE, 0), last),
            times(ts(DEPARTURE, 0), ts(253_402_300_799, 0)),
        ),
        arrival(create(), times(ts(DEPARTURE, 0), None)),
        pair(
            "seat_price",
            SEAT_PRICE,
            create(),
            CreateFlightRequest {
                seat_price: None,
                ..create()
            },
        ),
        pair(
            "seat_price",
            SEAT_PRICE,
            CreateFlightRequest {
                seat_price: eur(TOP_SEAT_PRICE),
                ..create()
            },
            CreateFlightRequest {
                seat_price: eur(TOP_SEAT_PRICE + 1),
                ..create()
            },
        ),
        pair(
            "seat_price",
            SEAT_PRICE,
            create(),
            CreateFlightRequest {
                seat_price: eur(i64::MAX),
                ..create()
            },
        ),
    ];
    rows.extend(ints(&f("capacity"), "1 to 1000.", "capacity", (1, 1000), |capacity| {
        Call::CreateFlight(CreateFlightRequest { capacity, ..create() })
    }));
    rows.extend(token(&f("request_id"), KEY, "request_id", |request_id| {
        Call::CreateFlight(CreateFlightRequest { request_id, ..create() })
    }));
    rows
}

fn search_rows() -> Vec<Row> {
    let s = |name: &str| format!("{P}SearchFlightsRequest.{name}");
    let call = Call::SearchFlights;
    let mut rows = vec![
        row(
            s("origin"),
            LETTERS3,
            "origin",
            call(search()),
            call(SearchFlightsRequest {
                origin: "Lis".into(),
                ..search()
            }),
        ),
        row(
            s("destination"),
            LETTERS3,
            "destination",
            call(search()),
            call(SearchFlightsRequest {
                destination: "JFKK".into(),
                ..search()
            }),
        ),
        row(
            s("departure_date"),
            DATE,
            "departure_date",
            call(search()),
            call(SearchFlightsRequest {
                departure_date: None,
                ..search()
            }),
        ),
        row(
            s("page_token"),
            PAGE_TOKEN,
            "page_token",
            call(search()),
            call(SearchFlightsRequest {
                page_token: "bm90IGEgdG9rZW4".into(),
                ..search()
            }),
        ),
    ];
    rows.extend(ints(&s("passengers"), "1 to 9.", "passengers", (1, 9), |passengers| {
        call(SearchFlightsRequest { passengers, ..search() })
    }));
    rows.extend(ints(&s("page_size"), PAGE_SIZE, "page_size", (0, 100), |page_size| {
        call(SearchFlightsRequest { page_size, ..search() })
    }));
    rows
}

/// A valid RescheduleFlight of a flight that does not exist: accepted is NOT_FOUND.
fn reschedule() -> RescheduleFlightRequest {
    RescheduleFlightRequest {
        id: "no-such-flight".into(),
        departure_time: ts(DEPARTURE, 0),
        arrival_time: ts(DEPARTURE + 8 * 3600, 0),
        reason: String::new(),
    }
}

fn moved(departure: Option<Timestamp>, arrival: Option<Timestamp>) -> RescheduleFlightRequest {
    RescheduleFlightRequest {
        departure_time: departure,
        arrival_time: arrival,
        ..reschedule()
    }
}

fn reschedule_rows() -> Vec<Row> {
    let f = |name: &str| format!("{P}RescheduleFlightRequest.{name}");
    let pair = |name: &'static str, rule, ok, bad| {
        row(
            f(name),
            rule,
            name,
            Call::RescheduleFlight(ok),
            Call::RescheduleFlight(bad),
        )
    };
    let departure = |ok, bad| pair("departure_time", DEPARTURE_TIME, ok, bad);
    let arrival = |ok, bad| pair("arrival_time", ARRIVAL_TIME, ok, bad);
    // A departure in the window but in the past is FAILED_PRECONDITION
    // (DEPARTURE_IN_PAST): not malformed, so it passes as "accepted" here.
    let (first, later, last) = (
        ts(FIRST_SECOND, 0),
        ts(FIRST_SECOND + 3600, 0),
        ts(LAST_SECOND, 999_999_999),
    );
    let reason = |reason: String| Call::RescheduleFlight(RescheduleFlightRequest { reason, ..reschedule() });
    let mut rows = vec![
        departure(moved(first, later), moved(ts(FIRST_SECOND - 1, 999_999_999), later)),
        departure(moved(ts(LAST_SECOND - 1, 0), last), moved(ts(LAST_SECOND + 1, 0), last)),
        departure(reschedule(), moved(None, later)),
        arrival(
            moved(ts(DEPARTURE, 0), ts(DEPARTURE, 1_000_000)),
            moved(ts(DEPARTURE, 0), ts(DEPARTURE, 999_999)),
        ),
        arrival(moved(first, last), moved(first, ts(LAST_SECOND + 1, 0))),
        arrival(reschedule(), moved(ts(DEPARTURE, 0), None)),
        longest(&f("reason"), REASON, "reason", 200, |n| "é".repeat(n), reason),
        row(
            f("reason"),
            REASON,
            "reason",
            reason(String::new()),
            reason("a\u{7}b".into()),
        ),
    ];
    rows.extend(token(&f("id"), ID, "id", |id| {
        Call::RescheduleFlight(RescheduleFlightRequest { id, ..reschedule() })
    }));
    rows
}

pub fn rows() -> Vec<Row> {
    let mut rows = create_rows();
    rows.extend(search_rows());
    rows.extend(reschedule_rows());
    rows.extend(token(&format!("{P}GetFlightRequest.id"), ID, "id", |id| {
        Call::GetFlight(GetFlightRequest { id })
    }));
    // CancelFlight on ids that name no flight: accepted is NOT_FOUND, never a cancellation.
    rows.extend(token(&format!("{P}CancelFlightRequest.id"), ID, "id", |id| {
        Call::CancelFlight(CancelFlightRequest {
            id,
            reason: String::new(),
        })
    }));
    let reason = |reason: String| {
        Call::CancelFlight(CancelFlightRequest {
            id: "no-such-flight".into(),
            reason,
        })
    };
    let field = format!("{P}CancelFlightRequest.reason");
    rows.push(longest(&field, REASON, "reason", 200, |n| "é".repeat(n), reason));
    rows.push(row(
        &field,
        REASON,
        "reason",
        reason(String::new()),
        reason("a\u{7}b".into()),
    ));
    rows.push(row(
        &field,
        REASON,
        "reason",
        reason(format!("  {}  ", "x".repeat(200))),
        reason("line\nbreak".into()),
    ));
    let h = |name: &str| format!("{P}HoldSeatsRequest.{name}");
    rows.extend(token(&h("hold_id"), HOLD_ID, "hold_id", |hold_id| {
        Call::HoldSeats(HoldSeatsRequest { hold_id, ..hold() })
    }));
    rows.extend(token(&h("flight_id"), ID, "flight_id", |flight_id| {
        Call::HoldSeats(HoldSeatsRequest { flight_id, ..hold() })
    }));
    rows.extend(ints(&h("seats"), "1 to 9.", "seats", (1, 9), |seats| {
        Call::HoldSeats(HoldSeatsRequest { seats, ..hold() })
    }));
    rows.extend(token(
        &format!("{P}ConfirmSeatsRequest.hold_id"),
        HOLD_ID,
        "hold_id",
        |hold_id| Call::ConfirmSeats(ConfirmSeatsRequest { hold_id }),
    ));
    rows.extend(token(
        &format!("{P}ReleaseSeatsRequest.hold_id"),
        HOLD_ID,
        "hold_id",
        |hold_id| Call::ReleaseSeats(ReleaseSeatsRequest { hold_id }),
    ));
    rows
}
