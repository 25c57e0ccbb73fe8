# shellcheck shell=bash
# Shell functions shared by smoke.sh, python/run.sh and node/run.sh for driving the stack
# binary: sourced, not run. The caller sets STACK_PID when it starts the stack
# in the background (in its own shell, so that `wait` can reap it).

# running PID: true while the process exists and is not a zombie (a child that
# exited but was not waited for still answers `kill -0`).
running() {
    local state
    [[ -r "/proc/$1/stat" ]] || return 1
    read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null || return 1
    [[ "$state" != "Z" ]]
}

# stop_stack: SIGTERM, then wait (bounded) for the stack to exit by itself; true
# only if it exited with status 0.
# shellcheck disable=SC2317  # also called from the callers' EXIT traps
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

# port_free ADDR: nothing listens there yet (else the test would run against
# another process, say a developer's own stack, and pass or fail for the wrong reason).
port_free() {
    ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# fail MESSAGE [DETAIL...]: prints the message and details, and stops the script
# (the caller's exit trap then stops the stack and prints its log).
fail() {
    printf '\nFAIL: %s\n' "$1" >&2
    shift
    local detail
    for detail in "$@"; do
        printf '%s\n' "$detail" | sed 's/^/    /' >&2
    done
    exit 1
}

# stack_log_on_failure RC: prints the stack's log ($LOG) if RC says the run failed.
stack_log_on_failure() {
    if [[ $1 -ne 0 && -s "$LOG" ]]; then
        echo "----- travel-stack log -----" >&2
        cat "$LOG" >&2
        echo "----- end of travel-stack log -----" >&2
    fi
}

# --- for the client journeys (python/run.sh, node/run.sh) ---------------------

# journey_setup: the stack's arguments (STACK_ARGS: --data-dir "$DATA_DIR", and a
# --*-listen flag only for the addresses that were set, so that the defaults stay
# the stack's own), the four addresses exported for the client, and the exit
# trap that stops the stack, prints its log on failure and removes $WORK.
journey_setup() {
    STACK_ARGS=(--data-dir "$DATA_DIR")
    [[ -n "${AUTH_ADDR:-}" ]] && STACK_ARGS+=(--auth-listen "$AUTH_ADDR")
    [[ -n "${FLIGHT_ADDR:-}" ]] && STACK_ARGS+=(--flight-listen "$FLIGHT_ADDR")
    [[ -n "${HOTEL_ADDR:-}" ]] && STACK_ARGS+=(--hotel-listen "$HOTEL_ADDR")
    [[ -n "${RESERVATION_ADDR:-}" ]] && STACK_ARGS+=(--reservation-listen "$RESERVATION_ADDR")
    export AUTH_ADDR="${AUTH_ADDR:-127.0.0.1:50051}"
    export FLIGHT_ADDR="${FLIGHT_ADDR:-127.0.0.1:50052}"
    export HOTEL_ADDR="${HOTEL_ADDR:-127.0.0.1:50053}"
    export RESERVATION_ADDR="${RESERVATION_ADDR:-127.0.0.1:50054}"
    trap journey_on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# shellcheck disable=SC2317  # the EXIT trap
journey_on_exit() {
    local rc=$?
    set +e
    if [[ -n "$STACK_PID" ]] && ! stop_stack; then
        rc=1
    fi
    stack_log_on_failure "$rc"
    rm -rf "$WORK"
    exit "$rc"
}

# journey_check_addresses: nothing listens yet on the four addresses.
journey_check_addresses() {
    local addr
    for addr in "$AUTH_ADDR" "$FLIGHT_ADDR" "$HOTEL_ADDR" "$RESERVATION_ADDR"; do
        port_free "$addr" || fail "something already listens on $addr" \
            "stop it, or choose other addresses with AUTH_ADDR / FLIGHT_ADDR / HOTEL_ADDR / RESERVATION_ADDR"
    done
}

# wait_stack_up ON_UP: waits (bounded: 240 tries, 0.5 s apart) until the stack
# prints "travel stack is up" — every service serves and the demo catalog is
# loaded — then runs ON_UP with the number of tries; fails if it exits first.
wait_stack_up() {
    local try
    for ((try = 1; try <= 240; try++)); do
        if grep -qF "travel stack is up" "$LOG"; then
            "$1" "$try"
            return 0
        fi
        if [[ -z "$STACK_PID" ]] || ! running "$STACK_PID"; then
            fail "travel-stack exited before it was up"
        fi
        sleep 0.5
    done
    fail "travel-stack did not report it was up within 120 s"
}

# journey_start_stack: starts the stack with STACK_ARGS, logging to $LOG, and
# waits until it is up.
journey_start_stack() {
    echo "starting: $STACK_BIN ${STACK_ARGS[*]}"
    "$STACK_BIN" "${STACK_ARGS[@]}" >>"$LOG" 2>&1 &
    STACK_PID=$!
    wait_stack_up journey_stack_is_up
}

journey_stack_is_up() {
    echo "the stack is up (after $1 tries)"
}
