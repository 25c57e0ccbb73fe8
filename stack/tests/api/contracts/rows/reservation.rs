//! The documented boundaries of the reservation service's requests.

use travel::pb::reservation::v1::{
    CancelReservationRequest, CheckoutRequest, DriveAction, DriveReservationRequest, FlightSelection,
    GetReservationRequest, HotelSelection, ListReservationsRequest, ListUnfinishedReservationsRequest,
};

use super::hotel::{dates, stay};
use super::{HOLD_ID, ID, PAGE_SIZE, Row, fresh, ints, row, token};
use crate::contracts::calls::Call;

const P: &str = "travel.reservation.v1.";
const FLIGHT: &str = "a FlightSelection, or unset; at least one of flight and hotel must be set.";
const HOTEL: &str = "a HotelSelection, or unset; at least one of flight and hotel must be set.";
const PAGE_TOKEN: &str = "empty (the first page), or the next_page_token of a previous response to the same caller.";
const UNFINISHED_PAGE_TOKEN: &str =
    "empty (the first page), or the next_page_token of a previous ListUnfinishedReservations response.";
const ACTION: &str = "DRIVE_ACTION_RETRY_FORWARD or DRIVE_ACTION_COMPENSATE; unset (DRIVE_ACTION_UNSPECIFIED) \
     and unknown values are refused.";

fn flight() -> FlightSelection {
    FlightSelection {
        flight_id: "no-such-flight".into(),
        seats: 1,
    }
}

fn hotel() -> HotelSelection {
    let (check_in, check_out) = stay(2);
    HotelSelection {
        hotel_id: "no-such-hotel".into(),
        room_type_id: "no-such-room-type".into(),
        check_in,
        check_out,
        rooms: 1,
        guests: 2,
    }
}

/// A checkout of `flight` alone, under a fresh key.
fn with_flight(f: FlightSelection) -> Call {
    Call::Checkout(CheckoutRequest {
        request_id: fresh(16),
        flight: Some(f),
        hotel: None,
    })
}

/// A checkout of `hotel` alone, under a fresh key.
fn with_hotel(h: HotelSelection) -> Call {
    Call::Checkout(CheckoutRequest {
        request_id: fresh(16),
        flight: None,
        hotel: Some(h),
    })
}

fn checkout_rows() -> Vec<Row> {
    let c = |name: &str| format!("{P}CheckoutRequest.{name}");
    let neither = || {
        Call::Checkout(CheckoutRequest {
            request_id: fresh(16),
            flight: None,
            hotel: None,
        })
    };
    let mut rows = token(&c("request_id"), HOLD_ID, "request_id", |request_id| {
        Call::Checkout(CheckoutRequest {
            request_id,
            flight: Some(flight()),
            hotel: None,
        })
    });
    rows.push(row(c("flight"), FLIGHT, "flight", with_flight(flight()), neither()));
    rows.push(row(c("hotel"), HOTEL, "hotel", with_hotel(hotel()), neither()));
    let f = |name: &str| format!("{P}FlightSelection.{name}");
    rows.extend(token(&f("flight_id"), ID, "flight.flight_id", |flight_id| {
        with_flight(FlightSelection { flight_id, ..flight() })
    }));
    rows.extend(ints(&f("seats"), "1 to 9.", "flight.seats", (1, 9), |seats| {
        with_flight(FlightSelection { seats, ..flight() })
    }));
    let h = |name: &str| format!("{P}HotelSelection.{name}");
    rows.extend(token(&h("hotel_id"), ID, "hotel.hotel_id", |hotel_id| {
        with_hotel(HotelSelection { hotel_id, ..hotel() })
    }));
    rows.extend(token(&h("room_type_id"), ID, "hotel.room_type_id", |room_type_id| {
        with_hotel(HotelSelection {
            room_type_id,
            ..hotel()
        })
    }));
    rows.extend(dates(
        &format!("{P}HotelSelection"),
        ("hotel.check_in", "hotel.check_out"),
        |check_in, check_out| {
            with_hotel(HotelSelection {
                check_in,
                check_out,
                ..hotel()
            })
        },
    ));
    rows.extend(ints(&h("rooms"), "1 to 9.", "hotel.rooms", (1, 9), |rooms| {
        with_hotel(HotelSelection { rooms, ..hotel() })
    }));
    rows.extend(ints(&h("guests"), "1 to 20.", "hotel.guests", (1, 20), |guests| {
        with_hotel(HotelSelection { guests, ..hotel() })
    }));
    rows
}

pub fn rows() -> Vec<Row> {
    let mut rows = checkout_rows();
    rows.extend(token(&format!("{P}GetReservationRequest.id"), ID, "id", |id| {
        Call::GetReservation(GetReservationRequest { id })
    }));
    rows.extend(token(&format!("{P}CancelReservationRequest.id"), ID, "id", |id| {
        Call::CancelReservation(CancelReservationRequest { id })
    }));
    let l = |name: &str| format!("{P}ListReservationsRequest.{name}");
    let list = |page_size, page_token: &str| {
        Call::ListReservations(ListReservationsRequest {
            page_size,
            page_token: page_token.into(),
        })
    };
    rows.extend(ints(&l("page_size"), PAGE_SIZE, "page_size", (0, 100), |n| list(n, "")));
    rows.push(row(
        l("page_token"),
        PAGE_TOKEN,
        "page_token",
        list(0, ""),
        list(0, "bm90IGEgdG9rZW4"),
    ));
    rows.extend(admin_rows());
    rows
}

/// ListUnfinishedReservations and DriveReservation, sent as the admin.
fn admin_rows() -> Vec<Row> {
    let u = |name: &str| format!("{P}ListUnfinishedReservationsRequest.{name}");
    let unfinished = |page_size, page_token: &str| {
        Call::ListUnfinishedReservations(ListUnfinishedReservationsRequest {
            page_size,
            page_token: page_token.into(),
        })
    };
    let mut rows = ints(&u("page_size"), PAGE_SIZE, "page_size", (0, 100), |n| unfinished(n, ""));
    rows.push(row(
        u("page_token"),
        UNFINISHED_PAGE_TOKEN,
        "page_token",
        unfinished(0, ""),
        unfinished(0, "bm90IGEgdG9rZW4"),
    ));
    let d = |name: &str| format!("{P}DriveReservationRequest.{name}");
    // A well-formed id that names no reservation: NOT_FOUND, not malformed.
    let drive = |id: String, action: i32| Call::DriveReservation(DriveReservationRequest { id, action });
    rows.extend(token(&d("id"), ID, "id", |id| {
        drive(id, DriveAction::Compensate.into())
    }));
    let act = |action: i32| drive("no-such-reservation".into(), action);
    rows.push(row(
        d("action"),
        ACTION,
        "action",
        act(DriveAction::RetryForward.into()),
        act(DriveAction::Unspecified.into()),
    ));
    rows.push(row(
        d("action"),
        ACTION,
        "action",
        act(DriveAction::Compensate.into()),
        act(3),
    ));
    rows
}
