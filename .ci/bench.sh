#!/usr/bin/env bash
# Runs every travel-bench scenario for a couple of seconds against the services
# it starts itself (the debug binaries of this build, SQLite in a temporary
# directory). Fails when a call fails where none may (travel-bench's exit
# status), or when the report is missing or lacks a scenario; never on a
# timing: the figures are printed, not judged (BENCHMARKS.md has a real run's).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build --locked -p travel-bench -p travel-auth -p travel-flight -p travel-hotel -p travel-reservation

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# Few callers: in a debug build a checkout on SQLite takes long enough that 64
# callers would leave a two-second window with few answers.
if ! "${CARGO_TARGET_DIR:-$ROOT/target}/debug/travel-bench" \
    --duration 2s --warmup 1s \
    --connections 4 --streams 4 --checkout-callers 8 \
    --json "$OUT/report.json" --markdown "$OUT/report.md" --logs "$OUT"; then
    echo "travel-bench reported failed calls; the services' logs:" >&2
    tail -n 20 "$OUT"/travel-*.log >&2 || true
    exit 1
fi

python3 - "$OUT/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
expected = ["ceiling", "health", "get-flight", "search-flights", "search-hotels",
            "hold-release", "checkout", "checkout-contended", "mixed"]
seen = [row["scenario"] for row in report["rows"]]
assert seen == expected, f"scenarios in the report: {seen}, expected {expected}"
for row in report["rows"]:
    assert row["calls"] > 0, f"{row['scenario']}: no call finished"
processes = [m["process"] for m in report["memory"]]
assert processes == ["ceiling", "auth", "flight", "hotel", "reservation"], processes
assert all(m["peak_kib"] > 0 for m in report["memory"]), report["memory"]
print(f"bench report complete: {len(seen)} scenarios, memory of {len(processes)} processes")
PY
