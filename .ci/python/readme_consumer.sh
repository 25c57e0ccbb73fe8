#!/usr/bin/env bash
# Runs the README's downstream consumer in Python (pika) against RabbitMQ:
# readme_consumer.py, in .ci/.venv with requirements.txt (grpcio-tools for the
# generated code, pika).
#
# Usage: bash .ci/python/readme_consumer.sh AMQP_URL
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/.ci/python"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

ensure_venv
"$VENV/bin/pip" install --disable-pip-version-check --quiet -r "$HERE/requirements.txt"
"$VENV/bin/python" "$HERE/readme_consumer.py" "$ROOT/README.md" "$1"
