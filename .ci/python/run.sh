#!/usr/bin/env bash
# End-to-end test with a Python client generated from proto/ by grpcio-tools.
#
# Installs requirements.txt into .ci/.venv (git-ignored; smoke.sh keeps grpcurl
# there too), generates the Python stubs of every .proto under proto/ into a
# temporary directory, starts `travel-stack --data-dir <fresh temp dir>` in the
# background, waits until it reports "travel stack is up", and runs journey.py
# (see its docstring for what it checks). Then it stops the stack, which must
# exit by itself with status 0 on SIGTERM, starts it again on the same data, and
# runs `journey.py --after-restart`: the catalog is not loaded twice and the
# inventory is as the journey left it. On exit the stack gets SIGTERM and must
# stop by itself with status 0 again; on any failure its log is printed.
#
# Usage: bash .ci/python/run.sh     (after `cargo build -p travel-stack`)
# Environment: STACK_BIN and the four *_ADDR, see .ci/stack_lib.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/.ci/python"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

stack_setup pyjourney
STUBS="$WORK/stubs"
mkdir -p "$STUBS"

# --- preparation ---------------------------------------------------------------

ensure_venv
echo "installing $HERE/requirements.txt into $VENV"
"$VENV/bin/pip" install --disable-pip-version-check --quiet -r "$HERE/requirements.txt"
PY="$VENV/bin/python"

mapfile -t PROTOS < <(find proto -name '*.proto' | sort)
((${#PROTOS[@]} > 0)) || fail "no .proto file under proto/"
"$PY" -m grpc_tools.protoc -I proto --python_out="$STUBS" --grpc_python_out="$STUBS" "${PROTOS[@]}"
echo "generated Python stubs of ${#PROTOS[@]} .proto files with grpcio-tools $("$PY" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))')"

# --- the journey, a restart on the same data, and what the restart must keep ------

start_stack
"$PY" "$HERE/journey.py" "$STUBS" --save "$WORK/before-restart.json"
stop_stack || fail "travel-stack did not stop cleanly on SIGTERM"
start_stack
"$PY" "$HERE/journey.py" "$STUBS" --after-restart "$WORK/before-restart.json"
# The exit trap stops the stack (a stack that does not stop cleanly fails the run).
