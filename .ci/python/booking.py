"""The customer's booking: search, a bundled checkout, get, list, cancel, the
refused calls around it, and a bundle in two currencies that must not book."""

import uuid

import grpc

from checks import CheckFailed, check, expect_error, show, step
from client import CHECKOUT_TIMEOUT, TIMEOUT, bearer, stay
from travel.reservation.v1 import reservation_pb2

CONFIRMED = reservation_pb2.RESERVATION_STATE_CONFIRMED
FAILED = reservation_pb2.RESERVATION_STATE_FAILED
CANCELLED = reservation_pb2.RESERVATION_STATE_CANCELLED


def state_name(state):
    return reservation_pb2.ReservationState.Name(state)


def bundle(flight, offer, check_in, check_out):
    """A checkout of 1 seat on `flight` and 1 room of `offer` for 2 guests, under a new request_id."""
    return reservation_pb2.CheckoutRequest(
        request_id=f"py-journey-{uuid.uuid4()}",
        flight=reservation_pb2.FlightSelection(flight_id=flight.id, seats=1),
        hotel=reservation_pb2.HotelSelection(**stay(offer, check_in, check_out)),
    )


def booking(stack, user, signed_in, as_service, check_in, check_out):
    """Search, bundled checkout, get, list, cancel; refused calls; a bundle in two currencies."""

    def as_customer(call, request, timeout=TIMEOUT):
        return call(request, metadata=signed_in, timeout=timeout)

    reservations = stack.reservations
    tomorrow = check_in

    # --- search ---------------------------------------------------------------------
    step(f"search: LIS -> JFK on {tomorrow}, a room in Lisbon for 2 nights")
    found = stack.search_flights(tomorrow, passengers=1, metadata=signed_in)
    check(
        len(found) >= 1,
        f"SearchFlights LIS -> JFK on {tomorrow}, with the customer's token, finds {len(found)} flight(s)",
    )
    flight = found[0]
    seat_price = flight.seat_price
    check(
        seat_price.currency_code == "EUR" and seat_price.amount_minor > 0,
        f"flight {flight.flight_number} ({flight.id}) is priced in EUR: {seat_price.amount_minor} minor units a seat",
        show(flight),
    )

    def seats_free():
        return stack.seats_free(flight.id)

    def rooms_free(city, room_type_id):
        return stack.rooms_free(city, check_in, check_out, room_type_id)

    offers = stack.search_stay("Lisbon", check_in, check_out)
    check(len(offers) >= 1, f"SearchHotels in Lisbon, {tomorrow} + 2 nights, finds {len(offers)} offer(s)")
    offer = next(
        (o for o in offers if o.room_type.nightly_price.currency_code == "EUR" and o.total_price.currency_code == "EUR"),
        None,
    )
    check(offer is not None, "an offer in Lisbon is priced in EUR", *map(show, offers))
    check(
        offer.nights == 2 and offer.available_rooms >= 1,
        f"offer: {offer.hotel.name}, {offer.room_type.name}, 2 nights for {offer.total_price.amount_minor} EUR minor units",
        show(offer),
    )

    seats_before = seats_free()
    rooms_before = offer.available_rooms

    # --- bundled checkout -------------------------------------------------------------
    step("bundled checkout: 1 seat + 1 room for 2 guests")
    checkout = bundle(flight, offer, check_in, check_out)
    booked = as_customer(reservations.Checkout, checkout, timeout=CHECKOUT_TIMEOUT).reservation
    check(
        booked.state == CONFIRMED,
        f"Checkout confirms reservation {booked.id}",
        f"state {state_name(booked.state)}, failure_reason {booked.failure_reason!r}",
        show(booked),
    )
    expected_total = seat_price.amount_minor * 1 + offer.total_price.amount_minor
    check(
        booked.total_price.amount_minor == expected_total and booked.total_price.currency_code == "EUR",
        f"total_price is seat price x 1 + stay price = {expected_total} EUR minor units",
        f"got {show(booked.total_price)}",
    )
    check(
        booked.flight.price.amount_minor == seat_price.amount_minor
        and booked.hotel.price.amount_minor == offer.total_price.amount_minor,
        "the parts carry the prices the flight and hotel services quoted",
        f"flight part {show(booked.flight)}",
        f"hotel part {show(booked.hotel)}",
    )
    check(
        booked.user_id == user.id and booked.flight.hold_id and booked.hotel.hold_id,
        "the reservation is the customer's and names its seat and room holds",
        show(booked),
    )

    retried = as_customer(reservations.Checkout, checkout, timeout=CHECKOUT_TIMEOUT).reservation
    check(
        retried.id == booked.id and retried.state == CONFIRMED,
        "Checkout again with the same request_id returns the same reservation",
        f"first {booked.id}, then {retried.id} ({state_name(retried.state)})",
    )

    seats_now = seats_free()
    check(
        seats_now == seats_before - 1,
        f"GetFlight: available seats went from {seats_before} to {seats_before - 1} (taken once)",
        f"got {seats_now}",
    )
    rooms_now = rooms_free("Lisbon", offer.room_type.id)
    check(
        rooms_now == rooms_before - 1,
        f"SearchHotels: free rooms of {offer.room_type.name} went from {rooms_before} to {rooms_before - 1}",
        f"got {rooms_now}",
    )

    # --- get and list -------------------------------------------------------------------
    step("get and list")
    got = as_customer(reservations.GetReservation, reservation_pb2.GetReservationRequest(id=booked.id)).reservation
    check(
        got.id == booked.id and got.state == CONFIRMED and got.total_price == booked.total_price,
        "GetReservation returns the same confirmed reservation",
        show(got),
    )
    listed = as_customer(
        reservations.ListReservations, reservation_pb2.ListReservationsRequest(page_size=100)
    ).reservations
    check(
        [r.id for r in listed] == [booked.id],
        "ListReservations lists the customer's one reservation",
        f"got {[r.id for r in listed]}",
    )
    error = expect_error(
        None,
        reservations.GetReservation,
        reservation_pb2.GetReservationRequest(id=booked.id),
        metadata=as_service,
        timeout=TIMEOUT,
    )
    check(
        True,
        f"another caller (a service account) cannot read the customer's reservation "
        f"({error.code().name}: {error.details()})",
    )

    # --- cancel -------------------------------------------------------------------------
    step("cancel")
    cancelled = as_customer(
        reservations.CancelReservation, reservation_pb2.CancelReservationRequest(id=booked.id)
    ).reservation
    check(
        cancelled.id == booked.id and cancelled.state == CANCELLED,
        "CancelReservation -> CANCELLED",
        f"state {state_name(cancelled.state)}",
    )
    check(
        cancelled.total_price == booked.total_price,
        "a cancelled reservation keeps its total_price",
        f"got {show(cancelled.total_price)}",
    )
    twice = as_customer(
        reservations.CancelReservation, reservation_pb2.CancelReservationRequest(id=booked.id)
    ).reservation
    check(twice.state == CANCELLED, "CancelReservation again -> still CANCELLED", f"state {state_name(twice.state)}")
    seats_now = seats_free()
    check(seats_now == seats_before, f"GetFlight: the seat is back ({seats_before} available)", f"got {seats_now}")
    rooms_now = rooms_free("Lisbon", offer.room_type.id)
    check(rooms_now == rooms_before, f"SearchHotels: the room is back ({rooms_before} free)", f"got {rooms_now}")
    got = as_customer(reservations.GetReservation, reservation_pb2.GetReservationRequest(id=booked.id)).reservation
    check(got.state == CANCELLED, "GetReservation shows it CANCELLED", f"state {state_name(got.state)}")

    # --- refused calls ------------------------------------------------------------------
    step("refused calls")
    unknown = str(uuid.uuid4())
    error = expect_error(
        grpc.StatusCode.NOT_FOUND,
        reservations.GetReservation,
        reservation_pb2.GetReservationRequest(id=unknown),
        metadata=signed_in,
        timeout=TIMEOUT,
    )
    check(True, f"GetReservation of an unknown id -> NOT_FOUND ({error.details()})")
    error = expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        reservations.ListReservations,
        reservation_pb2.ListReservationsRequest(),
        timeout=TIMEOUT,
    )
    check(True, f"ListReservations without a token -> UNAUTHENTICATED ({error.details()})")
    error = expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        reservations.GetReservation,
        reservation_pb2.GetReservationRequest(id=booked.id),
        metadata=bearer("not-a-token"),
        timeout=TIMEOUT,
    )
    check(True, f"GetReservation with a forged token -> UNAUTHENTICATED ({error.details()})")

    # --- a bundle in two currencies -------------------------------------------------
    step("a bundle in two currencies: EUR flight + USD room in New York")
    ny_offers = stack.search_stay("New York", check_in, check_out)
    usd = next(
        (o for o in ny_offers if o.hotel.name == "Brooklyn Loft Hotel" and o.total_price.currency_code != "EUR"),
        None,
    )
    check(
        usd is not None,
        "SearchHotels in New York offers a room of Brooklyn Loft Hotel priced in another currency than EUR",
        *map(show, ny_offers),
    )
    print(f"        offer: {usd.room_type.name}, {usd.total_price.amount_minor} {usd.total_price.currency_code} minor units")
    seats_before = seats_free()
    usd_rooms_before = usd.available_rooms
    mixed = None
    try:
        mixed = as_customer(
            reservations.Checkout, bundle(flight, usd, check_in, check_out), timeout=CHECKOUT_TIMEOUT
        ).reservation
    except grpc.RpcError as refused:
        if refused.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise CheckFailed(
                "a bundle in two currencies: expected a FAILED reservation or FAILED_PRECONDITION, "
                f"got {refused.code().name}: {refused.details()}"
            ) from None
        check(True, f"the service answered FAILED_PRECONDITION: {refused.details()}")
    if mixed is not None:
        check(
            mixed.state == FAILED and mixed.failure_reason.strip(),
            f"the service answered with reservation {mixed.id} in RESERVATION_STATE_FAILED: {mixed.failure_reason!r}",
            f"state {state_name(mixed.state)}",
            show(mixed),
        )
        check(not mixed.HasField("total_price"), "a FAILED reservation has no total_price", show(mixed.total_price))
    seats_now = seats_free()
    check(seats_now == seats_before, f"no seat stays held ({seats_before} available)", f"got {seats_now}")
    rooms_now = rooms_free("New York", usd.room_type.id)
    check(rooms_now == usd_rooms_before, f"no room stays held ({usd_rooms_before} free)", f"got {rooms_now}")

    # --- the list, newest first ----------------------------------------------------------
    step("the list again, newest first")
    listed = as_customer(
        reservations.ListReservations, reservation_pb2.ListReservationsRequest(page_size=100)
    ).reservations
    expected = ([mixed.id] if mixed is not None else []) + [booked.id]
    check(
        [r.id for r in listed] == expected,
        f"ListReservations lists {len(expected)} reservation(s), newest first",
        f"expected {expected}",
        f"got {[(r.id, state_name(r.state)) for r in listed]}",
    )
    times = [r.create_time.ToDatetime() for r in listed]
    check(times == sorted(times, reverse=True), "create_time never increases down the list", f"got {times}")
