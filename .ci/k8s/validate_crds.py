#!/usr/bin/env python3
"""Validates the custom resources of rendered overlays (Gateway, GRPCRoute,
ServiceMonitor) against the OpenAPI v3 schemas of their CRDs, vendored in
crds/ (see crds/README.md), as the API server would with kubectl's default
strict field validation: a field the schema does not declare is an error.
What the schemas carry as CEL rules (x-kubernetes-validations) is not
evaluated here.

    validate_crds.py RENDERED.yaml...

Writes the built-in resources (the rest) to BUILTIN_OUT, one file per render,
for kubernetes-validate, when BUILTIN_OUT is set. A custom resource with no
vendored CRD fails."""

import copy
import os
import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
BUILTIN_GROUPS = {"", "apps", "autoscaling", "policy", "networking.k8s.io", "batch", "rbac.authorization.k8s.io"}


def strict(schema):
    """The schema with unknown fields refused wherever it lists the fields."""
    schema = copy.deepcopy(schema)

    def walk(node, top=False):
        if isinstance(node, dict):
            if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for key, value in node.items():
                if key == "properties":
                    for name, sub in value.items():
                        # metadata is the ObjectMeta the API server checks itself.
                        if not (top and name == "metadata"):
                            walk(sub)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema, top=True)
    return schema


def load_crds():
    validators = {}
    for path in sorted((HERE / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = strict(version["schema"]["openAPIV3Schema"])
                validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


def main(paths):
    validators = load_crds()
    failed = checked = 0
    out_dir = os.environ.get("BUILTIN_OUT")
    for path in paths:
        builtin = []
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc:
                continue
            api_version, kind, name = doc["apiVersion"], doc["kind"], doc["metadata"]["name"]
            group = api_version.rpartition("/")[0] if "/" in api_version else ""
            if group in BUILTIN_GROUPS:
                builtin.append(doc)
                continue
            checked += 1
            validator = validators.get((api_version, kind))
            if validator is None:
                print(f"FAIL {path}: {kind} {name} ({api_version}): no vendored CRD schema for it")
                failed += 1
                continue
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            for e in errors:
                print(f"FAIL {path}: {kind} {name}: {'.'.join(map(str, e.path)) or '(root)'}: {e.message}")
            failed += bool(errors)
            if not errors:
                print(f"ok   {path}: {kind} {name} ({api_version})")
        if out_dir:
            target = Path(out_dir) / Path(path).name
            target.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    print(f"custom resources: {checked} checked against the vendored CRDs, {checked - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
