#!/usr/bin/env python3
"""Prints the README's grpcurl examples as one bash script, so CI can check that
they work when pasted against a running stack.

It takes every ```sh block between "## Try it with grpcurl" and the next "## "
heading. Commands under "### Errors" must fail with the code their preceding
comment names (`# → InvalidArgument: ...`); the rest must succeed (the script
runs with `set -euo pipefail`).
"""
import re
import shlex
import sys

readme = open(sys.argv[1], encoding="utf-8").read()
start = readme.index("## Try it with grpcurl")
end = readme.index("\n## ", start + 1)
section = readme[start:end]

out = ["set -euo pipefail"]
heading = ""
for part in re.split(r"(?m)^(### .*)$", section):
    if part.startswith("### "):
        heading = part[4:].strip()
        continue
    for block in re.findall(r"```sh\n(.*?)```", part, flags=re.S):
        if heading == "Errors":
            # Every command of this block must be refused with the code its comment names.
            expected = None
            for command in block.replace("\\\n", " ").splitlines():
                comment = re.match(r"\s*#\s*→\s*(\w+)", command)
                if comment:
                    expected = comment.group(1)
                    continue
                if not command.strip() or command.lstrip().startswith("#"):
                    continue
                if expected is None:
                    sys.exit(f"README error example without a '# → Code' comment: {command}")
                out.append("echo " + shlex.quote(f"+ (expected {expected}) {command}"))
                out.append(f"if _out=$({command} 2>&1); then echo 'expected a refusal' >&2; exit 1; fi")
                out.append(f'grep -Eq "(Code: |code = ){expected}" <<<"$_out" || {{ echo "$_out" >&2; exit 1; }}')
                expected = None
        else:
            out.append("set -x")
            out.append(block)
            out.append("set +x")
if len(out) < 5:
    sys.exit("no examples found in the README")
print("\n".join(out))
