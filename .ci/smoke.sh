#!/usr/bin/env bash
# Smoke test of the stack process, through a real outside client: grpcurl.
#
# Starts `travel-stack --data-dir <fresh temp dir>` in the background and checks
# what needs the real process and grpcurl: the stack reports it is up, prints its
# endpoints and keeps its data under --data-dir; every server answers health
# SERVING; server reflection lists and documents the services (grpcurl has no
# .proto files); the README's grpcurl examples work exactly as pasted; and on
# SIGTERM the stack stops by itself with status 0. The booking journeys (auth,
# holds, checkout, refusals, a restart on the same data) are
# .ci/python/journey.py's, with a generated client.
#
# Usage: bash .ci/smoke.sh     (.ci/run runs it once the debug binary is built)
# Environment (all optional): STACK_BIN and the four *_ADDR (see .ci/stack_lib.sh;
# the README's examples run only on the default addresses), and
#   GRPCURL            a grpcurl to use instead of installing one into .ci/.venv
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

HEALTH="grpc.health.v1.Health"
CHECKS=0

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

# grpc DESCRIPTION ARGS...: grpcurl over plaintext (bounded in time), which must
# succeed; prints its output.
grpc() {
    local out
    out="$("$GRPCURL" -plaintext -max-time 10 "${@:2}" 2>&1)" || fail "$1 failed" "$out"
    printf '%s\n' "$out"
}

# --- start ---------------------------------------------------------------------

stack_setup smoke
ensure_grpcurl
echo "grpcurl: $GRPCURL ($("$GRPCURL" -version 2>&1))"
start_stack
pass "the stack reports it is up, demo catalog loaded"

expect_contains "the stack prints the auth endpoint" "${AUTH_ADDR##*:}" "$(cat "$LOG")"
expect_contains "the stack prints the flight endpoint" "${FLIGHT_ADDR##*:}" "$(cat "$LOG")"
expect_contains "the stack prints the hotel endpoint" "${HOTEL_ADDR##*:}" "$(cat "$LOG")"
if [[ -n "$(find "$DATA_DIR" -mindepth 1 -print -quit)" ]]; then
    pass "the stack keeps its data under --data-dir"
else
    fail "--data-dir $DATA_DIR is still empty after start-up"
fi

# --- health: every server, and the services by name ---------------------------------

for addr in "$AUTH_ADDR" "$FLIGHT_ADDR" "$HOTEL_ADDR" "$RESERVATION_ADDR"; do
    out="$(grpc "$HEALTH/Check on $addr" "$addr" "$HEALTH/Check")"
    expect_contains "$addr answers $HEALTH/Check SERVING" '"SERVING"' "$out"
done
for service_at in "travel.flight.v1.FlightService $FLIGHT_ADDR" "travel.hotel.v1.HotelService $HOTEL_ADDR"; do
    read -r service addr <<<"$service_at"
    out="$(grpc "$HEALTH/Check of $service" -d "{\"service\":\"$service\"}" "$addr" "$HEALTH/Check")"
    expect_contains "health of $service is SERVING" '"SERVING"' "$out"
done

# --- reflection: listed and documented ---------------------------------------------

out="$(grpc "list on $AUTH_ADDR" "$AUTH_ADDR" list)"
expect_contains "auth lists travel.auth.v1.AuthService" "travel.auth.v1.AuthService" "$out"
for service_at in "travel.flight.v1.FlightService $FLIGHT_ADDR" "travel.hotel.v1.HotelService $HOTEL_ADDR"; do
    read -r service addr <<<"$service_at"
    out="$(grpc "list on $addr" "$addr" list)"
    expect_contains "$addr lists $service" "$service" "$out"
    expect_contains "$addr lists $HEALTH" "$HEALTH" "$out"
done

out="$(grpc "describe travel.flight.v1.FlightService" "$FLIGHT_ADDR" describe travel.flight.v1.FlightService)"
expect_contains "describe travel.flight.v1.FlightService shows HoldSeats" "rpc HoldSeats" "$out"
expect_contains "describe travel.flight.v1.FlightService shows the RPC comments" "Takes seats out of inventory" "$out"
out="$(grpc "describe travel.hotel.v1.HotelService" "$HOTEL_ADDR" describe travel.hotel.v1.HotelService)"
expect_contains "describe travel.hotel.v1.HotelService shows HoldRooms" "rpc HoldRooms" "$out"
expect_contains "describe travel.hotel.v1.HotelService shows the RPC comments" \
    "Takes rooms of one room type out of inventory" "$out"

# --- the README's examples, exactly as written ----------------------------------------

# Every grpcurl example of the README, run as pasted (against the default ports).
if [[ "$AUTH_ADDR" == "127.0.0.1:50051" && "$FLIGHT_ADDR" == "127.0.0.1:50052" && "$HOTEL_ADDR" == "127.0.0.1:50053" \
    && "$RESERVATION_ADDR" == "127.0.0.1:50054" ]]; then
    python3 "$ROOT/.ci/readme_examples.py" "$ROOT/README.md" >"$WORK/readme.sh"
    if PATH="$(dirname "$GRPCURL"):$PATH" bash "$WORK/readme.sh" >"$WORK/readme.log" 2>&1; then
        pass "the README's grpcurl examples work when pasted"
    else
        fail "a README example failed" "$(tail -n 40 "$WORK/readme.log")"
    fi
fi

# --- SIGTERM ------------------------------------------------------------------------

stop_stack || fail "travel-stack did not stop cleanly on SIGTERM"
pass "travel-stack stops on SIGTERM with status 0"

printf '\nsmoke: %d passed, 0 failed\n' "$CHECKS"
