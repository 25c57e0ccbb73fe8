#!/usr/bin/env python3
"""Runs checkov --framework kubernetes on rendered overlays, with the skips of
checkov-skips.txt for each, and prints its summary. Exits 1 on any failed check
or parsing error. Offline: --skip-download (nothing is fetched from the
vendor's service; its guideline links are left out).

    run_checkov.py CHECKOV OVERLAY=RENDERED.yaml..."""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def skips_for(overlay):
    skips = []
    for line in (HERE / "checkov-skips.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        check, scope, reason = line.split(None, 2)
        if scope == "*" or overlay in scope.split(","):
            skips.append((check, reason))
    return skips


def main(checkov, pairs):
    bad = 0
    for pair in pairs:
        overlay, _, path = pair.partition("=")
        skips = skips_for(overlay)
        cmd = [checkov, "--framework", "kubernetes", "-f", path, "-o", "json", "--compact", "--skip-download"]
        if skips:
            cmd += ["--skip-check", ",".join(c for c, _ in skips)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        try:
            report = json.loads(run.stdout)
        except json.JSONDecodeError:
            print(run.stdout, run.stderr, sep="\n")
            print(f"checkov on {overlay}: no report (exit {run.returncode})")
            return 1
        if isinstance(report, list):
            report = next(r for r in report if r.get("check_type") == "kubernetes")
        s = report["summary"]
        results = report.get("results", {})
        for c in results.get("failed_checks", []):
            print(f"FAIL {overlay}: {c['check_id']} {c['check_name']}: {c['resource']}")
        print(f"checkov {s['checkov_version']} --framework kubernetes, overlay {overlay}: "
              f"{s['resource_count']} resources, passed {s['passed']}, failed {s['failed']}, "
              f"skipped {s['skipped']} (annotations), parsing errors {s['parsing_errors']}")
        for c in results.get("skipped_checks", []):
            print(f"  skipped on {c['resource']}: {c['check_id']} ({c.get('check_result', {}).get('suppress_comment', '')})")
        for check, reason in skips:
            print(f"  skipped everywhere in {overlay}: {check}: {reason}")
        bad += s["failed"] + s["parsing_errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
