#!/usr/bin/env bash
# End-to-end test with a TypeScript client generated from proto/, on Node.js.
#
# Installs package.json's pinned packages with `npm ci` into .ci/node/node_modules,
# runs `buf generate` (buf.gen.yaml: protoc-gen-es, TypeScript) on every .proto
# under proto/ and on the vendored google/rpc/error_details.proto into
# .ci/node/gen, compiles journey.ts with tsc into .ci/node/build (all three
# git-ignored), starts `travel-stack --data-dir <fresh temp dir>` in the
# background, waits until it reports "travel stack is up", and runs the journey:
# register -> log in -> search -> a refused checkout -> bundled checkout -> get
# -> list -> cancel. Exits with the journey's status. On exit the stack gets
# SIGTERM and must stop by itself with status 0; on any failure its log is printed.
#
# Usage: bash .ci/node/run.sh     (after `cargo build -p travel-stack`; needs node >= 20, npm)
# Environment: STACK_BIN and the four *_ADDR (see .ci/stack_lib.sh), and
#   BUF               the buf binary (default: .ci/.tools/node_modules/.bin/buf, which
#                     .ci/run installs at its pinned version before its lint step)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/.ci/node"
# shellcheck source=.ci/stack_lib.sh
source "$ROOT/.ci/stack_lib.sh"

BUF="${BUF:-$ROOT/.ci/.tools/node_modules/.bin/buf}"
stack_setup nodejourney

# --- preparation ---------------------------------------------------------------

if [[ ! -x "$BUF" ]]; then
    fail "no buf at $BUF" "set BUF, or install the version .ci/run pins (BUF_VERSION there):" \
        "npm install --prefix .ci/.tools --no-save @bufbuild/buf@<BUF_VERSION>"
fi
command -v node >/dev/null || fail "node not found (Node.js 20 or later is needed)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || fail "Node.js $(node --version) is too old: 20 or later is needed"

echo "npm ci in $HERE (node $(node --version), npm $(npm --version))"
npm ci --prefix "$HERE" --no-audit --no-fund --loglevel=error

# Generated afresh each run, so that it always matches proto/.
rm -rf "$HERE/gen" "$HERE/build"
mapfile -t PROTOS < <(find proto -name '*.proto' | sort)
((${#PROTOS[@]} > 0)) || fail "no .proto file under proto/"
PATH="$HERE/node_modules/.bin:$PATH" "$BUF" generate --template "$HERE/buf.gen.yaml" -o "$HERE/gen" proto
# google.rpc.BadRequest, to read the field violations of a refused call.
PATH="$HERE/node_modules/.bin:$PATH" "$BUF" generate --template "$HERE/buf.gen.yaml" -o "$HERE/gen" "$HERE/proto"
generated="$(find "$HERE/gen/travel" -name '*_pb.ts' | wc -l)"
((generated == ${#PROTOS[@]})) || fail "buf generate wrote $generated files for ${#PROTOS[@]} .proto files"
echo "generated TypeScript of ${#PROTOS[@]} .proto files with buf $("$BUF" --version)" \
    "and protoc-gen-es $(node -p "require('$HERE/node_modules/@bufbuild/protoc-gen-es/package.json').version")"
"$HERE/node_modules/.bin/tsc" -p "$HERE"
echo "compiled journey.ts with tsc $("$HERE/node_modules/.bin/tsc" --version | cut -d' ' -f2)"

# --- start the stack ----------------------------------------------------------------

start_stack

# --- the journey ---------------------------------------------------------------------

node "$HERE/build/journey.js"
# The exit trap stops the stack (a stack that does not stop cleanly fails the run).
