#!/usr/bin/env bash
# End-to-end test with a Python client generated from proto/ by grpcio-tools.
#
# Installs requirements.txt into .ci/.venv (git-ignored; smoke.sh keeps grpcurl
# there too), generates the Python stubs of every .proto under proto/ into a
# temporary directory, starts `travel-stack --data-dir <fresh temp dir>` in the
# background, waits until it reports "travel stack is up", and runs journey.py:
# register -> log in -> search -> bundled checkout -> get -> list -> cancel, and
# a bundle in two currencies that must not book. Exits with journey.py's status.
# On exit the stack gets SIGTERM and must stop by itself with status 0; on any
# failure its log is printed.
#
# Usage: bash .ci/python/run.sh     (after `cargo build -p travel-stack`)
# Environment (all optional):
#   STACK_BIN         the stack binary (default: target/debug/travel-stack)
#   AUTH_ADDR, FLIGHT_ADDR, HOTEL_ADDR, RESERVATION_ADDR
#                     addresses of the services; each one set is passed to the
#                     stack as --auth-listen / --flight-listen / --hotel-listen /
#                     --reservation-listen (defaults: the stack's own,
#                     127.0.0.1:50051 .. 127.0.0.1:50054)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/.ci/python"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

STACK_BIN="${STACK_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/travel-stack}"
VENV="$ROOT/.ci/.venv"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/travel-pyjourney.XXXXXX")"
STUBS="$WORK/stubs"
DATA_DIR="$WORK/data"
LOG="$WORK/stack.log"
STACK_PID=""
mkdir -p "$STUBS" "$DATA_DIR"
: >"$LOG"

journey_setup

# --- preparation ---------------------------------------------------------------

if [[ ! -x "$STACK_BIN" ]]; then
    fail "no stack binary at $STACK_BIN" "build it first: cargo build -p travel-stack"
fi
journey_check_addresses

# The venv is shared with smoke.sh (grpcurl): create it only if it is missing.
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV"
    python3 -m venv "$VENV"
fi
echo "installing $HERE/requirements.txt into $VENV"
"$VENV/bin/pip" install --disable-pip-version-check --quiet -r "$HERE/requirements.txt"
PY="$VENV/bin/python"

mapfile -t PROTOS < <(find proto -name '*.proto' | sort)
((${#PROTOS[@]} > 0)) || fail "no .proto file under proto/"
"$PY" -m grpc_tools.protoc -I proto --python_out="$STUBS" --grpc_python_out="$STUBS" "${PROTOS[@]}"
echo "generated Python stubs of ${#PROTOS[@]} .proto files with grpcio-tools $("$PY" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))')"

# --- start the stack ----------------------------------------------------------------

journey_start_stack

# --- the journey ---------------------------------------------------------------------

status=0
"$PY" "$HERE/journey.py" "$STUBS" || status=$?
# The exit trap stops the stack (a stack that does not stop cleanly fails the run).
exit "$status"
