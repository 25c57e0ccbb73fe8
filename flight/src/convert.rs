//! Proto ⇄ domain conversions of the flight service: requests are parsed into
//! validated domain values (every problem reported as a field violation), and
//! domain values are turned back into their proto messages.

use travel::Violations;
use travel::page;
use travel::pb::flight::v1 as pb;
use travel::types::{DATE_OUTSIDE_WINDOW, Date, HoldId, RequestId, UnixMillis, parse_count, parse_id};

use crate::domain::{
    Airport, CancelReason, Cursor, Flight, FlightNumber, Hold, HoldRequest, MAX_CAPACITY, MAX_SEATS_PER_HOLD,
    NewFlight, Reschedule, Search, Seats, seat_price,
};

impl TryFrom<pb::CreateFlightRequest> for NewFlight {
    type Error = Violations;

    fn try_from(r: pb::CreateFlightRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let flight_number = v.check("flight_number", FlightNumber::parse(&r.flight_number));
        let origin = v.check("origin", Airport::parse(&r.origin));
        let destination = v.check("destination", Airport::parse(&r.destination));
        let departure = v.check("departure_time", instant_in_window(r.departure_time.as_ref()));
        let arrival = v.check("arrival_time", instant_in_window(r.arrival_time.as_ref()));
        let seat_price = v.check("seat_price", seat_price(r.seat_price.as_ref()));
        let capacity = v.check("capacity", parse_count(r.capacity, 1, MAX_CAPACITY));
        let request_id = v.check("request_id", RequestId::parse_optional(&r.request_id));
        if let (Some(o), Some(d)) = (&origin, &destination)
            && o == d
        {
            v.add("destination", "must differ from origin");
        }
        if let (Some(d), Some(a)) = (departure, arrival)
            && a <= d
        {
            v.add("arrival_time", "must be after departure_time");
        }
        v.clone().into_result()?;
        match (
            flight_number,
            origin,
            destination,
            departure,
            arrival,
            seat_price,
            capacity,
            request_id,
        ) {
            (
                Some(flight_number),
                Some(origin),
                Some(destination),
                Some(departure),
                Some(arrival),
                Some(seat_price),
                Some(capacity),
                Some(request_id),
            ) => Ok(NewFlight {
                flight_number,
                origin,
                destination,
                departure,
                arrival,
                seat_price,
                capacity,
                request_id,
            }),
            _ => Err(v),
        }
    }
}

/// Parses a timestamp whose UTC date lies in the window every date must be in.
fn instant_in_window(ts: Option<&prost_types::Timestamp>) -> Result<UnixMillis, &'static str> {
    let at = UnixMillis::parse(ts)?;
    if at.date().in_window() {
        Ok(at)
    } else {
        Err(DATE_OUTSIDE_WINDOW)
    }
}

impl TryFrom<pb::SearchFlightsRequest> for Search {
    type Error = Violations;

    fn try_from(r: pb::SearchFlightsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let origin = v.check("origin", Airport::parse(&r.origin));
        let destination = v.check("destination", Airport::parse(&r.destination));
        let date = v.check("departure_date", Date::parse(r.departure_date.as_ref()));
        let passengers = v.check("passengers", parse_count(r.passengers, 1, MAX_SEATS_PER_HOLD));
        let page_size = v.check("page_size", page::page_size(r.page_size));
        let (Some(origin), Some(destination), Some(date), Some(passengers), Some(page_size)) =
            (origin, destination, date, passengers, page_size)
        else {
            return Err(v);
        };
        let fp = Search::fingerprint(origin.as_str(), destination.as_str(), &date.iso(), passengers);
        let after = match page::decode_token(&r.page_token, fp) {
            Ok(cursor) => cursor
                .map(|c| Cursor::decode(&c).ok_or(page_token_violation()))
                .transpose()?,
            Err(why) => return Err(Violations::one("page_token", why)),
        };
        Ok(Search {
            origin,
            destination,
            date,
            passengers,
            page_size,
            after,
        })
    }
}

fn page_token_violation() -> Violations {
    Violations::one("page_token", "is not a page token returned by this query")
}

/// The next-page token for a search page that ended at `next`.
pub fn next_page_token(search: &Search, next: Option<&Cursor>) -> String {
    let fp = Search::fingerprint(
        search.origin.as_str(),
        search.destination.as_str(),
        &search.date.iso(),
        search.passengers,
    );
    next.map(|c| page::encode_token(fp, &c.encode())).unwrap_or_default()
}

impl TryFrom<pb::HoldSeatsRequest> for HoldRequest {
    type Error = Violations;

    fn try_from(r: pb::HoldSeatsRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let hold_id = v.check("hold_id", HoldId::parse(&r.hold_id));
        let flight_id = v.check("flight_id", parse_id(&r.flight_id));
        let seats = v.check("seats", parse_count(r.seats, 1, MAX_SEATS_PER_HOLD));
        match (hold_id, flight_id, seats) {
            (Some(hold_id), Some(flight_id), Some(seats)) => Ok(HoldRequest {
                hold_id,
                flight_id,
                seats,
            }),
            _ => Err(v),
        }
    }
}

/// Parses the hold id of a confirm or release.
pub fn hold_id(raw: &str) -> Result<HoldId, Violations> {
    HoldId::parse(raw).map_err(|why| Violations::one("hold_id", why))
}

/// Parses a flight id.
pub fn flight_id(raw: &str) -> Result<String, Violations> {
    parse_id(raw).map_err(|why| Violations::one("id", why))
}

impl From<Flight> for pb::Flight {
    fn from(f: Flight) -> Self {
        pb::Flight {
            id: f.id,
            flight_number: f.flight_number,
            origin: f.origin,
            destination: f.destination,
            departure_time: Some(f.departure.into()),
            arrival_time: Some(f.arrival.into()),
            seat_price: Some(f.seat_price.into()),
            capacity: i32::try_from(f.capacity).unwrap_or(i32::MAX),
            available_seats: i32::try_from(f.available).unwrap_or(i32::MAX),
            state: if f.cancelled.is_some() {
                pb::FlightState::Cancelled
            } else {
                pb::FlightState::Scheduled
            }
            .into(),
            cancel_reason: f.cancelled.map(|c| c.reason.as_str().to_owned()).unwrap_or_default(),
        }
    }
}

/// A validated CancelFlight request: the flight's id and why.
pub fn cancel_flight(r: &pb::CancelFlightRequest) -> Result<(String, CancelReason), Violations> {
    let mut v = Violations::new();
    let id = v.check("id", parse_id(&r.id));
    let reason = v.check("reason", CancelReason::parse(&r.reason));
    match (id, reason) {
        (Some(id), Some(reason)) if v.is_empty() => Ok((id, reason)),
        _ => Err(v),
    }
}

/// A validated RescheduleFlight request: the flight's id and its new times.
pub fn reschedule_flight(r: &pb::RescheduleFlightRequest) -> Result<(String, Reschedule), Violations> {
    let mut v = Violations::new();
    let id = v.check("id", parse_id(&r.id));
    let departure = v.check("departure_time", instant_in_window(r.departure_time.as_ref()));
    let arrival = v.check("arrival_time", instant_in_window(r.arrival_time.as_ref()));
    let reason = v.check("reason", CancelReason::parse(&r.reason));
    if let (Some(d), Some(a)) = (departure, arrival)
        && a <= d
    {
        v.add("arrival_time", "must be after departure_time");
    }
    match (id, departure, arrival, reason) {
        (Some(id), Some(departure), Some(arrival), Some(reason)) if v.is_empty() => Ok((
            id,
            Reschedule {
                departure,
                arrival,
                reason,
            },
        )),
        _ => Err(v),
    }
}

/// The event that reports `flight`'s cancellation, the flight's `sequence`-th.
pub fn flight_cancelled(flight: &Flight, event_id: String, sequence: i64) -> travel::events::Event {
    let (at, reason) = flight
        .cancelled
        .as_ref()
        .map_or((UnixMillis::from_unix_millis(0), String::new()), |c| {
            (c.at, c.reason.as_str().to_owned())
        });
    let message = pb::FlightCancelled {
        event_id: event_id.clone(),
        occur_time: Some(at.into()),
        flight_id: flight.id.clone(),
        sequence,
        flight_number: flight.flight_number.clone(),
        reason,
    };
    travel::events::Event::new(
        event_id,
        FLIGHT_CANCELLED_KEY,
        FLIGHT_CANCELLED_KIND,
        &flight.id,
        sequence,
        &message,
    )
}

/// The event that reports the move of `previous` to `flight`'s times at `at`
/// for `reason`, the flight's `sequence`-th.
pub fn flight_rescheduled(
    previous: &Flight,
    flight: &Flight,
    reason: &CancelReason,
    at: UnixMillis,
    event_id: String,
    sequence: i64,
) -> travel::events::Event {
    let message = pb::FlightRescheduled {
        event_id: event_id.clone(),
        occur_time: Some(at.into()),
        flight_id: flight.id.clone(),
        sequence,
        flight_number: flight.flight_number.clone(),
        previous_departure_time: Some(previous.departure.into()),
        departure_time: Some(flight.departure.into()),
        arrival_time: Some(flight.arrival.into()),
        reason: reason.as_str().to_owned(),
    };
    travel::events::Event::new(
        event_id,
        FLIGHT_RESCHEDULED_KEY,
        FLIGHT_RESCHEDULED_KIND,
        &flight.id,
        sequence,
        &message,
    )
}

/// The routing key of FlightCancelled.
pub const FLIGHT_CANCELLED_KEY: &str = "flight.cancelled";
/// The protobuf name of FlightCancelled.
pub const FLIGHT_CANCELLED_KIND: &str = "travel.flight.v1.FlightCancelled";
/// The routing key of FlightRescheduled.
pub const FLIGHT_RESCHEDULED_KEY: &str = "flight.rescheduled";
/// The protobuf name of FlightRescheduled.
pub const FLIGHT_RESCHEDULED_KIND: &str = "travel.flight.v1.FlightRescheduled";

/// A seat hold as the contract shows it (a tombstone has no flight and no seats).
pub fn seat_hold(h: Hold) -> pb::SeatHold {
    let Seats { flight_id, seats } = h.booking.unwrap_or(Seats {
        flight_id: String::new(),
        seats: 0,
    });
    pb::SeatHold {
        hold_id: h.hold_id.as_str().to_owned(),
        flight_id,
        seats: i32::try_from(seats).unwrap_or(i32::MAX),
        total_price: Some(h.total_price.into()),
        state: pb::HoldState::from(h.state).into(),
        expires_at: Some(h.expires_at.into()),
    }
}
