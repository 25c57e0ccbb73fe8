#!/usr/bin/env python3
"""End-to-end journey through the travel platform with a Python client
generated from proto/ by grpcio-tools.

A new customer registers, logs in, searches a flight and a hotel stay, checks
out both as one bundle (twice with the same request_id: one reservation), gets
and lists the reservation, cancels it (twice: still cancelled), and sees the
seats and rooms go down and back up. Then a refused call or two, and a bundle
priced in two currencies, which must not book and must leave nothing held.

This script generates nothing: the runner (.ci/python/run.sh) generates the
stubs with

    python -m grpc_tools.protoc -I proto --python_out=OUT --grpc_python_out=OUT proto/**/*.proto

and passes OUT as the first argument (or in STUBS_DIR). The generated modules
import each other as `travel.common.v1.common_pb2` and so on, which works with
OUT on sys.path (implicit namespace packages).

Addresses, all optional: AUTH_ADDR (default 127.0.0.1:50051), FLIGHT_ADDR
(:50052), HOTEL_ADDR (:50053), RESERVATION_ADDR (:50054). Needs a running stack
with the demo catalog loaded. Ends with `python journey: N passed, M failed`.
"""

import datetime as dt
import os
import sys
import traceback
import uuid

STUBS_DIR = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STUBS_DIR", "")
if not STUBS_DIR or not os.path.isdir(os.path.join(STUBS_DIR, "travel")):
    sys.exit(
        "usage: journey.py STUBS_DIR  (a directory holding the modules grpc_tools.protoc "
        f"generated from proto/, with travel/ at its top; got {STUBS_DIR!r})"
    )
sys.path.insert(0, os.path.abspath(STUBS_DIR))

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from travel.auth.v1 import auth_pb2, auth_pb2_grpc  # noqa: E402
from travel.common.v1 import common_pb2  # noqa: E402
from travel.flight.v1 import flight_pb2, flight_pb2_grpc  # noqa: E402
from travel.hotel.v1 import hotel_pb2, hotel_pb2_grpc  # noqa: E402
from travel.reservation.v1 import reservation_pb2, reservation_pb2_grpc  # noqa: E402

AUTH_ADDR = os.environ.get("AUTH_ADDR", "127.0.0.1:50051")
FLIGHT_ADDR = os.environ.get("FLIGHT_ADDR", "127.0.0.1:50052")
HOTEL_ADDR = os.environ.get("HOTEL_ADDR", "127.0.0.1:50053")
RESERVATION_ADDR = os.environ.get("RESERVATION_ADDR", "127.0.0.1:50054")

# Per-call deadlines, in seconds. A checkout is a saga over two services.
TIMEOUT = 15
CHECKOUT_TIMEOUT = 60

CONFIRMED = reservation_pb2.RESERVATION_STATE_CONFIRMED
FAILED = reservation_pb2.RESERVATION_STATE_FAILED
CANCELLED = reservation_pb2.RESERVATION_STATE_CANCELLED

PASSED = 0


class CheckFailed(Exception):
    """A check of the journey did not hold."""


def check(condition, description, *details):
    """Counts and prints a check that holds; raises CheckFailed otherwise.

    An explicit raise rather than `assert`, so that `python -O` cannot skip it."""
    global PASSED
    if not condition:
        raise CheckFailed("\n    ".join([description, *map(str, details)]))
    PASSED += 1
    print(f"ok {PASSED:2d}: {description}", flush=True)


CURRENT_STEP = "start"


def step(title):
    global CURRENT_STEP
    CURRENT_STEP = title
    print(f"\n--- {title}", flush=True)


def state_name(state):
    return reservation_pb2.ReservationState.Name(state)


def show(message):
    """A message on one line, for failure details."""
    return " ".join(str(message).split())


def date_of(day):
    return common_pb2.Date(year=day.year, month=day.month, day=day.day)


def expect_error(code, call, *args, **kwargs):
    """Makes a call that must fail; returns the grpc.RpcError it failed with."""
    try:
        response = call(*args, **kwargs)
    except grpc.RpcError as error:
        if error.code() != code:
            raise CheckFailed(
                f"expected {code.name}, got {error.code().name}: {error.details()}"
            ) from None
        return error
    raise CheckFailed(f"expected {code.name}, but the call succeeded: {show(response)}")


def main():
    today = dt.datetime.now(dt.timezone.utc).date()
    tomorrow = today + dt.timedelta(days=1)
    check_in = date_of(tomorrow)
    check_out = date_of(tomorrow + dt.timedelta(days=2))
    run_id = uuid.uuid4().hex[:12]

    channels = {
        name: grpc.insecure_channel(addr)
        for name, addr in [
            ("auth", AUTH_ADDR),
            ("flight", FLIGHT_ADDR),
            ("hotel", HOTEL_ADDR),
            ("reservation", RESERVATION_ADDR),
        ]
    }
    auth = auth_pb2_grpc.AuthServiceStub(channels["auth"])
    flights = flight_pb2_grpc.FlightServiceStub(channels["flight"])
    hotels = hotel_pb2_grpc.HotelServiceStub(channels["hotel"])
    reservations = reservation_pb2_grpc.ReservationServiceStub(channels["reservation"])

    # --- health ---------------------------------------------------------------
    step("health of every service")
    for name, service, addr in [
        ("auth", "travel.auth.v1.AuthService", AUTH_ADDR),
        ("flight", "travel.flight.v1.FlightService", FLIGHT_ADDR),
        ("hotel", "travel.hotel.v1.HotelService", HOTEL_ADDR),
        ("reservation", "travel.reservation.v1.ReservationService", RESERVATION_ADDR),
    ]:
        health = health_pb2_grpc.HealthStub(channels[name])
        try:
            answer = health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT, wait_for_ready=True
            )
        except grpc.RpcError as error:
            raise CheckFailed(
                f"{service} on {addr} did not answer grpc.health.v1.Health/Check within {TIMEOUT} s: "
                f"{error.code().name}: {error.details()}"
            ) from None
        check(
            answer.status == health_pb2.HealthCheckResponse.SERVING,
            f"{service} on {addr} is SERVING",
            f"status: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}",
        )

    # --- register and log in ----------------------------------------------------
    step("register and log in a new customer")
    email = f"py-journey-{run_id}@example.com"
    password = f"python journey {run_id}"
    register = auth_pb2.RegisterRequest(email=email, password=password, request_id=f"py-journey-{run_id}")
    user = auth.Register(register, timeout=TIMEOUT).user
    check(
        user.id and user.email == email and user.role == auth_pb2.ROLE_CUSTOMER,
        f"Register creates the customer {email}",
        show(user),
    )
    again = auth.Register(register, timeout=TIMEOUT).user
    check(again.id == user.id, "Register again with the same request_id returns the same user", show(again))

    login = auth.Login(auth_pb2.LoginRequest(email=email, password=password), timeout=TIMEOUT)
    check(
        login.access_token and login.token_type == "Bearer",
        "Login issues a Bearer access token",
        f"token_type={login.token_type!r}, access_token empty: {not login.access_token}",
    )
    signed_in = [("authorization", f"Bearer {login.access_token}")]

    def as_customer(call, request, timeout=TIMEOUT):
        return call(request, metadata=signed_in, timeout=timeout)

    # --- search ---------------------------------------------------------------------
    step(f"search: LIS -> JFK on {tomorrow}, a room in Lisbon for 2 nights")
    found = as_customer(
        flights.SearchFlights,
        flight_pb2.SearchFlightsRequest(origin="LIS", destination="JFK", departure_date=check_in, passengers=1),
    ).flights
    check(len(found) >= 1, f"SearchFlights LIS -> JFK on {tomorrow} finds {len(found)} flight(s)")
    flight = found[0]
    seat_price = flight.seat_price
    check(
        seat_price.currency_code == "EUR" and seat_price.amount_minor > 0,
        f"flight {flight.flight_number} ({flight.id}) is priced in EUR: {seat_price.amount_minor} minor units a seat",
        show(flight),
    )

    def seats_free():
        return as_customer(flights.GetFlight, flight_pb2.GetFlightRequest(id=flight.id)).flight.available_seats

    def search_stay(city):
        return as_customer(
            hotels.SearchHotels,
            hotel_pb2.SearchHotelsRequest(
                city=city, check_in=check_in, check_out=check_out, guests=2, rooms=1, page_size=100
            ),
        ).offers

    def rooms_free(city, room_type_id):
        """available_rooms of the offer for that room type; 0 once it is no longer offered."""
        return next((o.available_rooms for o in search_stay(city) if o.room_type.id == room_type_id), 0)

    offers = search_stay("Lisbon")
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
    checkout = reservation_pb2.CheckoutRequest(
        request_id=f"py-journey-{uuid.uuid4()}",
        flight=reservation_pb2.FlightSelection(flight_id=flight.id, seats=1),
        hotel=reservation_pb2.HotelSelection(
            hotel_id=offer.hotel.id,
            room_type_id=offer.room_type.id,
            check_in=check_in,
            check_out=check_out,
            rooms=1,
            guests=2,
        ),
    )
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
        metadata=[("authorization", "Bearer not-a-token")],
        timeout=TIMEOUT,
    )
    check(True, f"GetReservation with a forged token -> UNAUTHENTICATED ({error.details()})")

    # --- a bundle in two currencies -------------------------------------------------
    step("a bundle in two currencies: EUR flight + USD room in New York")
    ny_offers = search_stay("New York")
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
    mixed_request = reservation_pb2.CheckoutRequest(
        request_id=f"py-journey-{uuid.uuid4()}",
        flight=reservation_pb2.FlightSelection(flight_id=flight.id, seats=1),
        hotel=reservation_pb2.HotelSelection(
            hotel_id=usd.hotel.id,
            room_type_id=usd.room_type.id,
            check_in=check_in,
            check_out=check_out,
            rooms=1,
            guests=2,
        ),
    )
    mixed = None
    try:
        mixed = as_customer(reservations.Checkout, mixed_request, timeout=CHECKOUT_TIMEOUT).reservation
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

    for ch in channels.values():
        ch.close()


if __name__ == "__main__":
    failed = 0
    try:
        main()
    except CheckFailed as failure:
        failed = 1
        print(f"\nFAIL (step: {CURRENT_STEP}): {failure}", file=sys.stderr, flush=True)
    except grpc.RpcError as error:
        failed = 1
        where = traceback.extract_tb(error.__traceback__)
        lines = " -> ".join(str(f.lineno) for f in where if f.filename == __file__)
        print(
            f"\nFAIL (step: {CURRENT_STEP}, journey.py line {lines}): "
            f"unexpected gRPC error {error.code().name}: {error.details()}",
            file=sys.stderr,
            flush=True,
        )
    except Exception:  # noqa: BLE001 - any other failure still ends with the count line
        failed = 1
        print(f"\nFAIL (step: {CURRENT_STEP}): unexpected error", file=sys.stderr, flush=True)
        traceback.print_exc()
    print(f"\npython journey: {PASSED} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
