# shellcheck shell=bash
# Shell functions shared by smoke.sh and python/run.sh for driving the stack
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
