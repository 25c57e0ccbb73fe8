#!/usr/bin/env python3
"""End-to-end journey through the travel platform with a Python client
generated from proto/ by grpcio-tools.

    journey.py STUBS_DIR --save FILE            the journey, on a fresh stack
    journey.py STUBS_DIR --after-restart FILE   the same stack, restarted on its data

The journey: every service is SERVING; a new customer registers and logs in (a
wrong password is refused, the reservation service account gets a token); a
customer may not hold seats and a forged token is refused; seats and rooms of
the demo catalog go through hold -> confirm -> release with the inventory going
down and back up, and a hold of 0 seats is INVALID_ARGUMENT; then the customer
checks out a flight and a hotel stay as one bundle (twice with the same
request_id: one reservation), gets and lists it (another caller cannot read it),
cancels it (twice: still cancelled), and sees the seats and rooms go down and
back up. Then a refused call or two, and a bundle priced in two currencies,
which must not book and must leave nothing held. FILE gets what a restart must
keep: after it (--after-restart), every service is SERVING again, the same
search finds the same flights and offers (the demo catalog is loaded once) and
the flight has the seats it had before the journey.

The steps live next to this file: booking.py (the customer's booking),
inventory.py (hold -> confirm -> release), client.py (stubs and shared calls),
checks.py (what a check is). Nothing here generates code: the runner
(.ci/python/run.sh) generates the stubs with

    python -m grpc_tools.protoc -I proto --python_out=OUT --grpc_python_out=OUT proto/**/*.proto

and passes OUT as the first argument. The generated modules import each other
as `travel.common.v1.common_pb2` and so on, which works with OUT on sys.path
(implicit namespace packages).

Addresses, all optional: AUTH_ADDR (default 127.0.0.1:50051), FLIGHT_ADDR
(:50052), HOTEL_ADDR (:50053), RESERVATION_ADDR (:50054). Needs a running stack
with the demo catalog loaded. Ends with `python journey: N passed, M failed`.
"""

import argparse
import datetime as dt
import json
import os
import sys
import uuid

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("stubs_dir", help="the modules grpc_tools.protoc generated from proto/, with travel/ at the top")
mode = parser.add_mutually_exclusive_group(required=True)
mode.add_argument("--save", metavar="FILE", help="run the journey; write what a restart must keep to FILE")
mode.add_argument("--after-restart", metavar="FILE", help="check a restarted stack against FILE")
ARGS = parser.parse_args()
if not os.path.isdir(os.path.join(ARGS.stubs_dir, "travel")):
    parser.error(f"no travel/ under {ARGS.stubs_dir!r}")
sys.path.insert(0, os.path.abspath(ARGS.stubs_dir))

import grpc  # noqa: E402

from booking import booking  # noqa: E402
from checks import check, expect_error, run, show, step  # noqa: E402
from client import SERVICE_ACCOUNT, TIMEOUT, Stack, bearer  # noqa: E402
from inventory import room_round_trip, seat_round_trip  # noqa: E402
from travel.auth.v1 import auth_pb2  # noqa: E402
from travel.flight.v1 import flight_pb2  # noqa: E402


def sign_in(stack, run_id):
    """Registers and logs in a new customer; returns (user, customer metadata, service metadata)."""
    step("register and log in a new customer")
    email = f"py-journey-{run_id}@example.com"
    password = f"python journey {run_id}"
    register = auth_pb2.RegisterRequest(email=email, password=password, request_id=f"py-journey-{run_id}")
    user = stack.auth.Register(register, timeout=TIMEOUT).user
    check(
        user.id and user.email == email and user.role == auth_pb2.ROLE_CUSTOMER,
        f"Register creates the customer {email}",
        show(user),
    )
    again = stack.auth.Register(register, timeout=TIMEOUT).user
    check(again.id == user.id, "Register again with the same request_id returns the same user", show(again))

    login = stack.auth.Login(auth_pb2.LoginRequest(email=email, password=password), timeout=TIMEOUT)
    check(
        login.access_token and login.token_type == "Bearer",
        "Login issues a Bearer access token",
        f"token_type={login.token_type!r}, access_token empty: {not login.access_token}",
    )
    error = expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        stack.auth.Login,
        auth_pb2.LoginRequest(email=email, password="wrong password here"),
        timeout=TIMEOUT,
    )
    check(True, f"Login with a wrong password -> UNAUTHENTICATED ({error.details()})")
    service = stack.auth.IssueServiceToken(SERVICE_ACCOUNT, timeout=TIMEOUT)
    check(
        service.access_token,
        "IssueServiceToken gives the reservation service account a token",
        f"token_type={service.token_type!r}",
    )
    return user, bearer(login.access_token), bearer(service.access_token)


def refused_access(stack, signed_in):
    step("a customer's token does not open the service accounts' calls")
    error = expect_error(
        grpc.StatusCode.PERMISSION_DENIED,
        stack.flights.HoldSeats,
        flight_pb2.HoldSeatsRequest(hold_id="py-journey-refused", flight_id="x", seats=1),
        metadata=signed_in,
        timeout=TIMEOUT,
    )
    check(True, f"a customer's HoldSeats -> PERMISSION_DENIED ({error.details()})")
    error = expect_error(
        grpc.StatusCode.UNAUTHENTICATED,
        stack.flights.GetFlight,
        flight_pb2.GetFlightRequest(),
        metadata=bearer("not-a-token"),
        timeout=TIMEOUT,
    )
    check(True, f"GetFlight with a forged token -> UNAUTHENTICATED ({error.details()})")


def after_restart(stack, kept):
    """The restarted stack against what the journey saved before the restart."""
    stack.check_all_serving(whole_server=True)
    stack.check_all_serving()
    step("after a restart on the same data")
    day = dt.date.fromisoformat(kept["day"])
    found = stack.search_flights(day, passengers=2)
    check(
        len(found) == kept["flights_found"],
        f"the same search finds the same {kept['flights_found']} flight(s) (the demo catalog is loaded once)",
        f"got {len(found)}",
    )
    seats = stack.seats_free(kept["flight_id"])
    check(seats == kept["seats"], f"the flight keeps its seats ({kept['seats']} available)", f"got {seats}")
    check_in, check_out = dt.date.fromisoformat(kept["check_in"]), dt.date.fromisoformat(kept["check_out"])
    offers = stack.search_stay("Lisbon", check_in, check_out)
    check(
        len(offers) == kept["offers_found"],
        f"the same stay gets the same {kept['offers_found']} offer(s)",
        f"got {len(offers)}",
    )


def journey(stack, save_to):
    today = dt.datetime.now(dt.timezone.utc).date()
    tomorrow = today + dt.timedelta(days=1)
    check_out = tomorrow + dt.timedelta(days=2)
    run_id = uuid.uuid4().hex[:12]

    stack.check_all_serving()
    user, signed_in, as_service = sign_in(stack, run_id)
    refused_access(stack, signed_in)
    kept = seat_round_trip(stack, today, as_service, run_id)
    kept["offers_found"] = room_round_trip(stack, tomorrow, check_out, as_service, run_id)
    kept["check_in"], kept["check_out"] = tomorrow.isoformat(), check_out.isoformat()
    booking(stack, user, signed_in, as_service, tomorrow, check_out)
    with open(save_to, "w", encoding="utf-8") as out:
        json.dump(kept, out)


def main():
    stack = Stack()
    try:
        if ARGS.save:
            journey(stack, ARGS.save)
        else:
            with open(ARGS.after_restart, encoding="utf-8") as saved:
                after_restart(stack, json.load(saved))
    finally:
        stack.close()


if __name__ == "__main__":
    run(main)
