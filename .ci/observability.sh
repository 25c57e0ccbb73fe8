#!/usr/bin/env bash
# Observability of the real stack binary: its traces reach an OTLP receiver, its
# metrics a real Prometheus, and the rules in ops/prometheus/ hold.
#
#   1. rules      promtool check rules / test rules of ops/prometheus/, and
#                 promtool check config of the sample prometheus.yml
#   2. traces     the stack exports to a small OTLP/gRPC receiver (otlp_sink.py);
#                 one bundled checkout made with grpcurl under a `traceparent`
#                 of our own arrives as one trace: the Checkout server span
#                 (child of our span id), and FlightService and HotelService
#                 server spans below it
#   3. metrics    Prometheus scrapes the four /metrics every second; after a
#                 scripted mix of calls (OK, Unauthenticated, PermissionDenied,
#                 InvalidArgument) its queries show at least those counts on
#                 the right job/grpc_service/grpc_method/grpc_code, the latency
#                 histogram with samples, and the recording rules on real data
#   4. lint       promtool check metrics finds no problem in any /metrics page
#   5. SIGTERM    the stack stops by itself with status 0
#
# Usage: bash .ci/observability.sh    (.ci/run runs it once the debug binary is built)
# Environment (all optional): STACK_BIN, the four *_ADDR, the four *_METRICS_ADDR
# and GRPCURL (see .ci/stack_lib.sh), and
#   PROMETHEUS_ADDR    where this run's Prometheus listens (default 127.0.0.1:9059:
#                      not 9090, where the package's own service may listen)
#
# Needs promtool and prometheus: installed from the Debian package `prometheus`
# if missing (as root, or through sudo). The package's own service, where the
# machine starts one, does not matter here: this script runs a Prometheus of its
# own on PROMETHEUS_ADDR with its storage in the run's temporary directory.
# The sink's Python packages (otlp_requirements.txt) and grpcurl go into .ci/.venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

PROMETHEUS_ADDR="${PROMETHEUS_ADDR:-127.0.0.1:9059}"
PROM_URL="http://$PROMETHEUS_ADDR"
OPS="$ROOT/ops/prometheus"
AUTH_SVC="travel.auth.v1.AuthService"
FLIGHT_SVC="travel.flight.v1.FlightService"
HOTEL_SVC="travel.hotel.v1.HotelService"
RESERVATION_SVC="travel.reservation.v1.ReservationService"
CHECKS=0
# Calls made, by "job grpc_service grpc_method grpc_code": what Prometheus must count.
declare -A SENT=()

pass() {
    CHECKS=$((CHECKS + 1))
    printf 'ok %2d: %s\n' "$CHECKS" "$*"
}

# ensure_prometheus: promtool and prometheus on PATH, from the Debian package
# `prometheus` if either is missing (apt-get update only if the install fails
# on stale package lists).
ensure_prometheus() {
    if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
        return 0
    fi
    local as_root=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 ||
            fail "promtool or prometheus is missing, and this is not root" "install the Debian package: apt-get install prometheus"
        as_root=(sudo)
    fi
    echo "installing the Debian package prometheus (promtool, prometheus)"
    local install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus)
    if ! "${install[@]}" >"$WORK/apt.log" 2>&1; then
        "${as_root[@]}" apt-get update -q >>"$WORK/apt.log" 2>&1 || true
        "${install[@]}" >>"$WORK/apt.log" 2>&1 || fail "apt-get install prometheus failed" "$(tail -n 20 "$WORK/apt.log")"
    fi
    if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
        fail "the Debian package prometheus is installed, but promtool or prometheus is not on PATH"
    fi
}

# wait_for DESCRIPTION PID TRIES COMMAND...: runs COMMAND every 0.25 s until it
# succeeds; fails after TRIES tries, or as soon as process PID has exited.
wait_for() {
    local description="$1" pid="$2" tries="$3" try
    shift 3
    for ((try = 1; try <= tries; try++)); do
        "$@" >/dev/null 2>&1 && return 0
        running "$pid" || fail "$description: the process exited"
        sleep 0.25
    done
    fail "$description: not within $((tries / 4)) s"
}

# call JOB CODE SERVICE/METHOD [grpcurl flags...]: one call with grpcurl to
# JOB's service (auth, flight, hotel, reservation), which must end with CODE (a
# grpc-go code name: OK, PermissionDenied, ...). Counted in SENT; the answer
# (OK) is in ANSWER.
call() {
    local job="$1" want="$2" full_method="$3" addr got out
    shift 3
    case "$job" in
        auth) addr="$AUTH_ADDR" ;;
        flight) addr="$FLIGHT_ADDR" ;;
        hotel) addr="$HOTEL_ADDR" ;;
        reservation) addr="$RESERVATION_ADDR" ;;
        *) fail "call: unknown job $job" ;;
    esac
    if out="$("$GRPCURL" -plaintext -max-time 10 "$@" "$addr" "$full_method" 2>&1)"; then
        got="OK"
    else
        got="$(sed -n 's/^ *Code: //p' <<<"$out" | head -n 1)"
    fi
    [[ "$got" == "$want" ]] || fail "$full_method on $addr: expected $want, got ${got:-no gRPC code}" "$out"
    local key="$job ${full_method%/*} ${full_method##*/} $want"
    SENT["$key"]=$((${SENT["$key"]:-0} + 1))
    ANSWER="$out"
}

# json_field NAME TEXT: the first string value of field NAME in grpcurl's JSON output.
json_field() {
    grep -o "\"$1\": \"[^\"]*\"" <<<"$2" | head -n 1 | cut -d'"' -f4
}

# sent_expectations: one --expect per entry of SENT, for observability_checks.py prom.
sent_expectations() {
    EXPECT=()
    local key job service method code
    while read -r key; do
        read -r job service method code <<<"$key"
        EXPECT+=(--expect "$job: $service/$method $code counted"
            "sum(grpc_server_handled_total{job=\"$job\",grpc_service=\"$service\",grpc_method=\"$method\",grpc_code=\"$code\"})"
            ">=" "${SENT[$key]}")
    done < <(printf '%s\n' "${!SENT[@]}" | sort)
}

# --- start ---------------------------------------------------------------------

stack_setup observability
# The OTEL_* settings are this script's alone (a sampler or an endpoint from the
# caller's environment would change what the sink gets).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^OTEL_' || true)

ensure_prometheus
echo "promtool: $(promtool --version 2>&1 | head -n 1)"
port_free "$PROMETHEUS_ADDR" || fail "something already listens on $PROMETHEUS_ADDR" "stop it, or choose another address with PROMETHEUS_ADDR"
ensure_grpcurl
ensure_venv
echo "installing .ci/otlp_requirements.txt into $VENV"
"$VENV/bin/pip" install --disable-pip-version-check --quiet -r "$ROOT/.ci/otlp_requirements.txt"
PY="$VENV/bin/python"
CHECK=("$PY" "$ROOT/.ci/observability_checks.py")

# --- 1. the rules ------------------------------------------------------------------

out="$(promtool check rules "$OPS/rules.yml" 2>&1)" || fail "promtool check rules ops/prometheus/rules.yml" "$out"
pass "promtool check rules ops/prometheus/rules.yml: $(grep -o '[0-9]* rules found' <<<"$out")"
out="$(cd "$OPS" && promtool test rules rules_test.yml 2>&1)" || fail "promtool test rules ops/prometheus/rules_test.yml" "$out"
pass "promtool test rules ops/prometheus/rules_test.yml"
out="$(promtool check config "$OPS/prometheus.yml" 2>&1)" || fail "promtool check config ops/prometheus/prometheus.yml" "$out"
pass "promtool check config ops/prometheus/prometheus.yml"

# --- the OTLP sink, Prometheus, the stack ---------------------------------------------

SPANS="$WORK/spans.jsonl"
"$PY" "$ROOT/.ci/otlp_sink.py" --out "$SPANS" --port 0 --port-file "$WORK/sink.port" >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
helper_started "OTLP sink" "$SINK_PID" "$WORK/sink.log"
wait_for "the OTLP sink did not start" "$SINK_PID" 60 test -s "$WORK/sink.port"
SINK_PORT="$(cat "$WORK/sink.port")"
echo "OTLP sink on 127.0.0.1:$SINK_PORT, spans to $SPANS"

# This run's Prometheus configuration: the sample, scraping and evaluating every
# second, with the run's metrics addresses and the rules by absolute path.
sed -e 's/^\(  scrape_interval:\).*/\1 1s/' -e 's/^\(  evaluation_interval:\).*/\1 1s/' \
    -e "s|\"127.0.0.1:9051\"|\"$AUTH_METRICS_ADDR\"|" -e "s|\"127.0.0.1:9052\"|\"$FLIGHT_METRICS_ADDR\"|" \
    -e "s|\"127.0.0.1:9053\"|\"$HOTEL_METRICS_ADDR\"|" -e "s|\"127.0.0.1:9054\"|\"$RESERVATION_METRICS_ADDR\"|" \
    -e "s|^  - rules.yml$|  - $OPS/rules.yml|" "$OPS/prometheus.yml" >"$WORK/prometheus.yml"
for addr in "$AUTH_METRICS_ADDR" "$FLIGHT_METRICS_ADDR" "$HOTEL_METRICS_ADDR" "$RESERVATION_METRICS_ADDR" "$OPS/rules.yml" "scrape_interval: 1s"; do
    grep -qF "$addr" "$WORK/prometheus.yml" ||
        fail "the configuration made from ops/prometheus/prometheus.yml lacks '$addr'" "did the sample's layout change? $(cat "$WORK/prometheus.yml")"
done
out="$(promtool check config "$WORK/prometheus.yml" 2>&1)" || fail "promtool check config of this run's prometheus.yml" "$out"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus-data" \
    --web.listen-address="$PROMETHEUS_ADDR" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
helper_started "prometheus" "$PROM_PID" "$WORK/prometheus.log"
wait_for "prometheus did not become ready on $PROMETHEUS_ADDR" "$PROM_PID" 120 "${CHECK[@]}" get "$PROM_URL/-/ready"
pass "prometheus $(prometheus --version 2>&1 | head -n 1 | awk '{print $3}') is ready on $PROMETHEUS_ADDR"

export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT"
export OTEL_BSP_SCHEDULE_DELAY=200
start_stack
for addr in "$AUTH_METRICS_ADDR" "$FLIGHT_METRICS_ADDR" "$HOTEL_METRICS_ADDR" "$RESERVATION_METRICS_ADDR"; do
    grep -qF "http://$addr/metrics" "$LOG" || fail "the stack does not print its /metrics URL http://$addr/metrics at start-up"
done
pass "the stack prints the four /metrics URLs"

# --- 2. one checkout, one trace --------------------------------------------------------

Y=$(date -u -d tomorrow +%Y) M=$(date -u -d tomorrow +%-m) D=$(date -u -d tomorrow +%-d)
Y2=$(date -u -d '+3 days' +%Y) M2=$(date -u -d '+3 days' +%-m) D2=$(date -u -d '+3 days' +%-d)
TOMORROW="{\"year\":$Y,\"month\":$M,\"day\":$D}"
IN_3_DAYS="{\"year\":$Y2,\"month\":$M2,\"day\":$D2}"
EMAIL="observer-$RANDOM@example.com"
PASSWORD="observability password"

call auth OK "$AUTH_SVC/Register" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"request_id\":\"obs-register\"}"
call auth OK "$AUTH_SVC/Login" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
TOKEN="$(json_field accessToken "$ANSWER")"
[[ -n "$TOKEN" ]] || fail "Login answered without an access token" "$ANSWER"
call flight OK "$FLIGHT_SVC/SearchFlights" \
    -d "{\"origin\":\"LIS\",\"destination\":\"JFK\",\"departure_date\":$TOMORROW,\"passengers\":1}"
FLIGHT="$(json_field id "$ANSWER")"
call hotel OK "$HOTEL_SVC/SearchHotels" \
    -d "{\"city\":\"New York\",\"check_in\":$TOMORROW,\"check_out\":$IN_3_DAYS,\"guests\":2,\"rooms\":1,\"page_size\":1}"
HOTEL="$(grep -o '"id": "[^"]*"' <<<"$ANSWER" | sed -n 1p | cut -d'"' -f4)"
ROOM_TYPE="$(grep -o '"id": "[^"]*"' <<<"$ANSWER" | sed -n 2p | cut -d'"' -f4)"
[[ -n "$FLIGHT" && -n "$HOTEL" && -n "$ROOM_TYPE" ]] ||
    fail "the demo catalog has no flight LIS-JFK or no New York hotel tomorrow" "flight=$FLIGHT hotel=$HOTEL room type=$ROOM_TYPE"

TRACE_ID="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
PARENT_SPAN_ID="$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
call reservation OK "$RESERVATION_SVC/Checkout" -H "authorization: Bearer $TOKEN" \
    -H "traceparent: 00-$TRACE_ID-$PARENT_SPAN_ID-01" \
    -d "{\"request_id\":\"obs-trip\",\"flight\":{\"flight_id\":\"$FLIGHT\",\"seats\":1},\"hotel\":{\"hotel_id\":\"$HOTEL\",\"room_type_id\":\"$ROOM_TYPE\",\"check_in\":$TOMORROW,\"check_out\":$IN_3_DAYS,\"rooms\":1,\"guests\":2}}"
grep -qF RESERVATION_STATE_CONFIRMED <<<"$ANSWER" || fail "the traced checkout did not end CONFIRMED" "$ANSWER"
pass "a bundled checkout under traceparent 00-$TRACE_ID-$PARENT_SPAN_ID-01 is CONFIRMED"

out="$("${CHECK[@]}" trace "$SPANS" "$TRACE_ID" "$PARENT_SPAN_ID" --timeout 20 2>&1)" ||
    fail "the checkout's trace did not reach the OTLP sink complete" "$out" \
        "(the stack ran with OTEL_EXPORTER_OTLP_ENDPOINT=$OTEL_EXPORTER_OTLP_ENDPOINT OTEL_BSP_SCHEDULE_DELAY=$OTEL_BSP_SCHEDULE_DELAY;" \
        " a Checkout server span must have the traceparent's span id as parent, and server spans with" \
        " rpc.service=$FLIGHT_SVC and $HOTEL_SVC must descend from it in the same trace)"
pass "$out"

# --- 3. a mix of calls, counted by Prometheus ---------------------------------------------

# Successful.
for _ in 1 2; do
    call flight OK "$FLIGHT_SVC/SearchFlights" \
        -d "{\"origin\":\"LIS\",\"destination\":\"JFK\",\"departure_date\":$TOMORROW,\"passengers\":2}"
    call reservation OK "$RESERVATION_SVC/ListReservations" -H "authorization: Bearer $TOKEN" -d '{}'
done
call hotel OK "$HOTEL_SVC/SearchHotels" \
    -d "{\"city\":\"Lisbon\",\"check_in\":$TOMORROW,\"check_out\":$IN_3_DAYS,\"guests\":2,\"rooms\":1}"
# Refused: no token where one is needed.
for _ in 1 2 3; do
    call flight Unauthenticated "$FLIGHT_SVC/HoldSeats" -d '{"hold_id":"h1","flight_id":"f1","seats":1}'
done
call hotel Unauthenticated "$HOTEL_SVC/HoldRooms" -d '{"hold_id":"h1"}'
call reservation Unauthenticated "$RESERVATION_SVC/Checkout" -d '{"request_id":"obs-no-token"}'
call auth Unauthenticated "$AUTH_SVC/Login" -d "{\"email\":\"$EMAIL\",\"password\":\"not the password\"}"
# Refused: a customer calling an admin RPC.
for _ in 1 2; do
    call flight PermissionDenied "$FLIGHT_SVC/CreateFlight" -H "authorization: Bearer $TOKEN" -d '{}'
    call reservation PermissionDenied "$RESERVATION_SVC/ListUnfinishedReservations" -H "authorization: Bearer $TOKEN" -d '{}'
done
# Invalid.
for _ in 1 2; do
    call flight InvalidArgument "$FLIGHT_SVC/SearchFlights" \
        -d "{\"origin\":\"Lisbon\",\"destination\":\"JFK\",\"departure_date\":$TOMORROW,\"passengers\":1}"
    call reservation InvalidArgument "$RESERVATION_SVC/Checkout" -H "authorization: Bearer $TOKEN" -d '{}'
done
call hotel InvalidArgument "$HOTEL_SVC/SearchHotels" -d '{"city":"","guests":0,"rooms":0}'
pass "a mix of $(( $(IFS=+; echo "${SENT[*]}") )) calls answered with the codes expected"

# Prometheus: every call counted on the right series, every target up, each
# service's series on its own job only, and the latency histogram of Checkout
# with samples in the contract's buckets.
sent_expectations
for job_service in "auth $AUTH_SVC" "flight $FLIGHT_SVC" "hotel $HOTEL_SVC" "reservation $RESERVATION_SVC"; do
    read -r job service <<<"$job_service"
    EXPECT+=(--expect "the $job target is up" "up{job=\"$job\"}" "==" 1)
    EXPECT+=(--expect "$service's server series only on job $job"
        "count(grpc_server_handled_total{grpc_service=\"$service\",job!=\"$job\"}) or vector(0)" "==" 0)
done
CHECKOUT_SEL="job=\"reservation\",grpc_service=\"$RESERVATION_SVC\",grpc_method=\"Checkout\""
CHECKOUTS=0
for code in OK Unauthenticated InvalidArgument; do
    CHECKOUTS=$((CHECKOUTS + ${SENT["reservation $RESERVATION_SVC Checkout $code"]:-0}))
done
EXPECT+=(--expect "the Checkout latency histogram counts every checkout"
    "sum(grpc_server_handling_seconds_count{$CHECKOUT_SEL})" ">=" "$CHECKOUTS")
EXPECT+=(--expect "its +Inf bucket equals its count"
    "sum(grpc_server_handling_seconds_bucket{$CHECKOUT_SEL,le=\"+Inf\"}) - sum(grpc_server_handling_seconds_count{$CHECKOUT_SEL})" "==" 0)
EXPECT+=(--expect "it has the contract's 11 buckets and +Inf"
    "count(grpc_server_handling_seconds_bucket{$CHECKOUT_SEL})" "==" 12)
EXPECT+=(--expect "its 1-second bucket is spelt as the latency SLO rules expect"
    "count(grpc_server_handling_seconds_bucket{$CHECKOUT_SEL,le=~\"1|1\\\\.0\"})" "==" 1)
out="$("${CHECK[@]}" prom "$PROM_URL" --timeout 30 "${EXPECT[@]}" 2>&1)" ||
    fail "Prometheus does not show the calls made as expected" "$out"
printf '%s\n' "$out"
pass "Prometheus counts every call by job, grpc_service, grpc_method and grpc_code (${#SENT[@]} series), and the Checkout histogram"

# The recording rules on real data. A rate needs the counter to grow between two
# scrapes, and Prometheus has now seen every series: one more refused and one
# more invalid call, then rates, ratios and quantiles must have values.
call reservation PermissionDenied "$RESERVATION_SVC/ListUnfinishedReservations" -H "authorization: Bearer $TOKEN" -d '{}'
call reservation InvalidArgument "$RESERVATION_SVC/Checkout" -H "authorization: Bearer $TOKEN" -d '{}'
sent_expectations
EXPECT+=(--expect "rule: ListUnfinishedReservations PermissionDenied rate"
    "job_grpc_service_grpc_method_grpc_code:grpc_server_handled:rate5m{job=\"reservation\",grpc_service=\"$RESERVATION_SVC\",grpc_method=\"ListUnfinishedReservations\",grpc_code=\"PermissionDenied\"}" ">" 0)
EXPECT+=(--expect "rule: Checkout request rate"
    "job_grpc_service_grpc_method:grpc_server_handled:rate5m{$CHECKOUT_SEL}" ">" 0)
EXPECT+=(--expect "rule: Checkout error ratio is 0 (client errors only)"
    "job_grpc_service_grpc_method:grpc_server_handled_errors:ratio_rate5m{$CHECKOUT_SEL}" "==" 0)
EXPECT+=(--expect "rule: Checkout p99 latency"
    "job_grpc_service_grpc_method:grpc_server_handling_seconds:p99_rate5m{$CHECKOUT_SEL}" ">" 0)
EXPECT+=(--expect "rule: Checkout share slower than 1 s"
    "job_grpc_service_grpc_method:grpc_server_handling_seconds_over_1s:ratio_rate5m{$CHECKOUT_SEL}" "<=" 1)
EXPECT+=(--expect "no alert fires" "count(ALERTS{alertstate=\"firing\"}) or vector(0)" "==" 0)
out="$("${CHECK[@]}" prom "$PROM_URL" --timeout 30 "${EXPECT[@]}" 2>&1)" ||
    fail "the recording rules of ops/prometheus/rules.yml give no value on the stack's metrics" "$out"
printf '%s\n' "$out"
pass "the recording rules compute rates, the error ratio, p99 and the slow share from the stack's metrics"

# --- 4. promtool check metrics ---------------------------------------------------------

for job_addr in "auth $AUTH_METRICS_ADDR" "flight $FLIGHT_METRICS_ADDR" "hotel $HOTEL_METRICS_ADDR" \
    "reservation $RESERVATION_METRICS_ADDR"; do
    read -r job addr <<<"$job_addr"
    page="$WORK/metrics-$job.txt"
    "${CHECK[@]}" get "http://$addr/metrics" >"$page" 2>"$WORK/get.err" ||
        fail "GET http://$addr/metrics failed" "$(cat "$WORK/get.err")"
    grep -q '^# TYPE grpc_server_handled_total counter' "$page" ||
        fail "$job's /metrics has no grpc_server_handled_total counter" "$(head -n 20 "$page")"
    # promtool prints the problems it finds (and exits non-zero); any output is one.
    if ! out="$(promtool check metrics <"$page" 2>&1)" || [[ -n "$out" ]]; then
        fail "promtool check metrics finds problems in $job's /metrics (http://$addr/metrics)" "$out"
    fi
    pass "promtool check metrics: $job's /metrics ($(grep -c '^# TYPE' "$page") metrics) has no problem"
done

# --- 5. SIGTERM -----------------------------------------------------------------------

stop_stack || fail "travel-stack did not stop cleanly on SIGTERM"
pass "travel-stack stops on SIGTERM with status 0"
# The exit trap stops Prometheus and the sink.

printf '\nobservability: %d passed, 0 failed\n' "$CHECKS"
