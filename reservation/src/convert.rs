//! Proto ⇄ domain conversions of the reservation service: requests are parsed
//! into validated domain values (every problem a field violation named like
//! "hotel.check_out"), and reservations are turned back into their proto message.

use travel::Violations;
use travel::events::Event;
use travel::page;
use travel::pb::reservation::v1 as pb;
use travel::types::{Date, RequestId, parse_count, parse_id};

use crate::admin::Drive;
use crate::domain::checkout::{MAX_GUESTS, MAX_ROOMS, MAX_SEATS, check_stay};
use crate::domain::{Checkout, FlightPart, HotelPart, Reservation, State, Step};
use crate::store::SagaStatus;

impl TryFrom<pb::CheckoutRequest> for Checkout {
    type Error = Violations;

    fn try_from(r: pb::CheckoutRequest) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let request_id = match RequestId::parse_optional(&r.request_id) {
            Ok(Some(id)) => Some(id),
            Ok(None) => {
                v.add("request_id", "is required: a fresh UUID per checkout is a good choice");
                None
            }
            Err(why) => {
                v.add("request_id", why);
                None
            }
        };
        if r.flight.is_none() && r.hotel.is_none() {
            v.add("flight", "set flight, hotel, or both");
            v.add("hotel", "set flight, hotel, or both");
        }
        let flight = r.flight.map(|f| {
            let flight_id = v.check("flight.flight_id", parse_id(&f.flight_id));
            let seats = v.check("flight.seats", parse_count(f.seats, 1, MAX_SEATS));
            Some(FlightPart {
                flight_id: flight_id?,
                seats: seats?,
            })
        });
        let hotel = r.hotel.map(|h| {
            let hotel_id = v.check("hotel.hotel_id", parse_id(&h.hotel_id));
            let room_type_id = v.check("hotel.room_type_id", parse_id(&h.room_type_id));
            let check_in = v.check("hotel.check_in", Date::parse(h.check_in.as_ref()));
            let check_out = v.check("hotel.check_out", Date::parse(h.check_out.as_ref()));
            let rooms = v.check("hotel.rooms", parse_count(h.rooms, 1, MAX_ROOMS));
            let guests = v.check("hotel.guests", parse_count(h.guests, 1, MAX_GUESTS));
            if let (Some(i), Some(o)) = (check_in, check_out) {
                v.check("hotel.check_out", check_stay(i, o));
            }
            Some(HotelPart {
                hotel_id: hotel_id?,
                room_type_id: room_type_id?,
                check_in: check_in?,
                check_out: check_out?,
                rooms: rooms?,
                guests: guests?,
            })
        });
        v.clone().into_result()?;
        // No part: Some(None); an invalid part: None (its violations are recorded).
        match (request_id, present(flight), present(hotel)) {
            (Some(request_id), Some(flight), Some(hotel)) => Ok(Checkout {
                request_id,
                flight,
                hotel,
            }),
            _ => Err(v),
        }
    }
}

/// A part that is absent (`Some(None)`), valid (`Some(Some(_))`), or invalid (`None`).
fn present<T>(part: Option<Option<T>>) -> Option<Option<T>> {
    part.map_or(Some(None), |p| p.map(Some))
}

/// Parses a reservation id.
pub fn reservation_id(raw: &str) -> Result<String, Violations> {
    parse_id(raw).map_err(|why| Violations::one("id", why))
}

/// The fingerprint that binds a caller's page tokens to them.
fn list_fingerprint(caller: &str) -> u64 {
    page::fingerprint(&["reservations", caller])
}

/// Parses a ListReservations page: its size and where it starts (`(created_ms, id)`).
pub fn list_page(r: &pb::ListReservationsRequest, caller: &str) -> Result<(u32, Option<(i64, String)>), Violations> {
    let mut v = Violations::new();
    let size = v.check("page_size", page::page_size(r.page_size));
    let after = v
        .check(
            "page_token",
            page::decode_token(&r.page_token, list_fingerprint(caller)),
        )
        .flatten()
        .map(|cursor| {
            cursor
                .split_once('|')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| Violations::one("page_token", "is not a page token returned by this query"))
        })
        .transpose()?;
    v.clone().into_result()?;
    size.map(|size| (size, after)).ok_or(v)
}

/// The token of the page after `last`, for `caller`.
pub fn next_page_token(last: &Reservation, caller: &str) -> String {
    page::encode_token(
        list_fingerprint(caller),
        &format!("{}|{}", last.created.unix_millis(), last.id),
    )
}

/// The fingerprint of ListUnfinishedReservations page tokens (one query for every admin).
fn unfinished_fingerprint() -> u64 {
    page::fingerprint(&["unfinished-reservations"])
}

/// Parses a ListUnfinishedReservations page: its size and where it starts (`(created_ms, id)`).
pub fn unfinished_page(r: &pb::ListUnfinishedReservationsRequest) -> Result<(u32, Option<(i64, String)>), Violations> {
    let mut v = Violations::new();
    let size = v.check("page_size", page::page_size(r.page_size));
    let after = v
        .check(
            "page_token",
            page::decode_token(&r.page_token, unfinished_fingerprint()),
        )
        .flatten()
        .map(|cursor| {
            cursor
                .split_once('|')
                .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| Violations::one("page_token", "is not a page token returned by this query"))
        })
        .transpose()?;
    v.clone().into_result()?;
    size.map(|size| (size, after)).ok_or(v)
}

/// The token of the ListUnfinishedReservations page after `last`.
pub fn next_unfinished_token(last: &SagaStatus) -> String {
    let r = &last.reservation;
    page::encode_token(
        unfinished_fingerprint(),
        &format!("{}|{}", r.created.unix_millis(), r.id),
    )
}

/// Parses a DriveReservation request: the reservation id and the action.
pub fn drive(r: &pb::DriveReservationRequest) -> Result<(String, Drive), Violations> {
    let mut v = Violations::new();
    let id = v.check("id", parse_id(&r.id));
    let action = v.check(
        "action",
        match pb::DriveAction::try_from(r.action) {
            Ok(pb::DriveAction::RetryForward) => Ok(Drive::RetryForward),
            Ok(pb::DriveAction::Compensate) => Ok(Drive::Compensate),
            _ => Err("must be DRIVE_ACTION_RETRY_FORWARD or DRIVE_ACTION_COMPENSATE"),
        },
    );
    v.clone().into_result()?;
    id.zip(action).ok_or(v)
}

impl From<Step> for pb::SagaStep {
    fn from(s: Step) -> Self {
        match s {
            Step::Holding => Self::Holding,
            Step::Compensating => Self::Compensating,
            Step::Confirming => Self::Confirming,
            Step::Cancelling => Self::Cancelling,
            Step::Done => Self::Done,
        }
    }
}

impl From<SagaStatus> for pb::ReservationSaga {
    fn from(s: SagaStatus) -> Self {
        let step = pb::SagaStep::from(s.reservation.step);
        let (last_error, last_error_time) = match s.last_error {
            Some((why, at)) => (why, Some(at.into())),
            None => (String::new(), None),
        };
        pb::ReservationSaga {
            reservation: Some(s.reservation.into()),
            step: step.into(),
            lease_expire_time: Some(s.lease_until.into()),
            last_error,
            last_error_time,
        }
    }
}

impl From<State> for pb::ReservationState {
    fn from(s: State) -> Self {
        match s {
            State::Pending => Self::Pending,
            State::Confirmed => Self::Confirmed,
            State::Failed => Self::Failed,
            State::Cancelled => Self::Cancelled,
        }
    }
}

impl From<Reservation> for pb::Reservation {
    fn from(r: Reservation) -> Self {
        let shown_total = matches!(r.state, State::Confirmed | State::Cancelled);
        pb::Reservation {
            id: r.id,
            user_id: r.user_id,
            state: pb::ReservationState::from(r.state).into(),
            flight: r.flight.map(|f| pb::FlightBooking {
                flight_id: f.flight_id,
                seats: i32::try_from(f.seats).unwrap_or(i32::MAX),
                hold_id: f.hold_id.to_string(),
                price: f.price.map(Into::into),
            }),
            hotel: r.hotel.map(|h| pb::HotelBooking {
                hotel_id: h.hotel_id,
                room_type_id: h.room_type_id,
                check_in: Some(h.check_in.into()),
                check_out: Some(h.check_out.into()),
                rooms: i32::try_from(h.rooms).unwrap_or(i32::MAX),
                guests: i32::try_from(h.guests).unwrap_or(i32::MAX),
                hold_id: h.hold_id.to_string(),
                price: h.price.map(Into::into),
            }),
            total_price: r.total.filter(|_| shown_total).map(Into::into),
            failure_reason: if r.state == State::Failed {
                r.failure_reason.unwrap_or_default()
            } else {
                String::new()
            },
            create_time: Some(r.created.into()),
            update_time: Some(r.updated.into()),
            cancel_reason: r.cancel_reason.unwrap_or_default(),
        }
    }
}

/// The event that reports a finished saga: ReservationConfirmed (the
/// reservation's first event), ReservationCancelled (its second, after the
/// confirmation) or ReservationFailed (its only one); none for a state that is
/// not final.
pub fn finished_event(r: &Reservation) -> Option<Event> {
    let event_id = uuid::Uuid::now_v7().to_string();
    let occur_time = Some(r.updated.into());
    let (id, user_id) = (r.id.clone(), r.user_id.clone());
    match r.state {
        State::Confirmed => {
            let shown = pb::Reservation::from(r.clone());
            let message = pb::ReservationConfirmed {
                event_id: event_id.clone(),
                occur_time,
                reservation_id: id.clone(),
                sequence: 1,
                user_id,
                flight: shown.flight,
                hotel: shown.hotel,
                total_price: shown.total_price,
            };
            Some(Event::new(
                event_id,
                "reservation.confirmed",
                "travel.reservation.v1.ReservationConfirmed",
                id,
                1,
                &message,
            ))
        }
        State::Cancelled => {
            let message = pb::ReservationCancelled {
                event_id: event_id.clone(),
                occur_time,
                reservation_id: id.clone(),
                sequence: 2,
                user_id,
                reason: r.cancel_reason.clone().unwrap_or_default(),
            };
            Some(Event::new(
                event_id,
                "reservation.cancelled",
                "travel.reservation.v1.ReservationCancelled",
                id,
                2,
                &message,
            ))
        }
        State::Failed => {
            let message = pb::ReservationFailed {
                event_id: event_id.clone(),
                occur_time,
                reservation_id: id.clone(),
                sequence: 1,
                user_id,
                failure_reason: r.failure_reason.clone().unwrap_or_default(),
            };
            Some(Event::new(
                event_id,
                "reservation.failed",
                "travel.reservation.v1.ReservationFailed",
                id,
                1,
                &message,
            ))
        }
        State::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use travel::pb::common::v1 as common;

    fn date(year: i32, month: i32, day: i32) -> Option<common::Date> {
        Some(common::Date { year, month, day })
    }

    fn fields(v: &Violations) -> Vec<&str> {
        v.iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn a_checkout_needs_a_request_id_and_a_part() {
        let v = Checkout::try_from(pb::CheckoutRequest::default()).unwrap_err();
        assert_eq!(fields(&v), ["request_id", "flight", "hotel"]);
    }

    #[test]
    fn violations_name_the_part_and_field() {
        let request = pb::CheckoutRequest {
            request_id: "r1".into(),
            flight: Some(pb::FlightSelection {
                flight_id: "f1".into(),
                seats: 0,
            }),
            hotel: Some(pb::HotelSelection {
                hotel_id: "h1".into(),
                room_type_id: "rt1".into(),
                check_in: date(2030, 3, 5),
                check_out: date(2030, 3, 5),
                rooms: 1,
                guests: 21,
            }),
        };
        let v = Checkout::try_from(request).unwrap_err();
        assert_eq!(fields(&v), ["flight.seats", "hotel.guests", "hotel.check_out"]);
    }

    #[test]
    fn a_valid_bundle_parses() {
        let request = pb::CheckoutRequest {
            request_id: "r1".into(),
            flight: Some(pb::FlightSelection {
                flight_id: "f1".into(),
                seats: 2,
            }),
            hotel: None,
        };
        let checkout = Checkout::try_from(request).unwrap();
        assert_eq!(checkout.flight.map(|f| f.seats), Some(2));
        assert!(checkout.hotel.is_none());
    }
}
