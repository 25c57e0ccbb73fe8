"""Seats and rooms of the demo catalog through hold -> confirm -> release, as the
reservation service account, with the inventory going down and back up."""

import datetime as dt

import grpc

from checks import CheckFailed, check, expect_error, show, step
from client import TIMEOUT, later, stay
from travel.flight.v1 import flight_pb2
from travel.hotel.v1 import hotel_pb2


def first_flight_day(stack, today, passengers):
    """The first day from tomorrow on (today last) with a LIS -> JFK flight for
    `passengers`; returns (day, flights found)."""
    for offset in [*range(1, 61), 0]:
        day = today + dt.timedelta(days=offset)
        found = stack.search_flights(day, passengers)
        if found:
            return day, found
    raise CheckFailed("SearchFlights LIS -> JFK found no flight on any of the next 60 days")


def hold_round_trip(calls, hold_enum, free_now, taken, unit):
    """Hold -> confirm -> release through `calls` ((name, call) x 3, each call
    answering with a hold of `hold_enum`), with `free_now()` going down by
    `taken` `unit` on the hold and back up on the release."""
    before = free_now()
    for (name, call), state in zip(calls, ["HELD", "CONFIRMED", "RELEASED"]):
        hold = call().hold
        got = hold_enum.Name(hold.state)
        check(got == f"HOLD_STATE_{state}", f"{name} -> {state}", f"state {got}", show(hold))
        if state == "HELD":
            free = free_now()
            check(
                free == before - taken,
                f"the hold takes {taken} {unit} out of inventory ({before} -> {before - taken})",
                f"got {free}",
            )
    free = free_now()
    check(free == before, f"the release gives the {taken} {unit} back ({before})", f"got {free}")


def seat_round_trip(stack, today, as_service, run_id):
    """Hold -> confirm -> release of 2 seats; returns what a restart must keep."""
    step("seats: hold -> confirm -> release (the reservation service account)")
    day, found = first_flight_day(stack, today, passengers=2)
    check(True, f"SearchFlights LIS -> JFK on {day}, 2 passengers, finds {len(found)} flight(s) of the demo catalog")
    flight_id = found[0].id
    got = stack.flights.GetFlight(flight_pb2.GetFlightRequest(id=flight_id), timeout=TIMEOUT).flight
    check(got.id == flight_id, "GetFlight returns the flight found", show(got))

    hold_id = f"py-journey-seats-{run_id}"
    flights = stack.flights
    hold = flight_pb2.HoldSeatsRequest(hold_id=hold_id, flight_id=flight_id, seats=2)
    calls = [
        ("HoldSeats (2 seats)", later(flights.HoldSeats, hold, as_service)),
        ("ConfirmSeats", later(flights.ConfirmSeats, flight_pb2.ConfirmSeatsRequest(hold_id=hold_id), as_service)),
        ("ReleaseSeats", later(flights.ReleaseSeats, flight_pb2.ReleaseSeatsRequest(hold_id=hold_id), as_service)),
    ]
    hold_round_trip(calls, flight_pb2.HoldState, lambda: stack.seats_free(flight_id), 2, "seat(s)")

    error = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        flights.HoldSeats,
        flight_pb2.HoldSeatsRequest(hold_id=f"py-journey-bad-{run_id}", flight_id=flight_id, seats=0),
        metadata=as_service,
        timeout=TIMEOUT,
    )
    check(True, f"HoldSeats with 0 seats -> INVALID_ARGUMENT ({error.details()})")
    stack.check_serving("flight", " after the bad request")
    return {"day": day.isoformat(), "flights_found": len(found), "flight_id": flight_id, "seats": got.available_seats}


def room_round_trip(stack, check_in, check_out, as_service, run_id):
    """Hold -> confirm -> release of a room for 2 nights; returns the number of offers found."""
    step(f"rooms: hold -> confirm -> release in Lisbon, {check_in} to {check_out}")
    offers = stack.search_stay("Lisbon", check_in, check_out)
    check(offers, f"SearchHotels in Lisbon, {check_in} to {check_out}, finds {len(offers)} offer(s) of the demo catalog")
    offer = offers[0]

    hold_id = f"py-journey-rooms-{run_id}"
    hotels = stack.hotels
    hold = hotel_pb2.HoldRoomsRequest(hold_id=hold_id, **stay(offer, check_in, check_out))
    calls = [
        ("HoldRooms (1 room, 2 nights)", later(hotels.HoldRooms, hold, as_service)),
        ("ConfirmRooms", later(hotels.ConfirmRooms, hotel_pb2.ConfirmRoomsRequest(hold_id=hold_id), as_service)),
        ("ReleaseRooms", later(hotels.ReleaseRooms, hotel_pb2.ReleaseRoomsRequest(hold_id=hold_id), as_service)),
    ]
    free_now = lambda: stack.rooms_free("Lisbon", check_in, check_out, offer.room_type.id)  # noqa: E731
    hold_round_trip(calls, hotel_pb2.HoldState, free_now, 1, "room(s)")
    stack.check_serving("hotel", " after the round trip")
    return len(offers)
